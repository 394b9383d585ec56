#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shared `main` of the fuzz targets. Built with `-DFUZZING` (and `-sanitize=fuzzer`) it hands
/// over to libFuzzer's driver with `callback`; otherwise it replays the files or folders named on
/// the command line through `target` (a corpus replayer) and exits 0.
///
/// A target keeps its own `main` because SwiftPM renames an executable's entry point and links it
/// as `main`, so libFuzzer's own `main` cannot be used.
public enum FuzzMain {
    public static func run(
        callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt,
        target: (UnsafeBufferPointer<UInt8>) -> Void
    ) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
        #else
        exit(CorpusReplay.run(CommandLine.arguments.dropFirst(), target: target))
        #endif
    }
}

#if FUZZING
/// libFuzzer's driver (`int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`).
// swift-format-ignore: AlwaysUseLowerCamelCase
// (libFuzzer's C symbol, named as libFuzzer names it.)
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
