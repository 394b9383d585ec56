import ArgumentParser
import ReadingsLoad

/// `device-readings`: the root command.
struct DeviceReadingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device-readings",
        abstract:
            "Ingests count readings from fleets of devices and answers, per device, the latest reading's time and the cumulative count.",
        discussion: """
            `serve` reads each flag also from an environment variable and from a .env file in the \
            working directory (KEY=VALUE lines); a flag wins over the environment, which wins over .env. \
            `bench` is a load generator to point at a running server.
            """,
        subcommands: [ServeCommand.self, BenchCommand.self]
    )
}
