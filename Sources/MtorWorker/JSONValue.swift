import Foundation

/// Any JSON value, for files whose shape another part of mtor owns (e.g. `state/providers.json`).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// The per-provider entries of a health file: `{"providers": {name: {...}}}` or `{name: {...}}`.
    public var providerEntries: [(name: String, entry: JSONValue)] {
        let map: [String: JSONValue]
        if case .object(let inner)? = self["providers"] { map = inner }
        else if case .object(let top) = self { map = top.filter { if case .object = $0.value { return true } else { return false } } }
        else { return [] }
        return map.keys.sorted().map { ($0, map[$0]!) }
    }

    /// Whether a provider entry says healthy: `"healthy": true` or a `status`/`state` of healthy/ok.
    public static func isHealthy(_ entry: JSONValue) -> Bool? {
        if let b = entry["healthy"]?.bool { return b }
        if let s = entry["status"]?.string ?? entry["state"]?.string { return ["healthy", "ok", "up"].contains(s.lowercased()) }
        return nil
    }

    /// Providers the health file marks unhealthy, with the reason it gives.
    public var unhealthyProviders: [(String, String)] {
        providerEntries.compactMap { p in
            guard JSONValue.isHealthy(p.entry) == false else { return nil }
            return (p.name, p.entry["reason"]?.string ?? p.entry["class"]?.string ?? "")
        }
    }
}
