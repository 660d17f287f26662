import Foundation

/// The worker's env file (`etc/mtor.env`): `KEY=value`, `export KEY=value`, quotes, comments.
public struct EnvFile: Equatable, Sendable {
    /// One assignment and the line it came from.
    public struct Assignment: Equatable, Sendable {
        public var key: String
        public var value: String
        public var line: Int
        /// Whether systemd's `EnvironmentFile=` would read this line differently.
        public var systemdWarning: String?
        /// Whether the line began with `export `.
        public var exported = false
    }

    public var assignments: [Assignment]

    public init(assignments: [Assignment] = []) {
        self.assignments = assignments
    }

    public var values: [String: String] {
        var out: [String: String] = [:]
        for a in assignments { out[a.key] = a.value }
        return out
    }

    /// Parses the file; a malformed line is an error with its line number, never skipped.
    public static func parse(_ text: String, file: String = "env file") throws(EnvFileError) -> EnvFile {
        var out: [Assignment] = []
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        for (offset, rawLine) in lines.enumerated() {
            let number = offset + 1
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if offset == 0, line.hasPrefix("\u{FEFF}") {
                throw EnvFileError(file: file, line: number,
                                   "the file starts with a byte-order mark (U+FEFF, bytes EF BB BF), which is not part of a variable name; "
                                       + "save it as UTF-8 without BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' \(file))")
            }
            var warning: String? = nil
            let exported = line.hasPrefix("export ") || line.hasPrefix("export\t")
            if exported {
                line = line.dropFirst(7).trimmingCharacters(in: .whitespaces)
                warning = "systemd's EnvironmentFile= does not understand 'export' and ignores this line"
            }
            guard let eq = line.firstIndex(of: "=") else {
                if exported {
                    throw EnvFileError(file: file, line: number,
                                       "'export \(line.prefix(40))' has no value: the env file only sets variables, it cannot pass on the "
                                           + "shell's; write \(line.prefix(40))=value (the worker reads its own environment anyway)")
                }
                throw EnvFileError(file: file, line: number, "is not KEY=value: \(visible(line.prefix(40)))")
            }
            let key = String(line[..<eq]).trimmingCharacters(in: .whitespaces)
            guard let first = key.first, first == "_" || first.isLetter, key.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }),
                  key.allSatisfy(\.isASCII) else {
                throw EnvFileError(file: file, line: number,
                                   "'\(visible(key.prefix(40)))' is not a valid variable name (letters A-Z, digits and _, not starting with a digit)")
            }
            if line[..<eq].last == " " || line[line.index(after: eq)...].first == " " {
                warning = warning ?? "spaces around '=' are read differently by shells and by systemd"
            }
            var rest = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            var value: String
            if let quote = rest.first, quote == "\"" || quote == "'" {
                rest.removeFirst()
                guard let end = closingQuote(rest, quote) else {
                    throw EnvFileError(file: file, line: number,
                                       "the value of \(key) opens a \(quote == "\"" ? "double" : "single") quote that is never closed")
                }
                value = String(rest[..<end])
                if quote == "\"" { value = unescapeDoubleQuoted(value) }
                let tail = rest[rest.index(after: end)...].trimmingCharacters(in: .whitespaces)
                guard tail.isEmpty || tail.hasPrefix("#") else {
                    throw EnvFileError(file: file, line: number, "unexpected text after the closing quote of \(key)")
                }
            } else {
                if let hash = rest.range(of: " #") { rest = String(rest[..<hash.lowerBound]) }
                value = rest.trimmingCharacters(in: .whitespaces)
                if value.contains(where: { $0 == " " || $0 == "\"" || $0 == "'" || $0 == "`" || $0 == "$" }) {
                    throw EnvFileError(file: file, line: number, "the value of \(key) has spaces, quotes, '$' or '`' outside quotes; quote it")
                }
            }
            out.append(Assignment(key: key, value: value, line: number, systemdWarning: warning, exported: exported))
        }
        return EnvFile(assignments: out)
    }

    /// The text with invisible and non-ASCII characters written as `<U+XXXX>`, so a message can name them.
    static func visible(_ text: Substring) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F { out.unicodeScalars.append(scalar) }
            else { out += "<U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(4))>" }
        }
        return out
    }

    private static func closingQuote(_ s: String, _ quote: Character) -> String.Index? {
        var escaped = false
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if escaped { escaped = false } else if c == "\\" && quote == "\"" { escaped = true } else if c == quote { return i }
            i = s.index(after: i)
        }
        return nil
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// A malformed env-file line.
public struct EnvFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file) line \(line): \(message)" }
}

/// Resolves backslash escapes inside a double-quoted env-file value (`\n`, `\t`, `\"`, `\\`).
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
