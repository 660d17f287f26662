import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

/// What a spool shared by several workers shows on any filesystem: one state file per worker,
/// `--poll`, ledgers merged, and a spec left with two names by a cut move.
@Suite("Shared spool on a local disk", .serialized)
struct SharedSpoolTests {
    @Test("two workers each keep state/workers/<host>-<pid>.json; status lists both, and --poll is said at start and in status", .timeLimit(.minutes(10)))
    func workerFiles() throws {
        let s = try Sandbox("workers")
        s.lockfile(Lockfiles.make([]))
        let a = try BackgroundWorker(s, extra: ["--poll", "0.3"])
        defer { a.stop() }
        let b = try BackgroundWorker(s)
        try a.waitUntilStarted()
        try b.waitUntilStarted()
        #expect(a.stderr.contains("polled every 0.3s besides inotify (--poll)"), "\(a.stderr)")
        #expect(b.stderr.contains("inotify only"), "\(b.stderr)")
        let host = FileSystem.hostName()
        for w in [a, b] { try w.waitFor(timeout: 10) { s.exists("state/workers/\(host)-\(w.child.pid).json") } }
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("workers: 2 alive of 2"), "\(status.out)")
        for w in [a, b] { #expect(status.out.contains("\(host)-\(w.child.pid): 0/1 running"), "\(status.out)") }
        let json = try s.mtor(["status", "--json", "--spool", s.spool])
        let decoded = try JSONDecoder().decode(SpoolStatus.self, from: Data(json.out.utf8))
        #expect(decoded.workers?.count == 2 && decoded.workers?.allSatisfy { $0.alive && $0.stale == false } == true)
        // A stopped worker removes its own file; the other stays listed.
        b.stop()
        #expect(!s.exists("state/workers/\(host)-\(b.child.pid).json"))
        // A SIGKILLed one stays, and is stale at once on its own host (its pid is gone).
        a.child.signal(SIGKILL)
        Thread.sleep(forTimeInterval: 0.3)
        let after = try JSONDecoder().decode(SpoolStatus.self, from: Data(try s.mtor(["status", "--json", "--spool", s.spool]).out.utf8))
        #expect(after.workers?.count == 1 && after.workers?.first?.stale == true, "\(String(describing: after.workers))")
    }

    @Test("a spec left with two names, in inbox/ and claimed/ (a move cut between link and unlink), runs once under its own id", .timeLimit(.minutes(10)))
    func twoNames() throws {
        let s = try Sandbox("two-names")
        s.lockfile(Lockfiles.make([]))
        let runs = s.root + "/runs"
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        try s.submit("cut.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\ntouch \(runs)/cut.$$\n")
        for dir in ["claimed", "done", "failed", "logs", "tmp", "cancel", "state"] { try FileManager.default.createDirectory(atPath: "\(s.spool)/\(dir)", withIntermediateDirectories: true) }
        #expect(link("\(s.spool)/inbox/cut.md", "\(s.spool)/claimed/cut.md") == 0)
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err)")
        #expect(try s.result("cut").status == .succeeded)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).count == 1, "ran once")
        #expect(!s.exists("inbox/cut.md") && !s.exists("claimed/cut.md") && !s.exists("done/cut-2.md"), "\(s.listing())")
    }

    @Test("status merges state/ledger.jsonl with every host's ledger: a task's latest outcome wins wherever it is written")
    func mergedLedgers() throws {
        let s = try Sandbox("ledgers")
        for dir in ["inbox", "state/ledgers"] { try FileManager.default.createDirectory(atPath: "\(s.spool)/\(dir)", withIntermediateDirectories: true) }
        let now = Date()
        func line(_ id: String, _ event: String, _ ago: Double, cls: String? = nil) -> String {
            "{\"t\":\"\(Stamp.iso(now.addingTimeInterval(-ago)))\",\"id\":\"\(id)\",\"event\":\"\(event)\"\(cls.map { ",\"class\":\"\($0)\"" } ?? "")}\n"
        }
        writeFixture(s.spool + "/state/ledger.jsonl", Data((line("a", "failed", 300, cls: "agent_failed") + line("a", "retried", 200)).utf8))
        writeFixture(s.spool + "/state/ledgers/hostA.jsonl", Data((line("a", "succeeded", 100) + line("b", "failed", 50, cls: "timed_out")).utf8))
        writeFixture(s.spool + "/state/ledgers/hostB.jsonl", Data((line("b", "succeeded", 10) + line("c", "failed", 20, cls: "timed_out") + line("d", "succeeded", 5)).utf8))
        let status = try JSONDecoder().decode(SpoolStatus.self, from: Data(try s.mtor(["status", "--json", "--spool", s.spool]).out.utf8))
        #expect(status.recent.succeeded == 3 && status.recent.failed == 1, "a, b and d succeeded last; c failed: \(status.recent)")
        #expect(status.recent.ledgerLines == 7)
    }

    @Test("a worker lacking a spec's repo leaves it in inbox/ for a live worker that may have it, and fails it when none does", .timeLimit(.minutes(10)))
    func repoOnAnotherHost() throws {
        let s = try Sandbox("repos")
        s.lockfile(Lockfiles.make([]))
        let bare = s.root + "/bare-home"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        // A has the repo but is busy; B's HOME has no ~/code/widget.
        try s.submit("busy.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\nsleep 3\n")
        let a = try BackgroundWorker(s)
        defer { a.stop() }
        try a.waitFor { s.exists("claimed/busy.md") }
        let b = try BackgroundWorker(s, env: ["HOME": bare])
        defer { b.stop() }
        try b.waitUntilStarted()
        try s.submit("needs.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho ran\n")
        let bState = "state/workers/\(FileSystem.hostName())-\(b.child.pid).json"
        do { try b.waitFor(timeout: 10) { s.read(bState).contains("needs.md") } } catch { Issue.record("B's state: \(s.read(bState))\nA: \(a.stderr)\nB: \(b.stderr)"); throw error }
        #expect(s.exists("inbox/needs.md"), "B left it queued: \(s.listing())")
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("inbox/needs.md: repo \(bare)/code/widget is missing on \(FileSystem.hostName())"), "\(status.out)")
        let doctor = try s.mtor(["doctor", "--json", "--spool", s.spool, "--providers", s.etc + "/providers.json"], extraEnv: ["HOME": bare])
        #expect(doctor.out.contains("\(bare)/code/widget, which is not a git work tree"), "\(doctor.out.prefix(3000))")
        try a.waitFor(timeout: 30) { (try? s.result("needs")) != nil }
        let done = try s.result("needs")
        #expect(done.status == .succeeded && done.worker.pid == a.child.pid, "A ran it: \(done.class) by \(done.worker.pid)")
        // Without A, nobody can run it: B fails it as before, with the reason.
        a.stop()
        try s.submit("orphan.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho ran\n")
        try b.waitFor(timeout: 30) { (try? s.result("orphan")) != nil }
        #expect(try s.result("orphan").class == .workdirMissing)
    }
}
