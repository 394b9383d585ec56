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
    ]
}
