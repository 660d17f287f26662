import Testing
@testable import MtorCore

@Suite("Duration text")
struct DurationTests {
    @Test("parses human durations", arguments: [
        ("90s", 90.0), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1h30m15s", 5415), ("500ms", 0.5),
        ("1d", 86400), ("45", 45), ("0", 0), ("1.5h", 5400), ("2H", 7200), (" 10m ", 600), ("1m30s", 90),
    ])
    func parse(_ text: String, _ seconds: Double) {
        #expect(DurationText.parse(text) == seconds)
    }

    @Test("refuses what is not a duration", arguments: [
        "", "   ", "soon", "m", "h1", "1m30", "5x", "-5", "-5m", "2 h", "1h-30m", "inf", "infinity", "nan", "1e400",
    ])
    func refuses(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test("formats seconds the way a person writes them", arguments: [
        (0.0, "0s"), (1.5, "1.5s"), (1.04, "1s"), (45, "45s"), (90, "1m30s"), (900, "15m"), (3600, "1h"),
        (5400, "1h30m"), (7200, "2h"), (3661, "1h1m"),
    ])
    func format(_ seconds: Double, _ text: String) {
        #expect(DurationText.format(seconds) == text)
    }

    @Test("format then parse gives the same duration back", arguments: [0.5, 1.5, 30, 90, 600, 900, 5400, 7200, 86400])
    func roundTrip(_ seconds: Double) {
        #expect(DurationText.parse(DurationText.format(seconds)) == seconds)
    }
}

@Suite("Spelling suggestions")
struct SpellingTests {
    @Test("suggests the closest spec key for a typo", arguments: [
        ("reop", "repo"), ("rpeo", "repo"), ("fallbak", "fallback"), ("fallbacks", "fallback"), ("timout", "timeout"),
        ("retires", "retries"), ("modle", "model"), ("verfy", "verify"), ("stal", "stall"),
        ("Repo", "repo"), ("provder", "provider"), ("harnes", "harness"),
    ])
    func suggests(_ typo: String, _ key: String) {
        #expect(Spelling.closest(to: typo, in: Spec.knownKeys) == key)
    }

    @Test("suggests nothing for a word far from every key", arguments: ["colour", "x", "blanket", "environment"])
    func nothing(_ word: String) {
        #expect(Spelling.closest(to: word, in: Spec.knownKeys) == nil)
    }

    @Test("edit distance", arguments: [
        ("", "", 0), ("", "abc", 3), ("abc", "", 3), ("kitten", "sitting", 3), ("repo", "repo", 0), ("repo", "reop", 2),
        ("flaw", "lawn", 2),
    ])
    func distance(_ a: String, _ b: String, _ d: Int) {
        #expect(Spelling.distance(a, b) == d)
        #expect(Spelling.distance(b, a) == d)
    }

    @Test("prefers the nearest of several candidates")
    func nearest() {
        #expect(Spelling.closest(to: "zhipuu", in: ["zhipu", "infini", "volcano"]) == "zhipu")
        #expect(Spelling.closest(to: "infin", in: ["zhipu", "infini", "volcano"]) == "infini")
        #expect(Spelling.closest(to: "anything", in: []) == nil)
    }
}
