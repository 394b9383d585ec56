import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

#if !os(Linux)
#error("Device Readings runs on Linux only: its storage calls Glibc directly (see Package.swift)")
#endif

/// Process entry: tunes the allocator, makes NIO's event loops Swift Concurrency's global
/// executor before anything else runs (so request handlers run on the thread that owns their
/// connection instead of hopping to a separate thread pool and back for every request), then
/// runs the command line.
@main
enum Entrypoint {
    static func main() async {
        Allocator.keepRequestBuffersMapped()
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await DeviceReadingsCommand.main()
    }
}

/// glibc's allocator by default serves blocks of 128 KiB and more with fresh `mmap`s and hands
/// free memory at the top of a heap back to the kernel once 128 KiB of it collect. Request bodies
/// and response buffers of large batches are about that size and live one request each, so every
/// such request mapped, faulted in, zeroed and unmapped its pages: a profile at 1000 readings per
/// request spent about 15 % of the server's time in page faults. Serving blocks up to 4 MiB from
/// the heap and keeping up to 16 MiB free before trimming removes that churn (measured side by
/// side: 6.45M → 8.78M readings/s at batches of 1000, 2.59M → 3.08M at 100, no change at 1).
/// Larger values gave no more speed and kept tens of MiB that a million-device fleet had freed
/// while growing its tables (RSS per device 243 bytes with these, 297 with 32 MiB / 64 MiB; 1 MiB /
/// 64 MiB or 32 MiB / 8 MiB lost most of the gain). `MALLOC_MMAP_THRESHOLD_` /
/// `MALLOC_TRIM_THRESHOLD_` in the environment still win.
enum Allocator {
    static func keepRequestBuffersMapped() {
        #if canImport(Glibc)
        // `mallopt` is declared in <malloc.h>, which the Glibc module does not import; it is
        // looked up by name instead. Parameter numbers from <malloc.h>.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1
        let mmapThreshold: Int32 = -3
        let environment = ProcessInfo.processInfo.environment
        if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = mallopt(mmapThreshold, 4 << 20) }
        if environment["MALLOC_TRIM_THRESHOLD_"] == nil { _ = mallopt(trimThreshold, 16 << 20) }
        #endif
    }
}
