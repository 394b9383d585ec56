import ArgumentParser
import Foundation
import Logging
import ReadingsHTTP
import ReadingsPersistence

/// `device-readings serve`: runs the HTTP server until SIGINT or SIGTERM, then drains in-flight
/// requests and closes storage. Its settings are ``Setting/all``: parsed, looked up in the
/// environment and `./.env`, validated and described from that one list.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server.",
        discussion: Setting.helpText
    )

    /// The settings' flags, read by ``SettingValues`` (so that each is declared once, in ``Setting``).
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settings: [String] = []

    func run() async throws {
        let values = try SettingValues(
            arguments: settings, environment: ProcessInfo.processInfo.environment,
            dotEnvText: try? String(contentsOfFile: ".env", encoding: .utf8))
        let plan = try ServerPlan(values)
        LoggingSystem.bootstrap { label in
            var handler = DeferredMetadataLogHandler(StreamLogHandler.standardOutput(label: label))
            handler.logLevel = plan.logLevel
            return handler
        }
        let logger = Logger(label: "device-readings")
        let application: Application
        do {
            application = try makeApplication(plan, metrics: ServiceMetrics(), logger: logger) { error in
                // Data on disk is damaged: say where and stop, rather than serve without it.
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                Foundation.exit(3)
            }
        } catch let error as RecoveryError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(3)
        }
        try await application.runService()
    }
}
