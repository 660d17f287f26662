import Foundation
import Testing
@testable import MtorCore

@Suite("Ledger lines written by hand")
struct LedgerLineTests {
    @Test("each ledger line is byte for byte what JSONEncoder writes: every key, escapes, control characters, UTF-8, numbers")
    func sameBytesAsTheEncoder() throws {
        var full = LedgerEntry(t: "2026-12-04T23:59:59.999Z", id: "fix-auth.2", event: .failed, class: .timedOut, provider: "anthropic/\"x\"",
                               attempt: 3, pid: 4_194_303, durationS: 12.345)
        full.inputTokens = 1_234_567
        full.outputTokens = 0
        full.costUSD = 0.1 + 0.2
        full.flags = "touched_ci,deleted_tests"
        full.model = "claude-\\sonnet\u{1}\u{1f}\t\n\r\u{8}\u{c}/é漢字🙂"
        var entries = [full,
                       LedgerEntry(t: "t", id: "a", event: .claimed),
                       LedgerEntry(t: "t", id: "b", event: .succeeded, durationS: 2),
                       LedgerEntry(t: "t", id: "c", event: .spent, durationS: 1e-7),
                       LedgerEntry(t: "t", id: "d", event: .attempt, attempt: 1, pid: -1, durationS: 1e21)]
        var spent = LedgerEntry(t: "t", id: "e", event: .spent, provider: "p")
        spent.costUSD = 123456.789
        entries.append(spent)
        for event in [LedgerEntry.Event.requeued, .cancelled, .retried, .rejected] { entries.append(LedgerEntry(t: "", id: "", event: event)) }
        let encoder = Stamp.encoder(pretty: false)
        for entry in entries {
            let expected = Array(try encoder.encode(entry))
            #expect(String(decoding: entry.jsonLine, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
            #expect(try JSONDecoder().decode(LedgerEntry.self, from: Data(entry.jsonLine)) == entry)
        }
        // No number JSON cannot hold: the key is left out, the line still parses.
        let odd = LedgerEntry(t: "t", id: "f", event: .failed, durationS: .infinity)
        #expect(try JSONDecoder().decode(LedgerEntry.self, from: Data(odd.jsonLine)).durationS == nil)
    }
}
