import CompressNIO
import NIOCore

/// Inflates a `Content-Encoding: gzip` request body with the body limit applied to the
/// decompressed size: the output buffer never grows past `limit + 1` bytes, so a zip bomb costs
/// at most that much memory before it is refused.
enum GzipBody {
    enum Failure: Error {
        /// More than `limit` bytes once decompressed.
        case tooLarge
        /// Not a whole, valid gzip stream (corrupt, truncated, or followed by other bytes).
        case invalid
    }

    static func inflate(_ compressed: ByteBuffer, limit: Int) throws(Failure) -> ByteBuffer {
        var input = compressed
        let decompressor = CompressionAlgorithm.gzip().decompressor
        do {
            try decompressor.startStream()
        } catch {
            throw .invalid
        }
        defer { try? decompressor.finishStream() }
        // Start at a few times the compressed size and double up to the limit (plus the one byte
        // that tells "exactly the limit" from "more").
        let ceiling = limit + 1
        var output = ByteBufferAllocator().buffer(capacity: min(ceiling, max(64 * 1024, compressed.readableBytes * 4)))
        while true {
            do {
                try input.decompressStream(to: &output, with: decompressor)
                break
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Output full: grow it, unless it is already at the ceiling.
                if output.capacity >= ceiling { throw .tooLarge }
                output.reserveCapacity(min(ceiling, output.capacity * 2))
            } catch {
                throw .invalid
            }
        }
        if output.readableBytes > limit { throw .tooLarge }
        // zlib answers "no error" both at the end of the stream and when the input simply ran
        // out: one more call with no input tells them apart (only a finished stream has nothing
        // more to say). Bytes left after the end are refused too.
        guard input.readableBytes == 0 else { throw .invalid }
        // (`ByteBuffer.decompressStream(to:with:)` hides the "input ran out" answer, so the
        // decompressor is asked directly.)
        var empty = ByteBufferAllocator().buffer(capacity: 1)
        var probe = ByteBufferAllocator().buffer(capacity: 1)
        do {
            try decompressor.streamInflate(from: &empty, to: &probe)
        } catch {
            throw .invalid
        }
        guard probe.readableBytes == 0 else { throw .tooLarge }
        return output
    }
}
