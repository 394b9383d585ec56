import ArgumentParser

/// `device-readings`: the root command.
@main
struct DeviceReadingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device-readings",
        abstract: "Ingests count readings from fleets of devices and answers, per device, the latest reading's time and the cumulative count.",
        discussion: """
            Every flag also reads an environment variable, and a .env file in the working directory \
            (KEY=VALUE lines). A flag wins over the environment, which wins over .env.
            """,
        subcommands: [ServeCommand.self]
    )
}
