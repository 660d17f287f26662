import Foundation

/// `mtor convert`: another tool's spec rewritten into mtor's keys, with a note for every change.
///
/// Keys mtor knows, metadata and unknown keys keep their lines (and comments) exactly; a foreign key is
/// replaced by mtor's, merged, kept as `x-…` metadata, or dropped when empty. Nothing goes without a note.
public struct SpecConversion: Equatable, Sendable {
    /// The converted spec (LF line ends, no byte-order mark).
    public var text: String
    /// One line per mapping made, key dropped or kept aside, or key left for the user.
    public var notes: [String]
    public var changed: Bool

    /// Priority words the original mtor's plans use, as mtor's numbers (higher runs first).
    public static let priorityWords = ["critical": 2, "urgent": 2, "high": 1, "medium": 0, "normal": 0, "low": -1]

    /// Converts `source`; `cwd` anchors claude-code-queue's relative `working_directory`.
    public static func convert(_ source: String, cwd: String) throws(SpecError) -> SpecConversion {
        let front = try Frontmatter.split(source)
        let (lines, bytes) = Frontmatter.normalizedLines(source)
        let normalized = String(decoding: bytes, as: UTF8.self)
        guard front.closingLine > 0 else {
            return SpecConversion(text: normalized, notes: ["no frontmatter: nothing to convert"], changed: false)
        }
        func line(_ i: Int) -> String { String(decoding: bytes[lines[i]], as: UTF8.self) }
        let close = front.closingLine - 1
        let fromCCQ = front.entries.contains { ForeignKey.matching($0)?.tool == ForeignKey.ccq }
        var present = Set(front.entries.map(\.key).filter { Spec.key(named: $0) != nil })
        var merged: [String: (FrontmatterValue, first: String)] = [:]
        var notes: [String] = []
        var out = [line(0)]
        if let first = front.entries.first { out += (1..<(first.line - 1)).map(line) }
        for (n, entry) in front.entries.enumerated() {
            let end = n + 1 < front.entries.count ? front.entries[n + 1].line - 1 : close
            let original = (entry.line - 1..<end).map(line)
            let shownValue = entry.key == "tests" ? entry.value["run"].map { ("tests.run", $0) } : nil
            let written = shownValue.map { "\($0.0): \(Spec.shown($0.1.json))" } ?? "\(entry.key): \(Spec.shown(entry.text ?? entry.value.json))"
            guard Spec.key(named: entry.key) == nil, let foreign = ForeignKey.matching(entry) else {
                if entry.key == "priority", let (value, why) = priority(entry, fromCCQ: fromCCQ) {
                    out.append("priority: \(value)")
                    notes.append("mapped \(written) to priority: \(value) (\(why))")
                } else {
                    if Spec.key(named: entry.key) == nil, !Spec.isMetadata(entry.key) {
                        notes.append("left '\(Spec.shown(entry.key))' on line \(entry.line) as it is: mtor does not know this key; fix it by hand")
                    }
                    out += original
                }
                continue
            }
            guard let target = foreign.mtorKey, foreign.mtorKeyKnown, let value = mtorValue(foreign, entry, cwd: cwd, notes: &notes) else {
                if isEmpty(entry.value) {
                    notes.append("dropped \(written): it is empty (\(foreign.tool): \(foreign.difference))")
                } else {
                    out.append(emit("x-\(entry.key)", entry.value))
                    let why = foreign.mtorKey.map { "this mtor has no '\($0)' yet" } ?? foreign.difference
                    notes.append("kept \(entry.key) as metadata 'x-\(entry.key)' (\(why))")
                }
                continue
            }
            if let (earlier, first) = merged[target] {
                guard case .list(let a) = earlier, case .list(let b) = value else {
                    notes.append("dropped \(written): '\(target)' is already set from '\(first)'")
                    continue
                }
                let joined = FrontmatterValue.list(a + b)
                merged[target] = (joined, first)
                if let at = out.firstIndex(where: { $0.hasPrefix("\(target): ") }) { out[at] = emit(target, joined) }
                notes.append("merged \(written) into '\(target)' with '\(first)'")
                continue
            }
            if present.contains(target) {
                notes.append("dropped \(written): the spec already sets '\(target)'")
                continue
            }
            present.insert(target)
            merged[target] = (value, entry.key)
            out.append(emit(target, value))
            notes.append("mapped \(written) to \(emit(target, value)) (\(foreign.tool)'s '\(foreign.shown)' is mtor's '\(target)': "
                + "\(foreign.difference))")
        }
        out += (close..<lines.count).map(line)
        var text = out.joined(separator: "\n")
        if bytes.last == 0x0A { text += "\n" }
        return SpecConversion(text: text, notes: notes, changed: text != normalized)
    }

    // MARK: - Values

    /// The foreign entry's value as mtor's key wants it; nil when there is nothing to carry over.
    static func mtorValue(_ foreign: ForeignKey, _ entry: Frontmatter.Entry, cwd: String, notes: inout [String]) -> FrontmatterValue? {
        var value = entry.value
        if foreign.rule == .nestedRun {
            guard case .map(let pairs) = value else { return isEmpty(value) ? nil : value }
            for pair in pairs where pair.key != "run" {
                notes.append("dropped '\(entry.key).\(pair.key)' on line \(pair.line): mtor's 'verify' is one command")
            }
            guard let run = value["run"], !isEmpty(run) else { return nil }
            value = run
        }
        if isEmpty(value) { return nil }
        switch (foreign.mtorKey, value) {
        case ("repo"?, .string(let path)) where !path.hasPrefix("/") && !path.hasPrefix("~") && !path.hasPrefix("$"):
            return .string(URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path)
        case ("retries"?, .integer(let n)) where n > Spec.maxRetries || n < 0:
            notes.append("'\(entry.key): \(n)' is more than mtor allows; retries is capped at \(Spec.maxRetries)")
            return .integer(min(max(n, 0), Spec.maxRetries))
        case ("paths"?, .string(let one)), ("depends_on"?, .string(let one)):
            return .list([.string(one)])
        default:
            return value
        }
    }

    /// A claude-code-queue priority (lower runs first) negated, or a word of the original mtor's as a number.
    static func priority(_ entry: Frontmatter.Entry, fromCCQ: Bool) -> (Int, String)? {
        switch entry.value {
        case .integer(let n) where fromCCQ && n != 0:
            return (-n, "claude-code-queue runs lower numbers first; mtor runs higher numbers first")
        case .string(let word):
            guard let n = priorityWords[word.lowercased()] else { return nil }
            return (n, "mtor's priority is a number, higher runs first")
        default:
            return nil
        }
    }

    static func isEmpty(_ value: FrontmatterValue) -> Bool {
        switch value {
        case .null: return true
        case .string(let s): return s.trimmingCharacters(in: .whitespaces).isEmpty
        case .list(let items): return items.isEmpty
        case .map(let pairs): return pairs.isEmpty
        default: return false
        }
    }

    /// `key: value` as one YAML line (or a literal block for a string of several lines).
    public static func emit(_ key: String, _ value: FrontmatterValue) -> String {
        guard case .string(let s) = value else { return "\(key): \(value.json)" }
        if isPlainSafe(s) { return "\(key): \(s)" }
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 1, s.contains(where: { $0 != "\n" }),
              !s.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F || $0 == "\u{FEFF}" }),
              !lines.contains(where: { !$0.isEmpty && $0.allSatisfy { $0 == " " || $0 == "\t" } }) else {
            return "\(key): \(FrontmatterValue.quoted(s))"
        }
        let chomp = s.hasSuffix("\n\n") ? "+" : s.hasSuffix("\n") ? "" : "-"
        let body = s.hasSuffix("\n") ? String(s.dropLast()) : s
        let indicator = body.first == " " || body.first == "\n" ? "2" : ""
        let content = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
        return "\(key): |\(indicator)\(chomp)\n" + content.joined(separator: "\n")
    }

    static func isPlainSafe(_ s: String) -> Bool {
        guard let first = s.first, let last = s.last, !first.isWhitespace, !last.isWhitespace,
              !"-?:,[]{}#&*!|>'\"%@`".contains(first), !s.contains(": "), !s.contains(" #"), !s.hasSuffix(":"),
              !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return false }
        return YAMLReader.resolve(s) == .string(s)
    }
}
