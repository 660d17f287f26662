import Foundation

/// One key of a spec's frontmatter: its name, the type its value must have, its default, and what it does.
///
/// `Spec.keys` is the one table of these; a new key is one row there plus its field on `Spec`.
public struct SpecKey: Sendable {
    /// The type a key's value must have.
    public enum Kind: Sendable {
        /// `true` or `false`.
        case flag
        /// An ISO-8601 time with its zone, or a duration counted from the spec's arrival.
        case moment
        /// One path (a string); `~` and `$HOME` are expanded by `Spec`.
        case path
        /// One name: a string, or a number taken as written.
        case name
        /// A list of names; one name alone is a list of one.
        case names
        /// A shell command: any scalar, taken as written (`verify: true` runs `true`).
        case command
        /// `90s`, `15m`, `2h`, `1h30m`, or a bare number of seconds; positive and at most `Spec.maxDuration`.
        case duration
        /// An integer within the range.
        case wholeNumber(ClosedRange<Int>)
        /// A memory size (`512M`, `4G`; powers of 1024) within `MemoryCap.minimum...MemoryCap.maximum`.
        case memory
        /// A positive amount of US dollars (`0.50`, `2`).
        case dollars
    }

    public let name: String
    public let kind: Kind
    /// The default as a person reads it (`2h`, `none`, `required`).
    public let defaultValue: String
    public let doc: String

    public init(_ name: String, _ kind: Kind, default defaultValue: String, _ doc: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.doc = doc
    }
}

/// A key's value after its type was checked.
public enum SpecValue: Equatable, Sendable {
    case text(String)
    case names([String])
    case seconds(Double)
    case number(Int)
    case bytes(Int64)
    case amount(Double)

    public var text: String? { if case .text(let s) = self { return s } else { return nil } }
    public var names: [String]? { if case .names(let n) = self { return n } else { return nil } }
    public var seconds: Double? { if case .seconds(let d) = self { return d } else { return nil } }
    public var number: Int? { if case .number(let n) = self { return n } else { return nil } }
    public var bytes: Int64? { if case .bytes(let b) = self { return b } else { return nil } }
    public var amount: Double? { if case .amount(let a) = self { return a } else { return nil } }
}

extension SpecKey.Kind {
    /// What a value of this kind looks like, for a sentence.
    public var expected: String {
        switch self {
        case .flag: return "true or false"
        case .moment: return "an ISO-8601 time such as 2026-12-01T22:00:00Z or a duration such as 2h"
        case .path: return "a path such as ~/code/widget"
        case .name: return "a single name"
        case .names: return "a list of names such as [a, b]"
        case .command: return "a shell command"
        case .duration: return "a duration such as 90s, 15m or 2h (a bare number is seconds)"
        case .wholeNumber(let r): return "a whole number from \(r.lowerBound) to \(r.upperBound)"
        case .memory: return "a size such as 512M or 4G"
        case .dollars: return "an amount of US dollars such as 0.50 or 2"
        }
    }
}

extension SpecKey {
    /// The entry's value checked against this key's kind; nil when it is empty (null).
    public func read(_ entry: Frontmatter.Entry) throws(SpecError) -> SpecValue? {
        let value = entry.value
        if case .path = kind, entry.text == "~" { return .text("~") }
        if case .null = value { return nil }
        switch kind {
        case .flag:
            guard case .boolean(let b) = value else { throw wrongType(value) }
            return .text(b ? "true" : "false")
        case .moment:
            switch value {
            case .string, .integer, .float: break
            default: throw wrongType(value)
            }
            let text = (entry.text ?? value.json).trimmingBlanks()
            guard NotBefore.parse(text) != nil else { throw ScheduleRules.notBeforeError(text) }
            return .text(text)
        case .path, .name, .command:
            switch value {
            case .list, .map: throw wrongType(value)
            case .boolean: if case .command = kind { break } else { throw wrongType(value) }
            default: break
            }
            let text = (entry.text ?? value.json).trimmingBlanksAndNewlines()
            guard !text.isEmpty else { throw SpecError.invalid(key: name, "'\(name)' is empty; give \(kind.expected) or remove the line") }
            return .text(text)
        case .names:
            switch value {
            case .string(let one): return .names([one])
            case .list(let items):
                var names: [String] = []
                for (n, item) in items.enumerated() {
                    switch item {
                    case .string(let s): names.append(s)
                    case .integer, .float: names.append(item.json)
                    default: throw SpecError.invalid(key: name,
                                                     "item \(n + 1) of '\(name)' must be a name, but the frontmatter gives \(item.described)")
                    }
                }
                return .names(names)
            default: throw wrongType(value)
            }
        case .duration:
            switch value {
            case .string, .integer, .float: break
            default: throw wrongType(value)
            }
            let text = entry.text ?? value.json
            guard let seconds = DurationText.parse(text) else {
                if DurationText.looksLikeDuration(text) {
                    throw SpecError.invalid(key: name,
                                            "'\(name)' is '\(Spec.shown(text))', far longer than \(DurationText.format(Spec.maxDuration)), "
                                                + "the longest mtor accepts; give a real limit such as 2h")
                }
                throw SpecError.invalid(key: name, "'\(name)' must be \(kind.expected), got '\(Spec.shown(text))'")
            }
            guard seconds > 0 else { throw SpecError.invalid(key: name, "'\(name)' must be positive, got \(Spec.shown(text))") }
            guard seconds <= Spec.maxDuration else {
                throw SpecError.invalid(key: name,
                                        "'\(name)' is '\(Spec.shown(text))', longer than \(DurationText.format(Spec.maxDuration)), the "
                                            + "longest mtor accepts; give a real limit such as 2h")
            }
            return .seconds(seconds)
        case .wholeNumber(let range):
            guard case .integer(let n) = value else { throw wrongType(value) }
            guard range.contains(n) else {
                throw SpecError.invalid(key: name, "'\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(n)")
            }
            return .number(n)
        case .memory:
            switch value {
            case .string, .integer, .float: break
            default: throw wrongType(value)
            }
            switch MemoryCap.parse(entry.text ?? value.json, name: name) {
            case .success(let bytes): return .bytes(bytes)
            case .failure(let error): throw SpecError.invalid(key: name, error.description)
            }
        case .dollars:
            let amount: Double
            switch value {
            case .integer(let n): amount = Double(n)
            case .float(let d): amount = d
            case .string(let s) where Double(s.trimmingCharacters(in: .whitespaces).drop { $0 == "$" }) != nil:
                amount = Double(s.trimmingCharacters(in: .whitespaces).drop { $0 == "$" })!
            default: throw wrongType(value)
            }
            guard amount > 0, amount.isFinite, amount <= 1_000_000 else {
                throw SpecError.invalid(key: name,
                                        "'\(name)' must be more than 0 and at most 1000000 dollars, got \(Spec.shown(entry.text ?? value.json))")
            }
            return .amount(amount)
        }
    }

    func wrongType(_ value: FrontmatterValue) -> SpecError {
        .invalid(key: name, "'\(name)' must be \(kind.expected), but the frontmatter gives \(value.described) (\(name): \(doc))")
    }
}
