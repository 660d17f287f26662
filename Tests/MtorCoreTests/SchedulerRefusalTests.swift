import Foundation
import Testing
import MtorCore

/// The refusals decided before scheduling, from evidence alone: a dependency cycle, a duplicate.
@Suite("Scheduler refusals: cycles and duplicates, decided without a spool")
struct SchedulerRefusalTests {
    // MARK: - Cycles

    @Test("every member of a cycle is refused with it; a self-dependency is named as such; a chain is not refused")
    func cycles() {
        let refusals = Scheduler.cycleRefusals(["a": ["b"], "b": ["a"], "self": ["self"], "c": ["a"], "d": []])
        #expect(refusals["a"] == .dependencyCycle(Scheduler.Cycle(["a", "b", "a"])))
        #expect(refusals["b"] == .dependencyCycle(Scheduler.Cycle(["a", "b", "a"])))
        #expect(refusals["self"] == .dependencyCycle(Scheduler.Cycle(["self", "self"])))
        // c waits on a cycle but is not on it: it is not refused as one (it fails when a does).
        #expect(refusals["c"] == nil && refusals["d"] == nil)
        #expect(refusals["self"]?.description
                == "'depends_on' names the task itself (self → self); a task cannot wait for itself — remove it from 'depends_on'")
        #expect(refusals["a"]?.failureClass == .specInvalid)
        #expect(refusals["a"]?.hint == "fix the spec; `mtor validate` runs the same checks")
        #expect(Scheduler.Refusal.dependencyCancelled("p").hint == "fix the dependency and `mtor retry` it, then `mtor retry` this task")
        #expect(Scheduler.cycleRefusals([:]).isEmpty)
    }

    // MARK: - Duplicates

    static let spec = Scheduler.Twin(id: "new", name: "new.md", arrived: 1000, state: .queued)
    static let window = 600.0
    static var since: Double { 2000 - window }

    /// One row: the twins found, and the original the spec duplicates (nil: it runs).
    static let duplicateCases: [(String, [Scheduler.Twin], Scheduler.Original?)] = [
        ("no twin: it runs", [], nil),
        ("a twin queued earlier", [.init(id: "q", name: "q.md", arrived: 900, state: .queued)], .queued("q")),
        ("a twin queued later is not the original (the earlier spec runs)",
         [.init(id: "q", name: "q.md", arrived: 1100, state: .queued)], nil),
        ("queued at the same instant: the name decides",
         [.init(id: "a", name: "a.md", arrived: 1000, state: .queued), .init(id: "z", name: "z.md", arrived: 1000, state: .queued)],
         .queued("a")),
        ("the earliest of several queued twins",
         [.init(id: "q2", name: "q2.md", arrived: 950, state: .queued), .init(id: "q1", name: "q1.md", arrived: 900, state: .queued)],
         .queued("q1")),
        ("a twin running", [.init(id: "r", arrived: 900, state: .running)], .running("r")),
        ("a queued twin is named before a running one",
         [.init(id: "r", arrived: 800, state: .running), .init(id: "q", name: "q.md", arrived: 900, state: .queued)], .queued("q")),
        ("a twin that succeeded inside the window", [.init(id: "d", arrived: 900, state: .succeeded(at: 1500, ran: true))],
         .succeeded("d", at: 1500)),
        ("a twin that succeeded exactly at the window's edge", [.init(id: "d", arrived: 900, state: .succeeded(at: since, ran: true))],
         .succeeded("d", at: since)),
        ("a twin that succeeded before the window", [.init(id: "d", arrived: 900, state: .succeeded(at: since - 1, ran: true))], nil),
        ("a twin in done/ that made no attempt is no original", [.init(id: "d", arrived: 900, state: .succeeded(at: 1500, ran: false))], nil),
        ("a twin in done/ whose sidecar is not written yet", [.init(id: "d", arrived: 900, state: .succeeded(at: nil, ran: true))], nil),
        ("a failed or cancelled twin never blocks a re-submission", [.init(id: "f", arrived: 900, state: .failed)], nil),
        ("a running twin is named before one that succeeded",
         [.init(id: "a-done", arrived: 800, state: .succeeded(at: 1500, ran: true)), .init(id: "b-run", arrived: 900, state: .running)],
         .running("b-run")),
        ("the spec itself (its own claim) is no original", [.init(id: "new", arrived: 900, state: .running)], nil),
    ]

    @Test("a spec duplicates the earliest queued twin, else a running one, else one that succeeded inside the window",
          arguments: duplicateCases.indices)
    func duplicates(_ i: Int) {
        let (name, twins, expected) = Self.duplicateCases[i]
        #expect(Scheduler.original(of: Self.spec, among: twins, finishedSince: Self.since) == expected, "\(name)")
    }

    @Test("the original as show, submit and validate name it; the refusal is class duplicate")
    func originals() {
        #expect(Scheduler.Original.queued("p0").description == "p0, queued in inbox/")
        #expect(Scheduler.Original.running("p0").description == "p0, which is running")
        let at = ISO8601DateFormatter().date(from: "2026-05-01T15:00:12Z")!.timeIntervalSince1970
        #expect(Scheduler.Original.succeeded("p0", at: at).description == "p0, which succeeded (done/) at 2026-05-01T15:00:12Z")
        let refusal = Scheduler.Refusal.duplicate(of: .running("p0"), window: 600)
        #expect(refusal.failureClass == .duplicate)
        #expect(refusal.sentence.hasPrefix("duplicate spec: it is identical (same repo, provider and prompt) to p0, which is running; "))
        #expect(refusal.description == refusal.sentence + " (window: --dedup-window 10m)")
    }
}
