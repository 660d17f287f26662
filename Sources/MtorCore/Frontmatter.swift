import Foundation

/// A value of the YAML subset people write by hand in a spec's frontmatter.
public enum FrontmatterValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case list([String])
    case null

    /// The type's name as a person reads it in an error message.
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "a number"
        case .boolean: return "true/false"
        case .list: return "a list"
        case .null: return "empty"
        }
    }
}

/// A spec file split into its frontmatter keys and its Markdown body.
public struct Frontmatter: Equatable, Sendable {
    /// One `key: value` line, with the line number it came from.
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: FrontmatterValue
        public var line: Int
    }

    public var entries: [Entry]
    public var body: String

    /// Splits `text` into frontmatter and body; the body never contains the frontmatter.
    ///
    /// A byte-order mark and CRLF line endings are accepted. Frontmatter exists only when
    /// the very first line is `---`; it ends at the next `---` or `...` line.
    public static func split(_ text: String) throws(SpecError) -> Frontmatter {
        var source = text
        if source.hasPrefix("\u{FEFF}") { source.removeFirst() }
        source = source.replacingOccurrences(of: "\r\n", with: "\n")
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.trimmingCharacters(in: .whitespaces) == "---" else {
            return Frontmatter(entries: [], body: source)
        }
        guard let close = lines.indices.dropFirst().first(where: {
            let t = lines[$0].trimmingCharacters(in: .whitespaces)
            return t == "---" || t == "..."
        }) else {
            throw .invalid(key: nil, "the frontmatter opened by '---' on line 1 is never closed by a second '---' line")
        }
        let entries = try parseEntries(Array(lines[1..<close]), firstLine: 2)
        let body = lines[(close + 1)...].joined(separator: "\n")
        return Frontmatter(entries: entries, body: body)
    }

    // MARK: - Lines

    private static func parseEntries(_ lines: [String], firstLine: Int) throws(SpecError) -> [Entry] {
        var entries: [Entry] = []
        var seen: Set<String> = []
        var index = 0
        while index < lines.count {
            let lineNumber = firstLine + index
            let raw = lines[index]
            index += 1
            let stripped = stripComment(raw)
            if stripped.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if raw.first == " " || raw.first == "\t" {
                throw .invalid(key: nil, "line \(lineNumber) of the frontmatter is indented; only flat `key: value` lines and `- item` lists are supported")
            }
            guard let colon = stripped.firstIndex(of: ":") else {
                throw .invalid(key: nil, "line \(lineNumber) of the frontmatter is not a `key: value` line: \(raw.trimmingCharacters(in: .whitespaces))")
            }
            let key = stripped[..<colon].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw .invalid(key: nil, "line \(lineNumber) of the frontmatter has no valid key before ':'")
            }
            guard seen.insert(key).inserted else {
                throw .invalid(key: key, "the key '\(key)' appears twice in the frontmatter (line \(lineNumber))")
            }
            let rest = stripped[stripped.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            var value: FrontmatterValue
            if rest.isEmpty {
                var items: [String] = []
                while index < lines.count {
                    let item = stripComment(lines[index]).trimmingCharacters(in: .whitespaces)
                    if item.isEmpty, lines[index].trimmingCharacters(in: .whitespaces).isEmpty || lines[index].trimmingCharacters(in: .whitespaces).hasPrefix("#") {
                        index += 1
                        continue
                    }
                    guard item.hasPrefix("- ") || item == "-" else { break }
                    items.append(try scalarString(String(item.dropFirst()).trimmingCharacters(in: .whitespaces), key: key, line: firstLine + index))
                    index += 1
                }
                value = items.isEmpty ? .null : .list(items)
            } else {
                value = try parseValue(rest, key: key, line: lineNumber)
            }
            entries.append(Entry(key: key, value: value, line: lineNumber))
        }
        return entries
    }

    /// Removes a ` # comment` tail that is outside quotes.
    static func stripComment(_ line: String) -> String {
        var quote: Character? = nil
        var escaped = false
        var previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" && q == "\"" { escaped = true } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || previous == "\t" || offset == 0) {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }

    private static func parseValue(_ text: String, key: String, line: Int) throws(SpecError) -> FrontmatterValue {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else {
                throw .invalid(key: key, "'\(key)' on line \(line) opens a list with '[' but never closes it with ']'")
            }
            let inner = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            if inner.isEmpty { return .list([]) }
            var items: [String] = []
            for part in splitList(String(inner)) {
                items.append(try scalarString(part.trimmingCharacters(in: .whitespaces), key: key, line: line))
            }
            return .list(items)
        }
        if text.hasPrefix("{") {
            throw .invalid(key: key, "'\(key)' on line \(line) is a mapping; mtor's frontmatter takes only scalars and lists")
        }
        if text.hasPrefix("\"") || text.hasPrefix("'") {
            return .string(try scalarString(text, key: key, line: line))
        }
        switch text {
        case "true", "yes", "True", "TRUE": return .boolean(true)
        case "false", "no", "False", "FALSE": return .boolean(false)
        case "null", "Null", "NULL": return .null  // not "~": `repo: ~` means the home directory
        default: break
        }
        if let number = Int(text) { return .integer(number) }
        return .string(text)
    }

    private static func splitList(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character? = nil
        for c in text {
            if let q = quote {
                if c == q { quote = nil }
                current.append(c)
            } else if c == "\"" || c == "'" {
                quote = c
                current.append(c)
            } else if c == "," {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    private static func scalarString(_ text: String, key: String, line: Int) throws(SpecError) -> String {
        guard let first = text.first, first == "\"" || first == "'" else { return text }
        guard text.count >= 2, text.last == first else {
            throw .invalid(key: key, "'\(key)' on line \(line) has an unterminated quoted string")
        }
        let inner = String(text.dropFirst().dropLast())
        if first == "'" { return inner.replacingOccurrences(of: "''", with: "'") }
        return unescapeDoubleQuoted(inner)
    }
}

/// Resolves backslash escapes inside a double-quoted string (`\n`, `\t`, `\"`, `\\`), as
/// both spec frontmatter and the env file write them.
func unescapeDoubleQuoted(_ s: String) -> String {
    var out = ""
    var escaping = false
    for c in s {
        if escaping {
            switch c {
            case "n": out.append("\n")
            case "t": out.append("\t")
            default: out.append(c)
            }
            escaping = false
        } else if c == "\\" {
            escaping = true
        } else {
            out.append(c)
        }
    }
    return out
}
