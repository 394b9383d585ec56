import Foundation
import Testing

/// The dashboard at `/` as a browser shows it: headless Chromium loads the page from the real
/// binary, which serves both the page and the API the page reads; the test checks the rendered DOM
/// and keeps a screenshot in `artifacts/dashboard.png`.
///
/// Nothing here waits on the wall clock. Chromium's virtual time (`--virtual-time-budget`) runs the
/// page's timers and holds while its requests are in flight; the page sets `data-state="ready"` on
/// `<body>` once the device table and the chosen device's chart have rendered (`"error"` when a
/// request failed first), and the DOM is read when the budget is spent.
///
/// Chromium is a test dependency that `.ci/run` installs. Where it is missing the suite is skipped,
/// with the reason below in the test report; where `CI` is set it runs anyway and fails on the
/// `#require` in each test, so that CI never passes by skipping.
@Suite(
    .serialized,
    .enabled(
        if: Chromium.executable != nil || Chromium.onCI,
        "Chromium is not installed (apt-get install chromium, or CHROMIUM=/path/to/chrome); with CI set its absence fails")
)
struct DashboardBrowserTests {
    /// Three devices over 2024-01-01 UTC with known counts:
    /// - `boiler-1`: 24 hourly readings, count hour + 1 (sum 300).
    /// - `boiler-2`: 2^53−1 and 2^53−2: a cumulative count (2^54−3) that a JS number cannot hold exactly.
    /// - `pump 3/α`: 48 half-hourly readings, count k % 5 + 1 (sum 141); an id with a space, a
    ///   slash and a non-ASCII letter, which the page must percent-encode in paths and the hash.
    static let seeded: [(id: String, readings: [(timestamp: String, count: UInt64)])] = [
        ("boiler-1", (0..<24).map { (at(hour: $0), UInt64($0 + 1)) }),
        ("boiler-2", [(at(hour: 0), 9_007_199_254_740_991), (at(hour: 1), 9_007_199_254_740_990)]),
        ("pump 3/α", (0..<48).map { (at(hour: $0 / 2, minute: $0 % 2 * 30), UInt64($0 % 5 + 1)) }),
    ]
    static let chosen = "pump 3/α"

    @Test func tableAndChartOfOneDevice() async throws {
        let chromium = try #require(
            Chromium.executable, "CI is set but Chromium is missing: .ci/run must install it (apt-get install chromium)")
        let server = try ServerProcess(arguments: ["--log-level", "warning"])
        try await server.waitUntilServing()
        for device in Self.seeded {
            let readings = device.readings.map { #"{"timestamp":"\#($0.timestamp)","count":\#($0.count)}"# }
            let (head, body) = try server.exchange(
                "POST", "/ingest", body: #"{"id":"\#(device.id)","readings":[\#(readings.joined(separator: ","))]}"#)
            try #require(head.hasPrefix("HTTP/1.1 202"), "seeding \(device.id): \(head)\n\(body)")
        }

        // The page and the two files it references, with types a browser accepts.
        for (path, type) in [("/", "text/html"), ("/dashboard.css", "text/css"), ("/dashboard.js", "javascript")] {
            let (head, body) = try server.exchange("GET", path, body: "")
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(path): \(head)")
            #expect(head.lowercased().contains("content-type: ") && head.lowercased().contains(type), "\(path): \(head)")
            #expect(!body.isEmpty, "\(path)")
        }

        // One device, 00:00 to 23:30 in 1 h steps: the buckets start at 00:00, ..., 23:00, so 24 bars
        // (an unaligned `to` keeps the count free of any doubt about a bucket starting at `to`).
        let url =
            "http://127.0.0.1:\(server.port)/#device=\(Chromium.percentEncoded(Self.chosen))"
            + "&from=2024-01-01T00:00:00Z&to=2024-01-01T23:30:00Z&step=1h"
        let page = try DashboardPage(dom: Chromium.run(chromium, ["--window-size=1280,900", "--dump-dom", url]))
        try #require(
            page.state == "ready", "the dashboard did not finish: data-state=\(page.state ?? "none"), status: \(page.status)\n\(server.log)"
        )

        let rows = try page.deviceRows()
        #expect(rows.map(\.id) == Self.seeded.map(\.id))
        let sums = Self.seeded.map { String($0.readings.reduce(UInt64(0)) { $0 + $1.count }) }
        #expect(sums == ["300", "18014398509481981", "141"])
        // Cells: id, latest timestamp, cumulative count, readings. Counts carry their exact value in
        // `data-value` and show it with separators; past 2^53 both stay exact because the page parses
        // JSON with source-text access (Chromium 114+), which this checks.
        #expect(rows.map { $0.cells[2].value } == sums)
        #expect(rows.map { $0.cells[2].text.filter(\.isWholeNumber) } == sums)
        #expect(rows.map { $0.cells[3].value } == ["24", "2", "48"])
        #expect(rows.map { $0.cells[1].value } == ["2024-01-01T23:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T23:30:00Z"])
        #expect(rows.filter(\.selected).map(\.id) == [Self.chosen])

        #expect(try page.barCount() == 24)
        // Recent readings: the last 20 of the range, newest first (23:00, k = 46, count 2).
        let recent = try page.recentCounts()
        #expect(recent.count == 20)
        #expect(recent.first == "2")

        // The download link exports the range shown, and what it names is the device's CSV.
        let href = try #require(try DashboardPage.groups(#"<a id="export-csv" href="([^"]*)""#, in: page.dom[...]).first?[0])
        let link = DashboardPage.unescape(href)
        #expect(
            link
                == "/devices/\(Chromium.percentEncoded(Self.chosen))/export?from=2024-01-01T00%3A00%3A00Z&to=2024-01-01T23%3A30%3A00Z&format=csv",
            "\(link)")
        let (status, csv) = try await server.request("GET", link)
        #expect(status == 200)
        let lines = csv.split(whereSeparator: \.isNewline).filter { $0.contains(",") }
        #expect(lines.first == "timestamp,count")
        let shown = Self.seeded.first { $0.id == Self.chosen }!.readings.filter { $0.timestamp < "2024-01-01T23:30:00Z" }
        #expect(lines.count == 1 + shown.count, "\(csv.prefix(200))")

        // The same view as a picture, kept for people (CI uploads artifacts/).
        let artifacts = Chromium.repositoryRoot.appendingPathComponent("artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let png = artifacts.appendingPathComponent("dashboard.png")
        try? FileManager.default.removeItem(at: png)
        _ = try Chromium.run(chromium, ["--window-size=1280,900", "--screenshot=\(png.path)", url])
        let data = try Data(contentsOf: png)
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "artifacts/dashboard.png is not a PNG")
        // The IHDR chunk follows the signature: width and height, big-endian, at bytes 16 and 20.
        let dimension = { (offset: Int) in data.count >= offset + 4 ? data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } : 0 }
        #expect(dimension(16) == 1280 && dimension(20) == 900)
        #expect(try await server.stop() == 0)
    }

    /// Devices quiet for an hour are marked in the table, and `Show: silent for …` (here from the
    /// address, `#silent=1h`) lists only them, through `GET /devices?silent_for=`.
    @Test func silentDevicesAreMarkedAndCanBeListedAlone() async throws {
        let chromium = try #require(
            Chromium.executable, "CI is set but Chromium is missing: .ci/run must install it (apt-get install chromium)")
        let server = try ServerProcess(arguments: ["--log-level", "warning"])
        try await server.waitUntilServing()
        let now = ISO8601DateFormatter().string(from: Date())
        for (id, timestamp) in [("quiet", "2024-01-01T00:00:00Z"), ("live", now)] {
            let body = #"{"id":"\#(id)","readings":[{"timestamp":"\#(timestamp)","count":1}]}"#
            #expect(try server.exchange("POST", "/ingest", body: body).head.hasPrefix("HTTP/1.1 202"))
        }
        let all = try DashboardPage(
            dom: Chromium.run(chromium, ["--window-size=1280,900", "--dump-dom", "http://127.0.0.1:\(server.port)/"]))
        try #require(all.state == "ready", "the dashboard did not finish: \(all.status)")
        let rows = try all.deviceRows()
        #expect(rows.map(\.id) == ["live", "quiet"])
        #expect(rows.map(\.silent) == [false, true])
        let silent = try DashboardPage(
            dom: Chromium.run(chromium, ["--window-size=1280,900", "--dump-dom", "http://127.0.0.1:\(server.port)/#silent=1h"]))
        try #require(silent.state == "ready", "the dashboard did not finish: \(silent.status)")
        #expect(try silent.deviceRows().map(\.id) == ["quiet"])
        #expect(try await server.stop() == 0)
    }

    /// With API keys on, the page itself loads without one (it cannot send a key it has not asked
    /// for yet), its API requests get 401, and it shows the key form instead of an empty success.
    @Test func withAPIKeysThePageAsksForOne() async throws {
        let chromium = try #require(
            Chromium.executable, "CI is set but Chromium is missing: .ci/run must install it (apt-get install chromium)")
        let server = try ServerProcess(environment: ["API_KEYS": "dashboard-key"])
        try await server.waitUntilServing()
        let seed = #"{"id":"boiler-1","readings":[{"timestamp":"2024-01-01T00:00:00Z","count":1}]}"#
        #expect(try server.exchange("POST", "/ingest", body: seed, authorization: "Bearer dashboard-key").head.hasPrefix("HTTP/1.1 202"))

        let page = try DashboardPage(
            dom: Chromium.run(chromium, ["--window-size=1280,900", "--dump-dom", "http://127.0.0.1:\(server.port)/"]))
        #expect(page.keyFormShown)
        #expect(page.status.contains("API key"), "\(page.status)")
        #expect(try page.deviceRows().isEmpty)
        #expect(try await server.stop() == 0)
    }
}

private func at(hour: Int, minute: Int = 0) -> String {
    String(format: "2024-01-01T%02d:%02d:00Z", hour, minute)
}

/// Headless Chromium, run to completion with a time limit and a throwaway profile.
enum Chromium {
    static let onCI = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty

    /// `CHROMIUM` when set, else the first of the usual names on `PATH`.
    static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["CHROMIUM"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let directories = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
                return "\(directory)/\(name)"
            }
        }
        return nil
    }()

    /// The package root (this file is Tests/DeviceReadingsExecutableTests/…).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Every run: the headless browser; `--no-sandbox` because Chromium refuses to start as root
    /// (as CI runs) with its sandbox on; a profile of its own; virtual time for timers and requests
    /// (10 s of it: the first render plus one 5 s refresh, in well under a second of real time).
    static let common = [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--mute-audio", "--lang=en-US",
        "--virtual-time-budget=10000",
    ]

    /// Runs Chromium and returns its standard output (the serialized DOM for `--dump-dom`).
    /// Its standard error, where it logs freely, goes to a file that is shown only on failure;
    /// `timeout` bounds a browser that hangs.
    static func run(_ chromium: String, _ arguments: [String]) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dr-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let errors = scratch.appendingPathComponent("stderr.log")
        let script = #"""
            errors="$1"; shift
            if command -v timeout >/dev/null 2>&1; then exec timeout 120 "$@" 2>"$errors"; else exec "$@" 2>"$errors"; fi
            """#
        let result = try ServerProcess.runTool(
            "/bin/sh",
            ["-c", script, "sh", errors.path, chromium, "--user-data-dir=\(scratch.appendingPathComponent("profile").path)"] + common
                + arguments)
        guard result.status == 0 else {
            let log = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw ChromiumError(
                message: "chromium exited with status \(result.status)\(result.status == 124 ? " (timed out)" : ""):\n\(log.suffix(4000))")
        }
        return result.output
    }

    /// `value` percent-encoded as the page's own links do (encodeURIComponent's unreserved set).
    static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()"))!
    }
}

struct ChromiumError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// What the tests read in Chromium's serialized DOM: the hooks the dashboard keeps for them
/// (`data-state` on `<body>`, `data-id` on device rows, `data-value` on count cells, `rect.bar`
/// inside `#chart`). The serializer writes one element per tag as the page built it, which
/// these patterns follow; they are not a general HTML parser.
struct DashboardPage {
    struct Row {
        var id: String
        var selected: Bool
        var silent: Bool
        var cells: [(value: String?, text: String)]
    }

    let dom: String

    var state: String? { try? Self.groups(#"<body\b[^>]*\sdata-state="([^"]*)""#, in: dom[...]).first?[0] }

    var status: String {
        (try? Self.groups(#"<p id="status"[^>]*>(.*?)</p>"#, in: dom[...]).first.map { Self.text($0[0]) }) ?? ""
    }

    var keyFormShown: Bool {
        guard let attributes = try? Self.groups(#"<form id="key-form"([^>]*)>"#, in: dom[...]).first?[0] else { return false }
        return !attributes.contains("hidden")
    }

    func deviceRows() throws -> [Row] {
        let body = Self.section(Self.section(dom[...], "<table id=\"devices\"", "</table>"), "<tbody>", "</tbody>")
        return try Self.groups(#"<tr data-id="([^"]*)"([^>]*)>(.*?)</tr>"#, in: body).map { row in
            let cells = try Self.groups(#"<td([^>]*)>(.*?)</td>"#, in: row[2][...]).map { cell in
                (
                    value: try Self.groups(#"data-value="([^"]*)""#, in: cell[0][...]).first.map { Self.unescape($0[0]) },
                    text: Self.text(cell[1])
                )
            }
            let classes = try Self.groups(#"class="([^"]*)""#, in: row[1][...]).first?[0].split(separator: " ") ?? []
            return Row(id: Self.unescape(row[0]), selected: classes.contains("selected"), silent: classes.contains("silent"), cells: cells)
        }
    }

    func barCount() throws -> Int {
        try Self.groups(#"<rect\b[^>]*\bclass="bar""#, in: Self.section(dom[...], "<svg id=\"chart\"", "</svg>")).count
    }

    /// The `data-value` of the count cell of each recent-readings row, in page order.
    func recentCounts() throws -> [String] {
        let body = Self.section(Self.section(dom[...], "<table id=\"recent\"", "</table>"), "<tbody>", "</tbody>")
        return try Self.groups(#"<tr>(.*?)</tr>"#, in: body).map { row in
            try Self.groups(#"data-value="([^"]*)""#, in: row[0][...]).first?[0] ?? ""
        }
    }

    /// `text` from the first `start` up to the next `end` (empty when absent).
    static func section(_ text: Substring, _ start: String, _ end: String) -> Substring {
        guard let from = text.range(of: start), let to = text.range(of: end, range: from.upperBound..<text.endIndex) else { return "" }
        return text[from.lowerBound..<to.upperBound]
    }

    /// The capture groups of every match of `pattern` in `text`.
    static func groups(_ pattern: String, in text: Substring) throws -> [[String]] {
        let regex = try Regex(pattern).dotMatchesNewlines()
        return text.matches(of: regex).map { match in
            (1..<match.output.count).map { match.output[$0].substring.map(String.init) ?? "" }
        }
    }

    /// Markup to the text it shows.
    static func text(_ html: String) -> String {
        unescape(html.replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression))
    }

    static func unescape(_ html: String) -> String {
        html.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&nbsp;", with: "\u{A0}").replacingOccurrences(of: "&amp;", with: "&")
    }
}
