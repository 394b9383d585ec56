import PostgresNIO
import ReadingsDomain
import ReadingsStorage

/// Deciding many ingest requests, of any devices, in one transaction (what ``IngestBatcher``
/// hands over). The answers are exactly those the requests would get one after another in batch
/// order: a (device, instant) is new for its first occurrence in the batch unless stored before,
/// and every later occurrence is a duplicate or a conflict against that first one.
///
/// 1. Devices this instance has not seen yet are created (`INSERT … ON CONFLICT DO NOTHING`, in
///    a statement of its own that commits at once): a row with no reading and no latest instant
///    is not a device for any read, so a row created for a batch that then accepts nothing is
///    harmless (it is removed again at the end of that batch).
/// 2. `BEGIN`; every device row of the batch is locked in one statement, in id order
///    (`ORDER BY device_id FOR UPDATE`). Every writer of readings (batches, single requests,
///    deletes, the retention's removal) takes these locks, always in id order, so batches cannot
///    deadlock and, while the batch holds them, nobody else adds or removes readings of its
///    devices. A device row that vanished meanwhile (deleted) sends the batch back to step 1.
/// 3. One statement reads the database's retention horizon (after the locks, see
///    ``PostgresStore/ingest(_:for:)``) and inserts the first occurrence of every (device,
///    instant) not before it with `ON CONFLICT DO NOTHING RETURNING`: what it returns is new, the
///    rest was stored before. Only for those is a second statement needed, reading the counts
///    stored (duplicate or conflict).
/// 4. The outcomes are decided here in batch order, and one `UPDATE … FROM unnest(…)` adds each
///    device's accepted counts, newest instant and number of readings. `COMMIT`.
///
/// A device whose cumulative count could pass 2^63−1 within the batch (its count so far plus
/// every count of the batch's new candidates) is left out and decided after the commit, request
/// by request, by the single-request path, which refuses the overflowing readings exactly.
extension PostgresStore {
    /// One (device, instant) of the batch, for lookups.
    private struct Key: Hashable {
        var device: Int
        var instant: Int64
    }

    func decideBatch(_ requests: [(device: DeviceID, readings: [Reading])]) async throws -> [[IngestOutcome]] {
        var results = [[IngestOutcome]](repeating: [], count: requests.count)
        // The batch's devices, in id (byte) order: the order of the locks.
        var ids = Array(Set(requests.map(\.device.string)))
        ids.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let position = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        var overflowing: Set<Int> = []
        for attempt in 0..<3 {
            try await ensureDevices(ids, all: attempt > 0)
            let outcome = try await decideLocked(requests, ids: ids, position: position)
            switch outcome {
            case .decided(let decided, let leftOut):
                results = decided
                overflowing = leftOut
            case .devicesVanished:
                continue
            }
            break
        }
        // Requests of devices that might overflow, one at a time, in batch order.
        for (k, request) in requests.enumerated() where overflowing.contains(position[request.device.string]!) {
            results[k] = try await ingestAlone(request.readings, for: request.device)
        }
        return results
    }

    private enum LockedOutcome {
        case decided([[IngestOutcome]], leftOut: Set<Int>)
        case devicesVanished
    }

    /// Creates the rows of the devices this instance has not created or seen before (all of
    /// them when `all`), in id order, committed at once.
    private func ensureDevices(_ ids: [String], all: Bool) async throws {
        let missing = all ? ids : knownDevices.withLock { known in ids.filter { !known.contains($0) } }
        guard !missing.isEmpty else { return }
        try await unavailableOnFailure { [logger] connection in
            try await connection.query(
                """
                INSERT INTO devices (device_id, latest, cumulative, readings)
                SELECT d, \(Int64.min), 0, 0 FROM unnest(\(missing)::text[]) AS t(d) ORDER BY d COLLATE "C"
                ON CONFLICT (device_id) DO NOTHING
                """, logger: logger)
        }
        knownDevices.withLock { known in
            // Bounded: forgetting costs one more no-op insert later.
            if known.count > 1_000_000 { known.removeAll(keepingCapacity: true) }
            known.formUnion(missing)
        }
    }

    private func decideLocked(
        _ requests: [(device: DeviceID, readings: [Reading])], ids: [String], position: [String: Int]
    ) async throws -> LockedOutcome {
        let localHorizon = retention?.horizonNow().nanoseconds ?? .min
        return try await unavailableOnFailure { [logger] connection in
            try await connection.withTransaction(logger: logger) { connection -> LockedOutcome in
                // 2. The locks, in id order.
                var rows = [(latest: Int64, cumulative: Int64, readings: Int64)?](repeating: nil, count: ids.count)
                for try await (id, latest, cumulative, count) in try await connection.query(
                    """
                    SELECT device_id, latest, cumulative, readings FROM devices WHERE device_id = ANY(\(ids)::text[])
                    ORDER BY device_id FOR UPDATE
                    """, logger: logger
                ).decode((String, Int64, Int64, Int64).self) {
                    if let p = position[id] { rows[p] = (latest, cumulative, count) }
                }
                if rows.contains(where: { $0 == nil }) {
                    let vanished = ids.indices.filter { rows[$0] == nil }.map { ids[$0] }
                    self.knownDevices.withLock { known in known.subtract(vanished) }
                    return .devicesVanished
                }
                // Candidates: the first occurrence of each (device, instant), and an upper bound of
                // what each device could add.
                var candidates: [Key: UInt64] = [:]
                var bound = rows.map { UInt64($0!.cumulative) }
                var devices: [String] = []
                var instants: [Int64] = []
                var counts: [Int64] = []
                for request in requests {
                    let d = position[request.device.string]!
                    for reading in request.readings {
                        let key = Key(device: d, instant: reading.instant.nanoseconds)
                        guard candidates[key] == nil else { continue }
                        candidates[key] = reading.count
                        bound[d] &+= reading.count
                    }
                }
                let leftOut = Set(bound.indices.filter { bound[$0] > UInt64(Int64.max) })
                for (key, count) in candidates where !leftOut.contains(key.device) {
                    devices.append(ids[key.device])
                    instants.append(key.instant)
                    counts.append(Int64(count))
                }
                // 3. The horizon and the insert, in one statement after the locks.
                var inserted: Set<Key> = []
                var horizon = localHorizon
                for try await (id, instant) in try await connection.query(
                    """
                    WITH h AS (SELECT horizon FROM retention_horizon),
                    ins AS (
                      INSERT INTO readings (device_id, instant, count)
                      SELECT u.d, u.i, u.c FROM unnest(\(devices)::text[], \(instants)::bigint[], \(counts)::bigint[]) AS u(d, i, c), h
                      WHERE u.i >= GREATEST(h.horizon, \(localHorizon))
                      ON CONFLICT (device_id, instant) DO NOTHING
                      RETURNING device_id, instant)
                    SELECT device_id, instant FROM ins
                    UNION ALL SELECT NULL, horizon FROM h
                    """, logger: logger
                ).decode((String?, Int64).self) {
                    if let id {
                        inserted.insert(Key(device: position[id]!, instant: instant))
                    } else {
                        horizon = max(horizon, instant)
                    }
                }
                // The counts stored before, for the candidates that were not new.
                var stored: [Key: UInt64] = [:]
                var lookupDevices: [String] = []
                var lookupInstants: [Int64] = []
                for (d, i) in zip(devices, instants) where i >= horizon {
                    let key = Key(device: position[d]!, instant: i)
                    if !inserted.contains(key) {
                        lookupDevices.append(d)
                        lookupInstants.append(i)
                    }
                }
                if !lookupDevices.isEmpty {
                    for try await (id, instant, count) in try await connection.query(
                        """
                        SELECT r.device_id, r.instant, r.count FROM readings r
                        JOIN unnest(\(lookupDevices)::text[], \(lookupInstants)::bigint[]) AS u(d, i) ON r.device_id = u.d AND r.instant = u.i
                        """, logger: logger
                    ).decode((String, Int64, Int64).self) {
                        stored[Key(device: position[id]!, instant: instant)] = UInt64(count)
                    }
                }
                // 4. The outcomes, in batch order.
                var results: [[IngestOutcome]] = []
                results.reserveCapacity(requests.count)
                var cumulative = rows.map { UInt64($0!.cumulative) }
                var added = [Int64](repeating: 0, count: ids.count)
                var latest = [Int64](repeating: .min, count: ids.count)
                for request in requests {
                    let d = position[request.device.string]!
                    if leftOut.contains(d) {
                        results.append([])
                        continue
                    }
                    var outcomes: [IngestOutcome] = []
                    outcomes.reserveCapacity(request.readings.count)
                    for reading in request.readings {
                        let t = reading.instant.nanoseconds
                        guard t >= horizon else {
                            outcomes.append(.tooOld)
                            continue
                        }
                        let key = Key(device: d, instant: t)
                        var existing = stored[key]
                        if existing == nil && !inserted.contains(key) {
                            // Inserted by nobody and stored by nobody: impossible under the locks.
                            throw PostgresBatchError.inconsistent("\(ids[d]) at \(t) is neither new nor stored")
                        }
                        if existing == nil && inserted.contains(key) {
                            // The first occurrence takes the new row; later ones meet its count.
                            existing = nil
                        }
                        let outcome = IngestDecision.decide(reading.count, existing: existing, cumulative: &cumulative[d])
                        if outcome == .accepted {
                            stored[key] = reading.count
                            added[d] += 1
                            latest[d] = max(latest[d], t)
                        }
                        outcomes.append(outcome)
                    }
                    results.append(outcomes)
                }
                // The summaries, and the rows of devices that accepted nothing, ever.
                var updateIds: [String] = []
                var updateCumulative: [Int64] = []
                var updateLatest: [Int64] = []
                var updateAdded: [Int64] = []
                var empty: [String] = []
                for d in ids.indices where !leftOut.contains(d) {
                    if added[d] > 0 {
                        updateIds.append(ids[d])
                        updateCumulative.append(Int64(cumulative[d]))
                        updateLatest.append(latest[d])
                        updateAdded.append(added[d])
                    } else if let row = rows[d], row.readings == 0, row.latest == .min, row.cumulative == 0 {
                        empty.append(ids[d])
                    }
                }
                if !updateIds.isEmpty {
                    try await connection.query(
                        """
                        UPDATE devices AS d SET cumulative = v.c, latest = GREATEST(d.latest, v.l), readings = d.readings + v.n
                        FROM unnest(\(updateIds)::text[], \(updateCumulative)::bigint[], \(updateLatest)::bigint[], \(updateAdded)::bigint[])
                          AS v(id, c, l, n)
                        WHERE d.device_id = v.id
                        """, logger: logger)
                }
                if !empty.isEmpty {
                    try await connection.query(
                        "DELETE FROM devices WHERE device_id = ANY(\(empty)::text[]) AND readings = 0 AND latest = \(Int64.min)",
                        logger: logger)
                    self.knownDevices.withLock { known in known.subtract(empty) }
                }
                return .decided(results, leftOut: leftOut)
            }
        }
    }
}

/// A batch that found the database in a state its locks rule out (a bug, reported as 503).
enum PostgresBatchError: Error {
    case inconsistent(String)
}
