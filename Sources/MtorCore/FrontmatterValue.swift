import Foundation

/// A value of the YAML a spec's frontmatter is written in, with plain scalars already resolved
/// (`null`/`~`/empty, `true`/`false`/`yes`/`no`, integers, floats, everything else a string).
public indirect enum FrontmatterValue: Equatable, Sendable {
    case null
    case boolean(Bool)
    case integer(Int)
    case float(Double)
    case string(String)
    case list([FrontmatterValue])
    /// A mapping, its pairs in the order written (keys are unique).
    case map([Frontmatter.Entry])

    /// The type's name as a person reads it in an error message.
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "a number"
        case .float: return "a number with a fraction"
        case .boolean: return "true/false"
        case .list: return "a list"
        case .map: return "a mapping"
        case .null: return "empty"
        }
    }

    /// What the value is, for a sentence: `the word 'high'`, `a list`, `true/false`.
    public var described: String {
        switch self {
        case .string(let s): return "the text '\(Spec.shown(s))'"
        case .integer(let n): return "the number \(n)"
        case .float(let d): return "the number \(d)"
        default: return typeName
        }
    }

    /// True for null, strings, numbers and booleans.
    public var isScalar: Bool {
        switch self {
        case .list, .map: return false
        default: return true
        }
    }

    /// The pair named `key` when this is a mapping.
    public subscript(key: String) -> FrontmatterValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// The value as JSON text, keys in the order written; also valid YAML flow syntax.
    /// Non-finite floats are written `.inf`, `-.inf` and `.nan`, as YAML spells them.
    public var json: String {
        switch self {
        case .null: return "null"
        case .boolean(let b): return b ? "true" : "false"
        case .integer(let n): return String(n)
        case .float(let d): return d.isNaN ? ".nan" : d.isInfinite ? (d < 0 ? "-.inf" : ".inf") : String(d)
        case .string(let s): return Self.quoted(s)
        case .list(let items): return "[" + items.map(\.json).joined(separator: ", ") + "]"
        case .map(let entries): return "{" + entries.map { Self.quoted($0.key) + ": " + $0.value.json }.joined(separator: ", ") + "}"
        }
    }

    /// `s` as a JSON (and YAML) double-quoted string.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F || u.value == 0xFEFF || (0x80...0x9F).contains(u.value) {
                    out += String(format: "\\u%04X", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

// MARK: - Codable (the sidecar's spec.meta)

extension FrontmatterValue: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .list(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .map(let entries):
            var c = encoder.container(keyedBy: Key.self)
            for e in entries { try c.encode(e.value, forKey: Key(stringValue: e.key)) }
        default:
            var c = encoder.singleValueContainer()
            switch self {
            case .null: try c.encodeNil()
            case .boolean(let b): try c.encode(b)
            case .integer(let n): try c.encode(n)
            case .float(let d): if d.isFinite { try c.encode(d) } else { try c.encode(json) }
            case .string(let s): try c.encode(s)
            case .list, .map: break
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: Key.self) {
            let keys = keyed.allKeys.map(\.stringValue).sorted()
            self = .map(try keys.map { Frontmatter.Entry(key: $0, value: try keyed.decode(FrontmatterValue.self, forKey: Key(stringValue: $0))) })
            return
        }
        if var unkeyed = try? decoder.unkeyedContainer() {
            var items: [FrontmatterValue] = []
            while !unkeyed.isAtEnd { items.append(try unkeyed.decode(FrontmatterValue.self)) }
            self = .list(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .boolean(b) }
        else if let n = try? c.decode(Int.self) { self = .integer(n) }
        else if let d = try? c.decode(Double.self) { self = .float(d) }
        else { self = .string(try c.decode(String.self)) }
    }
}
