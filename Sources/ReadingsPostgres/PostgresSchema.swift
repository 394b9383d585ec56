/// The schema's numbered migrations, applied in order once each (recorded in
/// `schema_migrations`). Never edit one that has shipped: add the next.
///
/// Every key includes `device_id`, so on Citus both tables distribute by it
/// (`SELECT create_distributed_table('devices', 'device_id'); … ('readings', 'device_id', colocate_with => 'devices')`).
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
    ]
}
