import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Task clones across kills and restarts", .serialized)
struct WorkspaceCrashTests {
    @Test("the worker is SIGKILLed mid-attempt: the retry continues on the same branch and finds the first attempt's commit", .timeLimit(.minutes(10)))
    func retryAfterKill() throws {
        let s = try Sandbox("ws-kill")
        s.lockfile(Lockfiles.make([]))
        let mark = s.root + "/first-attempt-committed"
        try s.submit("resume.md", """
            ---
            repo: ~/code/widget
            harness: sh
            ---
            if [ -f first.txt ]; then
              echo second > second.txt && git add second.txt && git commit -q -m second
            else
              echo first > first.txt && git add first.txt && git commit -q -m first
              echo uncommitted > scratch.txt
              touch \(mark)
              sleep 120
            fi
            """)
        let first = try BackgroundWorker(s)
        try first.waitFor(timeout: 60) { FileManager.default.fileExists(atPath: mark) }
        #expect(first.child.signal(SIGKILL))
        try first.waitFor { first.child.isReaped }
        #expect(s.exists("claimed/resume.md"), "\(s.listing())")
        #expect(try s.worktrees() == [s.repo], "a task's clone is no worktree of the repo")
        #expect(FileManager.default.fileExists(atPath: s.spool + "/work/resume/.git/HEAD"), "the dead worker's clone is still there")
        #expect(try s.out(["log", "--format=%s", "main..mtor/resume"]).isEmpty, "the first attempt's commit is only in the clone until the worker brings it back")
        // What a git killed mid-commit leaves in the clone: its index lock (seen when the kill lands there).
        writeFixture(s.spool + "/work/resume/.git/index.lock", Data())
        // And a worker killed while it bundled the branch: git's lock on the bundle (it made the next bundle fail).
        writeFixture(s.spool + "/work/resume/.git/mtor-branch.bundle.lock", Data())
        let second = try BackgroundWorker(s)
        defer { second.stop() }
        try second.waitFor(timeout: 90) { s.exists("done/resume.result.json") || s.exists("failed/resume.result.json") }
        let r = try s.result("resume")
        #expect(r.status == .succeeded, "\(r.reason) / \(s.read("logs/resume.log").suffix(3000))")
        #expect(r.attempts.map(\.class) == [.interrupted, .ok])
        #expect(r.git?.commits.map(\.subject).prefix(2) == ["first", "second"], "\(r.git?.commits ?? [])")
        #expect(try s.out(["log", "--format=%s", "main..mtor/resume"]).split(separator: "\n").contains("first"))
        #expect(try s.worktrees() == [s.repo])
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers())")
        first.stop()
    }

    @Test("hygiene: after 200 tasks, some killed with their worker and some killing themselves, git worktree list shows only the main checkout",
          .timeLimit(.minutes(10)))
    func twoHundred() throws {
        let s = try Sandbox("ws-hygiene")
        s.lockfile(Lockfiles.make([]))
        let count = 200
        let ids = (0..<count).map { String(format: "h%03d", $0) }
        for (i, id) in ids.enumerated() {
            // Every 25th agent dies by SIGKILL itself; every 10th sleeps a little, so kills land mid-attempt.
            // A rerun after a kill finds the branch as the first attempt left it: done work is not redone.
            let body = i % 25 == 7 ? "echo doomed > \(id).txt\nkill -KILL $$"
                : "git log -1 --format=%s | grep -qx \(id) && exit 0\n\(i % 10 == 3 ? "sleep 0.3\n" : "")\(commitBody("\(id).txt", subject: id, nap: "0"))"
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 1\n---\n\(body)\n")
        }
        func finished() -> Int {
            ["done", "failed"].reduce(0) { n, dir in n + ((try? FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)")) ?? []).filter { $0.hasSuffix(".result.json") }.count }
        }
        var killedMidAttempt = 0
        for target in [50, 110] {
            let w = try BackgroundWorker(s, extra: ["--concurrency", "4"])
            try w.waitFor(timeout: 300) { finished() >= target }
            killedMidAttempt += ((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/claimed")) ?? []).filter { $0.hasSuffix(".md") }.count
            w.child.signal(SIGKILL)
            try w.waitFor { w.child.isReaped }
            w.stop()
        }
        #expect(killedMidAttempt > 0, "some tasks were claimed when their worker died")
        let last = try BackgroundWorker(s, extra: ["--concurrency", "4"])
        defer { last.stop() }
        try last.waitFor(timeout: 400) { finished() == count }
        var succeeded = 0
        for (i, id) in ids.enumerated() {
            let r = try s.result(id)
            if i % 25 == 7 {
                #expect(r.status == .failed, "\(id) killed itself")
            } else {
                #expect(r.status == .succeeded, "\(id): \(r.class.rawValue) \(r.reason) / \(s.read("logs/\(id).log").suffix(1500))")
                #expect(r.git?.commits.map(\.subject) == [id], "\(id): \(r.git?.commits ?? [])")
                succeeded += r.status == .succeeded ? 1 : 0
            }
        }
        #expect(succeeded == count - 8)
        #expect(try s.worktrees() == [s.repo])
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers().prefix(10))")
        let admin = (try? FileManager.default.contentsOfDirectory(atPath: s.repo + "/.git/worktrees")) ?? []
        #expect(admin.isEmpty, "stale worktree entries: \(admin.prefix(10))")
        // Every task that committed has its branch, none doubled; the 8 that died without a commit left none.
        let branches = Set(try s.git(["branch", "--list", "--format=%(refname:short)", "mtor/*"]).split(separator: "\n").map(String.init))
        #expect(branches == Set(ids.enumerated().filter { $0.offset % 25 != 7 }.map { "mtor/\($0.element)" }), "\(branches.count) branches")
        #expect(try s.git(["status", "--porcelain"]).isEmpty)
    }
}
