import Testing
import MtorCore

@Suite("Scheduler reasons: typed for decisions, printed as the sentences status, show and wait always gave")
struct SchedulerReasonTests {
    static let pause = Scheduler.Pause(since: "14:02", by: "root")

    @Test("each hold's sentence", arguments: [
        (Scheduler.Hold.dependencies([.pending("parser"), .absent("ghost")]), "waiting for parser to succeed; waiting for ghost, which is not in this spool"),
        (.notBefore(1_800_000_060, now: 1_800_000_000), "not before 2027-01-15 08:01:00 UTC (not_before), in 1m"),
        (.spoolPaused(pause), "the spool is paused since 14:02 by root (`mtor resume` starts it again)"),
        (.providerPaused("zhipu", pause), "provider zhipu is paused since 14:02 by root (`mtor resume --provider zhipu`)"),
        (.lowMemory(available: 512 << 20, floor: 1 << 30), "only 512 MiB of memory is available, below --min-free-memory 1 GiB; it starts when memory returns"),
    ])
    func hold(_ hold: Scheduler.Hold, _ text: String) {
        #expect(hold.description == text)
    }

    @Test("each refusal's class and sentence", arguments: [
        (Scheduler.Refusal.dependencyFailed("parser (p-1)", class: .agentFailed), FailureClass.dependencyFailed, "its dependency parser (p-1) failed (agent_failed), so it was not run"),
        (.dependencyCancelled("parser"), .dependencyFailed, "its dependency parser was cancelled, so it was not run"),
        (.dependencyMissing("ghost", timeout: 86400), .dependencyFailed, "its dependency ghost never appeared in this spool within 24h (--dependency-timeout)"),
        (.dependencyCycle(.init(["a", "a"])), .specInvalid, "'depends_on' names the task itself (a → a); a task cannot wait for itself — remove it from 'depends_on'"),
        (.dependencyCycle(.init(["a", "b", "a"])), .specInvalid, "'depends_on' forms a cycle (a → b → a), so none of these tasks could ever start; remove one of the dependencies and submit again"),
    ])
    func refusal(_ refusal: Scheduler.Refusal, _ cls: FailureClass, _ text: String) {
        #expect(refusal.failureClass == cls)
        #expect(refusal.description == text)
    }

    @Test("a decision carries the typed reason: a cancelled dependency fails as dependency_failed, a pending one holds")
    func decisions() {
        let q = Scheduler.Queued(name: "b.md", id: "b", arrived: 0, dependsOn: ["a"])
        #expect(Scheduler().decide(.init(now: 1, queued: [q], dependencies: ["a": .cancelled], freeSlots: 1)) == [.fail("b.md", .dependencyCancelled("a"))])
        #expect(Scheduler().decide(.init(now: 1, queued: [q], dependencies: ["a": .pending], freeSlots: 1)) == [.hold("b.md", reason: .dependencies([.pending("a")]))])
    }
}
