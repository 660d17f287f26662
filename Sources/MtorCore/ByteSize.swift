import Foundation

/// Sizes as people write them (`4G`, `512M`, `1.5GiB`, `65536`) and as mtor prints them (`4 GiB`).
///
/// Every unit is a power of 1024, as in systemd, Docker and `ulimit`: `K`, `KB`, `KiB` and `k` all
/// mean 1024 bytes. A bare number is bytes.
public enum ByteSize {
    /// Powers of 1024 by the unit's first letter.
    private static let exponents: [Character: Int] = ["b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5]

    /// The number of bytes `text` names; nil when it is not a size, is negative, or overflows 64 bits.
    public static func parse(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let number = t.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = t.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number.first != ".", number.last != "." else { return nil }
        guard let exponent = exponent(of: unit) else { return nil }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]) else { return nil }
        var multiplier: Int64 = 1
        for _ in 0..<exponent { multiplier *= 1024 }
        let (bytes, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        guard parts.count == 2 else { return bytes }
        // A fraction (`1.5G`) is exact to the byte for every unit; digits past 1e-9 are ignored.
        let digits = parts[1].prefix(9)
        guard let fraction = Int64(digits), !parts[1].contains(where: { !$0.isNumber }) else { return nil }
        var scale: Int64 = 1
        for _ in 0..<digits.count { scale *= 10 }
        // multiplier / scale first keeps it inside 64 bits for every unit up to P.
        let extra = Int64((Double(fraction) / Double(scale) * Double(multiplier)).rounded(.down))
        let (total, over) = bytes.addingReportingOverflow(extra)
        return over ? nil : total
    }

    private static func exponent(of unit: String) -> Int? {
        if unit.isEmpty || unit == "b" || unit == "bytes" { return 0 }
        guard let first = unit.first, let e = exponents[first], e > 0 else { return nil }
        let rest = unit.dropFirst()
        return ["", "b", "ib"].contains(String(rest)) ? e : nil
    }

    /// `bytes` for a sentence: `64 MiB`, `4 GiB`, `1.5 GiB`, `900 B`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var i = 0
        var unit: Int64 = 1
        while i < units.count - 1, bytes / unit >= 1024 { unit *= 1024; i += 1 }
        if bytes % unit == 0 { return "\(bytes / unit) \(units[i])" }
        let v = Double(bytes) / Double(unit)
        var text = String(format: v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v)
        while text.contains("."), text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return "\(text) \(units[i])"
    }
}

/// The memory cap a task may ask for (`memory:` in a spec, `mtor worker --task-memory`).
public enum MemoryCap {
    /// `memory 40 MiB of 2 GiB` for a running task under `cap` (`memory cap 2 GiB` when its use is unknown here),
    /// in `mtor show` and `mtor status` alike.
    public static func line(cap: Int64, inUse: Int64?) -> String {
        "memory \(inUse.map { ByteSize.format($0) + " of " } ?? "cap ")\(ByteSize.format(cap))"
    }

    /// Below this nothing starts: a shell and a harness need several MiB before they do anything.
    public static let minimum: Int64 = 8 << 20
    /// Far above any host's memory; a larger value is a typo, not a cap.
    public static let maximum: Int64 = 64 << 40

    /// The cap `text` names, or a sentence naming the problem and the fix. `name` is the key or flag.
    public static func parse(_ text: String, name: String) -> Result<Int64, MemoryCapError> {
        let shown = Spec.shown(text)
        guard let bytes = ByteSize.parse(text) else {
            if overflowed(text) {
                return .failure(MemoryCapError("'\(name)' is '\(shown)', larger than \(ByteSize.format(maximum)), the most mtor accepts; "
                    + "give the cap in M or G, such as 4G"))
            }
            return .failure(MemoryCapError("'\(name)' must be a size such as 512M or 4G (K, M, G, T; powers of 1024), got '\(shown)'"))
        }
        guard bytes > 0 else { return .failure(MemoryCapError("'\(name)' is \(shown): a task cannot run in no memory; give a cap such as 4G, "
            + "or remove it for no cap")) }
        guard bytes >= minimum else {
            return .failure(MemoryCapError("'\(name)' is \(shown) (\(ByteSize.format(bytes))), below \(ByteSize.format(minimum)), the least "
                + "any agent needs to start; give a cap such as 512M or 4G"))
        }
        guard bytes <= maximum else {
            return .failure(MemoryCapError("'\(name)' is '\(shown)', larger than \(ByteSize.format(maximum)), the most mtor accepts; give "
                + "the cap in M or G, such as 4G"))
        }
        return .success(bytes)
    }

    /// Whether `text` is a well-formed size whose number does not fit in 64 bits.
    private static func overflowed(_ text: String) -> Bool {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return false }
        let rest = String(t.dropFirst(digits.count))
        return ByteSize.parse("1" + rest) != nil
    }
}

/// Why a memory cap was refused: one sentence naming the problem and the fix.
public struct MemoryCapError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
