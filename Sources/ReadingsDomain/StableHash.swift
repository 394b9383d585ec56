/// FNV-1a, 64-bit: a hash of bytes that is the same in every process and on every machine
/// (Swift's `Hasher` is seeded per process). Device ids choose their shard with it, and the
/// server tags its built-in files with it.
public enum StableHash {
    @inlinable
    public static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
