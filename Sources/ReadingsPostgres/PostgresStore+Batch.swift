import PostgresNIO
import ReadingsDomain
import ReadingsStorage

/// Deciding many ingest requests, of any devices, in one transaction (what ``IngestBatcher``
/// hands over). The answers are exactly those the requests would get one after another in batch
/// order: a (device, instant) is new for its first occurrence in the batch unless stored before,
/// and every later occurrence is a duplicate or a conflict against that first one.
///
/// 1. Devices this instance has not seen yet are created (`INSERT … WHERE NOT EXISTS`, in a
///    statement of its own that commits at once): a row with no reading and no latest instant is
///    not a device for any read, so a row created for a batch that then accepts nothing is
///    harmless (the batch's function removes it again).
/// 2. One call of the `decide_batch` function (migration 6; ``BatchStatement``): one round trip
///    and one commit. Its first statement locks every device row of the batch in id order (one
///    primary-key lookup each, `FOR UPDATE`; every writer of readings takes these locks in id
///    order, so batches cannot deadlock, and while a batch holds them nobody else adds or removes
///    readings of its devices). Its second statement takes its snapshot after those locks, so it
///    sees every committed reading of the batch's devices and the newest horizons (the shared one
///    and each device's `expired_before`): it looks up the first occurrences not before the
///    horizon or `now − period` one primary-key probe each, inserts those not found (a plain
///    insert), adds each device's accepted counts, newest instant and number of readings, and
///    returns the locked rows and the first occurrences found stored (-1 when with the same
///    count): in the usual batch, all new, one row per device comes back.
/// 3. The outcomes are decided here, in batch order, from what came back (see ``decide``).
///
/// Requests of a device whose cumulative count could pass 2^63−1 within the batch (its count so
/// far plus every count of its candidates), or whose row vanished before the lock (deleted), get
/// nothing from the function (it inserts only for the locked rows that fit) and are decided after
/// it, request by request, by the single-request path, which refuses overflowing readings
/// exactly and creates a deleted device again.
extension PostgresStore {
    /// One (device, instant) of the batch, for lookups.
    private struct Key: Hashable {
        var device: Int
        var instant: Int64
    }

    /// What the statement says of a device: its cumulative count before the batch, whether the
    /// batch's candidates fit under 2^63−1, and the horizon its readings were removed before.
    private typealias LockedDevice = (cumulative: Int64, fits: Bool, horizon: Int64)

    func decideBatch(_ requests: [(device: DeviceID, readings: [Reading])]) async throws -> [[IngestOutcome]] {
        // The batch's devices, in id (byte) order: the order of the locks.
        var ids = Array(Set(requests.map(\.device.string)))
        ids.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let position = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        try await ensureDevices(ids)
        var (results, alone) = try await decide(requests, ids: ids, position: position)
        for (k, request) in requests.enumerated() where alone.contains(position[request.device.string]!) {
            results[k] = try await ingestAlone(request.readings, for: request.device)
        }
        return results
    }

    /// Creates the rows of the devices this instance has not created or seen before, in id order,
    /// committed at once. Rows already there are left out before the insert, so that they do not
    /// take a key from the sequence (an `ON CONFLICT` row would); only a race with another
    /// instance creating the same device wastes one.
    private func ensureDevices(_ ids: [String]) async throws {
        let missing = knownDevices.withLock { known in ids.filter { !known.contains($0) } }
        guard !missing.isEmpty else { return }
        try await unavailableOnFailure { [logger] connection in
            try await connection.query(
                """
                INSERT INTO devices (device_id, latest, cumulative, readings)
                SELECT d, \(Int64.min), 0, 0 FROM unnest(\(missing)::text[]) AS t(d)
                WHERE NOT EXISTS (SELECT 1 FROM devices WHERE device_id = t.d) ORDER BY d COLLATE "C"
                ON CONFLICT (device_id) DO NOTHING
                """, logger: logger)
        }
        knownDevices.withLock { known in
            // Bounded: forgetting costs one more no-op insert later.
            if known.count > 1_000_000 { known.removeAll(keepingCapacity: true) }
            known.formUnion(missing)
        }
    }

    /// Calls the function and decides the outcomes, in batch order. It returns only the first
    /// occurrences that were found stored: a duplicate (stored with the same count) as -1, a
    /// conflict as the count stored; every other one not before the device's horizon was
    /// inserted, and before it is too old. Later occurrences meet the first one's decision.
    /// Returns the outcomes, empty for the requests of the devices that did not fit (or whose row
    /// vanished), which are to be decided alone.
    private func decide(
        _ requests: [(device: DeviceID, readings: [Reading])], ids: [String], position: [String: Int]
    ) async throws -> (outcomes: [[IngestOutcome]], alone: Set<Int>) {
        let localHorizon = retention?.horizonNow().nanoseconds ?? .min
        // The first occurrence of each (device, instant), in batch order, and each device's bound:
        // the sum of its candidates' counts (what it could add at most).
        var candidates: [Key: UInt64] = [:]
        var order: [Key] = []
        var totals = [UInt64](repeating: 0, count: ids.count)
        for request in requests {
            let d = position[request.device.string]!
            for reading in request.readings where reading.instant.nanoseconds >= localHorizon {
                let key = Key(device: d, instant: reading.instant.nanoseconds)
                guard candidates[key] == nil else { continue }
                candidates[key] = reading.count
                order.append(key)
                // Saturating: 20,000 counts of up to 2^53 each can pass 2^64.
                let (sum, overflow) = totals[d].addingReportingOverflow(reading.count)
                totals[d] = overflow ? .max : sum
            }
        }
        let statement = BatchStatement(
            ids: ids, bounds: totals.map { Int64(clamping: $0) }, devices: order.map { Int32($0.device + 1) },
            instants: order.map(\.instant), counts: order.map { Int64(candidates[$0]!) }, localHorizon: localHorizon)
        let deviceCount = ids.count
        let (locked, notNew) = try await unavailableOnFailure { [logger] connection in
            var locked = [LockedDevice?](repeating: nil, count: deviceCount)
            var notNew: [Key: Int64] = [:]
            // `kind` 0 rows describe the locked devices, 1 rows the first occurrences not inserted.
            for try await (kind, ordinal, a, b, c) in try await connection.execute(statement, logger: logger) {
                let d = Int(ordinal) - 1
                if kind == 0 {
                    locked[d] = (a, b == 1, c)
                } else {
                    notNew[Key(device: d, instant: a)] = b
                }
            }
            return (locked, notNew)
        }
        var alone: Set<Int> = []
        var results: [[IngestOutcome]] = []
        results.reserveCapacity(requests.count)
        var decided: [Key: UInt64] = [:]
        /// Devices that had a reading inserted.
        var touched: Set<Int> = []
        var cumulative = locked.map { UInt64($0?.cumulative ?? 0) }
        for request in requests {
            let d = position[request.device.string]!
            guard let row = locked[d], row.fits else {
                alone.insert(d)
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
                var existing = decided[key]
                if existing == nil {
                    // The first occurrence (its count is the candidate's), as the statement found it.
                    switch notNew[key] {
                    case nil:  // inserted: new
                        existing = nil
                        touched.insert(d)
                    case Int64(-1)?: existing = reading.count  // left alone: stored with the same count
                    case let stored?: existing = UInt64(stored)  // the stored count differs: a conflict
                    }
                    decided[key] = existing ?? reading.count
                }
                outcomes.append(IngestDecision.decide(reading.count, existing: existing, cumulative: &cumulative[d]))
            }
            results.append(outcomes)
        }
        forgetEmptyRows(ids: ids, locked: locked, touched: touched, alone: alone)
        return (results, alone)
    }

    /// Rows that never had a reading and accepted none in this batch are deleted by the function
    /// (under the locks it holds); this instance forgets them too, so that the next request for
    /// such a device creates its row again first.
    private func forgetEmptyRows(ids: [String], locked: [LockedDevice?], touched: Set<Int>, alone: Set<Int>) {
        let empty = ids.indices.filter { locked[$0]?.cumulative == 0 && !touched.contains($0) && !alone.contains($0) }.map { ids[$0] }
        guard !empty.isEmpty else { return }
        knownDevices.withLock { known in known.subtract(empty) }
    }
}

/// The batch's one call, prepared once per connection (the function's plans are made once per
/// session, not per batch).
struct BatchStatement: PostgresPreparedStatement {
    static let name = "device_readings_batch_v4"
    static let sql =
        "SELECT kind, ord, a, b, c FROM decide_batch($1::text[], $2::bigint[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint)"
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
