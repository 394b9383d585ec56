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
        // Devices whose requests go one at a time after the batch, in batch order: those that
        // might overflow, or all of them when devices kept vanishing (deleted again and again).
        var alone: Set<Int> = Set(ids.indices)
        for attempt in 0..<3 {
            try await ensureDevices(ids, all: attempt > 0)
            let outcome = try await decideLocked(requests, ids: ids, position: position)
            guard case .decided(let decided, let leftOut) = outcome else { continue }
            results = decided
            alone = leftOut
            break
        }
        for (k, request) in requests.enumerated() where alone.contains(position[request.device.string]!) {
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
        // The first occurrence of each (device, instant), in batch order, and each device's bound:
        // the sum of its candidates' counts (what it could add at most).
        var candidates: [Key: UInt64] = [:]
        var order: [Key] = []
        var totals = [UInt64](repeating: 0, count: ids.count)
        for request in requests {
            let d = position[request.device.string]!
            for reading in request.readings {
                let key = Key(device: d, instant: reading.instant.nanoseconds)
                guard candidates[key] == nil else { continue }
                candidates[key] = reading.count
                order.append(key)
                // Saturating: 20,000 counts of up to 2^53 each can pass 2^64.
                let (sum, overflow) = totals[d].addingReportingOverflow(reading.count)
                totals[d] = overflow ? .max : sum
            }
        }
        let devicesOf = order.map { Int32($0.device + 1) }
        let instants = order.map(\.instant)
        let counts = order.map { Int64(candidates[$0]!) }
        let bounds = totals.map { Int64(clamping: $0) }
        // One statement (one round trip, its own transaction): lock, insert, count. See the
        // extension's description; `kind` 0 rows describe devices, 1 rows readings returned by the
        // insert (new ones with their own count, conflicts with the count stored).
        let deviceCount = ids.count
        let (found, returned) = try await unavailableOnFailure { [logger] connection in
            var found = [(cumulative: Int64, fits: Bool, horizon: Int64)?](repeating: nil, count: deviceCount)
            var returned: [Key: UInt64] = [:]
            let statement = BatchStatement(
                ids: ids, bounds: bounds, devices: devicesOf, instants: instants, counts: counts, localHorizon: localHorizon)
            for try await (kind, ordinal, a, b, c) in try await connection.execute(statement, logger: logger) {
                let d = Int(ordinal) - 1
                if kind == 0 {
                    found[d] = (a, b == 1, c)
                } else {
                    returned[Key(device: d, instant: a)] = UInt64(b)
                }
            }
            return (found, returned)
        }
        if found.contains(where: { $0 == nil }) {
            // Deleted meanwhile (or never created): nothing of theirs was inserted (the insert
            // joins the locked rows), so the whole batch can be decided again.
            let vanished = ids.indices.filter { found[$0] == nil }.map { ids[$0] }
            knownDevices.withLock { known in known.subtract(vanished) }
            guard vanished.count == ids.count || returned.isEmpty else {
                // Others were decided and stored: answer them, and decide the vanished devices'
                // requests again on their own.
                return try await finish(
                    requests, ids: ids, position: position, found: found, returned: returned, candidates: candidates,
                    localHorizon: localHorizon)
            }
            return .devicesVanished
        }
        return try await finish(
            requests, ids: ids, position: position, found: found, returned: returned, candidates: candidates, localHorizon: localHorizon)
    }

    /// The outcomes in batch order from what the statement returned: a candidate returned with its
    /// own count was inserted (new), returned with another count is a conflict with that count,
    /// not returned is a duplicate (the insert skips a row whose stored count is the same) unless
    /// it is before the device's horizon. Later occurrences meet the first one's decision.
    private func finish(
        _ requests: [(device: DeviceID, readings: [Reading])], ids: [String], position: [String: Int],
        found: [(cumulative: Int64, fits: Bool, horizon: Int64)?], returned: [Key: UInt64], candidates: [Key: UInt64],
        localHorizon: Int64
    ) async throws -> LockedOutcome {
        var results: [[IngestOutcome]] = []
        results.reserveCapacity(requests.count)
        var leftOut: Set<Int> = []
        var stored: [Key: UInt64] = [:]
        var cumulative = found.map { UInt64($0?.cumulative ?? 0) }
        var again: [Int] = []
        for (k, request) in requests.enumerated() {
            let d = position[request.device.string]!
            guard let row = found[d] else {
                again.append(k)
                results.append([])
                continue
            }
            guard row.fits else {
                leftOut.insert(d)
                results.append([])
                continue
            }
            let horizon = max(row.horizon, localHorizon)
            var outcomes: [IngestOutcome] = []
            outcomes.reserveCapacity(request.readings.count)
            for reading in request.readings {
                let t = reading.instant.nanoseconds
                guard t >= horizon else {
                    outcomes.append(.tooOld)
                    continue
                }
                let key = Key(device: d, instant: t)
                if stored[key] == nil {
                    // The first occurrence: decided by the statement.
                    let mine = candidates[key]!
                    let existing: UInt64?
                    if let count = returned[key] { existing = count == mine ? nil : count } else { existing = mine }
                    stored[key] = existing ?? mine
                    let outcome = IngestDecision.decide(mine, existing: existing, cumulative: &cumulative[d])
                    guard reading.count == mine else { preconditionFailure("the first occurrence carries the candidate's count") }
                    outcomes.append(outcome)
                } else {
                    outcomes.append(IngestDecision.decide(reading.count, existing: stored[key], cumulative: &cumulative[d]))
                }
            }
            results.append(outcomes)
        }
        for k in again {
            results[k] = try await ingestAlone(requests[k].readings, for: requests[k].device)
        }
        try await removeEmptyRows(ids: ids, found: found, returned: returned, leftOut: leftOut)
        return .decided(results, leftOut: leftOut)
    }

    /// Rows created for this batch that accepted nothing and never had a reading: not devices, so
    /// they go again (with the same conditions checked in the statement, under its row lock).
    private func removeEmptyRows(
        ids: [String], found: [(cumulative: Int64, fits: Bool, horizon: Int64)?], returned: [Key: UInt64], leftOut: Set<Int>
    ) async throws {
        let accepted = Set(returned.keys.map(\.device))
        let candidates = ids.indices.filter {
            found[$0] != nil && found[$0]!.cumulative == 0 && !accepted.contains($0) && !leftOut.contains($0)
        }
        guard !candidates.isEmpty else { return }
        let empty = candidates.map { ids[$0] }
        try await unavailableOnFailure { [logger] connection in
            try await connection.query(
                "DELETE FROM devices WHERE device_id = ANY(\(empty)::text[]) AND readings = 0 AND latest = \(Int64.min) AND cumulative = 0",
                logger: logger)
        }
        knownDevices.withLock { known in known.subtract(empty) }
    }
}

/// The batch's one statement, prepared once per connection (its plan is made once, not per batch).
struct BatchStatement: PostgresPreparedStatement {
    static let name = "device_readings_batch_v1"
    static let sql = """
        WITH devs AS (
          SELECT t.id, t.bound, t.ord FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS t(id, bound, ord)
        ), locked AS (
          SELECT d.device_id, d.cumulative, d.expired_before, devs.ord,
                 (d.cumulative::numeric + devs.bound::numeric <= 9223372036854775807) AS fits
          FROM devices d JOIN devs ON devs.id = d.device_id
          ORDER BY d.device_id FOR UPDATE OF d
        ), h AS (
          SELECT horizon FROM retention_horizon
        ), cand AS (
          SELECT l.device_id, c.i, c.c FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS c(k, i, c)
          JOIN locked l ON l.ord = c.k CROSS JOIN h
          WHERE l.fits AND c.i >= GREATEST(l.expired_before, h.horizon, $6::bigint)
        ), ins AS (
          INSERT INTO readings AS r (device_id, instant, count)
          SELECT device_id, i, c FROM cand
          ON CONFLICT (device_id, instant) DO UPDATE SET count = r.count WHERE r.count <> EXCLUDED.count
          RETURNING r.device_id, r.instant, r.count
        ), acc AS (
          SELECT ins.device_id, sum(ins.count)::bigint AS delta, max(ins.instant) AS latest, count(*) AS n
          FROM ins JOIN cand ON cand.device_id = ins.device_id AND cand.i = ins.instant AND cand.c = ins.count
          GROUP BY ins.device_id
        ), upd AS (
          UPDATE devices d SET cumulative = d.cumulative + acc.delta, latest = GREATEST(d.latest, acc.latest),
            readings = d.readings + acc.n
          FROM acc WHERE d.device_id = acc.device_id
        )
        SELECT 0::bigint, l.ord::bigint, l.cumulative, CASE WHEN l.fits THEN 1 ELSE 0 END::bigint,
               GREATEST(l.expired_before, h.horizon) FROM locked l CROSS JOIN h
        UNION ALL
        SELECT 1::bigint, l.ord::bigint, ins.instant, ins.count, 0::bigint FROM ins JOIN locked l ON l.device_id = ins.device_id
        """
    typealias Row = (Int64, Int64, Int64, Int64, Int64)

    var ids: [String]
    var bounds: [Int64]
    var devices: [Int32]
    var instants: [Int64]
    var counts: [Int64]
    var localHorizon: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(ids)
        bindings.append(bounds)
        bindings.append(devices)
        bindings.append(instants)
        bindings.append(counts)
        bindings.append(localHorizon)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
