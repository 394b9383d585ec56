import Foundation
import Testing

@testable import device_readings

/// The settings catalogue is the one place a setting is declared: the docs' table, the help text
/// and the tests' list of variables to clear come from it, and its values are checked as it says.
@Suite struct SettingCatalogueTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func docsConfigurationTableIsTheCatalogue() throws {
        let page = try String(contentsOf: Self.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let table = page.split(separator: "\n", omittingEmptySubsequences: false).filter { $0.hasPrefix("|") }
            .joined(separator: "\n")
        #expect(table == Setting.markdownTable, "docs/configuration.md should hold exactly:\n\(Setting.markdownTable)")
    }

    /// Every number's default is a number in its range (the plan unwraps them), except the one
    /// computed at start; and they are the server's own defaults.
    @Test func numericDefaultsAreNumbersInRange() throws {
        for setting in Setting.all {
            guard case .integer(let range) = setting.kind, setting != .maxInflightBytes else { continue }
            let value = try #require(Int(setting.defaultText), "\(setting.option)")
            #expect(range.contains(value), "\(setting.option)")
        }
        let plan = try ServerPlan(SettingValues(arguments: [], environment: [:], dotEnvText: nil))
        #expect(plan.configuration.port == 3000 && plan.configuration.maxBodySize == 16 << 20)
        #expect(plan.configuration.idleTimeout == .seconds(30) && plan.configuration.requestTimeout == .seconds(60))
        #expect(plan.configuration.maxConnections == 1024 && plan.configuration.maxHeaderSize == 16 << 10)
    }

    @Test func flagsAndVariablesAreUnique() {
        #expect(Set(Setting.all.map(\.flag)).count == Setting.all.count)
        #expect(Set(Setting.all.map(\.environment)).count == Setting.all.count)
    }

    @Test func aFlagWinsOverTheEnvironmentWhichWinsOverDotEnv() throws {
        let values = try SettingValues(
            arguments: ["--port", "4000", "--api-key=a", "--api-key", "b", "--metrics-auth"],
            environment: ["PORT": "5000", "HOST": "0.0.0.0", "MAX_READINGS": "", "READ_API_KEYS": " r1 , ,r2"],
            dotEnvText: "HOST=10.0.0.1\nexport LOG_LEVEL='Warning'\nMAX_READINGS=7")
        #expect(try values.integer(.port) == 4000)
        #expect(values.text(.host) == "0.0.0.0")
        #expect(try values.choice(.logLevel) == "warning")
        // Empty in the environment is unset, so .env's value is not reached either: the default.
        #expect(try values.integer(.maxReadings) == 100_000)
        #expect(try values.list(.apiKey) == ["a", "b"])
        #expect(try values.list(.readAPIKey) == ["r1", "r2"])
        #expect(try values.boolean(.metricsAuth))
    }

    @Test(arguments: [
        ["--port", "65536"], ["--port", "x"], ["--max-header-size", "1023"], ["--log-level", "loud"], ["--nope", "1"],
        ["--port"], ["stray"], ["--api-key", ""],
    ])
    func badValuesNameTheirFlag(arguments: [String]) throws {
        #expect(throws: (any Error).self) {
            let values = try SettingValues(arguments: arguments, environment: [:], dotEnvText: nil)
            _ = try ServerPlan(values)
        }
    }

    @Test func theEngineFollowsTheSettings() throws {
        func engine(_ environment: [String: String]) throws -> ServerPlan.Engine {
            try ServerPlan(SettingValues(arguments: [], environment: environment, dotEnvText: nil)).engine
        }
        guard case .memory = try engine([:]) else {
            Issue.record("memory by default")
            return
        }
        guard case .journaled(let directory, .always, _) = try engine(["DATA_DIR": "/tmp/d"]), directory == "/tmp/d" else {
            Issue.record("journaled with DATA_DIR")
            return
        }
        guard case .postgres(_, 16, .zero) = try engine(["POSTGRES_URL": "postgres://x@h/db", "DATA_DIR": ""]) else {
            Issue.record("postgres with POSTGRES_URL")
            return
        }
        guard case .postgres(_, _, .milliseconds(2)) = try engine(["POSTGRES_URL": "postgres://x@h/db", "POSTGRES_BATCH_WINDOW": "2ms"])
        else {
            Issue.record("postgres with a batch window")
            return
        }
        #expect(throws: (any Error).self) { try engine(["POSTGRES_URL": "postgres://x@h/db", "DATA_DIR": "/tmp/d"]) }
        #expect(throws: (any Error).self) { try engine(["POSTGRES_URL": "postgres://x@h/db", "POSTGRES_BATCH_WINDOW": "2s"]) }
    }
}
