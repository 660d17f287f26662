/// Suggests the nearest known word for a typo.
public enum Spelling {
    /// Words longer than this get no suggestion: no typo of a short key is that long, and the
    /// edit-distance work stays bounded whatever a hostile spec holds.
    public static let maxWordLength = 64

    /// The candidate within edit distance 2 (1 for words of up to 3 letters) of `word`, if any.
    ///
    /// Work is bounded: a word over `maxWordLength` UTF-8 bytes, or a candidate whose length differs
    /// by more than the allowed distance, is never compared.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        guard word.utf8.count <= maxWordLength else { return nil }
        let lower = word.lowercased()
        let length = lower.count
        var best: (String, Int)? = nil
        for candidate in candidates {
            let limit = candidate.count <= 3 ? 1 : 2
            guard abs(candidate.count - length) <= limit else { continue }
            let d = distance(lower, candidate)
            if d <= limit, best == nil || d < best!.1 { best = (candidate, d) }
        }
        return best?.0
    }

    /// Levenshtein distance between two strings.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
