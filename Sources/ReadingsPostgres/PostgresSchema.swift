/// The schema's numbered migrations, applied in order once each (recorded in
/// `schema_migrations`). Never edit one that has shipped: add the next.
///
/// The newest layout (migration 4): `devices` holds each id once with a 4-byte `key`; `readings`
/// rows are (`device_key`, `small_count`, `large_count`, `instant`) keyed on (`device_key`,
/// `instant`). See docs/postgres.md ("Size on disk") for what each byte buys.
enum PostgresSchema {
    struct Migration {
        var version: Int
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            statements: [
                """
                CREATE TABLE devices (
                  device_id text COLLATE "C" PRIMARY KEY,
                  latest bigint NOT NULL,
                  cumulative bigint NOT NULL CHECK (cumulative >= 0),
                  readings bigint NOT NULL CHECK (readings >= 0)
                )
                """,
                """
                CREATE TABLE readings (
                  device_id text COLLATE "C" NOT NULL,
                  instant bigint NOT NULL,
                  count bigint NOT NULL CHECK (count >= 0),
                  PRIMARY KEY (device_id, instant)
                )
                """,
            ]),
        // Retention: the horizon that every instance refuses readings before (`tooOld`) and that
        // the removal deletes readings before. One row, created at the earliest instant (nothing
        // refused); it only ever moves forward (`GREATEST`).
        Migration(
            version: 2,
            statements: [
                """
                CREATE TABLE retention_horizon (
                  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                  horizon bigint NOT NULL
                )
                """,
                "INSERT INTO retention_horizon (singleton, horizon) VALUES (true, -9223372036854775808)",
            ]),
        // The horizon a device's own readings were removed before, kept on its row: a batch that
        // locks the row sees its newest value in the same statement (see PostgresStore+Batch).
        Migration(
            version: 3,
            statements: [
                "ALTER TABLE devices ADD COLUMN expired_before bigint NOT NULL DEFAULT -9223372036854775808"
            ]),
        // Smaller rows: a reading names its device by a 4-byte key instead of repeating the id
        // text, and keeps its count in 4 bytes when it is below 2^31 (`small_count`), in
        // `large_count` otherwise (exactly one of the two is set; a NULL takes no space). A row is
        // then 24 bytes of tuple header and 16 of data (44 with its line pointer, 52 before), and
        // its primary-key entry 24 bytes. Keys come from a sequence over the whole `integer`
        // range, 2^32 devices created in the schema's life (a deleted device's key is not reused).
        // Readings have no foreign key to `devices`: every writer holds the device's row lock
        // (see PostgresStore+Batch), and a per-row check would cost a lookup per reading.
        // Existing readings are copied in key and time order, the old table dropped.
        Migration(
            version: 4,
            statements: [
                "CREATE SEQUENCE device_keys AS integer MINVALUE -2147483648 START WITH -2147483648",
                "ALTER TABLE devices ADD COLUMN key integer NOT NULL DEFAULT nextval('device_keys')",
                "ALTER SEQUENCE device_keys OWNED BY devices.key",
                "ALTER TABLE devices ADD CONSTRAINT devices_key_unique UNIQUE (key)",
                """
                CREATE TABLE readings_by_key (
                  device_key integer NOT NULL,
                  small_count integer CHECK (small_count >= 0),
                  large_count bigint CHECK (large_count > 2147483647),
                  instant bigint NOT NULL,
                  CHECK ((small_count IS NULL) <> (large_count IS NULL)),
                  PRIMARY KEY (device_key, instant) WITH (fillfactor = 100)
                )
                """,
                """
                INSERT INTO readings_by_key (device_key, small_count, large_count, instant)
                SELECT d.key, CASE WHEN r.count <= 2147483647 THEN r.count::integer END,
                       CASE WHEN r.count > 2147483647 THEN r.count END, r.instant
                FROM readings r JOIN devices d ON d.device_id = r.device_id
                ORDER BY d.key, r.instant
                """,
                "DROP TABLE readings",
                "ALTER TABLE readings_by_key RENAME TO readings",
                "ALTER INDEX readings_by_key_pkey RENAME TO readings_pkey",
            ]),
        // Deleting a device removes its row and records its key here, in one transaction; its
        // readings (which no read can reach any more: reads find readings through the row) are
        // removed afterwards in small steps, and the key leaves this table with the last of them.
        Migration(
            version: 5,
            statements: [
                "CREATE TABLE device_purges (device_key integer PRIMARY KEY)"
            ]),
        // A batch in one call (see PostgresStore+Batch): the device rows are locked by one
        // statement and the readings decided by the next, whose snapshot, taken after the locks,
        // sees every committed reading of those devices. So a lookup decides new, duplicate or
        // conflict, and the new readings are inserted plainly (no speculative `ON CONFLICT`
        // insertion). Being one function, it is one round trip.
        Migration(
            version: 6,
            statements: [
                """
                CREATE FUNCTION decide_batch(
                  ids text[], bounds bigint[], devs integer[], instants bigint[], counts bigint[], local_horizon bigint
                ) RETURNS TABLE (kind bigint, ord bigint, a bigint, b bigint, c bigint)
                LANGUAGE plpgsql AS $$
                DECLARE
                  keys integer[]; ords bigint[]; cumulatives bigint[]; horizons bigint[]; fits boolean[];
                BEGIN
                  -- Each device row, in the order given (id order, as every writer locks), one
                  -- primary-key lookup each.
                  SELECT array_agg(d.key ORDER BY t.ord), array_agg(t.ord ORDER BY t.ord),
                         array_agg(d.cumulative ORDER BY t.ord), array_agg(d.expired_before ORDER BY t.ord),
                         array_agg(d.cumulative::numeric + t.bound::numeric <= 9223372036854775807 ORDER BY t.ord)
                    INTO keys, ords, cumulatives, horizons, fits
                  FROM unnest(ids, bounds) WITH ORDINALITY AS t(id, bound, ord)
                  CROSS JOIN LATERAL (
                    SELECT key, cumulative, expired_before FROM devices WHERE device_id = t.id FOR UPDATE
                  ) d;
                  RETURN QUERY
                  WITH l AS (
                    SELECT l.key, l.ord, l.cumulative, l.fits,
                           GREATEST(l.expired_before, (SELECT horizon FROM retention_horizon)) AS horizon
                    FROM unnest(keys, ords, cumulatives, horizons, fits) AS l(key, ord, cumulative, expired_before, fits)
                  ), cand AS (
                    SELECT l.key, l.ord, c.i, c.c FROM unnest(devs, instants, counts) AS c(k, i, c)
                    JOIN l ON l.ord = c.k
                    WHERE l.fits AND c.i >= GREATEST(l.horizon, local_horizon)
                  ), found AS (
                    SELECT cand.key, cand.ord, cand.i, cand.c, r.stored FROM cand
                    LEFT JOIN LATERAL (
                      SELECT coalesce(small_count, large_count) AS stored FROM readings
                      WHERE device_key = cand.key AND instant = cand.i
                    ) r ON true
                  ), ins AS (
                    INSERT INTO readings (device_key, small_count, large_count, instant)
                    SELECT f.key, CASE WHEN f.c <= 2147483647 THEN f.c::integer END, CASE WHEN f.c > 2147483647 THEN f.c END, f.i
                    FROM found f WHERE f.stored IS NULL
                  ), acc AS (
                    SELECT f.key, sum(f.c)::bigint AS delta, max(f.i) AS latest, count(*) AS n
                    FROM found f WHERE f.stored IS NULL GROUP BY f.key
                  ), upd AS (
                    UPDATE devices d SET cumulative = d.cumulative + acc.delta, latest = GREATEST(d.latest, acc.latest),
                      readings = d.readings + acc.n
                    FROM acc WHERE d.key = acc.key
                  ), emptied AS (
                    -- A row that never had a reading and accepted none now (every reading too
                    -- old) is not a device: it goes, under the lock already held.
                    DELETE FROM devices d USING l
                    WHERE d.key = l.key AND d.cumulative = 0 AND d.readings = 0 AND d.latest = -9223372036854775808
                      AND NOT EXISTS (SELECT 1 FROM acc WHERE acc.key = l.key)
                  )
                  SELECT 0::bigint, l.ord, l.cumulative, CASE WHEN l.fits THEN 1 ELSE 0 END::bigint, l.horizon FROM l
                  UNION ALL
                  SELECT 1::bigint, f.ord, f.i, CASE WHEN f.stored = f.c THEN -1 ELSE f.stored END, 0::bigint
                  FROM found f WHERE f.stored IS NOT NULL;
                END
                $$
                """
            ]),
    ]
}
