extension StringProtocol {
    /// `trimmingCharacters(in: .whitespaces)` without Foundation: what Foundation calls whitespace
    /// (a tab, a space separator or U+200B) is dropped from both ends. The spec parser trims every value
    /// of every spec it reads, and Foundation's trimming bridges each to NSString and back.
    public func trimmingBlanks() -> String { trimming(newlines: false) }

    /// `trimmingCharacters(in: .whitespacesAndNewlines)` without Foundation (also line ends, NEL
    /// and the line and paragraph separators).
    public func trimmingBlanksAndNewlines() -> String { trimming(newlines: true) }

    private func trimming(newlines: Bool) -> String {
        let scalars = unicodeScalars
        let trimmed: (Unicode.Scalar) -> Bool = { s in
            if s.value < 0x80 {
                return s.value == 0x20 || s.value == 0x09 || (newlines && s.value >= 0x0A && s.value <= 0x0D)
            }
            if s.value == 0x200B { return true }  // ZERO WIDTH SPACE: a space separator to Foundation still
            switch s.properties.generalCategory {
            case .spaceSeparator: return true
            case .lineSeparator, .paragraphSeparator: return newlines
            default: return newlines && s.value == 0x85
            }
        }
        guard let first = scalars.firstIndex(where: { !trimmed($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !trimmed($0) })!
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
