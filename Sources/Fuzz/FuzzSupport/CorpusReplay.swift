#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Without `-DFUZZING` the fuzzer is an ordinary executable that replays files (or every file in
/// the directories) given as arguments through the fuzz target, so that a crash reproducer or a
/// corpus can be checked with a plain build. A violated invariant traps; otherwise it exits 0.
public enum CorpusReplay {
    /// Runs `target` on every file named by `arguments` (directories are read one level deep).
    public static func run(_ arguments: ArraySlice<String>, target: (UnsafeBufferPointer<UInt8>) -> Void) -> Int32 {
        var count = 0
        for argument in arguments {
            for path in files(at: argument) {
                guard let bytes = read(path) else {
                    print("cannot read \(path)")
                    return 2
                }
                // An exact-size heap copy, so that an address sanitizer sees any overread.
                let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
                _ = copy.initialize(from: bytes)
                target(UnsafeBufferPointer(copy))
                copy.deallocate()
                count += 1
            }
        }
        print("replayed \(count) input(s): every invariant held")
        return 0
    }

    /// `path` itself, or the regular files in it when it is a directory (sorted).
    private static func files(at path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            names.append(path + "/" + name)
        }
        return names.sorted().filter {
            opendir($0).map {
                closedir($0)
                return false
            } ?? true
        }
    }

    private static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return ferror(file) == 0 ? bytes : nil
    }
}
