import Foundation
import Testing
import MtorCore

@Suite("The worker runs real specs end to end")
struct WalkingSkeletonTests {
    @Test("real Claude Code: a ~ repo and YAML frontmatter; the agent writes a file and commits it", .timeLimit(.minutes(10)), .requiresClaude)
    func claudeCommits() throws {
        let s = try Sandbox("claude-commit")
        let provider = try ScriptedProvider(scenario: "commit", key: "sk-test-commit-4711")
        s.lockfile(Lockfiles.make([.init(name: "scripted", baseURL: provider.baseURL)]))
        s.envFile("export SCRIPTED_KEY=\"sk-test-commit-4711\"\n")
        try s.submit("add-hello.md", """
            ---
            repo: ~/code/widget   # tilde: expanded by the worker
            provider: scripted
            timeout: 2m
            stall: 60s
            ---
            Create hello.txt and commit it.
            """)
        let run = try s.drain()
        #expect(run.code == 0, "worker stderr: \(run.err)")
        let r = try s.result("add-hello")
        #expect(r.status == .succeeded, "\(r.reason) / \(s.read("logs/add-hello.log"))")
        #expect(r.class == .ok)
        #expect(r.spec.repo == s.repo)
        #expect(r.attempts.count == 1)
        #expect(r.git?.commits.map(\.subject) == ["Add hello.txt"])
        // The commit is on the task's own branch; the user's checkout is untouched.
        #expect(r.git?.branch == "mtor/add-hello")
        #expect(r.git?.headAfter == (try s.git(["rev-parse", "mtor/add-hello"])).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try s.git(["show", "mtor/add-hello:hello.txt"]).contains("hello"))
        #expect(try s.git(["status", "--porcelain"]).isEmpty)
        #expect(s.exists("done/add-hello.md"))
        #expect(!s.exists("inbox/add-hello.md") && !s.exists("claimed/add-hello.md"))
        // The frontmatter never reached the model; the secret was sent as a Bearer token.
        let main = provider.requests.filter { ($0["kind"] as? String) == "main" }
        #expect(!main.isEmpty)
        #expect(main.allSatisfy { ($0["auth_header"] as? String) == "Bearer sk-test-commit-4711" })
        let log = s.read("logs/add-hello.log")
        #expect(!log.contains("sk-test-commit-4711"))
        #expect(!s.read("done/add-hello.result.json").contains("sk-test-commit-4711"))
    }

    @Test("the sh harness runs a spec without any provider and its commit is listed", .timeLimit(.minutes(10)))
    func shCommits() throws {
        let s = try Sandbox("sh-commit")
        s.lockfile(Lockfiles.make([]))
        try s.submit("sh-task.md", """
            ---
            repo: $HOME/code/widget
            harness: sh
            ---
            echo "from sh" > sh.txt
            git add sh.txt && git commit -q -m "sh was here"
            """)
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let r = try s.result("sh-task")
        #expect(r.status == .succeeded, "\(r.reason)")
        #expect(r.git?.commits.map(\.subject) == ["sh was here"])
        #expect(r.git?.headBefore != r.git?.headAfter)
        let ledger = s.read("state/ledger.jsonl").split(separator: "\n")
        #expect(ledger.count == 3, "claimed, attempt, succeeded: \(ledger)")
    }

    @Test("a spec with a typo'd key fails at once as spec_invalid naming the key, with no attempt", .timeLimit(.minutes(10)))
    func invalidSpec() throws {
        let s = try Sandbox("invalid")
        s.lockfile(Lockfiles.make([]))
        try s.submit("typo.md", "---\nreop: ~/code/widget\nharness: sh\n---\necho hi\n")
        try s.drain()
        let r = try s.result("typo")
        #expect(r.status == .failed)
        #expect(r.class == .specInvalid)
        #expect(r.reason.contains("'reop'") && r.reason.contains("'repo'"))
        #expect(r.attempts.isEmpty)
    }

    @Test("a repo that is not cloned fails as workdir_missing, naming the expanded path", .timeLimit(.minutes(10)))
    func missingRepo() throws {
        let s = try Sandbox("norepo")
        s.lockfile(Lockfiles.make([]))
        try s.submit("gone.md", "---\nrepo: ~/code/not-cloned\nharness: sh\n---\necho hi\n")
        try s.drain()
        let r = try s.result("gone")
        #expect(r.class == .workdirMissing)
        #expect(r.reason.contains(s.home + "/code/not-cloned"))
        #expect(r.attempts.isEmpty)
    }

    @Test("a spec dropped while the worker runs is picked up by inotify, not by the minute rescan", .timeLimit(.minutes(10)))
    func livePickup() throws {
        let s = try Sandbox("live")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try s.submit("live.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho live\n")
        let dropped = Date()
        try worker.waitFor { s.exists("done/live.result.json") }
        #expect(Date().timeIntervalSince(dropped) < 10, "picked up well before the 60 s rescan")
        #expect(try s.result("live").status == .succeeded)
    }

    @Test("a name that collides with a finished task gets a suffix instead of overwriting", .timeLimit(.minutes(10)))
    func collision() throws {
        let s = try Sandbox("collide")
        s.lockfile(Lockfiles.make([]))
        try s.submit("same.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho one\n")
        try s.drain()
        try s.submit("same.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho two\n")
        try s.drain()
        #expect(try s.result("same").status == .succeeded)
        #expect(try s.result("same-2").status == .succeeded)
        #expect(s.read("done/same.md").contains("echo one"))
        #expect(s.read("done/same-2.md").contains("echo two"))
    }
}
