import ArgumentParser
import ReadingsDomain

/// The settings of one start, resolved from the command line, the environment and `./.env`
/// through ``Setting/all``: a flag wins over the environment, which wins over `.env`; an empty
/// value is an unset one. Each accessor validates against the setting's kind and names the flag
/// in its error.
struct SettingValues {
    private var given: [String: [String]] = [:]
    private let environment: [String: String]
    private let dotEnv: [String: String]

    /// Reads `arguments` (`--flag value`, `--flag=value`, `--flag` for a boolean; list flags may
    /// repeat), refusing unknown flags and missing values.
    init(arguments: [String], environment: [String: String], dotEnvText: String?) throws {
        self.environment = environment
        self.dotEnv = dotEnvText.map(SettingValues.parseDotEnv) ?? [:]
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else { throw ValidationError("unexpected argument '\(argument)'") }
            let (name, inline) =
                argument.firstIndex(of: "=").map { (String(argument[..<$0]), String(argument[argument.index(after: $0)...])) }
                ?? (argument, nil)
            guard let setting = Setting.all.first(where: { $0.option == name }) else {
                throw ValidationError("unknown option '\(name)' (see serve --help)")
            }
            if setting.kind == .boolean {
                given[setting.flag, default: []].append(inline ?? "true")
                continue
            }
            guard let value = inline ?? rest.popFirst() else { throw ValidationError("\(name) needs a value") }
            given[setting.flag, default: []].append(value)
        }
    }

    /// The setting's text: the flag's (the last one), else the environment's, else `.env`'s;
    /// nil when none is given or the value is empty.
    func text(_ setting: Setting) -> String? {
        let value = given[setting.flag]?.last ?? environment[setting.environment] ?? dotEnv[setting.environment]
        return value?.isEmpty == false ? value : nil
    }

    /// A whole number within the setting's range; when not given, the catalogue's default (nil
    /// when that is not a number, as for `--max-inflight-bytes`, whose default depends on RAM).
    func integer(_ setting: Setting) throws -> Int? {
        guard case .integer(let range) = setting.kind else { preconditionFailure("\(setting.option) is not a number") }
        guard let text = text(setting) else { return Int(setting.defaultText) }
        guard let value = Int(text), range.contains(value) else {
            throw ValidationError("\(setting.option) must be a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// A `.period` setting: nil for `off` (the default).
    func period(_ setting: Setting) throws -> Retention? {
        guard case .period = setting.kind else { preconditionFailure("\(setting.option) is not a period") }
        let value = text(setting) ?? setting.defaultText
        if value.lowercased() == "off" { return nil }
        guard let span = BucketStep(value) else {
            throw ValidationError(
                "\(setting.option) must be off, or a whole number from 1 followed by s, m, h or d (such as 90d), got '\(value)'")
        }
        return Retention(nanoseconds: span.nanoseconds)
    }

    /// One of the setting's words (lower-cased), or its default.
    func choice(_ setting: Setting) throws -> String {
        guard case .choice(let words) = setting.kind else { preconditionFailure("\(setting.option) is not a choice") }
        let value = (text(setting) ?? setting.defaultText).lowercased()
        guard words.contains(value) else {
            throw ValidationError("\(setting.option) must be one of \(words.joined(separator: ", ")), got '\(value)'")
        }
        return value
    }

    /// A boolean flag: given on the command line, or `true`/`false` (also `1`/`0`, `yes`/`no`)
    /// in the environment.
    func boolean(_ setting: Setting) throws -> Bool {
        guard let text = text(setting) else { return false }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ValidationError("\(setting.option) (\(setting.environment)) must be true or false, got '\(text)'")
        }
    }

    /// The values of a list setting: every flag given, else the environment's comma-separated
    /// items (spaces around items trimmed, empty items dropped). A flag given empty is refused.
    func list(_ setting: Setting) throws -> [String] {
        if let flags = given[setting.flag] {
            guard !flags.contains(where: \.isEmpty) else { throw ValidationError("\(setting.option) must not be empty") }
            return flags
        }
        let text = environment[setting.environment] ?? dotEnv[setting.environment] ?? ""
        return text.split(separator: ",").map { String($0.trimmingSpaces()) }.filter { !$0.isEmpty }
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
