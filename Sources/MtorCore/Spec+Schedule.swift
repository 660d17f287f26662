import Foundation

/// When a spec may start at the earliest (`not_before:`): a moment, or a delay from its arrival.
public enum NotBefore: Equatable, Sendable {
    /// Seconds since 1970 (UTC).
    case at(Double)
    /// Seconds after the spec arrived in inbox/ (its file's modification time).
    case after(Double)

    /// The moment, given when the spec arrived.
    public func time(arrived: Double) -> Double {
        switch self {
        case .at(let t): return t
        case .after(let d): return arrived + d
        }
    }

    /// Reads `2026-12-01T22:00:00Z` (any ISO-8601 time with a zone) or a duration (`2h`, `90m`).
    public static func parse(_ text: String) -> NotBefore? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let seconds = DurationText.parse(t), seconds >= 0, seconds <= Spec.maxDuration { return .after(seconds) }
        if let date = Stamp.date(t) ?? Stamp.date(t.replacingOccurrences(of: " ", with: "T")) { return .at(date.timeIntervalSince1970) }
        return nil
    }
}

/// The keys that say when a spec may start and how it relates to other tasks:
/// `priority`, `depends_on`, `not_before`, `dedup` (and `base: after`, which needs one dependency).
public enum ScheduleRules {
    /// The most dependencies one spec may name.
    public static let maxDependencies = 100
    /// The `base:` value that means "the tip of my single dependency's branch".
    public static let baseAfter = "after"

    /// Checks `depends_on`, `not_before`, `dedup` and `base: after` in a spec's type-checked values.
    static func read(_ values: [String: SpecValue]) throws(SpecError) -> (notBefore: NotBefore?, dedup: Bool) {
        let deps = values["depends_on"]?.names ?? []
        if deps.count > maxDependencies {
            throw .invalid(key: "depends_on",
                           "'depends_on' names \(deps.count) tasks; at most \(maxDependencies) are allowed — make one task that depends on a "
                               + "group and depend on it, or split the work")
        }
        for (n, dep) in deps.enumerated() {
            let stem = dep.hasSuffix(".md") ? String(dep.dropLast(3)) : dep
            let bad = stem.trimmingCharacters(in: .whitespaces).isEmpty || stem.utf8.count > 200 || stem.contains("/") || stem.hasPrefix(".")
                || stem.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
            if bad {
                throw .invalid(key: "depends_on",
                               "item \(n + 1) of 'depends_on' is '\(Spec.shown(dep))', which is no task id or spec file name; name tasks by "
                                   + "id (`mtor status` lists them) or by the file name they were submitted as, e.g. [parser-refactor]")
            }
        }
        if Set(deps).count != deps.count {
            throw .invalid(key: "depends_on", "'depends_on' names the same task twice; list each dependency once")
        }
        if values["base"]?.text == baseAfter, deps.count != 1 {
            throw .invalid(key: "base",
                           "'base: after' starts the branch from the tip of the task's single dependency, but 'depends_on' names "
                               + "\(deps.count); name exactly one dependency or give 'base' a branch")
        }
        var notBefore: NotBefore? = nil
        if let text = values["not_before"]?.text {
            guard let parsed = NotBefore.parse(text) else { throw notBeforeError(text) }
            notBefore = parsed
        }
        return (notBefore, values["dedup"]?.text != "false")
    }

    /// The spec's text with `dedup: false`, as `mtor submit --force` uploads it: an existing `dedup:`
    /// line is replaced, else the line is added first in the frontmatter (made when there is none).
    public static func forced(_ text: String) throws(SpecError) -> String {
        let front = try Frontmatter.split(text)
        // By scalars: "\r\n" is one Character, and CRLF specs keep their line ends.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        if let entry = front.entries.first(where: { $0.key == "dedup" }), entry.line >= 1, entry.line <= lines.count {
            lines[entry.line - 1] = "dedup: false" + (lines[entry.line - 1].hasSuffix("\r") ? "\r" : "")
        } else if front.closingLine > 0 {
            lines.insert("dedup: false" + (lines[0].hasSuffix("\r") ? "\r" : ""), at: 1)
        } else {
            return "---\ndedup: false\n---\n" + text
        }
        return lines.joined(separator: "\n")
    }

    static func notBeforeError(_ text: String) -> SpecError {
        .invalid(key: "not_before",
                 "'not_before' must be an ISO-8601 time with its zone, such as 2026-12-01T22:00:00Z or 2026-12-01T23:00:00+01:00, or a "
                     + "duration from submission such as 2h or 90m; got '\(Spec.shown(text))'")
    }
}

extension Spec {
    /// The rows of `Spec.keys` that `ScheduleRules` reads besides `priority` and `depends_on`.
    public static let scheduleKeys: [SpecKey] = [
        SpecKey("not_before", .moment, default: "none", "an ISO-8601 time or a duration from submission (2h); the spec waits until then"),
        SpecKey("dedup", .flag, default: "true",
                "false: run even when an identical spec is queued or running, or succeeded within the worker's --dedup-window"),
    ]

    /// What makes two specs the same work for `dedup`: the repo, the provider (as resolved) and the prompt.
    /// A 64-bit FNV-1a hash, the same in every process, so only the hash of each prompt is kept.
    public func fingerprint(provider: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in [repo, provider, prompt.trimmingCharacters(in: .whitespacesAndNewlines)] {
            for byte in part.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
            h = (h ^ 0xff) &* 0x100_0000_01b3
        }
        return h
    }
}
