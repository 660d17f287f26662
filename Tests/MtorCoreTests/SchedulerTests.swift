import Testing
import MtorCore

@Suite("Scheduler: which spec starts, and why the others wait")
struct SchedulerTests {
    func q(_ name: String, at t: Double = 0, priority: Int = 0, notBefore: Double? = nil, deps: [String] = [], provider: String = "p") -> Scheduler.Queued {
        Scheduler.Queued(name: "\(name).md", id: name, arrived: t, priority: priority, notBefore: notBefore, dependsOn: deps, provider: provider)
    }

    func candidates(_ d: [Scheduler.Decision]) -> [String] {
        d.compactMap { if case .candidate(let n) = $0 { return String(n.dropLast(3)) } else { return nil } }
    }

    func reason(_ d: [Scheduler.Decision], _ name: String) -> String? {
        for x in d {
            if case .hold(let n, let r) = x, n == "\(name).md" { return r.description }
            if case .fail(let n, let r) = x, n == "\(name).md" { return r.description }
        }
        return nil
    }

    @Test("higher priority first; the same priority keeps arrival order")
    func order() {
        let specs = [q("a", at: 1), q("b", at: 2, priority: 5), q("c", at: 3), q("d", at: 4, priority: 5), q("e", at: 5, priority: -1)]
        #expect(candidates(Scheduler().decide(.init(now: 10, queued: specs, freeSlots: 1))) == ["b", "d", "a", "c", "e"])
    }

    @Test("aging: a low-priority spec catches up one level per 10 minutes waited, so it never starves")
    func aging() {
        let old = q("old", at: 0, priority: 0), fresh = q("fresh", at: 3000, priority: 3)
        // At 3000 s the old one has waited 5 steps: 0 + 5 > 3 + 0.
        #expect(candidates(Scheduler().decide(.init(now: 3000, queued: [fresh, old], freeSlots: 1))) == ["old", "fresh"])
        #expect(candidates(Scheduler().decide(.init(now: 1200, queued: [fresh, old], freeSlots: 1))) == ["fresh", "old"])
    }

    @Test("dependencies: wait while pending or absent, fail when one failed or was cancelled, run when all succeeded", arguments: [
        (Scheduler.Dependency.succeeded, "candidate"), (.pending, "hold"), (.absent, "hold"), (.failed(.agentFailed), "fail"), (.cancelled, "fail"),
    ])
    func dependencies(state: Scheduler.Dependency, expected: String) {
        let d = Scheduler().decide(.init(now: 10, queued: [q("b", deps: ["a"])], dependencies: ["a": state], freeSlots: 1))
        switch (d.first, expected) {
        case (.candidate?, "candidate"), (.hold?, "hold"): break
        case (.fail(_, let r)?, "fail"):
            #expect(r.failureClass == .dependencyFailed)
            #expect(r.description.contains("a"))
        default: Issue.record("\(state): \(d)")
        }
    }

    @Test("an absent dependency says so, and fails the spec after --dependency-timeout")
    func absentDependency() {
        let waiting = Scheduler().decide(.init(now: 100, queued: [q("b", deps: ["ghost"])], dependencyTimeout: 3600, freeSlots: 1))
        #expect(reason(waiting, "b") == "waiting for ghost, which is not in this spool")
        let late = Scheduler().decide(.init(now: 3700, queued: [q("b", deps: ["ghost"])], dependencyTimeout: 3600, freeSlots: 1))
        guard case .fail(_, let r)? = late.first else { Issue.record("\(late)"); return }
        #expect(r == .dependencyMissing("ghost", timeout: 3600))
        #expect(r.failureClass == .dependencyFailed && r.description.contains("never appeared"))
    }

    @Test("not_before holds until its time, and says when")
    func notBefore() {
        let d = Scheduler().decide(.init(now: 1_800_000_000, queued: [q("later", notBefore: 1_800_000_060)], freeSlots: 1))
        #expect(reason(d, "later")?.hasPrefix("not before 2027-01-15 08:01:00 UTC") == true, "\(d)")
        #expect(candidates(Scheduler().decide(.init(now: 1_800_000_060, queued: [q("later", notBefore: 1_800_000_060)], freeSlots: 1))) == ["later"])
    }

    @Test("a paused spool or provider holds new starts and names who paused it")
    func pause() {
        let p = Scheduler.Pause(since: "14:02", by: "root")
        let all = Scheduler().decide(.init(now: 1, queued: [q("a")], pausedAll: p, freeSlots: 1))
        #expect(reason(all, "a") == "the spool is paused since 14:02 by root (`mtor resume` starts it again)")
        let one = Scheduler().decide(.init(now: 1, queued: [q("a", provider: "zhipu"), q("b", provider: "other")], pausedProviders: ["zhipu": p], freeSlots: 1))
        #expect(candidates(one) == ["b"])
        #expect(reason(one, "a")?.hasPrefix("provider zhipu is paused since 14:02 by root") == true)
    }

    @Test("below --min-free-memory nothing starts, and the reason gives both sizes")
    func memory() {
        let d = Scheduler().decide(.init(now: 1, queued: [q("a")], memoryAvailable: 512 << 20, memoryFloor: 1 << 30, freeSlots: 1))
        #expect(reason(d, "a") == "only 512 MiB of memory is available, below --min-free-memory 1 GiB; it starts when memory returns")
    }

    @Test("cycles are found and named; a chain or a diamond is not a cycle")
    func cycles() {
        #expect(Scheduler.cycles(["a": ["b"], "b": ["c"], "c": ["a"]])["b"]?.description == "a → b → c → a")
        #expect(Scheduler.cycles(["a": ["b"], "b": ["c"], "c": ["a"]])["b"]?.isSelfDependency == false)
        #expect(Scheduler.cycles(["a": ["a"]])["a"] == Scheduler.Cycle(["a", "a"]))
        #expect(Scheduler.cycles(["a": ["a"]])["a"]?.isSelfDependency == true)
        #expect(Scheduler.cycles(["a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]]).isEmpty)
        #expect(Scheduler.cycles(["x": ["y"], "y": ["x"], "z": ["x"]])["z"] == nil)
    }

    @Test("a chain 10 000 deep has no cycle and a ring of 10 000 is one cycle naming every member (no recursion to overflow)")
    func deepGraphs() {
        let n = 10_000
        let name = { (i: Int) in String(format: "t%05d", i) }
        var chain: [String: [String]] = [name(0): []]
        for i in 1..<n { chain[name(i)] = [name(i - 1)] }
        #expect(Scheduler.cycles(chain).isEmpty)
        var ring = chain
        ring[name(0)] = [name(n - 1)]
        let cycles = Scheduler.cycles(ring)
        #expect(cycles.count == n)
        #expect(cycles[name(4321)]?.path.count == n + 1)
        #expect(cycles[name(4321)]?.path.first == name(0) && cycles[name(4321)]?.path.last == name(0))
        // A ring with a tail: the tail depends on the ring but is not in it.
        var tailed = ring
        tailed["tail"] = [name(17)]
        #expect(Scheduler.cycles(tailed)["tail"] == nil && Scheduler.cycles(tailed).count == n)
        // Two rings joined one way are two cycles, each naming only its own members.
        let two = Scheduler.cycles(["a": ["b"], "b": ["a", "c"], "c": ["d"], "d": ["c"]])
        #expect(two["a"]?.description == "a → b → a" && two["d"]?.description == "c → d → c")
    }

    @Test("a failure settles a whole queued chain in one turn: every link fails naming the link before it, the rest still wait")
    func cascadeInOneTurn() {
        let n = 10_000
        var specs = (1..<n).map { i in q(String(format: "c%05d", i), at: Double(i), deps: [String(format: "c%05d", i - 1)]) }
        specs.append(q("other", at: 0, deps: ["elsewhere"]))
        specs.append(q("plain", at: 0))
        var deps: [String: Scheduler.Dependency] = ["c00000": .failed(.agentFailed), "elsewhere": .pending]
        for i in 1..<n - 1 { deps[String(format: "c%05d", i)] = .pending }
        let d = Scheduler().decide(.init(now: 10, queued: specs.reversed(), dependencies: deps, freeSlots: 1))
        let fails = d.filter { if case .fail = $0 { return true } else { return false } }
        #expect(fails.count == n - 1)
        #expect(reason(d, "c00001") == "its dependency c00000 failed (agent_failed), so it was not run")
        #expect(reason(d, "c09999") == "its dependency c09998 failed (dependency_failed), so it was not run")
        #expect(reason(d, "other") == "waiting for elsewhere to succeed")
        #expect(candidates(d) == ["plain"])
    }
}

@Suite("Scheduler: the turn's edges")
struct SchedulerEdgeTests {
    @Test("a dependency found under another name is shown with both; the next not_before is when to look again")
    func resolvedAndNextStart() {
        var s = Scheduler.Snapshot(now: 100, queued: [
            .init(name: "b.md", id: "b", arrived: 0, dependsOn: ["parser"]),
            .init(name: "c.md", id: "c", arrived: 0, notBefore: 160),
            .init(name: "d.md", id: "d", arrived: 0, notBefore: 130),
            .init(name: "e.md", id: "e", arrived: 0, notBefore: 50),
        ], dependencies: ["parser": .failed(.agentFailed)], freeSlots: 1)
        s.resolved = ["parser": "20261201T220000-parser-3f2a"]
        let d = Scheduler().decide(s)
        guard case .fail(let name, let refusal)? = d.first else { Issue.record("\(d)"); return }
        #expect(name == "b.md" && refusal.failureClass == .dependencyFailed)
        #expect(refusal.description == "its dependency parser (20261201T220000-parser-3f2a) failed (agent_failed), so it was not run")
        #expect(Scheduler().nextStart(s) == 130)
        #expect(d.contains(.candidate("e.md")), "a not_before in the past holds nothing")
    }

    @Test("a hold for one reason at a time, in the documented order: dependency, not_before, pause, memory")
    func holdOrder() {
        let p = Scheduler.Pause(since: "14:02", by: "root")
        let q = Scheduler.Queued(name: "a.md", id: "a", arrived: 0, notBefore: 200, dependsOn: ["x"])
        func reason(_ s: Scheduler.Snapshot) -> String? {
            if case .hold(_, let r)? = Scheduler().decide(s).first { return r.description }
            return nil
        }
        var s = Scheduler.Snapshot(now: 100, queued: [q], dependencies: ["x": .pending], pausedAll: p, memoryAvailable: 1, memoryFloor: 2, freeSlots: 1)
        #expect(reason(s)?.hasPrefix("waiting for x") == true)
        s.dependencies["x"] = .succeeded
        #expect(reason(s)?.hasPrefix("not before") == true)
        s.now = 300
        #expect(reason(s)?.hasPrefix("the spool is paused since 14:02 by root") == true)
        s.pausedAll = nil
        #expect(reason(s)?.hasPrefix("only 1 B of memory is available") == true)
        s.memoryAvailable = 3
        #expect(Scheduler().decide(s) == [.candidate("a.md")])
    }
}
