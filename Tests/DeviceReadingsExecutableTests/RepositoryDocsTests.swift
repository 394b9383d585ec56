import Foundation
import Testing

/// The repository stands on its own: every relative link of the README and `docs/` resolves to a
/// file of the checkout, and nothing names a path beside it.
@Suite struct RepositoryDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var pages: [URL] {
        let docs =
            (try? FileManager.default.contentsOfDirectory(at: root.appendingPathComponent("docs"), includingPropertiesForKeys: nil))
            ?? []
        return [root.appendingPathComponent("README.md"), root.appendingPathComponent("Benchmarks/README.md")]
            + docs.filter { $0.pathExtension == "md" }
    }

    @Test func everyRelativeLinkResolves() throws {
        let link = try NSRegularExpression(pattern: #"\]\(([^)#\s]+)(#[^)]*)?\)"#)
        #expect(Self.pages.count >= 8)
        for page in Self.pages {
            let text = try String(contentsOf: page, encoding: .utf8)
            for match in link.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let target = String(text[Range(match.range(at: 1), in: text)!])
                if target.hasPrefix("http://") || target.hasPrefix("https://") { continue }
                let resolved = page.deletingLastPathComponent().appendingPathComponent(target).standardizedFileURL
                #expect(FileManager.default.fileExists(atPath: resolved.path), "\(page.lastPathComponent): \(target)")
                #expect(
                    resolved.path.hasPrefix(Self.root.standardizedFileURL.path), "\(page.lastPathComponent) leaves the checkout: \(target)")
            }
        }
    }

    /// The folder beside the checkout that earlier versions named, spelled in two pieces so that
    /// this file does not name it either.
    static let outside = ".." + "/" + "shared"

    @Test func nothingNamesAPathBesideTheCheckout() throws {
        let places = ["README.md", "Makefile", "Package.swift", "docs", "scripts", "Sources", "Tests", "Benchmarks", ".ci"]
        var offenders: [String] = []
        for place in places {
            let url = Self.root.appendingPathComponent(place)
            let files: [URL]
            if let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) {
                files = walker.compactMap { $0 as? URL }
            } else {
                files = [url]
            }
            for file in files {
                guard let text = try? String(contentsOf: file, encoding: .utf8) else { continue }
                if text.contains(Self.outside) { offenders.append(file.path) }
            }
        }
        #expect(offenders.isEmpty, "\(offenders)")
    }
}
