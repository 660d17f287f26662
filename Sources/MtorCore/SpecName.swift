import Foundation

/// The inbox name `submit` gives a spec: `<UTC yyyyMMddTHHmmss>-<slug of the file name>-<4 hex>`.
public enum SpecName {
    /// The name (without `.md`) for `file`, kept as it is when it already has this shape.
    public static func make(for file: String, at date: Date = Date()) -> String {
        let stem = stem(of: file)
        if isUnique(stem) { return stem }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return "\(formatter.string(from: date))-\(slug(stem))-\(String(format: "%04x", UInt16.random(in: 0...UInt16.max)))"
    }

    /// The file name without directories and without `.md`.
    public static func stem(of file: String) -> String {
        let base = file.split(separator: "/").last.map(String.init) ?? file
        return base.hasSuffix(".md") ? String(base.dropLast(3)) : base
    }

    /// Lower-case letters and digits joined by single dashes, at most 40 characters.
    public static func slug(_ text: String) -> String {
        var out = ""
        for scalar in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) { out.unicodeScalars.append(scalar) }
            else if !out.isEmpty, !out.hasSuffix("-") { out.append("-") }
        }
        while out.hasSuffix("-") { out.removeLast() }
        out = String(out.prefix(40))
        while out.hasSuffix("-") { out.removeLast() }
        return out.isEmpty ? "spec" : out
    }

    /// Whether a stem already is `<yyyyMMddTHHmmss>-<slug>-<4 hex>` (a spec submitted before).
    public static func isUnique(_ stem: String) -> Bool {
        let u = Array(stem.utf8)
        guard u.count >= 22, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "-"), u[u.count - 5] == UInt8(ascii: "-") else { return false }
        let digits = u[0..<8] + u[9..<15]
        let hex = u[(u.count - 4)...]
        let isDigit = { (c: UInt8) in c >= 48 && c <= 57 }
        let isHex = { (c: UInt8) in isDigit(c) || (c >= 97 && c <= 102) }
        let middle = u[16..<(u.count - 5)]
        return digits.allSatisfy(isDigit) && hex.allSatisfy(isHex) && !middle.isEmpty
            && middle.allSatisfy { isDigit($0) || ($0 >= 97 && $0 <= 122) || $0 == UInt8(ascii: "-") }
    }

    /// The slug inside a name `submit` gave (`20261201T220000-parser-3f2a` → `parser`), nil for other names.
    public static func slugPart(of id: String) -> String? {
        guard isUnique(id) else { return nil }
        let u = Array(id.utf8)
        return String(decoding: u[16..<(u.count - 5)], as: UTF8.self)
    }
}
