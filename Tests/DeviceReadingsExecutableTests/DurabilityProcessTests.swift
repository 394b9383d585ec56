import Foundation
import ReadingsDomain
import Testing

/// The durable storage mode (`serve --data-dir DIR`) tested from outside, with real processes:
/// `kill -9` at seeded points under concurrent ingest loses nothing acknowledged and invents
/// nothing; a graceful restart comes back from the snapshot alone; a second process on the same
/// directory is refused; a torn journal tail is cut off, a corrupt snapshot stops the start.
///
/// Seeds: `DURABILITY_SEED=<n>` replays a run's kill points and traffic mix (the interleaving
/// of the concurrent clients is the OS's); every failure message names the seed.
@Suite(.serialized) struct DurabilityProcessTests {
    init() {
        // A client writing to a connection the killed server had accepted must get EPIPE, not
        // a signal that ends the test runner.
        signal(SIGPIPE, SIG_IGN)
    }

    static let baseSeed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["DURABILITY_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 1...UInt64(UInt32.max))
    }()

    // MARK: 1 and 5. kill -9 under concurrent ingest

    /// Fifty kills in a row under `--sync always`, each at a different seeded point: none may
    /// lose an acknowledged reading or invent one.
    @Test(arguments: 0..<50)
    func killNineUnderConcurrentIngestKeepsEveryAcknowledgedReading(round: Int) async throws {
        // Each round a different kill point. Rounds 1 and 2 (mod 3) also snapshot while ingesting
        // and kill only once 1 (2) snapshots are on disk, so that recovery combines a snapshot
        // with the journal written during and after it, and old segments were deleted.
        let snapshotArguments: [[String]] = [[], ["--snapshot-every", "16KiB"], ["--snapshot-every", "4KiB"]]
        try await crashRound(
            label: "always-r\(round)", seed: Self.baseSeed &+ UInt64(round) &* 0x9E37_79B9,
            arguments: snapshotArguments[round % 3], killAfter: round < 3 ? 20...200 : 10...80, snapshotsBeforeKill: round % 3)
    }

    @Test(arguments: [["--sync", "off"], ["--sync", "interval", "--sync-interval", "100ms"]])
    func killNineWithRelaxedSyncStillKeepsWhatTheOSHad(sync: [String]) async throws {
        // A process crash (not a power loss) keeps whatever reached the OS: every acknowledged
        // reading must survive under every policy.
        try await crashRound(
            label: "sync-\(sync[1])", seed: Self.baseSeed &+ (sync[1] == "off" ? 101 : 202),
            arguments: sync, killAfter: 30...80)
    }

    // MARK: 2. Graceful restart

    @Test func gracefulRestartComesBackFromTheSnapshotWithIdenticalAnswers() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = (0..<5).map { "graceful-\($0)" }
        let first = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(first)
        try await ingestKnownSet(first, ids: ids, perDevice: 120)
        let before = try await bodies(first, ids: ids)
        #expect(try await first.stop(signal: SIGTERM) == 0)
        let snapshots = try files(in: directory, prefix: "snapshot-", suffix: ".snap")
        #expect(snapshots.count == 1, "one snapshot after a graceful stop: \(snapshots)")

        let second = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(second)
        let after = try await bodies(second, ids: ids)
        for id in ids {
            #expect(after[id] == before[id], "GET /devices/\(id) differs after a graceful restart")
        }
        #expect(try await second.stop(signal: SIGTERM) == 0)
        let recovery = try #require(recoveryLine(in: second.log))
        let snapshot = try #require(recovery["recovery.snapshot"])
        #expect(snapshot.hasSuffix(".snap") && snapshot.hasPrefix("/"), "recovery.snapshot=\(snapshot)")
        #expect(snapshot.hasSuffix(snapshots.first ?? "?"), "loaded \(snapshot), wrote \(snapshots)")
        #expect(recovery["recovery.replayed_readings"] == "0")
        #expect(recovery["recovery.snapshot_readings"] == "\(ids.count * 120)")
        #expect(recovery["recovery.truncated_bytes"] == "0")
    }

    // MARK: 3. One process per data directory

    @Test func secondProcessOnTheSameDataDirectoryIsRefusedWhileTheFirstKeepsServing() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(first)
        #expect(try await first.request("POST", "/ingest", body: ingestBody("locked", [(0, 1)])).0 == 202)

        let second = try ServerProcess.run(["serve", "--data-dir", directory.path, "--port", "\(ServerProcess.freePort())"])
        #expect(second.status == 3)
        #expect(second.output.contains("another device-readings process is using the data directory"), "\(second.output)")

        // The first still serves, reads and writes.
        #expect(try await first.request("GET", "/ready").0 == 200)
        #expect(try await first.request("POST", "/ingest", body: ingestBody("locked", [(1, 2)])).0 == 202)
        let (status, body) = try await first.request("GET", "/devices/locked/cumulative_count")
        #expect(status == 200 && body == #"{"cumulative_count":3}"#, "\(status) \(body)")
        #expect(try await first.stop(signal: SIGTERM) == 0)
    }

    // MARK: 4. Damaged files

    @Test func tornJournalTailIsCutOffAndTheDataIsIntact() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = ["torn-a", "torn-b"]
        let first = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(first)
        try await ingestKnownSet(first, ids: ids, perDevice: 60)
        let before = try await bodies(first, ids: ids)
        #expect(try await first.stop(signal: SIGTERM) == 0)

        // After a graceful stop: the newest segment holds only its header; a crash mid-append
        // would leave a record header claiming 1000 bytes followed by 10 of them.
        let torn: [UInt8] = [0xE8, 0x03, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF] + Array(repeating: 0x5A, count: 10)
        try append(torn, toNewestJournalIn: directory)
        let second = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(second)
        #expect(try await bodies(second, ids: ids) == before)

        // Again after kill -9 with records in the newest segment: they are replayed, the torn
        // record after them is cut.
        try await ingestKnownSet(second, ids: ["torn-c"], perDevice: 30)
        let beforeKill = try await bodies(second, ids: ids + ["torn-c"])
        _ = try await second.stop(signal: SIGKILL)
        let secondLog = second.log
        let afterGraceful = try #require(recoveryLine(in: secondLog), "\(secondLog)")
        #expect(afterGraceful["recovery.truncated_bytes"] == "\(torn.count)")
        #expect(afterGraceful["recovery.replayed_readings"] == "0")
        #expect(secondLog.contains("torn tail"))

        try append(torn, toNewestJournalIn: directory)
        let third = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(third)
        #expect(try await bodies(third, ids: ids + ["torn-c"]) == beforeKill)
        #expect(try await third.stop(signal: SIGTERM) == 0)
        let afterKill = try #require(recoveryLine(in: third.log))
        #expect(afterKill["recovery.truncated_bytes"] == "\(torn.count)")
        #expect(afterKill["recovery.replayed_readings"] == "30")
    }

    /// What a power loss under `--sync interval` or `off` can leave: the unsynced end of the
    /// newest segment overwritten with garbage and more garbage after it. The server starts,
    /// cuts the segment at its first bad record and says so; what it keeps is what was sent.
    @Test(arguments: ["interval", "off"])
    func garbageAfterATornTailIsCutAndTheServerStarts(sync: String) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = ["garbage-a", "garbage-b"]
        let first = try ServerProcess(arguments: ["--data-dir", directory.path, "--sync", sync, "--snapshot-every", "off"])
        try await waitUntilReady(first)
        try await ingestKnownSet(first, ids: ids, perDevice: 600)
        let before = try await bodies(first, ids: ids)
        _ = try await first.stop(signal: SIGKILL)

        let name = try #require(try files(in: directory, prefix: "journal-", suffix: ".log").last)
        let path = directory.appendingPathComponent(name)
        var bytes = [UInt8](try Data(contentsOf: path))
        #expect(bytes.count > 4000)
        for k in (bytes.count - 1000)..<bytes.count { bytes[k] = UInt8(truncatingIfNeeded: k &* 131 &+ 7) }
        bytes += (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 3) }
        try Data(bytes).write(to: path)

        let second = try ServerProcess(arguments: ["--data-dir", directory.path, "--sync", sync])
        try await waitUntilReady(second)
        let after = try await bodies(second, ids: ids)
        #expect(try await second.stop(signal: SIGTERM) == 0)
        let recovery = try #require(recoveryLine(in: second.log), "\(second.log)")
        #expect(Int(recovery["recovery.truncated_bytes"] ?? "") ?? 0 >= 4096 + 1)
        #expect(second.log.contains("torn tail"))
        // What is kept is a part of what was stored: the same readings with the same counts.
        for id in ids {
            let kept = try DeviceBody(json: try #require(after[id]))
            let stored = try DeviceBody(json: try #require(before[id]))
            #expect(kept.data.count < stored.data.count || id != ids.last)
            for (timestamp, count) in kept.data { #expect(stored.data[timestamp] == count, "\(id) \(timestamp)") }
            #expect(kept.cumulativeCount == kept.data.values.reduce(0, +))
        }
    }

    @Test func corruptSnapshotStopsTheStartNamingTheFile() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ServerProcess(arguments: ["--data-dir", directory.path])
        try await waitUntilReady(first)
        try await ingestKnownSet(first, ids: ["corrupt-a", "corrupt-b", "corrupt-c"], perDevice: 80)
        #expect(try await first.stop(signal: SIGTERM) == 0)

        let name = try #require(try files(in: directory, prefix: "snapshot-", suffix: ".snap").last)
        let path = directory.appendingPathComponent(name).path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 64)
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let second = try ServerProcess(arguments: ["--data-dir", directory.path])
        let status = try await waitForExit(second, timeout: .seconds(30))
        let log = second.log
        #expect(status == 3)
        #expect(log.contains(name) && log.contains("corrupt at byte"), "\(log)")
        // Nothing was deleted or rewritten: the operator can still inspect the file.
        #expect(FileManager.default.fileExists(atPath: path))
    }

    // MARK: - The crash round

    /// Starts a server on a fresh directory, drives concurrent ingest from six clients, kills it
    /// with SIGKILL once a seeded number (in `killAfter`) of requests have been answered and
    /// `snapshotsBeforeKill` snapshots were written, restarts it on the same directory and checks
    /// every device against what the clients were told.
    private func crashRound(
        label: String, seed: UInt64, arguments: [String], killAfter: ClosedRange<Int>, snapshotsBeforeKill: Int = 0
    ) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var seeder = SplitMix64(seed: seed)
        let killPoint = killAfter.lowerBound + Int(seeder.next() % UInt64(killAfter.count))
        let context = "seed \(seed) (DURABILITY_SEED=\(Self.baseSeed)), \(label), kill at answer >= \(killPoint)"

        // warning: one info line per request would fill the unread stdout pipe.
        let server = try ServerProcess(arguments: ["--data-dir", directory.path, "--log-level", "warning"] + arguments)
        try await waitUntilReady(server)
        let ledger = Ledger(devices: 10, prefix: "crash-\(label)")
        let workers = 6
        let seeds = (0..<workers).map { _ in seeder.next() }
        let port = server.port
        let pid = server.process.processIdentifier
        let path = directory.path
        let giveUp = ContinuousClock.now + .seconds(20)
        /// Whether the kill may happen now: enough snapshots are on disk (or the time is up).
        @Sendable func mayKill() -> Bool {
            if snapshotsBeforeKill == 0 { return true }
            if ContinuousClock.now > giveUp {
                ledger.problem("\(snapshotsBeforeKill) snapshots were never written")
                return true
            }
            // snapshot-<n>.snap covers segments before n; in a fresh directory the k-th
            // snapshot is number k (each one starts a new segment).
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let newest =
                names.compactMap { name in
                    name.hasPrefix("snapshot-") && name.hasSuffix(".snap") ? Int(name.dropFirst(9).dropLast(5)) : nil
                }.max() ?? 0
            return newest >= snapshotsBeforeKill
        }
        await onThreads(workers) { worker in
            var rng = SplitMix64(seed: seeds[worker])
            while ledger.shouldContinue() {
                let (device, batch) = ledger.nextBatch(using: &rng)
                let body = ingestBody(ledger.id(device), batch.map { ($0.nanos, Ledger.count(for: $0)) })
                let answer = post(port: port, body: body) { ledger.sending(batch) }
                guard let answer else {
                    if !ledger.isKilled { ledger.problem("ingest request failed while the server was alive") }
                    return
                }
                let completed = ledger.answered(batch, status: answer.status, body: answer.body)
                if completed >= killPoint && mayKill() && ledger.claimKill() {
                    kill(pid, SIGKILL)
                }
            }
        }
        _ = try await server.stop(signal: SIGKILL)
        #expect(server.process.terminationReason == .uncaughtSignal, "\(context)")
        #expect(ledger.problems.isEmpty, "\(context): \(ledger.problems.prefix(10))")
        #expect(ledger.completed >= killPoint, "\(context): only \(ledger.completed) answers")

        let filesAtCrash = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()

        // Restart on the same directory (a new port) and compare.
        let restarted = try ServerProcess(arguments: ["--data-dir", directory.path] + arguments)
        try await waitUntilReady(restarted)
        var resentSomething = false
        var presentTotal = 0
        for device in 0..<ledger.devices {
            let id = ledger.id(device)
            let (status, body) = try await restarted.request("GET", "/devices/\(id)?limit=100000")
            let acked = ledger.acknowledged(device)
            if status == 404 {
                #expect(acked.count == 0, "\(context): \(id) is gone but readings were acknowledged")
                continue
            }
            #expect(status == 200, "\(context): GET \(id): \(status) \(body)")
            guard status == 200, let found = try? DeviceBody(json: body) else {
                Issue.record("\(context): unreadable GET /devices/\(id): \(body)")
                continue
            }
            presentTotal += found.data.count
            // Acknowledged (202) readings, and readings answered 409 DUPLICATE_READING (sent only
            // once the stored one was durable), are all present with their counts.
            let lost = acked.union(ledger.duplicatesAnswered(device))
                .filter { found.data[canonicalTimestamp($0.nanos)] != Ledger.count(for: $0) }
                .map {
                    "\(canonicalTimestamp($0.nanos))=\(Ledger.count(for: $0)) (found \(found.data[canonicalTimestamp($0.nanos)].map(String.init) ?? "nothing"))"
                }
                .sorted()
            #expect(lost.count == 0, "\(context): \(id) lost acknowledged readings: \(lost.prefix(10))")
            // Everything present was sent, by a request that was answered 202 for it or was
            // still in flight, and with the count that was sent.
            let possible = ledger.possiblyStored(device)
            var greatest: Key?
            var invented: [String] = []
            for (timestamp, count) in found.data {
                guard let key = possible[timestamp], count == Ledger.count(for: key) else {
                    invented.append("\(timestamp)=\(count)")
                    continue
                }
                if greatest == nil || key.nanos > greatest!.nanos { greatest = key }
            }
            #expect(
                invented.count == 0,
                "\(context): \(id) has readings no acknowledged or in-flight request sent: \(invented.sorted().prefix(10))")
            #expect(found.cumulativeCount == found.data.values.reduce(0, +), "\(context): \(id) cumulative_count")
            #expect(found.latestTimestamp == greatest.map { canonicalTimestamp($0.nanos) }, "\(context): \(id) latest_timestamp")

            // Re-sending stored readings is a duplicate and changes nothing.
            var sampler = SplitMix64(seed: seed &+ UInt64(device))
            let stored = found.data.keys.sorted().compactMap { possible[$0] }
            let sample = Array(stored.shuffled(using: &sampler).prefix(20))
            guard !sample.isEmpty else { continue }
            resentSomething = true
            let (resendStatus, resendBody) = try await restarted.request(
                "POST", "/ingest", body: ingestBody(id, sample.map { ($0.nanos, Ledger.count(for: $0)) }))
            #expect(resendStatus == 207, "\(context): re-sending to \(id): \(resendStatus)")
            let results = (try? IngestAnswer(json: resendBody))?.results ?? []
            #expect(
                results.count == sample.count && results.allSatisfy { $0.status == 409 && $0.code == "DUPLICATE_READING" },
                "\(context): re-sending to \(id): \(resendBody)")
            let (_, afterBody) = try await restarted.request("GET", "/devices/\(id)?limit=100000")
            #expect(afterBody == body, "\(context): re-sending duplicates changed \(id)")
        }
        #expect(resentSomething, "\(context): nothing was stored at all")
        print(
            "durability \(context): \(ledger.summary), present after restart \(presentTotal); files at the crash: \(filesAtCrash.joined(separator: " "))"
        )
        #expect(try await restarted.stop(signal: SIGTERM) == 0, "\(context)")
        // Recovery loaded the newest snapshot on disk at the crash (if any), then the journal.
        let log = restarted.log
        let recovery = recoveryLine(in: log)
        let newestSnapshot = filesAtCrash.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".snap") }.last
        #expect(
            recovery?["recovery.snapshot"].map { newestSnapshot.map($0.hasSuffix) ?? ($0 == "none") } == true,
            "\(context): \(String(describing: recovery)) with \(filesAtCrash)")
        // Each journal record holds readings accepted once: without a snapshot, replay saw each
        // stored reading once; with one, the two sources cover everything (they may overlap).
        let replayed = Int(recovery?["recovery.replayed_readings"] ?? "") ?? -1
        let fromSnapshot = Int(recovery?["recovery.snapshot_readings"] ?? "") ?? -1
        if newestSnapshot == nil {
            #expect(replayed == presentTotal, "\(context): \(String(describing: recovery))")
        } else {
            #expect(fromSnapshot + replayed >= presentTotal && fromSnapshot <= presentTotal, "\(context): \(String(describing: recovery))")
        }
    }

    // MARK: - Helpers

    /// Ingests `perDevice` readings per device in batches of 40, out of time order, with a few
    /// duplicates; checks the answers.
    private func ingestKnownSet(_ server: ServerProcess, ids: [String], perDevice: Int) async throws {
        var rng = SplitMix64(seed: 7)
        for (d, id) in ids.enumerated() {
            let readings = (0..<perDevice).map { i in
                (Int64(1_704_067_200 + i * 60) * 1_000_000_000 + Int64(i % 4) * 250_000_000, Int64((i * 7 + d) % 100))
            }.shuffled(using: &rng)
            for start in stride(from: 0, to: readings.count, by: 40) {
                let batch = Array(readings[start..<min(start + 40, readings.count)])
                let (status, body) = try await server.request("POST", "/ingest", body: ingestBody(id, batch))
                #expect(status == 202, "\(body)")
                if start > 0 {
                    let (again, _) = try await server.request("POST", "/ingest", body: ingestBody(id, Array(readings[0..<3])))
                    #expect(again == 207)
                }
            }
        }
    }

    /// The raw bodies of `GET /devices/{id}?limit=100000`.
    private func bodies(_ server: ServerProcess, ids: [String]) async throws -> [String: String] {
        var result: [String: String] = [:]
        for id in ids {
            let (status, body) = try await server.request("GET", "/devices/\(id)?limit=100000")
            #expect(status == 200, "\(id): \(body)")
            result[id] = body
        }
        return result
    }

    private func files(in directory: URL, prefix: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.sorted()
    }

    private func append(_ bytes: [UInt8], toNewestJournalIn directory: URL) throws {
        let name = try #require(try files(in: directory, prefix: "journal-", suffix: ".log").last)
        let handle = try FileHandle(forWritingTo: directory.appendingPathComponent(name))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }
}

// MARK: - Waiting on processes

/// Waits until `/ready` answers 200 (storage open and recovered), failing if the process exits.
func waitUntilReady(_ server: ServerProcess, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        guard server.process.isRunning else {
            Issue.record("the server exited with \(server.process.terminationStatus): \(server.log)")
            throw ServerProcess.ServerError.exited(server.process.terminationStatus)
        }
        if let (status, _) = try? await server.request("GET", "/ready"), status == 200 { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw ServerProcess.ServerError.timeout
}

/// Waits until the process exits by itself; kills it and fails after `timeout`.
private func waitForExit(_ server: ServerProcess, timeout: Duration) async throws -> Int32 {
    let deadline = ContinuousClock.now + timeout
    while server.process.isRunning {
        guard ContinuousClock.now < deadline else {
            let pid = server.process.processIdentifier
            let state = readProcFile("/proc/\(pid)/stat")
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            let names = threads.map {
                readProcFile("/proc/\(pid)/task/\($0)/comm").trimmingCharacters(in: .whitespacesAndNewlines) + ":"
                    + readProcFile("/proc/\(pid)/task/\($0)/wchan")
            }
            kill(pid, SIGKILL)
            Issue.record("the server did not exit within \(timeout); /proc stat: \(state); threads: \(names); log: \(server.log)")
            throw ServerProcess.ServerError.timeout
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    return server.process.terminationStatus
}

/// The metadata of the log line saying `recovered`.
func recoveryLine(in log: String) -> [String: String]? {
    guard let line = log.split(separator: "\n").first(where: { $0.contains("recovered") && $0.contains("recovery.snapshot=") })
    else { return nil }
    var metadata: [String: String] = [:]
    for word in line.split(separator: " ") where word.hasPrefix("recovery.") {
        let parts = word.split(separator: "=", maxSplits: 1)
        if parts.count == 2 { metadata[String(parts[0])] = String(parts[1]) }
    }
    return metadata
}

/// Runs `body(i)` for `i` in `0..<count`, each on a thread of its own (the clients block in
/// socket calls, which must not hold the few threads of Swift's cooperative pool).
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            Thread {
                body(i)
                group.leave()
            }.start()
        }
        group.notify(queue: .global()) { continuation.resume() }
    }
}

// MARK: - HTTP for the ingest clients

/// POSTs `body` to `/ingest` on a new connection; calls `sending` once connected, just before
/// the request goes out. Nil unless a whole response (all of `Content-Length`) arrived.
private func post(port: Int, body: String, sending: () -> Void) -> (status: Int, body: String)? {
    guard let connection = try? RawConnection(port: port) else { return nil }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(connection.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let payload = Array(body.utf8)
    let request =
        Array(
            "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
                .utf8) + payload
    sending()
    var offset = 0
    while offset < request.count {
        let n = request[offset...].withUnsafeBytes { send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { return nil }
        offset += n
    }
    let response = connection.receiveResponse()
    guard response.hasPrefix("HTTP/1.1 "), let status = Int(response.dropFirst(9).prefix(3)),
        let headEnd = response.range(of: "\r\n\r\n")
    else { return nil }
    let head = response[..<headEnd.lowerBound].lowercased()
    guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
        let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
    else { return nil }
    let responseBody = response[headEnd.upperBound...]
    guard responseBody.utf8.count == length else { return nil }
    return (status, String(responseBody))
}

/// `{"id": id, "readings": [...]}` with canonical timestamps.
private func ingestBody(_ id: String, _ readings: [(Int64, Int64)]) -> String {
    let items = readings.map { #"{"timestamp":"\#(canonicalTimestamp($0.0))","count":\#($0.1)}"# }
    return #"{"id":"\#(id)","readings":[\#(items.joined(separator: ","))]}"#
}

/// The contract's canonical UTC spelling of an instant (nanoseconds since 1970, non-negative):
/// `YYYY-MM-DDTHH:MM:SS`, a fraction without trailing zeros (none if zero), `Z`.
private func canonicalTimestamp(_ nanos: Int64) -> String {
    let seconds = nanos / 1_000_000_000
    let fraction = nanos % 1_000_000_000
    let days = seconds / 86_400
    let secondOfDay = seconds % 86_400
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468
    let era = z / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    var text =
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
    if fraction > 0 {
        var digits = pad(fraction, 9)
        while digits.hasSuffix("0") { digits.removeLast() }
        text += "." + digits
    }
    return text + "Z"
}

// MARK: - What the clients were told

/// One reading slot: a device (by index) and an instant.
private struct Key: Hashable, Sendable {
    let device: Int
    let nanos: Int64
}

/// Everything the concurrent clients sent and were answered, shared between their threads.
private final class Ledger: @unchecked Sendable {
    let devices: Int
    let prefix: String
    private let lock = NSLock()
    /// Per device: seconds after the base instant of the newest in-order reading.
    private var cursor: [Int64]
    /// Per device: every slot sent at least once, in first-sent order (for re-sends).
    private var sent: [[Key]]
    private var sentSet: Set<Key> = []
    private var acked: Set<Key> = []
    private var duplicates: Set<Key> = []
    /// Slots of requests that were sent and not (yet) answered, with multiplicity.
    private var inFlight: [Key: Int] = [:]
    private var killed = false
    private(set) var completed = 0
    private var issues: [String] = []

    static let base: Int64 = 1_704_067_200  // 2024-01-01T00:00:00Z

    init(devices: Int, prefix: String) {
        self.devices = devices
        self.prefix = prefix
        cursor = Array(repeating: 0, count: devices)
        sent = Array(repeating: [], count: devices)
    }

    func id(_ device: Int) -> String { "\(prefix)-d\(device)" }

    /// The count every client sends for a slot, so that re-sends are duplicates, never conflicts.
    static func count(for key: Key) -> Int64 {
        var mixer = SplitMix64(seed: UInt64(bitPattern: key.nanos) &+ UInt64(key.device) &* 0x1234_5678_9ABC)
        return Int64(mixer.next() % 1000)
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func shouldContinue() -> Bool { locked { !killed && issues.isEmpty } }
    var isKilled: Bool { locked { killed } }
    var problems: [String] { locked { issues } }
    func problem(_ text: String) { locked { issues.append(text) } }

    /// A batch of 1...50 readings for one device: about 10% re-sends of slots sent before,
    /// 10% new slots earlier than the device's newest, the rest new slots in time order.
    func nextBatch(using rng: inout SplitMix64) -> (Int, [Key]) {
        locked {
            let device = Int(rng.next() % UInt64(devices))
            let size = 1 + Int(rng.next() % 50)
            var batch: [Key] = []
            for _ in 0..<size {
                let roll = rng.next() % 100
                let key: Key
                if roll < 10, !sent[device].isEmpty {
                    key = sent[device][Int(rng.next() % UInt64(sent[device].count))]
                } else if roll < 20, cursor[device] > 2 {
                    let second = Ledger.base + Int64(rng.next() % UInt64(cursor[device]))
                    key = Key(device: device, nanos: second * 1_000_000_000 + Int64(1 + rng.next() % 999) * 1_000_000)
                } else {
                    cursor[device] += 1 + Int64(rng.next() % 3)
                    key = Key(device: device, nanos: (Ledger.base + cursor[device]) * 1_000_000_000)
                }
                if sentSet.insert(key).inserted { sent[device].append(key) }
                batch.append(key)
            }
            return (device, batch)
        }
    }

    func sending(_ batch: [Key]) {
        locked { for key in batch { inFlight[key, default: 0] += 1 } }
    }

    /// Records an answer; returns the number of answers so far.
    func answered(_ batch: [Key], status: Int, body: String) -> Int {
        let answer = try? IngestAnswer(json: body)
        return locked {
            guard let answer, answer.results.count == batch.count else {
                issues.append("unreadable ingest answer \(status): \(body.prefix(300))")
                return completed
            }
            let accepted = answer.results.filter { $0.status == 202 }.count
            if answer.accepted != accepted || status != (accepted == batch.count ? 202 : 207) {
                issues.append("inconsistent ingest answer \(status): \(body.prefix(300))")
            }
            for (key, result) in zip(batch, answer.results) {
                inFlight[key]! -= 1
                if inFlight[key] == 0 { inFlight[key] = nil }
                switch (result.status, result.code) {
                case (202, _):
                    if !acked.insert(key).inserted { issues.append("a second 202 for \(id(key.device)) \(canonicalTimestamp(key.nanos))") }
                case (409, "DUPLICATE_READING"):
                    duplicates.insert(key)
                default:
                    issues.append(
                        "unexpected result \(result.status) \(result.code ?? "") for \(id(key.device)) \(canonicalTimestamp(key.nanos))")
                }
            }
            completed += 1
            return completed
        }
    }

    /// True for the one caller that is to send the kill.
    func claimKill() -> Bool {
        locked {
            defer { killed = true }
            return !killed
        }
    }

    var summary: String {
        locked { "\(completed) answers, \(acked.count) acknowledged, \(duplicates.count) duplicates, \(inFlight.count) in flight" }
    }

    func acknowledged(_ device: Int) -> Set<Key> { locked { acked.filter { $0.device == device } } }
    func duplicatesAnswered(_ device: Int) -> Set<Key> { locked { duplicates.filter { $0.device == device } } }

    /// Slots that may be stored, by canonical timestamp: acknowledged, or in a request that was
    /// never answered.
    func possiblyStored(_ device: Int) -> [String: Key] {
        locked {
            var result: [String: Key] = [:]
            for key in acked where key.device == device { result[canonicalTimestamp(key.nanos)] = key }
            for key in inFlight.keys where key.device == device { result[canonicalTimestamp(key.nanos)] = key }
            return result
        }
    }
}

// MARK: - Decoding answers

private struct IngestAnswer {
    struct Result {
        var status: Int
        var code: String?
    }
    var accepted: Int
    var results: [Result]

    init(json: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let accepted = (object["accepted"] as? NSNumber)?.intValue,
            let results = object["results"] as? [[String: Any]]
        else { throw ServerProcess.ServerError.exited(-1) }
        self.accepted = accepted
        self.results = try results.map {
            guard let status = ($0["status"] as? NSNumber)?.intValue else { throw ServerProcess.ServerError.exited(-1) }
            return Result(status: status, code: $0["code"] as? String)
        }
    }
}

private struct DeviceBody {
    var data: [String: Int64]
    var latestTimestamp: String?
    var cumulativeCount: Int64

    init(json: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let data = object["data"] as? [String: Any],
            let cumulative = (object["cumulative_count"] as? NSNumber)?.int64Value
        else { throw ServerProcess.ServerError.exited(-1) }
        self.data = try data.mapValues {
            guard let count = ($0 as? NSNumber)?.int64Value else { throw ServerProcess.ServerError.exited(-1) }
            return count
        }
        latestTimestamp = object["latest_timestamp"] as? String
        cumulativeCount = cumulative
    }
}
