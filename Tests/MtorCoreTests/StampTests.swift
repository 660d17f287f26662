import Foundation
import Testing
import MtorCore

@Suite("Stamp: the worker's UTC times, written and read back")
struct StampTests {
    static func formatter(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }

    @Test("what iso writes reads back to the millisecond, 5,000 random times from 1970 to 2100")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let date = Date(timeIntervalSince1970: Double.random(in: 0..<4_102_444_800, using: &generator))
            let text = Stamp.iso(date)
            let back = Stamp.date(text)
            // iso writes the millisecond the instant falls in; read back, that is the instant that
            // millisecond starts (to a double's precision near t, 1e-6 s, not a looser 1 ms). The instant
            // is the Date's own: a Date keeps seconds since 2001, so its timeIntervalSince1970 can differ
            // from the Double it was made from by ~1e-8 s, across a millisecond boundary 1 time in 50,000.
            let t = date.timeIntervalSince1970
            let whole = t.rounded(.down)
            let millisecond = whole + Double(min(999, Int((t - whole) * 1000))) / 1000
            #expect(back.map { abs($0.timeIntervalSince1970 - millisecond) < 1e-6 } == true, "\(text) → \(String(describing: back))")
        }
    }

    @Test("the same instant as ISO8601DateFormatter for every shape the worker and users write", arguments: [
        "2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00Z", "2024-02-29T23:59:59.999Z", "2026-12-01T05:15:23.605Z",
        "1970-01-01T00:00:00Z", "2099-12-31T23:59:59.5Z", "2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00.250-05:30",
    ])
    func agrees(text: String) throws {
        let expected = try #require(Self.formatter(text), "the formatter reads \(text)")
        let got = try #require(Stamp.date(text))
        #expect(abs(got.timeIntervalSince(expected)) < 0.001, "\(text): \(got) vs \(expected)")
    }

    @Test("anything else reads exactly as ISO8601DateFormatter reads it (nil, or its lenient instant)", arguments: [
        "", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00.12aZ", "yesterday", "2024-05-01T12:00:00", "２０２４-05-01T12:00:00Z", "2024-04-31T00:00:00Z",
    ])
    func matchesFormatter(text: String) {
        let ours = Stamp.date(text), theirs = Self.formatter(text)
        #expect((ours == nil) == (theirs == nil), "\(text): \(String(describing: ours)) vs \(String(describing: theirs))")
        if let ours, let theirs { #expect(abs(ours.timeIntervalSince(theirs)) < 0.001, "\(text)") }
    }

    @Test("clearly not a time is nil", arguments: ["", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T12:00:00.12aZ", "2024-05-01T12:00:00.Z"])
    func refuses(text: String) {
        #expect(Stamp.date(text) == nil, "\(text)")
    }
}
