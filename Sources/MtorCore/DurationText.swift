import Foundation

/// Parsing and printing of the human durations specs use: `90s`, `15m`, `2h`, `1h30m`, `500ms`.
public enum DurationText {
    /// Parses a duration such as `90s`, `15m`, `2h`, `1h30m` or a bare number of seconds.
    ///
    /// The result is always finite: a duration too large for a `Double` (`<400 digits>s`) is nil,
    /// and so is anything over 200 characters, which keeps the work bounded.
    public static func parse(_ text: String) -> Double? {
        guard text.utf8.count <= 200 else { return nil }
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !s.isEmpty else { return nil }
        if let plain = Double(s), plain >= 0, plain.isFinite { return plain }
        var total = 0.0
        var number = ""
        var index = s.startIndex
        var sawUnit = false
        while index < s.endIndex {
            let c = s[index]
            if c.isNumber || c == "." {
                number.append(c)
                index = s.index(after: index)
                continue
            }
            var unit = String(c)
            let next = s.index(after: index)
            if c == "m", next < s.endIndex, s[next] == "s" { unit = "ms" }
            guard let value = Double(number) else { return nil }
            switch unit {
            case "ms": total += value / 1000
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            case "d": total += value * 86400
            default: return nil
            }
            sawUnit = true
            number = ""
            index = s.index(index, offsetBy: unit.count)
        }
        guard number.isEmpty, sawUnit, total.isFinite else { return nil }
        return total
    }

    /// True when `text` is written like a duration (digits, '.', units) even if `parse` refused it
    /// as too large, so the refusal can say "too long" rather than "not a duration".
    public static func looksLikeDuration(_ text: String) -> Bool {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        return s.contains(where: \.isNumber) && s.allSatisfy { $0.isASCII && ($0.isNumber || ".smhd".contains($0)) }
    }

    /// Formats seconds the way a person would write them (`1.5s`, `15m`, `2h5m`).
    public static func format(_ seconds: Double) -> String {
        if seconds < 60 {
            let rounded = (seconds * 10).rounded() / 10
            return rounded == rounded.rounded() ? "\(Int(rounded))s" : "\(rounded)s"
        }
        let whole = Int(seconds.rounded())
        let h = whole / 3600, m = (whole % 3600) / 60, s = whole % 60
        var out = ""
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 && h == 0 { out += "\(s)s" }
        return out
    }
}
