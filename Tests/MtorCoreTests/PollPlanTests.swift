import Testing
import MtorCore

/// `PollPlan`: a network spool is polled by default, a local one only when asked.
@Suite("Inbox poll plan")
struct PollPlanTests {
    @Test("interval by filesystem and --poll", arguments: [
        (nil, false, nil), (nil, true, 1.0), (0.25, false, 0.25), (0.25, true, 0.25), (5.0, true, 5.0),
    ] as [(Double?, Bool, Double?)])
    func interval(requested: Double?, network: Bool, expected: Double?) {
        let plan = PollPlan(requested: requested, filesystem: network ? "fuse.glusterfs" : "ext4", network: network, now: 0)
        #expect(plan.interval == expected)
        #expect(plan.summary.contains(network ? "fuse.glusterfs, a network filesystem" : "ext4"))
        #expect(plan.summary.contains(expected == nil ? "inotify only" : "polled every"), "\(plan.summary)")
        if requested != nil { #expect(plan.summary.contains("--poll")) }
    }

    @Test("due once per interval, scheduled from the poll, never piling up")
    func schedule() {
        var plan = PollPlan(requested: nil, filesystem: "nfs4", network: true, now: 100)
        #expect(plan.wait(now: 100) == 1)
        let early = plan.due(now: 100.5)
        #expect(!early)
        #expect(plan.wait(now: 100.5) == 0.5)
        let onTime = plan.due(now: 101)
        #expect(onTime)
        let again = plan.due(now: 101.2)
        #expect(!again)
        // A loop blocked for 10 s polls once, then waits a whole interval again.
        let late = plan.due(now: 111.5)
        #expect(late)
        let piled = plan.due(now: 111.6)
        #expect(!piled)
        #expect(plan.wait(now: 111.5) == 1)
    }

    @Test("a local spool without --poll never polls")
    func never() {
        var plan = PollPlan(requested: nil, filesystem: "ext4", network: false, now: 0)
        #expect(plan.wait(now: 1e9) == .infinity)
        let ever = plan.due(now: 1e9)
        #expect(!ever)
    }
}
