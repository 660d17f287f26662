import Foundation
import Testing
import MtorCore
import MtorPlatform

extension Sandbox {
    /// `git ARGS` in the user's checkout, trimmed.
    func out(_ args: [String]) throws -> String { try git(args).trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The paths `git worktree list` shows for the repo.
    func worktrees() throws -> [String] {
        try git(["worktree", "list", "--porcelain"]).split(separator: "\n").filter { $0.hasPrefix("worktree ") }.map { String($0.dropFirst(9)) }
    }

    /// What is left under the default workspaces directory.
    /// The worktree pool's directory (`.pool-<host>`, its ready clones) is the worker's, not a task's leftover.
    func workLeftovers() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/work")) ?? []).filter { !$0.hasPrefix(".pool-") } }

    /// Writes and commits files in the user's checkout.
    func seed(_ files: [String: String]) throws {
        for (path, text) in files {
            try FileManager.default.createDirectory(atPath: FileSystem.directory(of: repo + "/" + path), withIntermediateDirectories: true)
            try text.write(toFile: repo + "/" + path, atomically: true, encoding: .utf8)
        }
        try git(["add", "-A"])
        try git(["commit", "-q", "-m", "seed"])
    }
}

/// A `sh` spec body that writes `file`, waits, and commits it: the collision of issue 11 when run in one checkout.
func commitBody(_ file: String, subject: String, nap: String = "1") -> String {
    "echo '\(subject)' > \(file)\nsleep \(nap)\ngit add \(file)\ngit commit -q -m '\(subject)'"
}

@Suite("Every task in its own clone and branch", .serialized)
struct WorkspaceTests {
    @Test("8 tasks at --concurrency 8 on one repo (2 on the real Claude Code CLI): each succeeds with exactly its own commit on its own branch; the checkout is untouched",
          .requiresClaude, .timeLimit(.minutes(10)))
    func eightAtOnce() throws {
        let s = try Sandbox("ws-eight")
        // Two providers writing different files: identical content would make identical commits.
        let providers = try (0..<2).map { try ScriptedProvider(scenario: "commit", key: "sk-ws-eight", extra: ["--repo-file", "hello-\($0).txt"]) }
        s.lockfile(Lockfiles.make(providers.enumerated().map { .init(name: "scripted\($0.offset)", baseURL: $0.element.baseURL) }))
        s.envFile("SCRIPTED_KEY=sk-ws-eight\n")
        try s.seed(["README.md": "widget\n"])
        try "scratch\n".write(toFile: s.repo + "/notes.txt", atomically: true, encoding: .utf8)  // untracked, the user's own
        let head = try s.out(["rev-parse", "HEAD"])
        let statusBefore = try s.git(["status", "--porcelain"])
        let shIDs = (0..<6).map { "sh-\($0)" }, claudeIDs = ["claude-0", "claude-1"]
        for id in shIDs { try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\n---\n\(commitBody("\(id).txt", subject: id))\n") }
        for (n, id) in claudeIDs.enumerated() {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nprovider: scripted\(n)\ntimeout: 4m\nstall: 2m\n---\nCreate hello-\(n).txt and commit it.\n")
        }
        let run = try s.drain(["--concurrency", "8"], timeout: 500)
        #expect(run.code == 0, "\(run.err)")
        var seen: Set<String> = []
        for id in shIDs + claudeIDs {
            let r = try s.result(id)
            #expect(r.status == .succeeded, "\(id): \(r.class.rawValue) \(r.reason) / \(s.read("logs/\(id).log").suffix(2000))")
            let g = try #require(r.git)
            #expect(g.branch == "mtor/\(id)")
            #expect(g.headBefore == head && g.base == "main")
            #expect(g.commits.count == 1, "\(id): \(g.commits)")
            #expect(g.commits.first?.subject == (id.hasPrefix("sh") ? id : "Add hello-\(id.suffix(1)).txt"))
            let sha = try #require(g.commits.first?.sha)
            let tip = try s.out(["rev-parse", "mtor/\(id)"])
            #expect(sha == g.headAfter && sha == tip)
            #expect(try s.out(["log", "--format=%H", "main..mtor/\(id)"]) == sha, "the branch holds this task's commit and nothing else")
            #expect(!seen.contains(sha))
            seen.insert(sha)
            #expect(r.review?.flags == [], "\(id): \(r.review?.notes ?? [])")
        }
        #expect(try s.out(["rev-parse", "HEAD"]) == head)
        #expect(try s.out(["symbolic-ref", "HEAD"]) == "refs/heads/main")
        #expect(try s.git(["status", "--porcelain"]) == statusBefore, "the user's index and working tree are as they were")
        #expect(try s.worktrees() == [s.repo])
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers())")
        for p in providers { #expect(p.requests.filter { ($0["kind"] as? String) == "main" }.count >= 3, "the real CLI did the Write/Bash/answer turns") }
    }

    @Test("copy: and setup: prepare the worktree (the agent needs the copied .env, which is never committed); a failing setup is setup_failed, never retried",
          .timeLimit(.minutes(10)))
    func copyAndSetup() throws {
        let s = try Sandbox("ws-setup")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        try "TOKEN=tok-4711\n".write(toFile: s.repo + "/.env", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: s.repo + "/config", withIntermediateDirectories: true)
        try "port: 8080\n".write(toFile: s.repo + "/config/local.yml", atomically: true, encoding: .utf8)
        try s.submit("copy.md", """
            ---
            repo: ~/code/widget
            harness: sh
            copy: [.env, config/local.yml]
            setup: grep -q TOKEN= .env && grep -q 8080 config/local.yml && echo setup-ran
            ---
            . ./.env
            echo "$TOKEN" > token.txt
            git add token.txt && git commit -q -m token
            """)
        try s.submit("broken.md", "---\nrepo: ~/code/widget\nharness: sh\nsetup: echo 'npm ERR! could not resolve left-pad' >&2; exit 7\n---\ntouch never-ran\n")
        try s.submit("nofile.md", "---\nrepo: ~/code/widget\nharness: sh\ncopy: [secrets.json]\n---\ntouch never-ran\n")
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let ok = try s.result("copy")
        #expect(ok.status == .succeeded, "\(ok.reason) / \(s.read("logs/copy.log"))")
        #expect(ok.setup?.exitCode == 0)
        #expect(ok.setup?.outputTail.contains("setup-ran") == true)
        #expect(try s.git(["show", "mtor/copy:token.txt"]) == "tok-4711\n")
        #expect(throws: (any Error).self, "the copied .env is not committed") { try s.git(["show", "mtor/copy:.env"]) }
        #expect(ok.review?.flags == [])
        let broken = try s.result("broken")
        #expect(broken.class == .setupFailed, "\(broken.reason)")
        #expect(broken.status == .failed)
        #expect(broken.attempts.isEmpty, "the agent never ran, and setup_failed is never retried")
        #expect(broken.setup?.exitCode == 7)
        #expect(broken.setup?.outputTail.contains("npm ERR! could not resolve left-pad") == true)
        #expect(broken.reason.contains("setup:"))
        let missing = try s.result("nofile")
        #expect(missing.class == .setupFailed)
        #expect(missing.reason.contains("secrets.json"), "\(missing.reason)")
        #expect(try s.worktrees() == [s.repo])
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers())")
        #expect(try s.git(["status", "--porcelain"]) == "?? .env\n?? config/\n")
    }

    @Test("evidence: leftovers are auto-committed and flagged; no change is no_changes (retried once); expect: answer keeps the answer; expect: nothing accepts exit 0",
          .timeLimit(.minutes(10)))
    func evidence() throws {
        let s = try Sandbox("ws-evidence")
        s.lockfile(Lockfiles.make([]))
        try s.submit("leftover.md", "---\nrepo: ~/code/widget\nharness: sh\n---\necho 'half done' > wip.txt\n")
        try s.submit("idle.md", "---\nrepo: ~/code/widget\nharness: sh\n---\necho 'I looked around and changed nothing'\n")
        try s.submit("question.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: answer\n---\necho 'The parser handles spanned cells.'\n")
        try s.submit("silent.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: answer\nretries: 0\n---\ntrue\n")
        try s.submit("plain.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\ntrue\n")
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let leftover = try s.result("leftover")
        #expect(leftover.status == .succeeded)
        #expect(leftover.review?.flags == [.autoCommitted])
        #expect(leftover.git?.commits.map(\.subject) == ["mtor: changes the agent left uncommitted"])
        #expect(try s.git(["show", "mtor/leftover:wip.txt"]) == "half done\n")
        let idle = try s.result("idle")
        #expect(idle.class == .noChanges, "\(idle.reason)")
        #expect(idle.attempts.map(\.class) == [.noChanges, .noChanges], "retried exactly once")
        #expect(idle.attempts.allSatisfy { $0.exitCode == 0 && $0.retryable })
        #expect(idle.reason.contains("changed nothing"))
        let question = try s.result("question")
        #expect(question.status == .succeeded)
        #expect(question.answer?.contains("The parser handles spanned cells.") == true)
        #expect(question.git?.commits.isEmpty == true)
        let silent = try s.result("silent")
        #expect(silent.class == .noChanges && silent.attempts.count == 1)
        #expect(try s.result("plain").status == .succeeded)
        #expect(try s.worktrees() == [s.repo])
    }

    @Test("the real Claude Code CLI answering with text only: no_changes after exactly one retry; with expect: answer its result text is the sidecar's answer",
          .requiresClaude, .timeLimit(.minutes(10)))
    func claudeTextOnly() throws {
        let s = try Sandbox("ws-claude-text")
        let p = try ScriptedProvider(scenario: "ok", key: "sk-ws-text")
        s.lockfile(Lockfiles.make([.init(name: "scripted", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-ws-text\n")
        try s.submit("fix.md", "---\nrepo: ~/code/widget\nprovider: scripted\ntimeout: 3m\nstall: 90s\n---\nFix the parser.\n")
        try s.submit("ask.md", "---\nrepo: ~/code/widget\nprovider: scripted\nexpect: answer\ntimeout: 3m\nstall: 90s\n---\nIs the parser fine?\n")
        let run = try s.drain(["--concurrency", "2"], timeout: 500)
        #expect(run.code == 0, "\(run.err)")
        let fix = try s.result("fix")
        #expect(fix.class == .noChanges, "\(fix.reason) / \(s.read("logs/fix.log").suffix(2000))")
        #expect(fix.attempts.map(\.class) == [.noChanges, .noChanges])
        #expect(fix.attempts.allSatisfy { $0.exitCode == 0 })
        let ask = try s.result("ask")
        #expect(ask.status == .succeeded, "\(ask.reason)")
        #expect(ask.answer == "ok")
        #expect(try s.worktrees() == [s.repo])
    }
}
