import Testing

@testable import ReadingsDomain

/// Validates an id, returning the error instead of throwing.
private func check(_ string: String) -> Result<DeviceID, DeviceIDError> {
    Result { () throws(DeviceIDError) in try DeviceID(string) }
}

/// Covers `DeviceID`: 1 to 128 Unicode scalars counted as scalars, control characters refused,
/// bytes kept verbatim with no normalisation, equality and ordering by UTF-8 bytes.
@Suite("DeviceID")
struct DeviceIDTests {
    @Test("ordinary ids are kept verbatim")
    func ordinary() throws {
        let id = try DeviceID("1234")
        #expect(id.utf8 == Array("1234".utf8))
        #expect(id.string == "1234")
        #expect(id.description == "1234")
        let uuid = "36d5658a-6908-479e-887e-a949ec199272"
        #expect(try DeviceID(uuid).string == uuid)
    }

    @Test("1 and 128 scalars are accepted, 0 is empty, 129 and more are too long")
    func length() throws {
        #expect(try DeviceID("a").utf8 == [0x61])
        #expect(try DeviceID(String(repeating: "a", count: 128)).utf8.count == 128)
        #expect(check(String(repeating: "a", count: 129)) == .failure(.tooLong(scalars: 129)))
        #expect(check(String(repeating: "a", count: 1000)) == .failure(.tooLong(scalars: 1000)))
        #expect(check("") == .failure(.empty))
        #expect(DeviceID.maxScalars == 128)
    }

    @Test("length is counted in Unicode scalars, not bytes, graphemes or UTF-16 units")
    func scalarsNotBytes() throws {
        // 128 emoji: 512 UTF-8 bytes, 256 UTF-16 units, 128 scalars.
        let emoji = String(repeating: "😀", count: 128)
        #expect(try DeviceID(emoji).utf8.count == 512)
        #expect(check(emoji + "😀") == .failure(.tooLong(scalars: 129)))
        // Two-byte and three-byte scalars.
        #expect((try? DeviceID(String(repeating: "é", count: 128))) != nil)
        #expect(check(String(repeating: "é", count: 129)) == .failure(.tooLong(scalars: 129)))
        #expect((try? DeviceID(String(repeating: "€", count: 128))) != nil)
        #expect(check(String(repeating: "€", count: 129)) == .failure(.tooLong(scalars: 129)))
        // One grapheme made of 2 scalars each: 64 of them are 128 scalars, 65 are too many.
        let decomposed = "e\u{301}"
        #expect(String(repeating: decomposed, count: 64).count == 64)
        #expect((try? DeviceID(String(repeating: decomposed, count: 64))) != nil)
        #expect(check(String(repeating: decomposed, count: 65)) == .failure(.tooLong(scalars: 130)))
        // A family emoji is one grapheme but several scalars.
        let family = "👨‍👩‍👧‍👦"  // 7 scalars
        #expect(family.unicodeScalars.count == 7)
        #expect((try? DeviceID(String(repeating: family, count: 18) + "ab")) != nil)  // 128
        #expect(check(String(repeating: family, count: 18) + "abc") == .failure(.tooLong(scalars: 129)))
    }

    @Test(
        "control characters are refused",
        arguments: [
            "\u{0}", "\u{1}", "\u{9}", "\u{A}", "\u{D}", "\u{1B}", "\u{1F}", "\u{7F}", "\u{80}", "\u{85}", "\u{9F}",
        ] as [Unicode.Scalar]
    )
    func controlCharacters(_ scalar: Unicode.Scalar) {
        let c = String(Character(scalar))
        #expect(check(c) == .failure(.controlCharacter))
        #expect(check("abc" + c) == .failure(.controlCharacter))
        #expect(check(c + "abc") == .failure(.controlCharacter))
        #expect(check("ab" + c + "cd") == .failure(.controlCharacter))
    }

    @Test(
        "the characters around the control ranges are accepted",
        arguments: ["\u{20}", "\u{7E}", "\u{A0}", "\u{A1}", "\u{FF}", "\u{100}", "\u{2028}", "\u{FEFF}", "\u{10FFFF}"]
            as [Unicode.Scalar]
    )
    func nearControlCharacters(_ scalar: Unicode.Scalar) throws {
        let c = String(Character(scalar))
        #expect(try DeviceID(c).utf8 == Array(c.utf8))
        #expect(try DeviceID("x" + c + "y").utf8 == Array(("x" + c + "y").utf8))
    }

    @Test("NFC and NFD spellings are two different ids, even though Swift's String == merges them")
    func noNormalisation() throws {
        let nfc = "caf\u{E9}"
        let nfd = "cafe\u{301}"
        #expect(nfc == nfd)  // Swift's canonical equivalence: why ids must not compare as String
        let a = try DeviceID(nfc)
        let b = try DeviceID(nfd)
        #expect(a.utf8 == [0x63, 0x61, 0x66, 0xC3, 0xA9])
        #expect(b.utf8 == [0x63, 0x61, 0x66, 0x65, 0xCC, 0x81])
        #expect(a != b)
        #expect(Set([a, b]).count == 2)
        #expect(b < a)  // 'e' (0x65) < 0xC3
    }

    @Test("surrounding and inner spaces are kept")
    func spacesKept() throws {
        let id = try DeviceID("  1234 ")
        #expect(id.utf8 == Array("  1234 ".utf8))
        #expect(id != (try DeviceID("1234")))
        #expect(try DeviceID(" ").utf8 == [0x20])
    }

    @Test("validating: the byte initializer agrees with the String one")
    func validatingBytes() throws {
        #expect(try DeviceID(validating: Array("abc".utf8)) == DeviceID("abc"))
        #expect(throws: DeviceIDError.controlCharacter) { try DeviceID(validating: [0x61, 0xC2, 0x85]) }
        #expect(throws: DeviceIDError.empty) { try DeviceID(validating: []) }
        #expect(throws: DeviceIDError.tooLong(scalars: 129)) {
            try DeviceID(validating: [UInt8](repeating: 0x41, count: 129))
        }
    }

    @Test("ordering is UTF-8 byte order, which is Unicode scalar order")
    func ordering() throws {
        let texts = ["b", "a", "ab", "A", "Z", "é", "\u{FFFF}", "😀", "a ", "1234", "12345", "124", "~", "\u{A0}"]
        let ids = try texts.map { try DeviceID($0) }
        let sortedBytes = ids.sorted().map(\.utf8)
        let expected = texts.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(sortedBytes == expected)
        // Scalar order, where UTF-16 order would differ: U+FFFF < U+1F600.
        #expect(try DeviceID("\u{FFFF}") < DeviceID("😀"))
        #expect(try DeviceID("1234") < DeviceID("12345"))
        #expect(try DeviceID("12345") < DeviceID("124"))
        #expect(try !(DeviceID("a") < DeviceID("a")))
    }

    @Test("StableHash.fnv1a is FNV-1a over the bytes")
    func stableHash() throws {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; of "" it is the offset basis.
        #expect(StableHash.fnv1a(Array("a".utf8)) == 0xAF63_DC4C_8601_EC8C)
        #expect(StableHash.fnv1a(Array("foobar".utf8)) == 0x8594_4171_F739_67E8)
    }

    @Test("each error has a message")
    func messages() {
        #expect(DeviceIDError.tooLong(scalars: 129).message.contains("129"))
        #expect(DeviceIDError.empty.message == "id must not be empty")
        #expect(DeviceIDError.missing.message.contains("missing"))
        #expect(DeviceIDError.notAString.message.contains("string"))
        #expect(DeviceIDError.controlCharacter.message.contains("control"))
    }
}
