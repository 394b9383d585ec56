import NIOCore
import NIOPosix

/// Process entry: makes NIO's event loops Swift Concurrency's global executor before anything
/// else runs, so request handlers run on the thread that owns their connection instead of
/// hopping to a separate thread pool and back for every request; then runs the command line.
@main
enum Entrypoint {
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await DeviceReadingsCommand.main()
    }
}
