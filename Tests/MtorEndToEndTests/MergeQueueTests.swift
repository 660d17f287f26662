import Foundation
import Testing
import MtorCore
import MtorPlatform

extension Sandbox {
    /// A merge record from done/.
    func mergeRecord(_ id: String) -> MergeRecord? {
        FileManager.default.contents(atPath: "\(spool)/done/\(id).merge.json").flatMap { try? JSONDecoder().decode(MergeRecord.self, from: $0) }
    }

    /// `mtor merge ARGS` on this sandbox's spool, verify allowed to write the test root.
    func merge(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        try mtor(["merge", "--spool", spool, "--sandbox-writable", root] + args, timeout: 600)
    }

    /// First-parent subjects of main, newest first.
    func mainSubjects() throws -> [String] {
        try git(["log", "--first-parent", "--format=%s", "main"]).split(separator: "\n").map(String.init)
    }
}

@Suite("The merge queue: a night of branches lands with one command", .serialized)
struct MergeQueueTests {
    static func spec(_ body: String, verify: String? = nil, integrate: String = "branch") -> String {
        "---\nrepo: ~/code/widget\nharness: sh\nintegrate: \(integrate)\n\(verify.map { "verify: \($0)\n" } ?? "")---\n\(body)\n"
    }

    @Test("twenty tasks each adding its own file: `mtor merge --all` lands all in finish order, history linear, checkout clean, verify ran twenty times on the rebased commits",
          .timeLimit(.minutes(10)))
    func twenty() throws {
        let s = try Sandbox("merge-twenty")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        let marks = s.root + "/verified"
        for n in 1...20 {
            let verify = "test -f f\(n).txt && echo \"$(git rev-parse HEAD) $PWD\" >> \(marks)"
            try s.submit("t\(n).md", Self.spec(commitBody("f\(n).txt", subject: "t\(n)", nap: "0"), verify: "'\(verify)'"))
        }
        let run = try s.drain(["--concurrency", "4"], timeout: 600)
        #expect(run.code == 0, "\(run.err)")
        let results = try (1...20).map { try s.result("t\($0)") }
        #expect(results.allSatisfy { $0.status == .succeeded }, "\(results.map { "\($0.id): \($0.reason)" })")
        let before = try s.out(["rev-parse", "main"])
        let merged = try s.merge(["--all"])
        #expect(merged.code == 0, "\(merged.out) \(merged.err)")
        let order = results.sorted { ($0.finishedAt, $0.id) < ($1.finishedAt, $1.id) }.map(\.id)
        let lines = merged.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 20 && lines.allSatisfy { $0.contains(": landed: ") }, "\(merged.out)")
        #expect(lines.map { String($0.prefix { $0 != ":" }) } == order, "one line per task, in finish order")
        // Linear history: twenty new commits, each with one parent, in finish order.
        let subjects = try s.mainSubjects()
        #expect(Array(subjects.prefix(20).reversed()) == order, "\(subjects)")
        #expect(try s.out(["rev-list", "--count", "--merges", "\(before)..main"]) == "0")
        #expect(try s.out(["rev-list", "--count", "\(before)..main"]) == "20")
        #expect(try s.git(["status", "--porcelain"]).isEmpty, "the checkout is clean")
        for n in 1...20 { #expect(FileManager.default.fileExists(atPath: s.repo + "/f\(n).txt"), "f\(n).txt in the checkout") }
        // Verify ran once per task in its scratch clone, on exactly the commits now on main.
        let mergeMarks = ((try? String(contentsOfFile: marks, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("/.merge-") }
        let onMain = Set(try s.git(["rev-list", "\(before)..main"]).split(separator: "\n").map(String.init))
        #expect(mergeMarks.count == 20, "\(mergeMarks)")
        #expect(Set(mergeMarks.map { String($0.prefix { $0 != " " }) }) == onMain)
        // Every record says landed with the commit; branches are gone; nothing is left to merge.
        for id in order {
            let record = try #require(s.mergeRecord(id))
            #expect(record.state == .landed && record.commit.map(onMain.contains) == true)
            #expect((try? s.out(["rev-parse", "--verify", "-q", "refs/heads/mtor/\(id)"])) == nil, "the landed branch mtor/\(id) is deleted")
        }
        let again = try s.merge(["--all"])
        #expect(again.code == 0 && again.out.contains("nothing to merge"), "\(again.out)")
        let show = try s.mtor(["show", "t3", "--spool", s.spool])
        #expect(show.out.contains("merge:  landed"), "\(show.out)")
        let json = try s.mtor(["show", "t3", "--json", "--spool", s.spool])
        #expect(json.out.contains("\"state\" : \"landed\""), "\(json.out)")
        #expect(s.workLeftovers().filter { $0.hasPrefix(".merge") }.isEmpty, "\(s.workLeftovers())")
        #expect(try s.mtor(["status", "--spool", s.spool]).out.contains("merge queue: 20 landed"))
        let status = try s.mtor(["status", "--json", "--spool", s.spool])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any])
        #expect((object["merges"] as? [String: Int])?["landed"] == 20, "\(object["merges"] ?? "none")")
    }

    @Test("two tasks editing the same line: the first lands, the second is a conflict naming the file; --resolve queues a follow-up that lands in its place",
          .timeLimit(.minutes(10)))
    func conflict() throws {
        let s = try Sandbox("merge-conflict")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        for (id, word) in [("a", "alpha"), ("b", "beta")] {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 1\ntimeout: 10m\npaths: [README.md]\ntags: [night]\n---\necho \(word) > README.md\ngit commit -q -am '\(id)'\n")
        }
        #expect(try s.drain().code == 0)
        let first = try s.merge(["a"])
        #expect(first.code == 0, "\(first.out)")
        let mainAfterA = try s.out(["rev-parse", "main"])
        let second = try s.merge(["b"])
        #expect(second.code == 1)
        #expect(second.out.contains("b: conflict in README.md"), "\(second.out)")
        #expect(try s.out(["rev-parse", "main"]) == mainAfterA, "a conflict moves nothing")
        #expect(try s.git(["status", "--porcelain"]).isEmpty)
        let record = try #require(s.mergeRecord("b"))
        #expect(record.state == .conflict && record.files == ["README.md"])
        #expect(try s.mtor(["show", "b", "--spool", s.spool]).out.contains("conflicting files: README.md"))
        let resolve = try s.merge(["--resolve", "b"])
        #expect(resolve.code == 0, "\(resolve.out) \(resolve.err)")
        let follow = try #require(s.mergeRecord("b")?.followUp)
        #expect(try s.drain().code == 0)
        let followResult = try s.result(follow)
        #expect(followResult.status == .succeeded, "\(followResult.reason)")
        #expect(followResult.spec.meta["x-mtor-origin"] == .string("b"), "the follow-up names its origin")
        #expect(try s.mtor(["show", follow, "--spool", s.spool]).out.contains("origin: follow-up of b"))
        #expect(try s.mtor(["show", "b", "--spool", s.spool]).out.contains("follow-up \(follow)"), "the origin names its follow-up")
        // The prompt carried the conflict as context, inert to the shell.
        let spec = try String(contentsOfFile: "\(s.spool)/done/\(follow).md", encoding: .utf8)
        #expect(spec.contains("# Conflicting files: README.md") && spec.contains("+alpha") && spec.contains("+beta"), "\(spec)")
        #expect(spec.contains("retries: 1\n") && spec.contains("timeout: \"10m\"") && spec.contains("paths: [\"README.md\"]"), "the spec's keys carry over: \(spec)")
        // --all takes the follow-up in place of b.
        let all = try s.merge(["--all"])
        #expect(all.code == 0, "\(all.out)")
        #expect(all.out.contains("\(follow): landed"), "\(all.out)")
        #expect(try String(contentsOfFile: s.repo + "/README.md", encoding: .utf8) == "beta\n")
        #expect(try s.merge(["b"]).out.contains("via follow-up \(follow)"))
        #expect((try? s.out(["rev-parse", "--verify", "-q", "refs/heads/mtor/b"])) == nil, "the replaced branch is gone")
        #expect(s.mergeRecord("b")?.reason.contains("replaced by its follow-up \(follow)") == true)
    }

    @Test("integrate: merge with on_conflict: agent: the second of two tasks editing one line conflicts at task end, its follow-up is queued at once and lands",
          .timeLimit(.minutes(10)))
    func conflictToAgent() throws {
        let s = try Sandbox("merge-onconflict")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        let gate = s.root + "/gate"
        // b starts from the same base as a, but commits only after a has landed.
        try s.submit("a.md", "---\nrepo: ~/code/widget\nharness: sh\nintegrate: merge\non_conflict: agent\n---\necho alpha > README.md\ngit commit -q -am a\ntouch \(gate)\n")
        try s.submit("b.md", "---\nrepo: ~/code/widget\nharness: sh\nintegrate: merge\non_conflict: agent\n---\nwhile [ ! -f \(gate) ]; do sleep 0.1; done\nsleep 1\necho beta > README.md\ngit commit -q -am b\n")
        let run = try s.drain(["--concurrency", "2"], timeout: 300)
        #expect(run.code == 0, "\(run.err)")
        #expect(try s.result("a").git?.integrated == "merged")
        let b = try s.result("b")
        #expect(b.status == .succeeded && b.git?.integrated == "branch", "\(b.git?.integratedReason ?? "")")
        #expect(b.git?.integratedReason?.contains("README.md") == true)
        let record = try #require(s.mergeRecord("b"))
        #expect(record.state == .conflict && record.files == ["README.md"])
        let follow = try #require(record.followUp, "on_conflict: agent queued a follow-up")
        if !s.exists("done/\(follow).result.json") { #expect(try s.drain().code == 0) }
        let f = try s.result(follow)
        #expect(f.status == .succeeded && f.git?.integrated == "merged", "\(f.reason) \(f.git?.integratedReason ?? "")")
        #expect(try String(contentsOfFile: s.repo + "/README.md", encoding: .utf8) == "beta\n")
        #expect(try s.mainSubjects().prefix(2) == ["b", "a"])
        #expect((try? s.out(["rev-parse", "--verify", "-q", "refs/heads/mtor/b"])) == nil, "the replaced branch is gone")
    }

    @Test("a task whose rebased commit fails verify does not move the base; a branch that gained a commit after the task lands only head_after",
          .timeLimit(.minutes(10)))
    func verifyAndRecordedCommit() throws {
        let s = try Sandbox("merge-verify")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        try s.submit("one.md", Self.spec(commitBody("one.txt", subject: "one", nap: "0")))
        // Passes in the task's clone (no one.txt there), fails once rebased onto a main that has it.
        try s.submit("two.md", Self.spec(commitBody("two.txt", subject: "two", nap: "0"), verify: "'test ! -f one.txt && echo no one.txt || { echo one.txt is here; exit 3; }'"))
        try s.submit("three.md", Self.spec(commitBody("three.txt", subject: "three", nap: "0")))
        #expect(try s.drain().code == 0)
        let two = try s.result("two")
        #expect(two.status == .succeeded, "\(two.reason)")
        #expect(try s.merge(["one"]).code == 0)
        let mainBefore = try s.out(["rev-parse", "main"])
        let failed = try s.merge(["two"])
        #expect(failed.code == 1)
        #expect(failed.out.contains("two: verify failed") && failed.out.contains("one.txt is here"), "\(failed.out)")
        #expect(try s.out(["rev-parse", "main"]) == mainBefore, "verify failed: main did not move")
        #expect(s.mergeRecord("two")?.state == .verifyFailed)
        #expect(try s.out(["rev-parse", "mtor/two"]) == two.git?.headAfter, "its branch stays for a look")
        // After `three` finished, its branch gains a commit: only head_after lands.
        let three = try s.result("three")
        let recorded = try #require(three.git?.headAfter)
        let tree = try s.out(["rev-parse", "\(recorded)^{tree}"])
        let extra = try s.out(["commit-tree", tree, "-p", recorded, "-m", "added later"])
        try s.git(["update-ref", "refs/heads/mtor/three", extra])
        let landed = try s.merge(["three"])
        #expect(landed.code == 0, "\(landed.out)")
        #expect(try s.mainSubjects().first == "three")
        #expect(!(try s.mainSubjects()).contains("added later"))
        #expect(try s.out(["rev-parse", "mtor/three"]) == extra, "a branch that moved on is not deleted")
        // Exit codes: several IDs, one of which did not land.
        #expect(try s.merge(["three", "two"]).code == 1)
        #expect(try s.merge(["no-such"]).code == 4)
        // A dry run says what would happen and moves nothing: two would land on a main that has one.txt only if verify passed (not run).
        let mainNow = try s.out(["rev-parse", "main"])
        let dry = try s.merge(["--dry-run", "two"])
        #expect(dry.code == 0 && dry.out.contains("two: would_land: dry run"), "\(dry.out)")
        #expect(try s.out(["rev-parse", "main"]) == mainNow && s.mergeRecord("two")?.state == .verifyFailed, "a dry run writes nothing")
    }

    @Test("two `mtor merge ID --keep-branch` of one task at once: it lands once, the other says already landed, the record stays landed",
          .timeLimit(.minutes(15)))
    func sameTaskTwice() throws {
        let s = try Sandbox("merge-twice")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        try s.submit("x.md", Self.spec(commitBody("x.txt", subject: "x", nap: "0"), verify: "'sleep 1'"))
        try s.submit("y.md", Self.spec(commitBody("y.txt", subject: "y", nap: "0")))
        #expect(try s.drain().code == 0)
        #expect(try s.merge(["y"]).code == 0, "main moves on, so x is rebased")
        let outs = Outputs()
        let argv = [mtorBinary, "merge", "x", "--keep-branch", "--spool", s.spool, "--sandbox-writable", s.root], env = s.environment, dir = s.root
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let r = try? ChildProcess.run(argv, environment: env, directory: dir, timeout: 300)
            outs.add("\(r?.0.exitCode ?? -1) \(r.map { String(decoding: $0.stdout, as: UTF8.self) } ?? "")")
        }
        let both = outs.all
        #expect(both.allSatisfy { $0.hasPrefix("0 ") }, "\(both)")
        #expect(both.filter { $0.contains("already landed") }.count == 1, "\(both)")
        #expect(try s.mainSubjects().prefix(3) == ["x", "y", "seed"])
        #expect(s.mergeRecord("x")?.state == .landed)
    }

    @Test("--merge-commit lands a task on a moved base as a merge commit whose second parent is its recorded head_after", .timeLimit(.minutes(15)))
    func mergeCommit() throws {
        let s = try Sandbox("merge-commit")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        for id in ["p", "q"] { try s.submit("\(id).md", Self.spec(commitBody("\(id).txt", subject: id, nap: "0"), verify: "'test -f \(id).txt'")) }
        #expect(try s.drain().code == 0)
        #expect(try s.merge(["p"]).code == 0)
        let before = try s.out(["rev-parse", "main"])
        let q = try s.result("q")
        let r = try s.merge(["q", "--merge-commit"])
        #expect(r.code == 0, "\(r.out) \(r.err)")
        let parents = try s.out(["rev-list", "--parents", "-n", "1", "main"]).split(separator: " ").map(String.init)
        #expect(parents.count == 3 && parents[1] == before && parents[2] == q.git?.headAfter, "\(parents)")
        #expect(FileManager.default.fileExists(atPath: s.repo + "/q.txt") && FileManager.default.fileExists(atPath: s.repo + "/p.txt"))
        #expect(s.mergeRecord("q")?.commit == parents[0])
    }

    @Test("integrate: merge from two workers and a CLI `mtor merge --all` at once on one repository: no lost update, no double land",
          .timeLimit(.minutes(10)))
    func concurrent() throws {
        let s = try Sandbox("merge-race")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        // Tasks of a second spool, finished and waiting for the CLI.
        let other = s.root + "/spool2"
        for n in 1...4 {
            try s.submit("cli\(n).md", Self.spec(commitBody("cli\(n).txt", subject: "cli\(n)", nap: "0")))
        }
        #expect(try s.drain(["--concurrency", "2"]).code == 0)
        try FileManager.default.moveItem(atPath: s.spool, toPath: other)
        let before = try s.out(["rev-parse", "main"])
        let w1 = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { w1.stop() }
        let w2 = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { w2.stop() }
        try w1.waitUntilStarted()
        try w2.waitUntilStarted()
        for n in 1...8 {
            try s.submit("w\(n).md", Self.spec(commitBody("w\(n).txt", subject: "w\(n)", nap: "0"), verify: "true", integrate: "merge"))
        }
        let cli = try s.mtor(["merge", "--all", "--spool", other, "--sandbox-writable", s.root], timeout: 600)
        #expect(cli.code == 0, "\(cli.out) \(cli.err)")
        try w1.waitFor(timeout: 300) { (1...8).allSatisfy { s.exists("done/w\($0).result.json") || s.exists("failed/w\($0).result.json") } }
        for n in 1...8 {
            let r = try s.result("w\(n)")
            #expect(r.git?.integrated == "merged", "w\(n): \(r.git?.integratedReason ?? "")")
            #expect(s.mergeRecord("w\(n)")?.state == .landed)
        }
        let subjects = try s.git(["log", "--format=%s", "\(before)..main"]).split(separator: "\n").map(String.init)
        #expect(subjects.count == 12, "\(subjects)")
        #expect(Set(subjects) == Set((1...8).map { "w\($0)" } + (1...4).map { "cli\($0)" }), "each landed exactly once")
        #expect(try s.out(["rev-list", "--count", "--merges", "\(before)..main"]) == "0")
        #expect(try s.git(["status", "--porcelain"]).isEmpty)
        for n in 1...8 { #expect(FileManager.default.fileExists(atPath: s.repo + "/w\(n).txt")) }
        for n in 1...4 { #expect(FileManager.default.fileExists(atPath: s.repo + "/cli\(n).txt")) }
    }
}

/// Lines gathered from several threads.
final class Outputs: @unchecked Sendable {  // `lock` guards `lines`
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
