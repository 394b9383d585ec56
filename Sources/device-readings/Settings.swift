/// Resolves settings: a flag's value, else the process environment, else `.env` in the working
/// directory, else the default.
struct Settings {
    private let environment: [String: String]
    private let dotEnv: [String: String]

    /// Reads the process environment and `./.env` (if present).
    init(environment: [String: String], dotEnvText: String?) {
        self.environment = environment
        self.dotEnv = dotEnvText.map(Settings.parseDotEnv) ?? [:]
    }

    /// The value of `key` from the environment or `.env`.
    func value(_ key: String) -> String? {
        environment[key] ?? dotEnv[key]
    }

    /// A comma-separated list (empty items dropped, spaces around items trimmed).
    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
    }

    /// Parses `.env`: `KEY=VALUE` lines, `#` comments, optional `export `, optional quotes.
    static func parseDotEnv(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingSpaces()
            var value = line[line.index(after: equals)...].trimmingSpaces()
            if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                value = value.dropFirst().dropLast()
            }
            values[String(key)] = String(value)
        }
        return values
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        return self[start...lastIndex(where: { !isSpace($0) })!]
    }
}
