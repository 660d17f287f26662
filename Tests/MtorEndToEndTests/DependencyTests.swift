import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

extension Sandbox {
    /// A sandbox whose lockfile has two `sh` providers, `local` (the default) and `other`, and a spool.
    static func scheduling(_ label: String) throws -> Sandbox {
        let s = try Sandbox(label)
        s.lockfile("""
            {"schema":"mtor.providers/1","default":"local","harnesses":{"sh":{"argv":["/bin/sh","-s"],"prompt":"stdin"}},
             "providers":{"local":{"harness":"sh","concurrency":8},"other":{"harness":"sh","concurrency":8}}}
            """)
        for dir in ["inbox", "tmp"] { try FileManager.default.createDirectory(atPath: "\(s.spool)/\(dir)", withIntermediateDirectories: true) }
        return s
    }

    /// Submits an `sh` spec; `front` are extra frontmatter lines.
    func shSpec(_ name: String, _ front: String = "", body: String) throws {
        try submit("\(name).md", "---\nrepo: ~/code/widget\n\(front)\n---\n\(body)\n")
    }

    /// Ids in the order the ledger says they were claimed.
    func claimOrder() -> [String] { ledger().filter { $0.event == .claimed }.map(\.id) }

    /// The `waiting` line the live worker gives for an inbox/ name.
    func heldReason(_ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: spool + "/state/worker.json"),
              let state = try? JSONDecoder().decode(WorkerState.self, from: data) else { return nil }
        return state.waiting.first { $0.hasPrefix("inbox/\(name).md: ") }.map { String($0.dropFirst("inbox/\(name).md: ".count)) }
    }

    func count(_ dir: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(dir)")) ?? []).filter { $0.hasSuffix(".md") }.count
    }
}

@Suite("depends_on: chains, diamonds, cascades, cycles, late arrivals", .serialized)
struct DependencyTests {
    @Test("a chain A → B → C submitted by file name: each waits for the one before, and base: after starts B from A's branch and C from B's",
          .timeLimit(.minutes(10)))
    func chain() throws {
        let s = try Sandbox.scheduling("dep-chain")
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let specs = [("parser", "", "a.txt"), ("callers", "depends_on: [parser.md]\nbase: after", "b.txt"), ("docs", "depends_on: callers\nbase: after", "c.txt")]
        for (name, front, file) in specs {
            writeFixture("\(dir)/\(name).md", Data("---\nrepo: ~/code/widget\n\(front)\n---\n\(commitBody(file, subject: name, nap: "0"))\n".utf8))
        }
        // Submitted last first: order comes from the dependencies, not from arrival.
        let submitted = try s.mtor(["submit", "--spool", s.spool, "--providers", s.etc + "/providers.json", "\(dir)/docs.md", "\(dir)/callers.md", "\(dir)/parser.md"])
        #expect(submitted.code == 0, "\(submitted.err)")
        let ids = Dictionary(uniqueKeysWithValues: submitted.out.split(separator: "\n").compactMap { line -> (String, String)? in
            let w = line.split(separator: " ")
            guard w.count >= 4, w[0] == "submitted" else { return nil }
            return (SpecName.stem(of: String(w[1])), String(w[3]))
        })
        let (a, b, c) = (try #require(ids["parser"]), try #require(ids["callers"]), try #require(ids["docs"]))
        let run = try s.drain(["--concurrency", "3"])
        #expect(run.code == 0, "\(run.err)")
        #expect(s.claimOrder() == [a, b, c], "\(run.err)")
        let (ra, rb, rc) = (try s.result(a), try s.result(b), try s.result(c))
        for r in [ra, rb, rc] { #expect(r.status == .succeeded, "\(r.id): \(r.reason)") }
        #expect(rb.git?.base == "mtor/\(a)", "B's branch starts from A's: \(rb.git.map { "\($0)" } ?? "no git")")
        #expect(rb.git?.headBefore == ra.git?.headAfter)
        #expect(rc.git?.base == "mtor/\(b)" && rc.git?.headBefore == rb.git?.headAfter)
        #expect(rc.git?.commits.map(\.subject) == ["docs"], "C's own commit only, on top of A's and B's")
        let files = try s.git(["ls-tree", "--name-only", "mtor/\(c)"]).split(separator: "\n").map(String.init)
        #expect(Set(files).isSuperset(of: ["a.txt", "b.txt", "c.txt"]), "the chain built on its own work: \(files)")
        #expect(try s.out(["rev-parse", "--abbrev-ref", "HEAD"]) == "main")
    }

    @Test("a diamond: B and C wait for A, D waits for both and starts only after both succeeded", .timeLimit(.minutes(10)))
    func diamond() throws {
        let s = try Sandbox.scheduling("dep-diamond")
        try s.shSpec("d", "depends_on: [b, c]\nexpect: nothing", body: "echo d")
        try s.shSpec("b", "depends_on: a\nexpect: nothing", body: "sleep 0.5; echo b")
        try s.shSpec("c", "depends_on: a\nexpect: nothing", body: "sleep 0.3; echo c")
        try s.shSpec("a", "expect: nothing", body: "echo a")
        let run = try s.drain(["--concurrency", "4"])
        #expect(run.code == 0, "\(run.err)")
        let r = try Dictionary(uniqueKeysWithValues: ["a", "b", "c", "d"].map { ($0, try s.result($0)) })
        for (id, x) in r { #expect(x.status == .succeeded, "\(id): \(x.reason)") }
        let order = s.claimOrder()
        #expect(order.first == "a" && order.last == "d", "\(order)")
        let claimedD = try #require(r["d"].flatMap { Stamp.date($0.claimedAt) })
        for id in ["b", "c"] {
            let finished = try #require(r[id].flatMap { Stamp.date($0.finishedAt) })
            #expect(claimedD >= finished, "d was claimed before \(id) finished")
        }
    }

    @Test("a failed parent fails its dependents at once with dependency_failed, down two levels, never retried", .timeLimit(.minutes(10)))
    func cascade() throws {
        let s = try Sandbox.scheduling("dep-cascade")
        try s.shSpec("parent", "expect: nothing", body: "echo broken >&2; exit 3")
        try s.shSpec("child", "depends_on: parent\nexpect: nothing", body: "echo child")
        try s.shSpec("grandchild", "depends_on: [child]\nexpect: nothing", body: "echo grandchild")
        try s.shSpec("bystander", "expect: nothing", body: "echo unrelated")
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        #expect(try s.result("parent").class == .agentFailed)
        let child = try s.result("child"), grandchild = try s.result("grandchild")
        #expect(child.class == .dependencyFailed && child.status == .failed)
        #expect(child.reason == "its dependency parent failed (agent_failed), so it was not run", "\(child.reason)")
        #expect(grandchild.class == .dependencyFailed)
        #expect(grandchild.reason.contains("its dependency child failed (dependency_failed)"), "\(grandchild.reason)")
        #expect(child.attempts.isEmpty && grandchild.attempts.isEmpty, "they never ran")
        #expect(!child.hint.isEmpty)
        #expect(try s.result("bystander").status == .succeeded)
        let attempted = Set(s.ledger().filter { $0.event == .attempt }.map(\.id))
        #expect(attempted == ["parent", "bystander"], "no agent started for the dependents: \(attempted)")
    }

    @Test("a chain 1,000 deep whose root fails: every link fails dependency_failed naming the link before it, none runs, each has one sidecar; a bystander runs", .timeLimit(.minutes(10)))
    func deepCascade() throws {
        let s = try Sandbox.scheduling("dep-deep")
        let depth = 1000
        let link = { (i: Int) in String(format: "link%04d", i) }
        try s.shSpec(link(0), "expect: nothing", body: "echo the root breaks >&2; exit 3")
        for i in 1..<depth { try s.shSpec(link(i), "depends_on: [\(link(i - 1))]\nexpect: nothing", body: "echo \(link(i)) ran") }
        try s.shSpec("bystander", "expect: nothing", body: "echo unrelated")
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        #expect(try s.result(link(0)).class == .agentFailed)
        var wrong: [String] = []
        for i in 1..<depth {
            let r = try s.result(link(i))
            let cls = i == 1 ? "agent_failed" : "dependency_failed"
            if r.class != .dependencyFailed || !r.attempts.isEmpty || r.reason != "its dependency \(link(i - 1)) failed (\(cls)), so it was not run" {
                wrong.append("\(link(i)): \(r.class.rawValue) \(r.attempts.count) attempts: \(r.reason)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) links settled wrongly: \(wrong.prefix(5))")
        #expect(try s.result("bystander").status == .succeeded)
        let attempted = Set(s.ledger().filter { $0.event == .attempt }.map(\.id))
        #expect(attempted == [link(0), "bystander"], "no agent started for a link: \(attempted.sorted().prefix(10))")
        let sidecars = try FileManager.default.contentsOfDirectory(atPath: s.spool + "/failed").filter { $0.hasSuffix(".result.json") }
        #expect(sidecars.count == depth, "\(sidecars.count) sidecars in failed/ for \(depth) links")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/done").filter { $0.hasSuffix(".md") } == ["bystander.md"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/inbox").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/claimed").isEmpty)
    }

    @Test("a cycle and a spec depending on itself are refused at ingest as spec_invalid naming the cycle; a dependent of the cycle fails too",
          .timeLimit(.minutes(10)))
    func cycles() throws {
        let s = try Sandbox.scheduling("dep-cycle")
        try s.shSpec("x", "depends_on: [y]", body: "echo x")
        try s.shSpec("y", "depends_on: [z]", body: "echo y")
        try s.shSpec("z", "depends_on: [x]", body: "echo z")
        try s.shSpec("selfish", "depends_on: [selfish]", body: "echo me")
        try s.shSpec("after-x", "depends_on: [x]", body: "echo after")
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        for id in ["x", "y", "z"] {
            let r = try s.result(id)
            #expect(r.class == .specInvalid && r.attempts.isEmpty)
            #expect(r.reason.contains("'depends_on' forms a cycle (x → y → z → x)"), "\(r.reason)")
            #expect(r.reason.contains("remove one of the dependencies"))
        }
        let selfish = try s.result("selfish")
        #expect(selfish.class == .specInvalid && selfish.reason.contains("names the task itself (selfish → selfish)") && selfish.reason.contains("remove it"), "\(selfish.reason)")
        let after = try s.result("after-x")
        #expect(after.class == .dependencyFailed && after.reason.contains("x failed (spec_invalid)"), "\(after.reason)")
    }

    @Test("an unknown dependency waits, saying so in show and status, and the spec runs once it arrives; one that never arrives fails after --dependency-timeout",
          .timeLimit(.minutes(10)))
    func lateArrival() throws {
        let s = try Sandbox.scheduling("dep-late")
        try s.shSpec("waiter", "depends_on: [late]\nexpect: nothing", body: "echo waited")
        try s.shSpec("orphan", "depends_on: [never-coming]\nexpect: nothing", body: "echo orphan")
        let worker = try BackgroundWorker(s, extra: ["--dependency-timeout", "6s"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try worker.waitFor { s.heldReason("waiter") != nil }
        #expect(s.heldReason("waiter") == "waiting for late, which is not in this spool")
        let show = try s.mtor(["show", "--spool", s.spool, "waiter"])
        #expect(show.out.contains("waiting for late, which is not in this spool"), "\(show.out)")
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("inbox/waiter.md: waiting for late, which is not in this spool"), "\(status.out)")
        Thread.sleep(forTimeInterval: 1)
        #expect(s.exists("inbox/waiter.md"), "still waiting: \(s.listing())")
        try s.shSpec("late", "expect: nothing", body: "echo late")
        try worker.waitFor { s.exists("done/waiter.result.json") }
        #expect(s.claimOrder().prefix(2) == ["late", "waiter"])
        try worker.waitFor(timeout: 20) { s.exists("failed/orphan.result.json") }
        let orphan = try s.result("orphan")
        #expect(orphan.class == .dependencyFailed && orphan.reason.contains("never-coming never appeared in this spool within 6s (--dependency-timeout)"), "\(orphan.reason)")
    }

    @Test("hostile scheduling keys fail at once as spec_invalid with a sentence naming the key, the problem and the fix; validate says the same",
          .timeLimit(.minutes(10)))
    func hostileKeys() throws {
        let s = try Sandbox.scheduling("dep-hostile")
        let many = (0..<5000).map { "t\($0)" }.joined(separator: ", ")
        let cases: [(String, String, [String])] = [
            ("word-priority", "priority: high", ["'priority' must be a whole number", "'high'"]),
            ("garbage-time", "not_before: next tuesday-ish", ["'not_before' must be an ISO-8601 time", "such as 2h", "'next tuesday-ish'"]),
            ("huge-list", "depends_on: [\(many)]", ["'depends_on' names 5000 tasks; at most 100", "depend on it"]),
            ("after-nothing", "base: after", ["'base: after'", "name exactly one dependency"]),
        ]
        for (name, line, _) in cases { try s.shSpec(name, line, body: "echo \(name)") }
        let started = Date()
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        #expect(Date().timeIntervalSince(started) < 60, "refused at once")
        for (name, _, words) in cases {
            let r = try s.result(name)
            #expect(r.class == .specInvalid && r.attempts.isEmpty, "\(name): \(r.class.rawValue)")
            for w in words { #expect(r.reason.contains(w), "\(name): \(r.reason.prefix(300)) lacks \(w)") }
            #expect(r.reason.utf8.count < 600, "\(name): the sentence stays short")
        }
        writeFixture(s.root + "/word.md", Data("---\nrepo: ~/code/widget\npriority: high\n---\nGo.\n".utf8))
        let validate = try s.mtor(["validate", "--spool", s.spool, "--providers", s.etc + "/providers.json", s.root + "/word.md"])
        #expect(validate.code == 1 && (validate.out + validate.err).contains("'priority' must be a whole number"), "\(validate)")
    }
}
