import Foundation
import Testing
import MtorCore
@testable import MtorWorker

@Suite("SpendBook: a day's spend from every host's ledger")
struct SpendBookTests {
    func line(_ t: String, _ provider: String, _ cost: Double, id: String = "x", event: String = "spent") -> String {
        #"{"t":"\#(t)","id":"\#(id)","event":"\#(event)","provider":"\#(provider)","model":"m","cost_usd":\#(cost)}"# + "\n"
    }

    func append(_ path: String, _ text: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data(text.utf8))
        try h.close()
    }

    @Test("spent lines of every ledger count on their UTC day; other events and a half-written line do not; later lines are read incrementally")
    func countsAcrossLedgers() throws {
        let f = try SpoolFixture()
        let book = SpendBook()
        let local = f.spool.ledger, other = f.spool.ledgers + "/hostB.jsonl"
        try append(local, line("2026-12-04T10:00:00.000Z", "zhipu", 1.5) + line("2026-12-03T23:59:59.000Z", "zhipu", 7)
                   + line("2026-12-04T11:00:00.000Z", "zhipu", 9, event: "succeeded"))
        try append(other, line("2026-12-04T12:00:00.000Z", "zhipu", 0.25) + line("2026-12-04T12:00:00.000Z", "kimi", 2)
                   + #"{"t":"2026-12-04T13:00:00.000Z","id":"y","event":"spent","provider":"zhipu","cost_usd":100"#)
        book.refresh(f.spool, interval: 0)
        #expect(book.spent(day: "2026-12-04", provider: "zhipu") == 1.75)
        #expect(book.spent(day: "2026-12-03", provider: "zhipu") == 7)
        #expect(book.spent(day: "2026-12-04", provider: nil) == 3.75)
        // The half-written line is finished: counted once, with what came after it.
        try append(other, "}\n" + line("2026-12-04T14:00:00.000Z", "zhipu", 0.5))
        book.refresh(f.spool, interval: 0)
        #expect(book.spent(day: "2026-12-04", provider: "zhipu") == 102.25)
        book.refresh(f.spool, interval: 0)
        #expect(book.spent(day: "2026-12-04", provider: "zhipu") == 102.25, "nothing is counted twice")
    }

    @Test("holds: a provider's budget, then the worker's; at the limit is spent; running attempts count")
    func holds() throws {
        let f = try SpoolFixture()
        var lock = f.settings.lock
        lock.providers["zhipu"]?.budgetUSDPerDay = 2
        lock.budgetUSDPerDay = 5
        let book = SpendBook()
        let day = Budget.day(SpendBook.now())
        try append(f.spool.ledger, line(day + "T00:00:01.000Z", "zhipu", 1.5) + line(day + "T00:00:02.000Z", "kimi", 3))
        book.refresh(f.spool, interval: 0)
        #expect(book.hold(lock, provider: "zhipu", running: { _ in 0 }) == nil)
        let why = try #require(book.hold(lock, provider: "zhipu", running: { $0 == "zhipu" ? 0.5 : 0 }))
        #expect(why.contains("provider zhipu spent $2.00 of its daily budget $2.00 (providers.zhipu.budget_usd_per_day)"), "\(why)")
        let all = try #require(book.hold(lock, provider: "kimi", running: { $0 == nil ? 0.5 : 0 }))
        #expect(all.contains("the worker spent $5.00 of its daily budget $5.00 (budget_usd_per_day)"), "\(all)")
    }
}
