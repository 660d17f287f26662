import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Review flags and integration of a task's branch", .serialized)
struct WorkspaceReviewTests {
    @Test("each review flag from a real diff; flags never change the status; status counts flagged successes and show prints the flags first",
          .timeLimit(.minutes(10)))
    func flags() throws {
        let s = try Sandbox("ws-review")
        s.lockfile(Lockfiles.make([]))
        try s.seed([
            "src/big.txt": (1...40).map { "line \($0)\n" }.joined(),
            "old.txt": (1...10).map { "old \($0)\n" }.joined(),
            "Tests/ParserTests.swift": (1...10).map { "// test \($0)\n" }.joined(),
            "docs/guide.md": "# Guide\n",
        ])
        func spec(_ id: String, _ body: String, extra: String = "") throws {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\n\(extra)---\n\(body)\n")
        }
        try spec("shrink", "seq 1 5 > src/big.txt\ngit commit -q -am shrink")
        try spec("delete", "git rm -q old.txt\ngit commit -q -m 'drop old'")
        try spec("tests", "git rm -q Tests/ParserTests.swift\ngit commit -q -m 'drop tests'")
        try spec("large", "seq 1 100 > gen.txt\ngit add gen.txt\ngit commit -q -m gen")
        try spec("outside", "echo more >> docs/guide.md\ngit commit -q -am docs", extra: "paths: [src]\n")
        try spec("inside", "echo more >> src/big.txt\ngit commit -q -am src", extra: "paths: [src]\n")
        let run = try s.drain(["--review-max-lines", "50", "--concurrency", "3"])
        #expect(run.code == 0, "\(run.err)")
        let expected: [String: [Review.Flag]] = [
            "shrink": [.fileShrunk], "delete": [.pureDeletion], "tests": [.pureDeletion, .testsDeleted],
            "large": [.largeDiff], "outside": [.touchedOutside], "inside": [],
        ]
        for (id, flags) in expected {
            let r = try s.result(id)
            #expect(r.status == .succeeded, "\(id): \(r.reason)")
            #expect(r.review?.flags == flags, "\(id): \(r.review?.notes ?? [])")
            #expect(r.review?.diffstat == r.git?.diffstat)
        }
        #expect(try s.result("shrink").review?.diffstat == Review.Diffstat(files: 1, insertions: 5, deletions: 40))
        #expect(try s.result("large").review?.notes.first?.contains("100 changed lines") == true)
        let status = try s.mtor(["status", "--json", "--spool", s.spool])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any])
        let recent = try #require(object["recent"] as? [String: Any])
        #expect(recent["succeeded"] as? Int == 6)
        #expect(recent["flagged"] as? Int == 5, "\(recent)")
        #expect(try s.mtor(["status", "--spool", s.spool]).out.contains("6 succeeded (5 flagged for review)"))
        let show = try s.mtor(["show", "shrink", "--spool", s.spool]).out.split(separator: "\n").map(String.init)
        #expect(show.count > 2 && show[1].hasPrefix("  FLAGS:  file_shrunk"), "\(show)")
        #expect(show[2].contains("src/big.txt (40 → 5)"), "\(show)")
        #expect(try s.worktrees() == [s.repo])
    }

    @Test("integrate: merge lands onto a clean checkout; a dirty checkout leaves the branch with the reason; a moved base is rebased onto; mtor merge ID later; push to a bare origin",
          .timeLimit(.minutes(10)))
    func integrate() throws {
        let s = try Sandbox("ws-integrate")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        let remote = s.root + "/origin.git"
        _ = try ChildProcess.run(["git", "init", "-q", "--bare", remote], environment: s.environment)
        try s.git(["remote", "add", "origin", remote])
        func task(_ id: String, _ integrate: String, before: String = "", worker extra: [String] = []) throws -> TaskResult {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\nintegrate: \(integrate)\n---\n\(before)\(commitBody("\(id).txt", subject: id, nap: "0"))\n")
            let run = try s.drain(extra)
            #expect(run.code == 0, "\(run.err)")
            return try s.result(id)
        }
        // Safe: the checked-out main is clean and has not moved.
        let safe = try task("safe", "merge")
        #expect(safe.status == .succeeded)
        #expect(safe.git?.integrated == "merged", "\(safe.git?.integratedReason ?? "")")
        #expect(try s.out(["rev-parse", "main"]) == safe.git?.headAfter)
        #expect(FileManager.default.fileExists(atPath: s.repo + "/safe.txt"), "the checkout was fast-forwarded")
        #expect(try s.git(["status", "--porcelain"]).isEmpty)
        // Unsafe: the checkout has uncommitted changes.
        try "edited by hand\n".write(toFile: s.repo + "/README.md", atomically: true, encoding: .utf8)
        let mainBefore = try s.out(["rev-parse", "main"])
        let dirty = try task("dirty", "merge")
        #expect(dirty.status == .succeeded, "integration never changes the status")
        #expect(dirty.git?.integrated == "branch")
        #expect(dirty.git?.integratedReason?.contains("uncommitted changes") == true, "\(dirty.git?.integratedReason ?? "")")
        #expect(try s.out(["rev-parse", "main"]) == mainBefore)
        #expect(try s.git(["diff", "--name-only"]) == "README.md\n", "the user's edit is untouched")
        let refused = try s.mtor(["merge", "dirty", "--spool", s.spool])
        #expect(refused.code == 1)
        #expect(refused.out.contains("uncommitted changes"), "\(refused.out)")
        try s.git(["checkout", "--", "README.md"])
        let merged = try s.mtor(["merge", "dirty", "--spool", s.spool])
        #expect(merged.code == 0, "\(merged.out) \(merged.err)")
        #expect(try s.out(["rev-parse", "main"]) == dirty.git?.headAfter)
        #expect(FileManager.default.fileExists(atPath: s.repo + "/dirty.txt"))
        // Unsafe: main moves on while the task runs.
        // The agent moves main itself while it runs: only an unsandboxed agent can write the user's
        // repository (a sandboxed one cannot: AgentGuestTests).
        let moved = try task("moved", "merge", before: "git -C \(s.repo) commit -q --allow-empty -m 'meanwhile on main'\n", worker: ["--sandbox", "none"])
        // The merge queue rebases the task onto the moved main and lands it.
        #expect(moved.git?.integrated == "merged", "\(moved.git?.integratedReason ?? "")")
        #expect(try s.out(["log", "-2", "--format=%s", "main"]) == "moved\nmeanwhile on main")
        let later = try s.mtor(["merge", "moved", "--spool", s.spool, "--json"])
        #expect(later.code == 0, "an already landed task counts as landed")
        #expect(later.out.contains("\"state\" : \"landed\""), "\(later.out)")
        #expect(try s.mtor(["merge", "no-such-task", "--spool", s.spool]).code == 4)
        // Push to origin (a local bare repository).
        let pushed = try task("pushed", "push")
        #expect(pushed.git?.integrated == "pushed", "\(pushed.git?.integratedReason ?? "")")
        let remoteTip = try ChildProcess.run(["git", "--git-dir", remote, "rev-parse", "refs/heads/mtor/pushed"], environment: s.environment)
        #expect(String(decoding: remoteTip.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == pushed.git?.headAfter)
        // A push that cannot succeed leaves the branch with git's reason.
        try s.git(["remote", "set-url", "origin", s.root + "/nowhere.git"])
        let lost = try task("lost", "push")
        #expect(lost.status == .succeeded && lost.git?.integrated == "branch")
        #expect(lost.git?.integratedReason?.contains("git push to origin failed") == true, "\(lost.git?.integratedReason ?? "")")
        #expect(try s.worktrees() == [s.repo])
    }

    @Test("in place: the agent works in the checkout; a second in-place task on the same repo waits, and status says why", .timeLimit(.minutes(10)))
    func inPlace() throws {
        let s = try Sandbox("ws-inplace")
        s.lockfile(Lockfiles.make([]))
        let times = s.root + "/times"
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        for id in ["first", "second"] {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\nworkspace: in-place\n---\necho \(id)-start >> \(times)\nsleep 2\necho \(id) > \(id).txt\ngit add \(id).txt\ngit commit -q -m \(id)\necho \(id)-end >> \(times)\n")
            if id == "first" { try worker.waitFor { (try? String(contentsOfFile: times, encoding: .utf8))?.contains("first-start") == true } }
        }
        try worker.waitFor { s.read("state/worker.json").contains("in-place task first is running") }
        let status = try s.mtor(["status", "--spool", s.spool]).out
        #expect(status.contains("inbox/second.md: in-place task first is running"), "\(status)")
        try worker.waitFor(timeout: 60) { s.exists("done/second.result.json") || s.exists("failed/second.result.json") }
        let order = try String(contentsOfFile: times, encoding: .utf8).split(separator: "\n")
        #expect(order == ["first-start", "first-end", "second-start", "second-end"])
        for id in ["first", "second"] {
            let r = try s.result(id)
            #expect(r.status == .succeeded, "\(r.reason)")
            #expect(r.git?.commits.map(\.subject) == [id])
            #expect(r.git?.branch == nil)
        }
        #expect(try s.out(["log", "-2", "--format=%s"]) == "second\nfirst", "in place, the commits land on the checked-out branch")
        #expect(s.workLeftovers().isEmpty)
    }
}
