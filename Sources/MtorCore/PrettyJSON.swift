/// Pretty-printed JSON with sorted keys, byte for byte as `Stamp.encoder()` writes it, for the
/// files the worker writes for every task (the sidecar, the claim): `JSONEncoder`'s generic path
/// cost more than writing, fsyncing and renaming the file. The caller writes an object's keys in
/// their UTF-8 order (`TaskResult+JSON.swift`); `PrettyJSONTests` holds every type written this
/// way to `JSONEncoder`'s bytes.
public struct PrettyJSON {
    public private(set) var bytes: [UInt8] = []
    private var depth = 0
    /// No member written yet in the innermost open object or array.
    private var empty = true
    /// Set when a value cannot be written as `JSONEncoder` would (a map with a key twice): the
    /// caller falls back to `JSONEncoder`.
    public private(set) var failed = false

    public init(capacity: Int = 2048) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func fail() { failed = true }

    // MARK: - Containers

    /// `{ … }`; `body` writes the members with `key` before each value.
    public mutating func object(_ body: (inout PrettyJSON) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    /// `[ … ]`; `body` writes the elements with `element` before each.
    public mutating func array(_ body: (inout PrettyJSON) -> Void) {
        open(UInt8(ascii: "["))
        body(&self)
        close(UInt8(ascii: "]"))
    }

    public mutating func key(_ k: StaticString) {
        member()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), 0x20, UInt8(ascii: ":"), 0x20])
    }

    /// A key that is data (a spec's metadata): escaped as any string.
    public mutating func key(_ k: String) {
        member()
        JSONText.appendString(k, to: &bytes)
        bytes.append(contentsOf: [0x20, UInt8(ascii: ":"), 0x20])
    }

    public mutating func element() { member() }

    // MARK: - Values

    public mutating func string(_ s: String) { JSONText.appendString(s, to: &bytes) }
    public mutating func string(_ s: String?) { if let s { string(s) } else { null() } }
    public mutating func integer(_ n: some BinaryInteger) { bytes.append(contentsOf: String(n).utf8) }
    public mutating func integer(_ n: (some BinaryInteger)?) { if let n { integer(n) } else { null() } }
    public mutating func bool(_ b: Bool) { bytes.append(contentsOf: (b ? "true" : "false").utf8) }
    public mutating func null() { bytes.append(contentsOf: "null".utf8) }

    /// A finite number; JSON has no other (`JSONEncoder` refuses one: so does this, by failing).
    public mutating func double(_ v: Double) {
        guard v.isFinite else { return fail() }
        JSONText.appendDouble(v, to: &bytes)
    }

    public mutating func double(_ v: Double?) { if let v { double(v) } else { null() } }

    public mutating func strings(_ list: [String]) { array(list) { $1.string($0) } }

    // MARK: - Members: a key and its value

    /// `"k" : value`, null for nil.
    public mutating func field(_ k: StaticString, _ v: String?) { key(k); string(v) }
    public mutating func field(_ k: StaticString, _ v: (some BinaryInteger)?) { key(k); integer(v) }
    public mutating func field(_ k: StaticString, _ v: Double?) { key(k); double(v) }
    public mutating func field(_ k: StaticString, _ v: Bool) { key(k); bool(v) }
    public mutating func field(_ k: StaticString, _ v: [String]) { key(k); strings(v) }

    /// `"k" : value`, left out for nil (the encoder's `encodeIfPresent`).
    public mutating func fieldIfPresent(_ k: StaticString, _ v: String?) { if let v { field(k, v) } }
    public mutating func fieldIfPresent(_ k: StaticString, _ v: (some BinaryInteger)?) { if let v { field(k, v) } }
    public mutating func fieldIfPresent(_ k: StaticString, _ v: Double?) { if let v { field(k, v) } }
    public mutating func fieldIfPresent(_ k: StaticString, _ v: [String]?) { if let v { field(k, v) } }

    /// `"k" : { … }` or `"k" : [ … ]` written by `write`, null for nil.
    public mutating func field<T>(_ k: StaticString, _ v: T?, _ write: (T, inout PrettyJSON) -> Void) {
        key(k)
        if let v { write(v, &self) } else { null() }
    }

    /// The same, left out for nil.
    public mutating func fieldIfPresent<T>(_ k: StaticString, _ v: T?, _ write: (T, inout PrettyJSON) -> Void) {
        if let v { field(k, v, write) }
    }

    /// `[ … ]` of `items`, each written by `write`.
    public mutating func array<T>(_ items: [T], _ write: (T, inout PrettyJSON) -> Void) {
        array { w in
            for item in items {
                w.element()
                write(item, &w)
            }
        }
    }

    // MARK: - Layout

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        depth += 1
        empty = true
    }

    /// An empty container is written `{\n\n}` (indented), as the encoder writes it.
    private mutating func close(_ bracket: UInt8) {
        bytes.append(0x0A)
        if empty { bytes.append(0x0A) }
        depth -= 1
        indent()
        bytes.append(bracket)
        empty = false
    }

    private mutating func member() {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        bytes.append(0x0A)
        indent()
        empty = false
    }

    private mutating func indent() {
        bytes.append(contentsOf: repeatElement(0x20, count: 2 * depth))
    }
}

/// A type whose pretty JSON is written by hand (`PrettyJSON`); nil: use `JSONEncoder`.
public protocol PrettyJSONWritable: Encodable {
    var prettyJSON: [UInt8]? { get }
}
