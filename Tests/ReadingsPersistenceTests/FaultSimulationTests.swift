import Foundation
import Logging
import ReadingsDomain
import ReadingsStorage
import Testing

@testable import ReadingsPersistence

#if canImport(Glibc)
import Glibc
#endif

/// The journaled store on a ``SimulatedDisk``, in the spirit of SQLite's fault-injecting file
/// system and FoundationDB's simulation: a seeded workload (ingests with repeats, conflicts and
/// late readings, segment rotations, snapshots, a restart) runs once to count its file
/// operations, then once per operation and fault: that operation fails (ENOSPC, EIO, a short
/// write) or is the last before a crash. After every case the disk is restarted as a killed
/// process, a power loss and a torn power loss would leave it, and:
/// - the store starts by itself;
/// - every reading that got 202, or a 409 (a repeat the client was told is stored), is there
///   with its count;
/// - no reading that got a 503 (and no later 202) is there, and nothing is there that was never
///   sent;
/// - recovering again (a second crash) gives the same state, and a power loss right after
///   recovery keeps it: what recovery replayed is durable.
/// Failures name the seed, the fault and the operation, so that they reproduce.
@Suite struct FaultSimulationTests {
    static let seeds: [UInt64] = [1, 2, 3, 4]

    @Test(arguments: seeds)
    func everyFailureAndCrashPointRestartsWithNothingAcknowledgedLost(seed: UInt64) async throws {
        let workload = Workload(seed: seed)
        let dry = SimulatedDisk()
        let reference = try await workload.run(on: dry)
        #expect(reference.violations.isEmpty, "seed \(seed), no fault: \(reference.violations)")
        #expect(reference.refused.isEmpty)
        let operations = dry.operationLog
        #expect(operations.count > 100, "the workload exercises too few operations")
        #expect(Set(operations).isSuperset(of: ["open", "write", "fsync", "rename", "unlink", "read", "opendir"]))

        var cases = 0
        var refusedSeen = 0
        for (index, operation) in operations.enumerated() {
            var faults: [SimulatedDisk.Fault] = [.error(ENOSPC), .error(EIO), .crash]
            if operation == "write" { faults.append(.shortWrite) }
            for fault in faults {
                let disk = SimulatedDisk(fault: (index, fault))
                let outcome = try await workload.run(on: disk)
                let label = "seed \(seed), \(fault) at operation \(index) (\(operation))"
                #expect(outcome.violations.isEmpty, "\(label): \(outcome.violations)")
                for violation in try await Self.verifyRestarts(of: disk, outcome: outcome) {
                    Issue.record("\(label): \(violation)")
                }
                refusedSeen += outcome.refused.isEmpty ? 0 : 1
                cases += 1
            }
        }
        print("fault simulation, seed \(seed): \(operations.count) file operations, \(cases) cases, \(refusedSeen) with readings refused")
        // The faults did reach requests: many cases had readings refused with 503.
        #expect(refusedSeen > operations.count / 4)
        #expect(cases >= 3 * operations.count)
    }

    /// Restarts `disk` as a killed process, a power loss and a torn power loss would leave it,
    /// and checks each against what the workload's clients were told.
    static func verifyRestarts(of disk: SimulatedDisk, outcome: Workload.Outcome) async throws -> [String] {
        var violations: [String] = []
        let images = [
            ("after a crash", disk.afterProcessCrash()), ("after a power loss", disk.afterPowerLoss()),
            ("after a torn power loss", disk.afterPowerLoss(torn: true)),
        ]
        for (name, image) in images {
            guard let store = try await Workload.open(image) else {
                violations.append("\(name): the store did not start")
                continue
            }
            let recovered = try await Workload.contents(of: store)
            violations += outcome.check(recovered).map { "\(name): \($0)" }
            // A second crash, right after recovery, and a power loss right after that.
            let again = image.afterProcessCrash()
            let powerLoss = image.afterPowerLoss()
            await store.abandon()
            for (second, disk) in [("recovering again", again), ("a power loss after recovery", powerLoss)] {
                guard let store = try await Workload.open(disk) else {
                    violations.append("\(name), \(second): the store did not start")
                    continue
                }
                if try await Workload.contents(of: store) != recovered {
                    violations.append("\(name), \(second): the state differs from the first recovery")
                }
                await store.abandon()
            }
        }
        return violations
    }
}

/// A seeded sequence of ingests, snapshots and one restart, and what its clients were told.
struct Workload {
    enum Step {
        case ingest(DeviceID, [Reading])
        case snapshot
        case restart
    }

    struct Key: Hashable, CustomStringConvertible {
        var device: DeviceID
        var instant: Instant
        var description: String { "\(device)@\(instant.nanoseconds)" }
    }

    /// What the clients were told.
    struct Outcome {
        /// Readings acknowledged (202, or a 409 for a reading stored before), with their counts.
        var acknowledged: [Key: UInt64] = [:]
        /// Readings refused with 503 and never acknowledged afterwards.
        var refused: Set<Key> = []
        /// Readings of the request the crash interrupted: either answer is right.
        var unknown: Set<Key> = []
        /// Answers that contradict earlier ones.
        var violations: [String] = []

        mutating func record(_ readings: [Reading], of device: DeviceID, outcomes: [IngestOutcome]) {
            for (reading, outcome) in zip(readings, outcomes) {
                let key = Key(device: device, instant: reading.instant)
                switch outcome {
                case .accepted:
                    if acknowledged[key] != nil { violations.append("\(key) accepted twice") }
                    acknowledged[key] = reading.count
                    refused.remove(key)
                case .duplicate:
                    if acknowledged[key] != reading.count {
                        violations.append("\(key): 409 duplicate, but it was never acknowledged with that count")
                    }
                case .conflicting(let existing):
                    if acknowledged[key] != existing {
                        violations.append("\(key): 409 conflict with \(existing), but that was never acknowledged")
                    }
                case .overflow, .tooOld:
                    violations.append("\(key): unexpected \(outcome)")
                }
            }
        }

        mutating func refuse(_ readings: [Reading], of device: DeviceID) {
            for reading in readings {
                let key = Key(device: device, instant: reading.instant)
                if acknowledged[key] == nil { refused.insert(key) }
            }
        }

        /// What is wrong with a recovered state.
        func check(_ state: [Key: UInt64]) -> [String] {
            var problems: [String] = []
            for (key, count) in acknowledged where state[key] != count {
                problems.append("acknowledged \(key)=\(count) is \(state[key].map(String.init) ?? "missing")")
            }
            for key in refused where state[key] != nil {
                problems.append("\(key) got 503 but is stored")
            }
            for key in state.keys where acknowledged[key] == nil && !unknown.contains(key) && !refused.contains(key) {
                problems.append("\(key) is stored but was never acknowledged")
            }
            return problems
        }
    }

    static let directory = URL(fileURLWithPath: "/simulated/data")
    static let logger: Logger = {
        var logger = Logger(label: "fault-simulation")
        logger.logLevel = .critical
        return logger
    }()

    let steps: [Step]

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let devices = (0..<3).map { try! DeviceID("sim-\(seed)-\($0)") }
        var steps: [Step] = []
        for k in 0..<40 {
            if k == 12 || k == 30 {
                steps.append(.snapshot)
            } else if k == 21 {
                steps.append(.restart)
            } else {
                let size = Int.random(in: 1...24, using: &random)
                // Instants from a small range, so that repeats, conflicts and late readings are common.
                let readings = (0..<size).map { _ in
                    Reading(
                        instant: Instant(
                            nanoseconds: 1_700_000_000_000_000_000 + Int64.random(in: 0..<400, using: &random) * 1_000_000_000),
                        count: UInt64.random(in: 1...2, using: &random))
                }
                steps.append(.ingest(devices.randomElement(using: &random)!, readings))
            }
        }
        self.steps = steps
    }

    /// A store on `disk`, started (a failed start is retried, as a restarted process would),
    /// or nil if it cannot start.
    static func open(_ disk: SimulatedDisk, retention: Retention? = nil) async throws -> JournaledStore? {
        for _ in 0..<3 {
            guard
                let store = try? JournaledStore(
                    directory: directory, policy: .always, snapshotTrigger: SnapshotTrigger(bytes: nil, interval: nil),
                    retention: retention, segmentLimit: 700, fileSystem: disk, logger: logger)
            else { continue }
            do {
                try await store.start()
                return store
            } catch {
                await store.abandon()
            }
        }
        return nil
    }

    /// Every reading in `store`.
    static func contents(of store: JournaledStore) async throws -> [Key: UInt64] {
        var all: [Key: UInt64] = [:]
        for device in try await store.devices(after: nil, prefix: [], limit: 1000).devices {
            let page = try #require(try await store.readings(of: device.id, in: InstantRange(), limit: .max))
            #expect(page.summary.cumulativeCount == page.readings.reduce(0) { $0 + Int64($1.count) })
            for reading in page.readings { all[Key(device: device.id, instant: reading.instant)] = reading.count }
        }
        return all
    }

    /// Runs the steps on `disk` until they end or the disk's process crashes. After a 503 the
    /// store is rebuilt as the server's upkeep would (retried, as it is every second).
    func run(on startDisk: SimulatedDisk) async throws -> Outcome {
        var outcome = Outcome()
        var disk = startDisk
        guard var store = try await Self.open(disk) else {
            if !disk.hasCrashed { outcome.violations.append("the store did not start") }
            return outcome
        }
        for step in steps where !disk.hasCrashed {
            switch step {
            case .ingest(let device, let readings):
                do {
                    let outcomes = try await store.ingest(readings, for: device)
                    if disk.hasCrashed {
                        outcome.unknown.formUnion(readings.map { Key(device: device, instant: $0.instant) })
                    } else {
                        outcome.record(readings, of: device, outcomes: outcomes)
                    }
                } catch {
                    if disk.hasCrashed {
                        outcome.unknown.formUnion(readings.map { Key(device: device, instant: $0.instant) })
                    } else {
                        outcome.refuse(readings, of: device)
                    }
                }
            case .snapshot:
                try? await store.takeSnapshot()
            case .restart:
                let image = disk.afterProcessCrash(keepingFault: true)
                await store.abandon()
                disk = image
                guard let reopened = try await Self.open(disk) else {
                    if !disk.hasCrashed { outcome.violations.append("the store did not restart") }
                    return outcome
                }
                store = reopened
            }
            var attempts = 0
            while !disk.hasCrashed, !(await store.isReady()) {
                attempts += 1
                guard attempts <= 3 else {
                    outcome.violations.append("the store did not rebuild after a failure")
                    return outcome
                }
                try? await store.rebuild()
            }
        }
        // The process is killed where it stands (nothing more reaches the disk): the caller
        // restarts the disk as it is now.
        startDisk.adopt(disk.afterProcessCrash(keepingFault: true))
        await store.abandon()
        return outcome
    }
}
