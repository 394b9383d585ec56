import Logging
import PostgresNIO
import ReadingsDomain
import ReadingsStorage

/// Fleet housekeeping: deleting a device, and removing the readings a retention has expired.
///
/// Both take the device's row lock (`SELECT … FOR UPDATE`) that every batch takes first, so each
/// is ordered with the batches of the device, across every instance: a batch is decided wholly
/// before or wholly after a deletion, and wholly before or after each step of a removal. A
/// deleted device's readings are removed after the delete has answered (see ``deleteDevice(_:)``).
extension PostgresStore {
    /// How many readings one step of the removal deletes at most: one short transaction, so the
    /// device's batches wait for the row lock briefly, whatever the number of expired readings.
    static let removalBatchSize = 10_000
    /// How many devices one statement of the removal checks for expired readings.
    static let removalPageSize = 1_000

    /// One transaction, whatever the number of readings: the device's row is locked, then deleted,
    /// and its key recorded in `device_purges`. True when it existed (had readings or a latest
    /// instant); a row without either (left by a batch that accepted nothing) is deleted too but
    /// reported as unknown.
    ///
    /// From the commit on, no read reaches the device's readings (reads go through its row, and a
    /// device created again under the same id has a new key), and no writer adds any (writers
    /// insert only under the row's lock). They are removed afterwards by
    /// ``purgeDeletedReadings()``, started once the delete has committed; a purge cut short (the
    /// process ended) is taken up again when an instance starts.
    public func deleteDevice(_ device: DeviceID) async throws -> Bool {
        let id = device.string
        knownDevices.withLock { known in _ = known.remove(id) }
        let existed = try await unavailableOnFailure { [logger] connection in
            try await connection.withTransaction(logger: logger) { connection in
                var locked: (key: Int32, existed: Bool)?
                for try await (key, latest, count) in try await connection.query(
                    "SELECT key, latest, readings FROM devices WHERE device_id = \(id) FOR UPDATE", logger: logger
                ).decode((Int32, Int64, Int64).self) {
                    locked = (key, count > 0 || latest != Int64.min)
                }
                guard let locked else { return false }
                try await connection.query(
                    """
                    WITH gone AS (DELETE FROM devices WHERE key = \(locked.key))
                    INSERT INTO device_purges (device_key) VALUES (\(locked.key))
                    """, logger: logger)
                return locked.existed
            }
        }
        startPurge()
        return existed
    }

    /// Runs ``purgeDeletedReadings()`` in the background, unless one is running: that one goes
    /// round once more.
    func startPurge() {
        let start = purge.withLock { state -> Bool in
            state.requested = true
            if state.running { return false }
            state.running = true
            return true
        }
        guard start else { return }
        Task { [self] in
            while purge.withLock({ state -> Bool in
                if state.requested {
                    state.requested = false
                    return true
                }
                state.running = false
                return false
            }) {
                do {
                    _ = try await purgeDeletedReadings()
                } catch {
                    // Unavailable: the keys stay listed for the next delete or start.
                    logger.warning("could not remove the readings of deleted devices yet", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Removes the readings of the deleted devices listed in `device_purges`, in transactions of
    /// at most ``removalBatchSize`` readings, then their keys; returns how many readings it
    /// removed. Nobody writes readings under those keys any more, so no lock is needed, and
    /// instances purging the same key at once only wait for each other's row locks.
    func purgeDeletedReadings() async throws -> Int {
        var removed = 0
        while true {
            try Task.checkCancellation()
            let keys = try await unavailableOnFailure { [logger] connection in
                var keys: [Int32] = []
                for try await key in try await connection.query(
                    "SELECT device_key FROM device_purges ORDER BY device_key LIMIT 100", logger: logger
                ).decode(Int32.self) {
                    keys.append(key)
                }
                return keys
            }
            guard !keys.isEmpty else { return removed }
            for key in keys {
                var from = Int64.min
                while true {
                    // A step that deletes fewer than it may is not proof of the end: another
                    // instance may be deleting the rest. The key goes once none is left.
                    let (step, last, done) = try await unavailableOnFailure { [logger, from] connection in
                        let (deleted, last) = try await PostgresStore.deleteStep(
                            of: key, from: from, before: nil, on: connection, logger: logger)
                        var done = false
                        if deleted < PostgresStore.removalBatchSize {
                            // Done when none is left (whoever removed the key).
                            for try await empty in try await connection.query(
                                """
                                WITH listed AS (
                                  DELETE FROM device_purges WHERE device_key = \(key)
                                    AND NOT EXISTS (SELECT 1 FROM readings WHERE device_key = \(key))
                                )
                                SELECT NOT EXISTS (SELECT 1 FROM readings WHERE device_key = \(key))
                                """, logger: logger
                            ).decode(Bool.self) {
                                done = empty
                            }
                        }
                        return (deleted, last, done)
                    }
                    // Short of a full step but not done: some are left behind the bound (another
                    // purger's step rolled back), so from the start again.
                    from = step < PostgresStore.removalBatchSize ? .min : last.map { $0 == .max ? $0 : $0 + 1 } ?? from
                    removed += step
                    if done { break }
                }
            }
        }
    }

    /// Removes the readings before the horizon, in small steps, and returns how many it removed;
    /// 0 without a retention.
    ///
    /// 1. The database's horizon is advanced to `now − period` (never back: `GREATEST`), in a
    ///    transaction of its own that commits before any reading is deleted. From then on every
    ///    batch of every instance refuses readings before it, since batches read it after taking
    ///    their device's row lock (see ``ingest(_:for:)``).
    /// 2. The devices are walked in id order, a page of ``removalPageSize`` at a time, each
    ///    checked by one probe of the readings' primary key (`device_key, instant`) for a reading
    ///    before the horizon.
    /// 3. For each such device, transactions of one step each until none is left: lock the row,
    ///    delete its oldest ``removalBatchSize`` readings before the horizon, subtract them from
    ///    its reading count, commit. Latest instant and cumulative count stay as they are.
    ///
    /// A device whose first readings were being committed while step 1 committed, by a batch that
    /// read the old horizon, may be missed by the walk; its readings go at the next removal.
    public func removeExpiredReadings() async throws -> Int {
        guard let retention else { return 0 }
        let wanted = retention.horizonNow().nanoseconds
        let horizon = try await unavailableOnFailure { [logger] connection in
            var horizon = wanted
            for try await value in try await connection.query(
                "UPDATE retention_horizon SET horizon = GREATEST(horizon, \(wanted)) RETURNING horizon", logger: logger
            ).decode(Int64.self) {
                horizon = value
            }
            return horizon
        }
        guard horizon > Int64.min else { return 0 }
        var removed = 0
        var after = ""
        while true {
            try Task.checkCancellation()
            let (expired, last) = try await devicesWithReadings(before: horizon, after: after)
            for key in expired {
                removed += try await removeReadings(ofKey: key, before: horizon)
            }
            guard let last else { return removed }
            after = last
        }
    }

    /// A page of the device walk: the keys of those of the ``removalPageSize`` devices after
    /// `after` in id order that have a reading before `horizon`, and the page's last device id
    /// (nil at the end).
    private func devicesWithReadings(before horizon: Int64, after: String) async throws -> (expired: [Int32], last: String?) {
        try await unavailableOnFailure { [logger] connection in
            var expired: [Int32] = []
            var last: String?
            var seen = 0
            for try await (id, key, hasExpired) in try await connection.query(
                """
                SELECT p.device_id, p.key, EXISTS (SELECT 1 FROM readings r WHERE r.device_key = p.key AND r.instant < \(horizon))
                FROM (SELECT device_id, key FROM devices WHERE device_id > \(after) ORDER BY device_id LIMIT \(PostgresStore.removalPageSize)) p
                ORDER BY p.device_id
                """, logger: logger
            ).decode((String, Int32, Bool).self) {
                seen += 1
                last = id
                if hasExpired { expired.append(key) }
            }
            return (expired, seen < PostgresStore.removalPageSize ? nil : last)
        }
    }

    /// Deletes the readings of the device keyed `key` before `horizon`, one short transaction per
    /// ``removalBatchSize`` of them, until none is left or the device is gone (a device deleted
    /// and created again has a new key); returns how many.
    private func removeReadings(ofKey key: Int32, before horizon: Int64) async throws -> Int {
        var removed = 0
        var from = Int64.min
        while true {
            try Task.checkCancellation()
            let (step, last) = try await unavailableOnFailure { [logger, from] connection in
                try await connection.withTransaction(logger: logger) { connection -> (Int, Int64?) in
                    var locked = false
                    for try await _ in try await connection.query(
                        "SELECT 1 FROM devices WHERE key = \(key) FOR UPDATE", logger: logger
                    ).decode(Int32.self) {
                        locked = true
                    }
                    // Deleted meanwhile: its readings went with it.
                    guard locked else { return (0, nil) }
                    // After the lock: every batch that could still have stored a reading before
                    // the horizon (one that read the horizon before it advanced) has committed,
                    // and none stores one before it any more, so a step need not look behind the
                    // previous one.
                    let (deleted, last) = try await PostgresStore.deleteStep(
                        of: key, from: from, before: horizon, on: connection, logger: logger)
                    if deleted > 0 {
                        try await connection.query(
                            "UPDATE devices SET readings = readings - \(deleted), expired_before = GREATEST(expired_before, \(horizon)) WHERE key = \(key)",
                            logger: logger)
                    }
                    return (deleted, last)
                }
            }
            removed += step
            guard step == PostgresStore.removalBatchSize, let last, last < .max else { return removed }
            from = last + 1
        }
    }

    /// One step of a removal: deletes the oldest ``removalBatchSize`` readings of the device keyed
    /// `key` from `from` on (and before `before`, if given), and returns how many and the newest
    /// instant among them. Each step starts where the previous one ended, through the primary
    /// key: deleted entries stay in the index until a vacuum, and a step that started from the
    /// device's first instant each time would walk them all again (quadratic for a device of tens
    /// of millions of readings).
    static func deleteStep(
        of key: Int32, from: Int64, before: Int64?, on connection: PostgresConnection, logger: Logger
    ) async throws -> (deleted: Int, last: Int64?) {
        var result: (deleted: Int, last: Int64?) = (0, nil)
        for try await (count, last) in try await connection.query(
            """
            WITH doomed AS (
              SELECT instant FROM readings WHERE device_key = \(key) AND instant >= \(from)
                AND (\(before)::bigint IS NULL OR instant < \(before)::bigint)
              ORDER BY instant LIMIT \(PostgresStore.removalBatchSize)
            ), gone AS (
              DELETE FROM readings r USING doomed WHERE r.device_key = \(key) AND r.instant = doomed.instant RETURNING r.instant
            )
            SELECT count(*), max(instant) FROM gone
            """, logger: logger
        ).decode((Int64, Int64?).self) {
            result = (Int(count), last)
        }
        return result
    }
}
