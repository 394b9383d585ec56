import Foundation
import ReadingsDomain
import Testing

@testable import ReadingsDomain

/// Differential test of `IngestBodyParser` against Foundation's `JSONSerialization`
/// (`.fragmentsAllowed`): thousands of seeded random documents, valid ones in varied spellings
/// and mutations of them, must get the same valid/invalid answer from both (our `.invalidJSON`
/// means invalid, any other outcome valid), except for the named ``DifferentialExemption``s. For
/// valid documents the values Foundation reads exactly are compared too: the id's Unicode
/// scalars, every timestamp string (and its echoed span), integer-literal counts up to 2^53, and
/// the whole-request errors that follow from them.
@Suite("IngestBodyParser: differential against JSONSerialization")
struct IngestBodyParserDifferentialTests {
    /// Seeds for the generator: each runs `documentsPerSeed` generated documents plus mutations.
    static let seeds: [UInt64] = [0x1234_5678, 0xDEAD_BEEF, 0x0BAD_CAFE, 42]
    static let documentsPerSeed = 1_000

    @Test("agrees with JSONSerialization on validity and values, except for the named exemptions")
    func differential() {
        var tally = DifferentialTally()
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed)
            for index in 0..<Self.documentsPerSeed {
                let document = DifferentialGenerator.document(&rng)
                let context = "seed \(seed) document \(index)"
                DifferentialOracle.check(
                    document.bytes, plan: document.plan, maxReadings: document.maxReadings,
                    context: context, tally: &tally)
                for (name, mutated) in DifferentialMutator.mutations(of: document, &rng) {
                    DifferentialOracle.check(
                        mutated, plan: nil, maxReadings: document.maxReadings,
                        context: "\(context), \(name)", tally: &tally)
                }
            }
        }
        for document in DifferentialGenerator.fixedDocuments {
            DifferentialOracle.check(
                Array(document.utf8), plan: nil, maxReadings: 100_000,
                context: "fixed document", tally: &tally)
        }

        #expect(tally.failures.isEmpty, "\(tally.failures.count) disagreement(s):\n\(tally.failures.prefix(20).joined(separator: "\n"))")
        // Every exemption must actually occur: each is a verified Foundation behaviour, not a guess.
        for exemption in DifferentialExemption.allCases {
            #expect(tally.exemptions[exemption, default: 0] > 0, "exemption \(exemption) never applied")
        }
        // The run must exercise both sides and the value comparisons, not just invalid documents.
        // (Floors well below what the seeds give, so that only a broken generator trips them.)
        #expect(tally.bothValid > 3_000)
        #expect(tally.bothInvalid > 4_000)
        #expect(tally.idsCompared > 800)
        #expect(tally.timestampsCompared > 2_500)
        #expect(tally.countsCompared > 600)
        #expect(tally.modelCountsCompared > 1_200)
        #expect(tally.shapeErrorsCompared > 1_500)
        print("IngestBodyParser differential: \(tally.summary)")
    }

    @Test("each exemption is a real Foundation behaviour on a minimal document")
    func exemptionsAreReal() throws {
        let cases: [(DifferentialExemption, [UInt8])] = [
            (.duplicateMemberNames, Array(#"{"a":1,"a":2}"#.utf8)),
            (.nestingDeeperThan64, Array((String(repeating: "[", count: 65) + String(repeating: "]", count: 65)).utf8)),
            (.trailingComma, Array("[1,]".utf8)),
            (.utf8ByteOrderMark, [0xEF, 0xBB, 0xBF] + Array("[1]".utf8)),
            (.utf16Or32Detection, [0x31, 0x00]),
            (.numberBeyondDouble, Array("1e400".utf8)),
        ]
        for (exemption, bytes) in cases {
            let foundation = DifferentialOracle.foundationAccepts(bytes)
            let ours = DifferentialOracle.oursAccepts(bytes)
            #expect(foundation != ours, "\(exemption): Foundation and our parser agree, the exemption is not needed")
            #expect(DifferentialOracle.exemption(for: bytes, oursValid: ours) == exemption)
        }
        // The value difference: a raw U+FEFF starting a string (or following an escape) is dropped.
        let dropped = try #require(DifferentialOracle.foundation(Array("\"\u{FEFF}ab\"".utf8)) as? String)
        #expect(Array(dropped.unicodeScalars) == ["a", "b"])
        let kept = try #require(DifferentialOracle.foundation(Array("\"a\u{FEFF}b\"".utf8)) as? String)
        #expect(Array(kept.unicodeScalars) == ["a", "\u{FEFF}", "b"])
        let body = Array("{\"id\":\"\u{FEFF}ab\",\"readings\":[1]}".utf8)
        #expect(try DifferentialOracle.parse(body, maxReadings: 10).get().deviceID.utf8 == Array("\u{FEFF}ab".utf8))

        // And the things one might expect Foundation to allow but it refuses, so no exemption:
        for text in [#""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "01", "[1,,2]", "/**/1", "NaN"] {
            #expect(!DifferentialOracle.foundationAccepts(Array(text.utf8)), "\(text)")
            #expect(!DifferentialOracle.oursAccepts(Array(text.utf8)), "\(text)")
        }
    }
}

// MARK: - Exemptions

/// The documented differences between our parser and swift-corelibs-foundation's
/// `JSONSerialization` on Linux. Each was observed (``IngestBodyParserDifferentialTests/exemptionsAreReal()``),
/// and each applies only to a disagreement in the stated direction on a document that contains
/// the feature; in every case our answer is the one the contract (RFC 8259 + I-JSON) requires.
private enum DifferentialExemption: String, CaseIterable, Hashable {
    /// Foundation accepts repeated member names (the last wins); I-JSON (RFC 7493 §2.3), which the
    /// contract requires, refuses them. Applies when our parser refuses the document at the first
    /// repeated name.
    case duplicateMemberNames
    /// Foundation accepts up to 512 nested containers; our parser refuses more than 64
    /// (`JSONScanner.maxDepth`, so that hostile input cannot exhaust the stack). Applies when our
    /// parser refuses the document at its first container nested deeper than 64.
    case nestingDeeperThan64
    /// Foundation accepts a comma right before `]` or `}` (`[1,]`, `{"a":1,}`); RFC 8259 does not.
    /// Applies when the document with those commas removed is one our parser accepts (or refuses
    /// only under another exemption).
    case trailingComma
    /// Foundation skips a leading UTF-8 byte order mark; RFC 8259 §8.1 says a BOM must not be
    /// sent and the contract refuses it. Applies when the rest is acceptable as above.
    case utf8ByteOrderMark
    /// Foundation guesses UTF-16 or UTF-32 from a UTF-16/32 byte order mark or a NUL among the
    /// first four bytes and transcodes (e.g. `31 00` reads as "1"); the contract takes UTF-8
    /// only (RFC 8259 §8.1), where a raw NUL, FE or FF byte is never valid. Applies to documents
    /// Foundation accepts that start that way.
    case utf16Or32Detection
    /// Foundation refuses a number literal whose value overflows `Double` (`1e400`, 309 digits),
    /// which the RFC 8259 grammar allows; the contract keeps such a body valid JSON (its count is
    /// a per-reading `INVALID_COUNT`). Applies when our parser accepts a document that Foundation
    /// refuses but accepts once each such literal is replaced by `0`.
    case numberBeyondDouble
    /// Not a validity difference but a value one: Foundation drops a raw (unescaped) U+FEFF that
    /// starts a string or follows an escape sequence (`"\u{FEFF}ab"` reads as `"ab"`, while
    /// `"a\u{FEFF}b"` and the escape `"\\ufeffab"` keep it), apparently stripping a byte order
    /// mark from each unescaped run. The contract keeps ids verbatim, as our parser does. Applies
    /// to a string compare whose raw token contains EF BB BF, where the two agree once every
    /// U+FEFF is removed.
    case foundationDropsRawFEFF
}

// MARK: - Tally

private struct DifferentialTally {
    var bothValid = 0
    var bothInvalid = 0
    var exemptions: [DifferentialExemption: Int] = [:]
    var idsCompared = 0
    var timestampsCompared = 0
    var countsCompared = 0
    var modelCountsCompared = 0
    var shapeErrorsCompared = 0
    var failures: [String] = []

    var summary: String {
        let exempted = DifferentialExemption.allCases.map { "\($0.rawValue) \(exemptions[$0, default: 0])" }
        return "\(bothValid) both valid, \(bothInvalid) both invalid, exempted: \(exempted.joined(separator: ", ")); "
            + "compared \(idsCompared) ids, \(timestampsCompared) timestamps, \(countsCompared) counts with Foundation, "
            + "\(modelCountsCompared) counts with the generator's model, \(shapeErrorsCompared) whole-request errors"
    }

    mutating func fail(_ message: String, _ context: String, _ bytes: [UInt8]) {
        failures.append("\(context): \(message)\n    document: \(DifferentialOracle.show(bytes))")
    }
}

// MARK: - Oracle

private enum DifferentialOracle {
    static func parse(_ bytes: [UInt8], maxReadings: Int) -> Result<IngestBody, IngestBodyError> {
        bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(IngestBodyError) in try IngestBodyParser.parse(buffer, maxReadings: maxReadings) }
        }
    }

    static func oursAccepts(_ bytes: [UInt8]) -> Bool {
        if case .failure(.invalidJSON) = parse(bytes, maxReadings: 100_000) { return false }
        return true
    }

    static func foundation(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    static func foundationAccepts(_ bytes: [UInt8]) -> Bool { foundation(bytes) != nil }

    /// The document as printable ASCII with escapes, for failure messages.
    static func show(_ bytes: [UInt8]) -> String {
        let text = bytes.prefix(600).map { b in
            b >= 0x20 && b < 0x7F && b != 0x5C ? String(UnicodeScalar(b)) : b == 0x5C ? "\\\\" : "\\x" + String(b, radix: 16)
        }.joined()
        return bytes.count > 600 ? text + "… (\(bytes.count) bytes)" : text
    }

    static func check(
        _ bytes: [UInt8], plan: DifferentialIngestPlan?, maxReadings: Int, context: String, tally: inout DifferentialTally
    ) {
        let ours = parse(bytes, maxReadings: maxReadings)
        let oursValid: Bool
        if case .failure(.invalidJSON) = ours { oursValid = false } else { oursValid = true }
        let value = foundation(bytes)
        switch (oursValid, value != nil) {
        case (true, true):
            tally.bothValid += 1
            compareValues(ours, value!, bytes, plan: plan, maxReadings: maxReadings, context: context, tally: &tally)
        case (false, false):
            tally.bothInvalid += 1
        default:
            if let exemption = exemption(for: bytes, oursValid: oursValid) {
                tally.exemptions[exemption, default: 0] += 1
            } else {
                let verdict = oursValid ? "we accept, Foundation refuses" : "we refuse (\(ours)), Foundation accepts"
                tally.fail(verdict, context, bytes)
            }
        }
    }

    /// The exemption covering a disagreement on `bytes`, or nil when none does.
    static func exemption(for bytes: [UInt8], oursValid: Bool) -> DifferentialExemption? {
        if oursValid {
            // Foundation refuses: only literals beyond Double excuse it, so with each replaced
            // by 0 Foundation must accept the document.
            let literals = DifferentialScan(bytes).numbersBeyondDouble
            guard !literals.isEmpty else { return nil }
            var repaired = bytes
            for literal in literals.reversed() { repaired.replaceSubrange(literal, with: [UInt8(ascii: "0")]) }
            return foundationAccepts(repaired) ? .numberBeyondDouble : nil
        }
        // Foundation accepts and we refuse.
        let head = Array(bytes.prefix(4))
        if head.count >= 2
            && (head.contains(0) || head.starts(with: [0xFE, 0xFF]) || head.starts(with: [0xFF, 0xFE]))
        {
            return .utf16Or32Detection
        }
        var repaired = bytes
        var repairs: [DifferentialExemption] = []
        if repaired.starts(with: [0xEF, 0xBB, 0xBF]) {
            repaired.removeFirst(3)
            repairs.append(.utf8ByteOrderMark)
        }
        let commas = DifferentialScan(repaired).trailingCommas
        if !commas.isEmpty {
            for offset in commas.reversed() { repaired.remove(at: offset) }
            repairs.append(.trailingComma)
        }
        switch parse(repaired, maxReadings: 100_000) {
        case .failure(.invalidJSON(let error)):
            // Refused even so: it must be at the first repeated name or over-deep container,
            // which Foundation allows (the document is otherwise one Foundation accepts).
            let scan = DifferentialScan(repaired)
            if let (offset, feature) = scan.firstStrictOnlyProblem, error.offset >= offset.lowerBound,
                error.offset < offset.upperBound
            {
                return repairs.first ?? feature
            }
            return nil
        default:
            return repairs.first
        }
    }

    /// For a document both accept: the values Foundation reads exactly must match ours.
    static func compareValues(
        _ ours: Result<IngestBody, IngestBodyError>, _ value: Any, _ bytes: [UInt8], plan: DifferentialIngestPlan?,
        maxReadings: Int, context: String, tally: inout DifferentialTally
    ) {
        func fail(_ message: String) { tally.fail(message, context, bytes) }
        func scalars(_ string: String) -> [Unicode.Scalar] { Array(string.unicodeScalars) }
        /// A string token's raw content (between the quotes) read by Foundation.
        func foundationString(_ span: Range<Int>) -> [Unicode.Scalar]? {
            (foundation([0x22] + Array(bytes[span]) + [0x22]) as? String).map(scalars)
        }
        /// Whether our scalars for the token at `span` match Foundation's, allowing only for
        /// ``DifferentialExemption/foundationDropsRawFEFF``.
        func sameString(_ ours: [Unicode.Scalar], _ theirs: [Unicode.Scalar]?, token span: Range<Int>) -> Bool {
            guard let theirs else { return false }
            if ours == theirs { return true }
            let raw = Array(bytes[span])
            let hasRawFEFF = raw.indices.contains { raw[$0...].starts(with: [0xEF, 0xBB, 0xBF]) }
            guard hasRawFEFF, ours.count > theirs.count, ours.filter({ $0 != "\u{FEFF}" }) == theirs.filter({ $0 != "\u{FEFF}" })
            else { return false }
            tally.exemptions[.foundationDropsRawFEFF, default: 0] += 1
            return true
        }

        // Whole-request shape, as Foundation sees it.
        guard let top = value as? [String: Any], let readings = top["readings"] as? [Any], !readings.isEmpty else {
            tally.shapeErrorsCompared += 1
            if case .failure(.invalidRequest) = ours { return }
            return fail("Foundation sees no object with a non-empty readings array, we answer \(ours)")
        }
        let expectedIDError: DeviceIDError?
        let idValue = top["id"]
        if idValue == nil {
            expectedIDError = .missing
        } else if var id = idValue as? String {
            if let span = DifferentialScan(bytes).topLevelIDContent,
                bytes[span].indices.contains(where: { bytes[$0...].starts(with: [0xEF, 0xBB, 0xBF]) })
            {
                // Foundation may have dropped a U+FEFF from it: judge the token as we decode it,
                // which must be Foundation's string but for U+FEFFs.
                let decoded = String(decoding: DifferentialScan.decode(Array(bytes[span])), as: UTF8.self)
                if scalars(decoded) != scalars(id) {
                    guard sameString(scalars(decoded), scalars(id), token: span) else {
                        return fail("id token \(scalars(decoded)), Foundation \(scalars(id))")
                    }
                    id = decoded
                }
            }
            let s = scalars(id)
            if s.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
                expectedIDError = .controlCharacter
            } else if s.isEmpty {
                expectedIDError = .empty
            } else if s.count > 128 {
                expectedIDError = .tooLong(scalars: s.count)
            } else {
                expectedIDError = nil
            }
        } else {
            expectedIDError = .notAString
        }
        if let expectedIDError {
            tally.shapeErrorsCompared += 1
            if case .failure(.invalidDeviceID(expectedIDError)) = ours { return }
            return fail("expected INVALID_DEVICE_ID \(expectedIDError), we answer \(ours)")
        }
        if readings.count > maxReadings {
            tally.shapeErrorsCompared += 1
            if case .failure(.tooManyReadings(readings.count, maxReadings)) = ours { return }
            return fail("expected TOO_MANY_READINGS (\(readings.count) > \(maxReadings)), we answer \(ours)")
        }
        guard case .success(let body) = ours else { return fail("Foundation reads a good request, we answer \(ours)") }

        // The id, by scalars (never String ==, which would merge NFC and NFD).
        tally.idsCompared += 1
        let id = scalars(top["id"] as! String)
        let ourID = scalars(body.deviceID.string)
        if !sameString(ourID, id, token: body.deviceIDSpan) { fail("id \(ourID), Foundation \(id)") }
        if !sameString(ourID, foundationString(body.deviceIDSpan), token: body.deviceIDSpan) {
            fail("id span \(body.deviceIDSpan) does not hold the id")
        }

        guard body.items.count == readings.count else {
            return fail("\(body.items.count) items, Foundation \(readings.count) elements")
        }
        var valid = body.readings.makeIterator()
        for (k, (item, element)) in zip(body.items, readings).enumerated() {
            let reading = item.verdict == .valid ? valid.next() : nil
            guard let object = element as? [String: Any] else {
                if case .notAnObject = item.verdict { continue }
                fail("element \(k) is not an object, verdict \(item.verdict)")
                continue
            }
            guard let timestampValue = object["timestamp"] else {
                if item.verdict != .invalidTimestamp(.missing) { fail("element \(k) has no timestamp, verdict \(item.verdict)") }
                continue
            }
            guard let timestamp = timestampValue as? String else {
                if case .invalidTimestamp(.notAString) = item.verdict, item.timestampSpan == nil { continue }
                fail("element \(k) has a non-string timestamp, verdict \(item.verdict)")
                continue
            }
            // The timestamp: its echo span holds exactly Foundation's string, and the verdict is
            // the timestamp parser's on that string.
            tally.timestampsCompared += 1
            guard let span = item.timestampSpan, foundationString(span) == scalars(timestamp) else {
                fail("element \(k): timestamp span \(String(describing: item.timestampSpan)) does not hold \(scalars(timestamp))")
                continue
            }
            // Foundation may have dropped a U+FEFF (both readings above went through it): judge
            // the verdict only when the raw token has none.
            if bytes[span].indices.contains(where: { bytes[$0...].starts(with: [0xEF, 0xBB, 0xBF]) }) { continue }
            let instant: Instant
            switch Instant.parseRFC3339(timestamp) {
            case .failure(let error):
                if item.verdict != .invalidTimestamp(error) { fail("element \(k): verdict \(item.verdict), timestamp error \(error)") }
                continue
            case .success(let value):
                instant = value
            }
            if case .invalidTimestamp = item.verdict { fail("element \(k): verdict \(item.verdict) for a good timestamp") }
            if let reading, reading.instant != instant { fail("element \(k): instant \(reading.instant), expected \(instant)") }

            // The count, where Foundation is exact: an integer literal up to 2^53 in magnitude.
            let countValue = object["count"]
            let known = plan.map { k < $0.countLiterals.count } ?? false
            let literal = known ? plan!.countLiterals[k] : nil
            if countValue == nil {
                if item.verdict != .invalidCount(.missing) { fail("element \(k): no count, verdict \(item.verdict)") }
            } else if let literal, let number = countValue as? NSNumber, isIntegerLiteral(literal),
                literal.utf8.count <= 17, abs(number.int64Value) <= 1 << 53
            {
                tally.countsCompared += 1
                let n = number.int64Value
                let expected: IngestVerdict =
                    n < 0 ? .invalidCount(.negative) : n > Int64(ReadingCount.max) ? .invalidCount(.tooLarge) : .valid
                if item.verdict != expected { fail("element \(k): count \(literal) (Foundation \(n)), verdict \(item.verdict)") }
                if expected == .valid, reading?.count != UInt64(n) {
                    fail("element \(k): count \(literal) read as \(String(describing: reading?.count))")
                }
            }
            // And every spelling the generator made from a known value (its own model, not Foundation).
            if known, let expected = plan!.expectedCounts[k] {
                tally.modelCountsCompared += 1
                switch expected {
                case .success(let n):
                    if item.verdict != .valid || reading?.count != n {
                        fail(
                            "element \(k): count \(literal ?? "?") should be \(n), verdict \(item.verdict) reading \(String(describing: reading))"
                        )
                    }
                case .failure(let error):
                    if item.verdict != .invalidCount(error) {
                        fail("element \(k): count \(literal ?? "?") should be \(error), verdict \(item.verdict)")
                    }
                }
            }
        }
    }

    static func isIntegerLiteral(_ literal: String) -> Bool {
        let digits = literal.hasPrefix("-") ? literal.dropFirst() : Substring(literal)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }
}

// MARK: - Scanner for exemption features

/// A lenient tokenizer for documents that one of the two parsers accepted: it finds the features
/// the exemptions name (repeated names, nesting depth, trailing commas, literals beyond Double).
private struct DifferentialScan {
    /// Offsets of commas directly (after whitespace) followed by `]` or `}`.
    var trailingCommas: [Int] = []
    /// The number literals that overflow `Double`.
    var numbersBeyondDouble: [Range<Int>] = []
    /// The first problem only the strict parser sees, in document order: the opening quote of a
    /// repeated member name (range covers the name token) or a container opened deeper than 64.
    var firstStrictOnlyProblem: (Range<Int>, DifferentialExemption)? = nil
    /// The content range of the string value of the top-level member `id` (the last one).
    var topLevelIDContent: Range<Int>? = nil

    init(_ b: [UInt8]) {
        var stack: [(isObject: Bool, names: Set<[UInt8]>, expectingName: Bool)] = []
        var lastSignificant: UInt8 = 0
        var lastComma = -1
        var topLevelName: [UInt8]? = nil
        var i = 0
        func note(_ range: Range<Int>, _ feature: DifferentialExemption) {
            if firstStrictOnlyProblem == nil { firstStrictOnlyProblem = (range, feature) }
        }
        while i < b.count {
            let c = b[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D:
                i += 1
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if stack.count + 1 > 64 { note(i..<i + 1, .nestingDeeperThan64) }
                stack.append((c == UInt8(ascii: "{"), [], c == UInt8(ascii: "{")))
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if lastSignificant == UInt8(ascii: ",") { trailingCommas.append(lastComma) }
                if !stack.isEmpty { stack.removeLast() }
                i += 1
            case UInt8(ascii: ","):
                lastComma = i
                if let top = stack.last, top.isObject { stack[stack.count - 1].expectingName = true }
                i += 1
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < b.count && b[j] != UInt8(ascii: "\"") { j += b[j] == UInt8(ascii: "\\") ? 2 : 1 }
                if let top = stack.last, top.isObject, top.expectingName {
                    let name = DifferentialScan.decode(Array(b[(i + 1)..<min(j, b.count)]))
                    if !stack[stack.count - 1].names.insert(name).inserted {
                        note(i..<min(j + 1, b.count), .duplicateMemberNames)
                    }
                    stack[stack.count - 1].expectingName = false
                    if stack.count == 1 { topLevelName = name }
                } else if stack.count == 1, stack[0].isObject, topLevelName == Array("id".utf8) {
                    topLevelIDContent = (i + 1)..<min(j, b.count)
                }
                i = j + 1
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var j = i
                while j < b.count,
                    b[j] == 0x2B || b[j] == 0x2D || b[j] == 0x2E || b[j] == 0x45 || b[j] == 0x65
                        || (b[j] >= 0x30 && b[j] <= 0x39)
                {
                    j += 1
                }
                if let d = Double(String(decoding: b[i..<j], as: UTF8.self)), d.isInfinite { numbersBeyondDouble.append(i..<j) }
                i = j
            default:
                i += 1
            }
            lastSignificant = c
        }
    }

    /// A JSON string's content decoded to UTF-8 (escapes resolved, surrogate pairs combined).
    static func decode(_ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        func hex(_ at: Int) -> UInt32? {
            guard at + 4 <= content.count else { return nil }
            return UInt32(String(decoding: content[at..<at + 4], as: UTF8.self), radix: 16)
        }
        while i < content.count {
            guard content[i] == UInt8(ascii: "\\"), i + 1 < content.count else {
                out.append(content[i])
                i += 1
                continue
            }
            let e = content[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var unit = hex(i) else { continue }
                i += 4
                if (0xD800...0xDBFF).contains(unit), i + 6 <= content.count, content[i] == UInt8(ascii: "\\"),
                    let low = hex(i + 2), (0xDC00...0xDFFF).contains(low)
                {
                    unit = 0x10000 + (unit - 0xD800) << 10 + (low - 0xDC00)
                    i += 6
                }
                out += Array(String(Unicode.Scalar(unit).map(Character.init) ?? "\u{FFFD}").utf8)
            default: out.append(e)
            }
        }
        return out
    }
}

// MARK: - Generator

/// A JSON value to serialize; numbers keep their exact literal.
private indirect enum DifferentialValue {
    case null
    case bool(Bool)
    case number(String)
    case string([Unicode.Scalar])
    case array([DifferentialValue])
    case object([(name: [Unicode.Scalar], value: DifferentialValue)])
}

/// What the generator knows about an ingest-shaped document, per element of `readings`.
private struct DifferentialIngestPlan {
    /// The literal of the element's `count` when it is a number.
    var countLiterals: [String?]
    /// The count's judgement, for spellings made from a known value (nil otherwise).
    var expectedCounts: [Result<UInt64, CountError>?]
}

private struct DifferentialDocument {
    var value: DifferentialValue
    var bytes: [UInt8]
    var plan: DifferentialIngestPlan?
    var maxReadings: Int
}

private enum DifferentialGenerator {
    /// Documents worth checking once, verbatim.
    static let fixedDocuments: [String] = [
        #"{"id":"caf\u00e9","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1}],"id2":"cafe\u0301"}"#,
        #"{"id":"\ud83d\ude00\udbff\udfff\u0000","readings":[1]}"#,
        #"{"id":"x","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1e400},{"count":-1e400}]}"#,
        #"{"id":"x","readings":[{"timestamp":"2023-01-01T00:00:00Z","count":1e-400}]}"#,
        "\u{FEFF}{\"id\":\"x\",\"readings\":[{}]}",
        "1", "-0", "\"\"", "null", "true", "[]", "{}", " [ ] ", "\"\\u0000\"",
    ]

    static func chance(_ p: Double, _ rng: inout SplitMix64) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    static func document(_ rng: inout SplitMix64) -> DifferentialDocument {
        let style = DifferentialStyle.random(&rng)
        let maxReadings = chance(0.1, &rng) ? Int.random(in: 1...4, using: &rng) : 100_000
        if chance(0.6, &rng) {
            let (value, plan) = ingestBody(&rng)
            return DifferentialDocument(value: value, bytes: style.serialize(value, &rng), plan: plan, maxReadings: maxReadings)
        }
        let value = randomValue(depth: 0, &rng)
        return DifferentialDocument(value: value, bytes: style.serialize(value, &rng), plan: nil, maxReadings: maxReadings)
    }

    // Scalars: mostly ASCII, with the ones that stress escaping, UTF-8 lengths, normalisation and the id rules.
    static let specialScalars: [UInt32] = [
        0x22, 0x5C, 0x2F, 0x20, 0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x7F, 0x80, 0x85, 0x9F, 0xA0,
        0xE9, 0x301, 0x65, 0x2028, 0x2029, 0xD7FF, 0xE000, 0xFEFF, 0xFFFD, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF,
    ]

    static func scalar(_ rng: inout SplitMix64) -> Unicode.Scalar {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<6: return Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))
        case 6..<8: return Unicode.Scalar(specialScalars.randomElement(using: &rng)!)!
        case 8: return Unicode.Scalar(UInt32.random(in: 0xA0...0xD7FF, using: &rng))!
        default: return Unicode.Scalar(UInt32.random(in: 0x10000...0x10FFFF, using: &rng))!
        }
    }

    static func string(_ length: ClosedRange<Int>, _ rng: inout SplitMix64) -> [Unicode.Scalar] {
        (0..<Int.random(in: length, using: &rng)).map { _ in scalar(&rng) }
    }

    static func number(_ rng: inout SplitMix64) -> String {
        let plain = String(Int.random(in: -1_000_000...1_000_000, using: &rng))
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: return ["0", "-0", "0.0", "-0.0", "0e0", "0E+0", "-0e-5"].randomElement(using: &rng)!
        case 1: return plain + "." + String(UInt.random(in: 0...99_999, using: &rng))
        case 2: return plain + ["e", "E", "e+", "e-", "E-"].randomElement(using: &rng)! + String(Int.random(in: 0...30, using: &rng))
        case 3:
            return [
                "1e400", "-1e400", "1.5e308", "1e-400", "2e-324", "1.7976931348623157e308",
                "123456789012345678901234567890", "3.0000000000000001", "9007199254740993",
            ].randomElement(using: &rng)!
        case 4: return String(UInt64.random(in: 0...UInt64.max, using: &rng))
        case 5: return String(repeating: "9", count: Int.random(in: 300...320, using: &rng))
        default: return plain
        }
    }

    static func randomValue(depth: Int, _ rng: inout SplitMix64) -> DifferentialValue {
        let leafOnly = depth >= 4
        switch Int.random(in: 0..<(leafOnly ? 5 : 8), using: &rng) {
        case 0: return .null
        case 1: return .bool(chance(0.5, &rng))
        case 2, 3: return .number(number(&rng))
        case 4: return .string(string(0...12, &rng))
        case 5: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(depth: depth + 1, &rng) })
        default: return .object(members(Int.random(in: 0...4, using: &rng), depth: depth, &rng))
        }
    }

    /// `count` members with distinct random names.
    static func members(_ count: Int, depth: Int, _ rng: inout SplitMix64) -> [(name: [Unicode.Scalar], value: DifferentialValue)] {
        var result: [(name: [Unicode.Scalar], value: DifferentialValue)] = []
        for _ in 0..<count {
            let name =
                chance(0.5, &rng)
                ? Array(["a", "b", "id", "meta", "x", "é", "e\u{301}"].randomElement(using: &rng)!.unicodeScalars) : string(0...6, &rng)
            if result.contains(where: { $0.name == name }) { continue }
            result.append((name, randomValue(depth: depth + 1, &rng)))
        }
        return result
    }

    static func scalars(_ text: String) -> [Unicode.Scalar] { Array(text.unicodeScalars) }

    /// An ingest-shaped body: mostly well-formed, with every kind of per-reading and
    /// whole-request problem now and then.
    static func ingestBody(_ rng: inout SplitMix64) -> (DifferentialValue, DifferentialIngestPlan) {
        var members: [(name: [Unicode.Scalar], value: DifferentialValue)] = []
        // id
        switch Int.random(in: 0..<20, using: &rng) {
        case 0: break
        case 1: members.append((scalars("id"), [.number("1234"), .null, .bool(true), .array([]), .object([])].randomElement(using: &rng)!))
        case 2: members.append((scalars("id"), .string([])))
        case 3: members.append((scalars("id"), .string(string(120...140, &rng))))
        case 4:
            members.append(
                (scalars("id"), .string(scalars(["café", "cafe\u{301}", " spaced ", "1234", "a\u{85}b"].randomElement(using: &rng)!))))
        case 5, 6, 7: members.append((scalars("id"), .string(string(1...16, &rng))))
        default:
            let id = string(1...16, &rng).filter { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }
            members.append((scalars("id"), .string(id.isEmpty ? scalars("1234") : id)))
        }
        // readings
        var plan = DifferentialIngestPlan(countLiterals: [], expectedCounts: [])
        switch Int.random(in: 0..<25, using: &rng) {
        case 0: break
        case 1: members.append((scalars("readings"), .array([])))
        case 2: members.append((scalars("readings"), [.object([]), .string(scalars("x")), .null].randomElement(using: &rng)!))
        default:
            var elements: [DifferentialValue] = []
            for _ in 0..<Int.random(in: 1...(chance(0.1, &rng) ? 40 : 6), using: &rng) {
                let (element, literal, expected) = reading(&rng)
                elements.append(element)
                plan.countLiterals.append(literal)
                plan.expectedCounts.append(expected)
            }
            members.append((scalars("readings"), .array(elements)))
        }
        // unknown members
        for _ in 0..<Int.random(in: 0...2, using: &rng) {
            let name = string(1...5, &rng)
            if members.contains(where: { $0.name == name }) { continue }
            members.append((name, randomValue(depth: 1, &rng)))
        }
        members.shuffle(using: &rng)
        return (.object(members), plan)
    }

    /// One element of `readings`, its count literal and, when known, the count's judgement.
    static func reading(_ rng: inout SplitMix64) -> (DifferentialValue, String?, Result<UInt64, CountError>?) {
        if chance(0.05, &rng) { return (randomValue(depth: 3, &rng), nil, nil) }
        var members: [(name: [Unicode.Scalar], value: DifferentialValue)] = []
        if !chance(0.03, &rng) {
            let value: DifferentialValue = chance(0.04, &rng) ? randomValue(depth: 3, &rng) : .string(scalars(timestamp(&rng)))
            members.append((scalars("timestamp"), value))
        }
        var literal: String? = nil
        var expected: Result<UInt64, CountError>? = nil
        switch Int.random(in: 0..<30, using: &rng) {
        case 0: break
        case 1: members.append((scalars("count"), [.string(scalars("3")), .bool(true), .null, .array([])].randomElement(using: &rng)!))
        case 2:
            literal = number(&rng)
            members.append((scalars("count"), .number(literal!)))
        default:
            (literal, expected) = count(&rng)
            members.append((scalars("count"), .number(literal!)))
        }
        if chance(0.2, &rng) { members.append((scalars("unit"), randomValue(depth: 3, &rng))) }
        members.shuffle(using: &rng)
        return (.object(members), literal, expected)
    }

    /// A count literal spelled from a known value, with its judgement.
    static func count(_ rng: inout SplitMix64) -> (String, Result<UInt64, CountError>) {
        let max = ReadingCount.max
        let value: UInt64 = [
            0, 1, 3, 42, 1000, max, max + 1, max + 2, 10_000_000_000_000_000, UInt64.random(in: 0...max, using: &rng),
            UInt64.random(in: 0...100_000, using: &rng), UInt64.random(in: 0...100_000, using: &rng),
        ].randomElement(using: &rng)!
        let judged: Result<UInt64, CountError> = value <= max ? .success(value) : .failure(.tooLarge)
        let digits = String(value)
        switch Int.random(in: 0..<16, using: &rng) {
        case 0: return (digits + ".0", judged)
        case 1: return (digits + "." + String(repeating: "0", count: Int.random(in: 1...20, using: &rng)), judged)
        case 2: return (digits + ["e0", "E0", "e+0", "e-0", "E+00"].randomElement(using: &rng)!, judged)
        case 3: return (value == 0 ? "0e-1" : digits + "0e-1", judged)
        case 4:  // d.ddd × 10^k
            guard digits.count > 1 else { return (digits, judged) }
            let k = digits.count - 1
            return (String(digits.prefix(1)) + "." + digits.dropFirst() + "e" + String(k), judged)
        case 5: return (value == 0 ? "-0" : "-" + digits, value == 0 ? .success(0) : .failure(.negative))
        case 6: return (digits + ".5", .failure(.notInteger))
        case 7: return (digits + "." + String(repeating: "0", count: 17) + "1", .failure(.notInteger))
        case 8: return (digits + "e" + String(Int.random(in: 17...500, using: &rng)), value == 0 ? .success(0) : .failure(.tooLarge))
        default: return (digits, judged)
        }
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }

    /// A timestamp string: mostly valid in every accepted spelling, sometimes broken.
    static func timestamp(_ rng: inout SplitMix64) -> String {
        if chance(0.1, &rng) {
            return [
                "2023-01-01T00:00:60Z", "2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z", "2023-01-01T00:00:00",
                "2023-01-01T00:00:00.1234567890Z", "2023-01-01T00:00:00+24:00", "1677-09-21T00:12:43.145224191Z",
                "2262-04-11T23:47:16.854775808Z", "", "2023-01-01", "２０２３-01-01T00:00:00Z", "2023-01-01T00:00:00Z ",
                "2023-01-01T00:00:00\u{0}Z",
            ].randomElement(using: &rng)!
        }
        let year = Int.random(in: 1678...2261, using: &rng)
        let month = Int.random(in: 1...12, using: &rng)
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let day = Int.random(in: 1...[31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1], using: &rng)
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + ["T", "t", " "].randomElement(using: &rng)!
        text +=
            pad(Int.random(in: 0...23, using: &rng), 2) + ":" + pad(Int.random(in: 0...59, using: &rng), 2) + ":"
            + pad(Int.random(in: 0...59, using: &rng), 2)
        if chance(0.4, &rng) {
            text += "." + (0..<Int.random(in: 1...9, using: &rng)).map { _ in String(Int.random(in: 0...9, using: &rng)) }.joined()
        }
        let hh = pad(Int.random(in: 0...23, using: &rng), 2)
        let mm = pad(Int.random(in: 0...59, using: &rng), 2)
        let sign = chance(0.5, &rng) ? "+" : "-"
        text += ["Z", "z", sign + hh + ":" + mm, sign + hh + mm, sign + hh, "-00:00"].randomElement(using: &rng)!
        return text
    }
}

/// How a document is spelled: whitespace between tokens and how often strings use escapes.
private struct DifferentialStyle {
    var whitespace: Double
    var escapes: Double
    var upperHex: Bool

    static func random(_ rng: inout SplitMix64) -> DifferentialStyle {
        DifferentialStyle(
            whitespace: [0, 0, 0.1, 0.5, 1].randomElement(using: &rng)!,
            escapes: [0, 0, 0.1, 0.5, 1].randomElement(using: &rng)!,
            upperHex: DifferentialGenerator.chance(0.5, &rng))
    }

    func serialize(_ value: DifferentialValue, _ rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        space(&out, &rng)
        write(value, &out, &rng)
        space(&out, &rng)
        return out
    }

    func space(_ out: inout [UInt8], _ rng: inout SplitMix64) {
        guard whitespace > 0, DifferentialGenerator.chance(whitespace, &rng) else { return }
        out += Array([" ", "\n", "\t", "\r\n", "  ", " \t\n\r "].randomElement(using: &rng)!.utf8)
    }

    func write(_ value: DifferentialValue, _ out: inout [UInt8], _ rng: inout SplitMix64) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .number(let literal): out += Array(literal.utf8)
        case .string(let scalars): string(scalars, &out, &rng)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (k, element) in elements.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                space(&out, &rng)
                write(element, &out, &rng)
                space(&out, &rng)
            }
            if elements.isEmpty { space(&out, &rng) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (k, member) in members.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                space(&out, &rng)
                string(member.name, &out, &rng)
                space(&out, &rng)
                out.append(UInt8(ascii: ":"))
                space(&out, &rng)
                write(member.value, &out, &rng)
                space(&out, &rng)
            }
            if members.isEmpty { space(&out, &rng) }
            out.append(UInt8(ascii: "}"))
        }
    }

    func hex4(_ unit: UInt32) -> String {
        let digits = String(unit, radix: 16, uppercase: upperHex)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }

    func string(_ scalars: [Unicode.Scalar], _ out: inout [UInt8], _ rng: inout SplitMix64) {
        out.append(UInt8(ascii: "\""))
        for s in scalars {
            let escape = escapes > 0 && DifferentialGenerator.chance(escapes, &rng)
            let short: String? =
                switch s {
                case "\"": "\\\""
                case "\\": "\\\\"
                case "/": "\\/"
                case "\u{8}": "\\b"
                case "\u{C}": "\\f"
                case "\n": "\\n"
                case "\r": "\\r"
                case "\t": "\\t"
                default: nil
                }
            if s == "\"" || s == "\\" || s.value < 0x20 || escape {
                if let short, s != "/" || escape, DifferentialGenerator.chance(0.7, &rng) {
                    out += Array(short.utf8)
                } else if s.value > 0xFFFF {
                    let v = s.value - 0x10000
                    out += Array((hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))).utf8)
                } else {
                    out += Array(hex4(s.value).utf8)
                }
            } else {
                out += Array(String(Character(s)).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Mutations

private enum DifferentialMutator {
    static let insertions: [[UInt8]] = [
        [0x2C], Array("/*c*/".utf8), Array("//c\n".utf8), Array("#".utf8), [0x00], [0x01], [0x1F], [0x0B], [0x0C],
        [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
        [0xC2, 0xA0], Array("NaN".utf8), Array("01".utf8), Array("-".utf8), Array("1.".utf8), Array(".5".utf8),
        Array("+1".utf8), Array("tru".utf8), Array("\\x".utf8), Array("\\u12".utf8), Array("\\ud800".utf8),
        Array("\\udc00".utf8), Array("\\ud800\\u0041".utf8), Array("]".utf8), Array("}".utf8), Array("[".utf8),
        Array("{".utf8), Array(":".utf8), Array("\"".utf8), Array("'".utf8), Array("\\".utf8), Array("1e400".utf8),
    ]

    /// A few mutated copies of a document, each named for the failure message.
    static func mutations(of document: DifferentialDocument, _ rng: inout SplitMix64) -> [(String, [UInt8])] {
        let bytes = document.bytes
        var result: [(String, [UInt8])] = []
        func position() -> Int { Int.random(in: 0...bytes.count, using: &rng) }
        for _ in 0..<3 {
            var m = bytes
            let name: String
            switch Int.random(in: 0..<9, using: &rng) {
            case 0:
                let at = Int.random(in: 0..<max(1, bytes.count), using: &rng)
                m = Array(bytes.prefix(at))
                name = "truncated to \(at)"
            case 1 where !bytes.isEmpty:
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                m[at] = UInt8.random(in: 0...255, using: &rng)
                name = "byte \(at) replaced"
            case 2 where !bytes.isEmpty:
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                m[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                name = "bit flipped at \(at)"
            case 3 where !bytes.isEmpty:
                m.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
                name = "byte deleted"
            case 4:
                let at = Int.random(in: 0..<max(1, bytes.count), using: &rng)
                let end = min(bytes.count, at + Int.random(in: 1...8, using: &rng))
                m.insert(contentsOf: bytes[min(at, bytes.count)..<end], at: end)
                name = "range \(at)..<\(end) repeated"
            case 5:
                // Trailing comma before a closing bracket.
                let closers = bytes.indices.filter { bytes[$0] == UInt8(ascii: "]") || bytes[$0] == UInt8(ascii: "}") }
                guard let at = closers.randomElement(using: &rng) else { continue }
                m.insert(UInt8(ascii: ","), at: at)
                name = "comma inserted before \(at)"
            default:
                let insertion = insertions.randomElement(using: &rng)!
                let at = position()
                m.insert(contentsOf: insertion, at: at)
                name = "\(DifferentialOracle.show(insertion)) inserted at \(at)"
            }
            result.append((name, m))
        }
        // Structural mutations, each now and then.
        if DifferentialGenerator.chance(0.15, &rng), let duplicated = duplicateMember(document.value, &rng) {
            result.append(("member duplicated", DifferentialStyle.random(&rng).serialize(duplicated, &rng)))
        }
        if DifferentialGenerator.chance(0.08, &rng) {
            let levels = [62, 63, 64, 65, 70, 600].randomElement(using: &rng)!
            result.append(
                (
                    "wrapped in \(levels) arrays",
                    Array(repeating: UInt8(ascii: "["), count: levels) + bytes + Array(repeating: UInt8(ascii: "]"), count: levels)
                ))
        }
        if DifferentialGenerator.chance(0.05, &rng) {
            result.append(("UTF-8 BOM", [0xEF, 0xBB, 0xBF] + bytes))
        }
        if DifferentialGenerator.chance(0.04, &rng) {
            // Transcoded to UTF-16 or UTF-32 (little or big endian, with or without a BOM).
            let text = String(decoding: bytes, as: UTF8.self)
            let wide = Int.random(in: 0..<2, using: &rng) == 0
            let bigEndian = DifferentialGenerator.chance(0.5, &rng)
            var units: [UInt32] = wide ? text.unicodeScalars.map(\.value) : text.utf16.map(UInt32.init)
            if DifferentialGenerator.chance(0.5, &rng) { units.insert(0xFEFF, at: 0) }
            let width = wide ? 4 : 2
            var out: [UInt8] = []
            for unit in units {
                let le = (0..<width).map { UInt8(truncatingIfNeeded: unit >> (8 * $0)) }
                out += bigEndian ? le.reversed() : le
            }
            result.append(("as UTF-\(width * 8)\(bigEndian ? "BE" : "LE")", out))
        }
        return result
    }

    /// The value with one member of one of its objects repeated (same name, possibly another
    /// value), or nil when it has no non-empty object.
    static func duplicateMember(_ value: DifferentialValue, _ rng: inout SplitMix64) -> DifferentialValue? {
        switch value {
        case .object(var members) where !members.isEmpty:
            if DifferentialGenerator.chance(0.6, &rng) {
                let copy = members.randomElement(using: &rng)!
                let value = DifferentialGenerator.chance(0.5, &rng) ? copy.value : DifferentialGenerator.randomValue(depth: 3, &rng)
                members.insert((copy.name, value), at: Int.random(in: 0...members.count, using: &rng))
                return .object(members)
            }
            for k in members.indices.shuffled(using: &rng) {
                if let inner = duplicateMember(members[k].value, &rng) {
                    members[k].value = inner
                    return .object(members)
                }
            }
            return nil
        case .array(var elements):
            for k in elements.indices.shuffled(using: &rng) {
                if let inner = duplicateMember(elements[k], &rng) {
                    elements[k] = inner
                    return .array(elements)
                }
            }
            return nil
        default:
            return nil
        }
    }
}
