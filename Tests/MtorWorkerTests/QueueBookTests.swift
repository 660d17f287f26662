import Foundation
import Testing
import MtorCore
@testable import MtorWorker

@Suite("QueueBook: the queued specs a turn offers the scheduler")
struct QueueBookTests {
    /// Arrival times loaded in this order; the book must give the plain specs back by arrival.
    @Test("plain specs come back in arrival order whatever order they were read in", arguments: [
        [1.0, 2, 3, 4],
        [4.0, 3, 2, 1],
        [2.0, 9, 1, 5, 3],
        [5.0, 5, 5],  // same time: by name
    ])
    func arrivalOrder(_ times: [Double]) throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        for (i, t) in times.enumerated() {
            try f.submit("s\(i).md", arrived: t)
            f.load("s\(i).md", into: &book)
        }
        var cursor = 0
        let names = book.plain(from: &cursor, count: 100).map(\.name)
        let expected = times.enumerated().sorted { ($0.element, "s\($0.offset).md") < ($1.element, "s\($1.offset).md") }.map { "s\($0.offset).md" }
        #expect(names == expected)
        #expect(cursor == times.count)
    }

    @Test("a window at a time: the cursor moves past what was given")
    func windows() throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        for i in 0..<5 {
            try f.submit("s\(i).md", arrived: Double(i))
            f.load("s\(i).md", into: &book)
        }
        var cursor = 0
        #expect(book.plain(from: &cursor, count: 2).map(\.name) == ["s0.md", "s1.md"])
        #expect(book.plain(from: &cursor, count: 2).map(\.name) == ["s2.md", "s3.md"])
        #expect(book.plain(from: &cursor, count: 2).map(\.name) == ["s4.md"])
        #expect(book.plain(from: &cursor, count: 2).isEmpty)
    }

    @Test("invalidate and prune forget a spec everywhere; a spec read again is filed again")
    func forget() throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        for (i, front) in ["", "priority: 5", "", "depends_on: [s0]"].enumerated() {
            try f.submit("s\(i).md", front, arrived: Double(i))
            f.load("s\(i).md", into: &book)
        }
        #expect(book.count == 4 && book.others == ["s1.md", "s3.md"])
        book.invalidate("s0.md")
        book.invalidate("s1.md")
        book.invalidate("nothing.md")
        #expect(book.cached("s0.md") == nil && book.count == 2 && book.others == ["s3.md"])
        var cursor = 0
        #expect(book.plain(from: &cursor, count: 10).map(\.name) == ["s2.md"])
        book.prune(keeping: ["s2.md"])
        #expect(book.count == 1 && book.others.isEmpty && book.unjudged == ["s2.md"])
        f.load("s0.md", into: &book)
        cursor = 0
        #expect(book.plain(from: &cursor, count: 10).map(\.name) == ["s0.md", "s2.md"])
    }

    @Test("scheduling keys make a spec an 'other'; an invalid spec is kept without terms", arguments: [
        ("", true), ("priority: 1", false), ("priority: -1", false), ("depends_on: [x]", false), ("not_before: 1h", false), ("provider: nowhere", false),
    ])
    func plainOrNot(front: String, plain: Bool) throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        try f.submit("a.md", front, arrived: 1)
        f.load("a.md", into: &book)
        #expect(book.cached("a.md")?.isPlain == plain)
        #expect(book.others.contains("a.md") == !plain)
    }

    @Test("a turn: refusals first, then the scheduler's order; plain specs past the window come with `more`")
    func plan() throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        let specs: [(String, String)] = [
            ("p0.md", ""), ("p1.md", ""), ("p2.md", ""), ("urgent.md", "priority: 9"),
            ("self.md", "depends_on: [self]"), ("a.md", "depends_on: [b]"), ("b.md", "depends_on: [a]"),
            ("dup.md", ""),
        ]
        for (i, (name, front)) in specs.enumerated() {
            // dup.md is p0.md again, later: a duplicate.
            try f.submit(name, front, body: name == "dup.md" ? "Go." : "Do \(name).", arrived: 1000 + Double(i))
            f.load(name, into: &book)
        }
        try f.submit("p0.md", "", body: "Go.", arrived: 1000)
        f.load("p0.md", into: &book)
        var plan = book.plan(spool: f.spool, options: f.options, settings: f.settings, home: f.root, now: 1010, window: 1)
        let window = f.options.dedupWindow
        #expect(plan.decisions == [
            .fail("a.md", .dependencyCycle(Scheduler.Cycle(["a", "b", "a"]))),
            .fail("b.md", .dependencyCycle(Scheduler.Cycle(["a", "b", "a"]))),
            .fail("dup.md", .duplicate(of: .queued("p0"), window: window)),
            .fail("self.md", .dependencyCycle(Scheduler.Cycle(["self", "self"]))),
            .candidate("urgent.md"), .candidate("p0.md"),
        ])
        // The worker forgets what it refused (`act` leaves it) before it asks for more.
        for case .fail(let name, _) in plan.decisions { book.invalidate(name) }
        #expect(book.more(&plan, count: 5) == [.candidate("p1.md"), .candidate("p2.md")])
        #expect(book.more(&plan, count: 5).isEmpty)
    }

    @Test("a task that ended re-decides only its dependents, in the kept turn; each hold is handed out once, when decided")
    func patchedTurn() throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        for i in 0..<20 {
            _ = try f.submit("p\(i).md", body: "Do \(i).", arrived: 1000 + Double(i))
            f.load("p\(i).md", into: &book)
        }
        for i in 0..<200 {
            _ = try f.submit("d\(i).md", "depends_on: [p\(i % 20)]", body: "Then \(i).", arrived: 2000 + Double(i))
            f.load("d\(i).md", into: &book)
        }
        let holds = { (plan: QueueBook.Plan) in plan.decisions.filter { if case .hold = $0 { return true } else { return false } }.map(\.name) }
        let first = book.plan(spool: f.spool, options: f.options, settings: f.settings, home: f.root, now: 3000, window: 4)
        #expect(holds(first).count == 200, "every dependent waits for its queued dependency, and says so")
        let madeAt = book.othersTurn?.madeAt
        let again = book.plan(spool: f.spool, options: f.options, settings: f.settings, home: f.root, now: 3000.1, window: 4)
        #expect(holds(again).isEmpty, "an unchanged hold is not handed out again")
        // p3 ran here and succeeded: its spec is in done/, the book forgets it, the worker notes it ended.
        book.invalidate("p3.md")
        try FileManager.default.moveItem(atPath: "\(f.spool.inbox)/p3.md", toPath: "\(f.spool.done)/p3.md")
        book.listing?.ended("p3", in: f.spool)
        book.endedSinceTurn.append("p3")
        let after = book.plan(spool: f.spool, options: f.options, settings: f.settings, home: f.root, now: 3000.2, window: 4)
        // Younger than every plain spec still queued: offered after them (`later`).
        let released = after.later.filter { $0.hasPrefix("d") }
        #expect(released == stride(from: 3, to: 200, by: 20).map { "d\($0).md" }, "exactly p3's dependents may start, oldest first")
        #expect(holds(after).isEmpty)
        #expect(book.othersTurn?.madeAt == madeAt, "patched, not decided again from scratch")
        // One of them starts: it leaves the turn; the others stay candidates.
        book.invalidate("d3.md")
        let next = book.plan(spool: f.spool, options: f.options, settings: f.settings, home: f.root, now: 3000.3, window: 4)
        #expect(next.later.filter { $0.hasPrefix("d") } == stride(from: 23, to: 200, by: 20).map { "d\($0).md" })
    }

    @Test("refusals say what `show` has always printed", arguments: [
        (Scheduler.Refusal.dependencyCycle(.init(["self", "self"])),
         "'depends_on' names the task itself (self → self); a task cannot wait for itself — remove it from 'depends_on'"),
        (.dependencyCycle(.init(["a", "b", "a"])),
         "'depends_on' forms a cycle (a → b → a), so none of these tasks could ever start; remove one of the dependencies and submit again"),
        (.duplicate(of: .queued("p0"), window: 600),
         "duplicate spec: it is identical (same repo, provider and prompt) to p0, queued in inbox/; to run it again on purpose, submit it with `mtor submit --force` or add 'dedup: false' (window: --dedup-window 10m)"),
    ])
    func refusalText(_ refusal: Scheduler.Refusal, _ text: String) {
        #expect(refusal.description == text)
        // A duplicate has a class of its own; a cycle is a spec error.
        if case .duplicate = refusal { #expect(refusal.failureClass == .duplicate) } else { #expect(refusal.failureClass == .specInvalid) }
    }

    @Test("holdNow reads a pause at once: `mtor pause` holds from the moment it returns")
    func holdNow() throws {
        let f = try SpoolFixture()
        var book = QueueBook()
        try f.submit("a.md", "provider: kimi", arrived: 1)
        f.load("a.md", into: &book)
        #expect(book.holdNow("a.md", spool: f.spool, options: f.options, now: 10) == nil)
        let marker = try PauseMarker.pause(f.spool, provider: "kimi")
        Thread.sleep(forTimeInterval: 0.03)  // past the 20 ms a reading is trusted
        guard case .providerPaused("kimi", let p)? = book.holdNow("a.md", spool: f.spool, options: f.options, now: 10) else {
            Issue.record("not held by the provider's pause")
            return
        }
        #expect(p.by == marker.by)
        #expect(book.holdNow("gone.md", spool: f.spool, options: f.options, now: 10) == nil)
    }
}
