import Foundation
import Testing

@testable import ReadingsHTTP

/// The error codes are one list (``ErrorCode``): the code writes no other, and the contract's two
/// descriptions, `docs/api.md` and the OpenAPI document, name exactly those.
@Suite struct ErrorCodeCatalogueTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let catalogue = Set(ErrorCode.allCases.map(\.rawValue))

    /// Every `CODE_LIKE_THIS` in `text` (two or more upper-case words joined by `_`, or one of
    /// the single-word codes).
    static func codes(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"\b(?:[A-Z]+(?:_[A-Z]+)+|UNAUTHORIZED|FORBIDDEN|UNAVAILABLE)\b"#)
        let range = NSRange(text.startIndex..., in: text)
        return Set(pattern.matches(in: text, range: range).map { String(text[Range($0.range, in: text)!]) })
    }

    @Test func docsNameExactlyTheCodes() throws {
        let api = try String(contentsOf: Self.root.appendingPathComponent("docs/api.md"), encoding: .utf8)
        // The page's table of codes: one row per code, the code first.
        let section = try #require(api.components(separatedBy: "\n## Error codes\n").dropFirst().first)
            .components(separatedBy: "\n## ")[0]
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }
        let listed = rows.map { String($0.dropFirst(3).prefix { $0 != "`" }) }
        #expect(
            Set(listed) == Self.catalogue,
            "only in docs: \(Set(listed).subtracting(Self.catalogue)), missing: \(Self.catalogue.subtracting(listed))")
        #expect(listed.count == Set(listed).count, "a code listed twice")
    }

    @Test func openAPINamesExactlyTheCodes() throws {
        let document = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/ReadingsHTTP/Resources/openapi.json"), encoding: .utf8)
        // Codes appear in the document as JSON strings in `const` and `enum`.
        let named = Set(Self.codes(in: document).filter { document.contains("\"\($0)\"") })
        #expect(
            named == Self.catalogue,
            "only in openapi.json: \(named.subtracting(Self.catalogue)), missing: \(Self.catalogue.subtracting(named))")
    }

    @Test func theCodeWritesNoOtherCode() throws {
        let sources = Self.root.appendingPathComponent("Sources/ReadingsHTTP")
        var written: Set<String> = []
        for case let file as URL in FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        where file.pathExtension == "swift" && file.lastPathComponent != "ErrorCode.swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            // A code in a response fragment: `"code":"X"`, escaped or not.
            for line in text.split(separator: "\n") where line.contains("code") {
                written.formUnion(Self.codes(in: String(line)))
            }
        }
        #expect(written.isSubset(of: Self.catalogue), "codes written outside ErrorCode: \(written.subtracting(Self.catalogue))")
        // The per-reading codes are written by the ingest response writer, each once.
        #expect(written.isSuperset(of: Set(ErrorCode.allCases.filter(\.isPerReading).map(\.rawValue))))
    }

    @Test func eachCodeHasTheStatusTheContractGivesIt() {
        for code in ErrorCode.allCases {
            let status = Int(code.status.code)
            if code.isPerReading {
                #expect([409, 422].contains(status), "\(code)")
            } else {
                #expect((400...599).contains(status), "\(code)")
            }
        }
        #expect(ErrorCode.payloadTooLarge.status.code == 413 && ErrorCode.unavailable.status.code == 503)
    }
}
