/// Encoding and decoding of sealed blocks: one device's readings, ascending by instant,
/// compressed. The byte format is described in `docs/block-format.md`.
///
/// A block's bytes start with its encoding id: high nibble for instants, low nibble for counts.
/// Encodings are chosen per block, keeping the smallest:
/// - instants (after the first, which the block index records): one reading (nothing stored),
///   constant step (one varint), or delta-of-delta with the deltas' greatest common divisor
///   factored out, so readings at whole seconds or milliseconds do not pay for nanoseconds;
/// - counts: constant (one varint), plain varints, or zigzag varint deltas.
public enum BlockCodec {
    /// Instant encodings (high nibble of the encoding id).
    public enum InstantEncoding: UInt8, CaseIterable, Sendable {
        case single = 0
        case constantStep = 1
        case deltaOfDelta = 2
    }

    /// Count encodings (low nibble of the encoding id).
    public enum CountEncoding: UInt8, CaseIterable, Sendable {
        case constant = 0
        case varints = 1
        case deltas = 2
    }

    /// Appends the encoding of `instants` (strictly ascending, at least one) and their `counts`
    /// to `out`; returns the encoding id (also the first byte written).
    @discardableResult
    @inlinable
    public static func encode<Instants: RandomAccessCollection<Int64>, Counts: RandomAccessCollection<UInt64>>(
        instants: Instants, counts: Counts, into out: inout [UInt8]
    ) -> UInt8 where Instants.Index == Int, Counts.Index == Int {
        precondition(!instants.isEmpty && instants.count == counts.count)
        let idPosition = out.count
        out.append(0)
        let instantEncoding = encodeInstants(instants, into: &out)
        let countEncoding = encodeCounts(counts, into: &out)
        let id = instantEncoding.rawValue << 4 | countEncoding.rawValue
        out[idPosition] = id
        return id
    }

    @inlinable
    static func encodeInstants<Instants: RandomAccessCollection<Int64>>(
        _ instants: Instants, into out: inout [UInt8]
    ) -> InstantEncoding where Instants.Index == Int {
        let start = instants.startIndex
        let n = instants.count
        if n == 1 { return .single }
        // Deltas as unsigned: consecutive instants may be up to 2^64 - 1 ns apart.
        let firstDelta = UInt64(bitPattern: instants[start + 1] &- instants[start])
        var divisor = firstDelta
        var exact = ExactDivision(divisor)
        var constant = true
        for i in (start + 2)..<(start + n) {
            let delta = UInt64(bitPattern: instants[i] &- instants[i - 1])
            if delta != firstDelta {
                constant = false
                // A multiplication instead of a division for each delta; the divisor only shrinks.
                if !exact.divides(delta) {
                    divisor = gcd(divisor, delta)
                    exact = ExactDivision(divisor)
                }
            }
        }
        if constant {
            VarInt.append(firstDelta, to: &out)
            return .constantStep
        }
        VarInt.append(divisor, to: &out)
        var previous = exact.quotient(firstDelta)
        VarInt.append(previous, to: &out)
        for i in (start + 2)..<(start + n) {
            let scaled = exact.quotient(UInt64(bitPattern: instants[i] &- instants[i - 1]))
            // Wrapping arithmetic is exact modulo 2^64, which decoding reverses.
            VarInt.append(VarInt.zigzag(Int64(bitPattern: scaled &- previous)), to: &out)
            previous = scaled
        }
        return .deltaOfDelta
    }

    @inlinable
    static func encodeCounts<Counts: RandomAccessCollection<UInt64>>(
        _ counts: Counts, into out: inout [UInt8]
    ) -> CountEncoding where Counts.Index == Int {
        let start = counts.startIndex
        let n = counts.count
        let firstCount = counts[start]
        var varintSize = VarInt.size(firstCount)
        var deltaSize = varintSize
        var constant = true
        for i in (start + 1)..<(start + n) {
            let c = counts[i]
            if c != firstCount { constant = false }
            varintSize += VarInt.size(c)
            deltaSize += VarInt.size(VarInt.zigzag(Int64(bitPattern: c &- counts[i - 1])))
        }
        if constant {
            VarInt.append(firstCount, to: &out)
            return .constant
        }
        if varintSize <= deltaSize {
            for c in counts { VarInt.append(c, to: &out) }
            return .varints
        }
        VarInt.append(firstCount, to: &out)
        for i in (start + 1)..<(start + n) {
            VarInt.append(VarInt.zigzag(Int64(bitPattern: counts[i] &- counts[i - 1])), to: &out)
        }
        return .deltas
    }

    /// Decodes a block of `count` readings whose first instant is `first`, appending its
    /// instants and counts.
    @inlinable
    public static func decode(
        _ bytes: UnsafeBufferPointer<UInt8>, first: Int64, count n: Int,
        instants: inout [Int64], counts: inout [UInt64]
    ) {
        var reader = VarIntReader(bytes: bytes, position: 1)
        let id = bytes[0]
        instants.append(first)
        switch InstantEncoding(rawValue: id >> 4) {
        case .single?:
            break
        case .constantStep?:
            let step = Int64(bitPattern: reader.next())
            var t = first
            for _ in 1..<n {
                t = t &+ step
                instants.append(t)
            }
        case .deltaOfDelta?:
            let divisor = reader.next()
            var scaled = reader.next()
            var t = first &+ Int64(bitPattern: scaled &* divisor)
            instants.append(t)
            for _ in 2..<max(n, 2) {
                scaled = scaled &+ UInt64(bitPattern: VarInt.unzigzag(reader.next()))
                t = t &+ Int64(bitPattern: scaled &* divisor)
                instants.append(t)
            }
        case nil:
            preconditionFailure("unknown instant encoding \(id >> 4)")
        }
        switch CountEncoding(rawValue: id & 0xF) {
        case .constant?:
            let c = reader.next()
            for _ in 0..<n { counts.append(c) }
        case .varints?:
            for _ in 0..<n { counts.append(reader.next()) }
        case .deltas?:
            var c = reader.next()
            counts.append(c)
            for _ in 1..<n {
                c = c &+ UInt64(bitPattern: VarInt.unzigzag(reader.next()))
                counts.append(c)
            }
        case nil:
            preconditionFailure("unknown count encoding \(id & 0xF)")
        }
    }
}

extension BlockCodec {
    /// Whether the block holds instant `t`, decoding its instants only as far as needed (no
    /// counts): the check a late reading makes before it is stored. `t` is usually absent, and
    /// the scan stops at the first instant not below it.
    @inlinable
    public static func contains(_ t: Int64, in bytes: UnsafeBufferPointer<UInt8>, first: Int64, count n: Int) -> Bool {
        if t == first { return true }
        if t < first || n == 1 { return false }
        var reader = VarIntReader(bytes: bytes, position: 1)
        switch InstantEncoding(rawValue: bytes[0] >> 4) {
        case .constantStep?:
            // Instants first + k·step for k < n: arithmetic, no scan. The step is positive and
            // the instants ascend without wrapping past the last.
            let step = reader.next()
            let distance = UInt64(bitPattern: t &- first)
            return distance % step == 0 && distance / step < UInt64(n)
        case .deltaOfDelta?:
            // Walked in units of the divisor from the first instant: no multiplication per step,
            // and an instant off the divisor's grid is absent without a scan.
            let divisor = reader.next()
            let distance = UInt64(bitPattern: t &- first)
            guard distance % divisor == 0 else { return false }
            let target = distance / divisor
            var scaled = reader.next()
            var offset = scaled
            var k = 1
            let bytes = reader.bytes
            var position = reader.position
            while offset < target {
                k += 1
                if k == n { return false }
                // One-byte varints (delta-of-deltas within ±63 units) are the common case.
                let byte = bytes[position]
                let raw: UInt64
                if byte < 0x80 {
                    raw = UInt64(byte)
                    position += 1
                } else {
                    reader.position = position
                    raw = reader.next()
                    position = reader.position
                }
                scaled = scaled &+ UInt64(bitPattern: VarInt.unzigzag(raw))
                offset = offset &+ scaled
            }
            return offset == target
        case .single?, nil:
            return false
        }
    }
}

/// Divisibility by, and exact division by, a fixed non-zero divisor with multiplications only:
/// `d = 2^shift · odd`; `n` is a multiple of `d` when its low `shift` bits are zero and
/// `(n >> shift) · odd⁻¹ mod 2^64` is at most `(2^64 − 1) / odd`, and that product is then `n / d`.
@usableFromInline
struct ExactDivision {
    @usableFromInline let shift: UInt64
    @usableFromInline let inverse: UInt64
    @usableFromInline let limit: UInt64

    @inlinable
    init(_ divisor: UInt64) {
        precondition(divisor != 0)
        shift = UInt64(divisor.trailingZeroBitCount)
        let odd = divisor >> shift
        // Newton's iteration for the inverse modulo 2^64: each step doubles the correct bits,
        // starting from 3 (odd · odd ≡ 1 mod 8).
        var x = odd
        for _ in 0..<5 { x = x &* (2 &- odd &* x) }
        inverse = x
        limit = UInt64.max / odd
    }

    /// Whether the divisor divides `n`.
    @inlinable @inline(__always)
    func divides(_ n: UInt64) -> Bool {
        n & ((1 << shift) &- 1) == 0 && (n >> shift) &* inverse <= limit
    }

    /// `n / divisor`, for an `n` the divisor divides.
    @inlinable @inline(__always)
    func quotient(_ n: UInt64) -> UInt64 {
        (n >> shift) &* inverse
    }
}

/// Greatest common divisor (gcd(0, x) = x).
@inlinable
func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var a = a
    var b = b
    while b != 0 { (a, b) = (b, a % b) }
    return a
}
