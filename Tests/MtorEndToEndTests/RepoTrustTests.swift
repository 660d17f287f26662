import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Every hook git 2.39 knows, planted in a hostile repository.
private let hookNames = [
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit", "prepare-commit-msg", "commit-msg",
    "post-commit", "pre-rebase", "post-checkout", "post-merge", "pre-push", "pre-receive", "update", "proc-receive", "post-receive",
    "post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite", "sendemail-validate",
    "fsmonitor-watchman", "post-index-change",
]

extension Sandbox {
    /// Writes an executable script at `path` that touches `<markers>/<name>`, then copies stdin to stdout
    /// (so it also works as a filter or textconv).
    func evilScript(_ path: String, name: String, markers: String) throws {
        try FileManager.default.createDirectory(atPath: FileSystem.directory(of: path), withIntermediateDirectories: true)
        try "#!/bin/sh\ntouch '\(markers)/\(name)'\ncat\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// What the markers directory holds.
    func markers(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }
}

@Suite("The worker trusts nothing a repository or an agent left behind", .serialized)
struct RepoTrustTests {
    @Test("hooks, hooksPath, fsmonitor, filters, diff and merge drivers, pager and signature programs of a hostile repo never run: prepare, auto-commit, bring-back, review, integrate: merge, in place, and mtor merge",
          .timeLimit(.minutes(10)))
    func nothingFromTheRepoRuns() throws {
        let s = try Sandbox("trust-hostile")
        s.lockfile(Lockfiles.make([]))
        let markers = s.root + "/markers", evil = s.root + "/evil"
        try FileManager.default.createDirectory(atPath: markers, withIntermediateDirectories: true)
        // The content first (with the attributes naming the hostile drivers), then the hostile configuration.
        try s.seed([".gitattributes": "* filter=evil diff=evil merge=evil\n", "README.md": "widget\n"])
        for hook in hookNames {
            try s.evilScript("\(s.repo)/.git/hooks/\(hook)", name: "hook-\(hook)", markers: markers)
            try s.evilScript("\(evil)/hooks/\(hook)", name: "hookspath-\(hook)", markers: markers)
        }
        let programs = ["fsmonitor", "smudge", "clean", "process", "external", "textconv", "command", "driver", "pager", "editor", "gpg", "askpass", "alternates", "credential"]
        for p in programs { try s.evilScript("\(evil)/\(p)", name: p, markers: markers) }
        let config: [(String, String)] = [
            ("core.hooksPath", "\(evil)/hooks"), ("core.fsmonitor", "\(evil)/fsmonitor"), ("filter.evil.smudge", "\(evil)/smudge"),
            ("filter.evil.clean", "\(evil)/clean"), ("filter.evil.process", "\(evil)/process"), ("filter.evil.required", "true"),
            ("diff.external", "\(evil)/external"), ("diff.evil.textconv", "\(evil)/textconv"), ("diff.evil.command", "\(evil)/command"),
            ("merge.evil.driver", "\(evil)/driver %O %A %B"), ("core.pager", "\(evil)/pager"), ("core.editor", "\(evil)/editor"),
            ("gpg.program", "\(evil)/gpg"), ("log.showSignature", "true"), ("core.askPass", "\(evil)/askpass"),
            ("core.alternateRefsCommand", "\(evil)/alternates"), ("credential.helper", "\(evil)/credential"),
        ]
        for (key, value) in config { try s.git(["config", key, value]) }
        // 1. A task whose agent leaves its change uncommitted and plants hooks and a filter in its own clone:
        //    prepared, auto-committed, brought back, reviewed and fast-forwarded into the checked-out main.
        var agentPlants = "echo 'left uncommitted' > auto.txt\n"
        for hook in ["pre-commit", "post-commit", "commit-msg", "prepare-commit-msg", "reference-transaction", "post-index-change"] {
            agentPlants += "printf '#!/bin/sh\\ntouch \(markers)/clone-\(hook)\\n' > .git/hooks/\(hook); chmod +x .git/hooks/\(hook)\n"
        }
        agentPlants += "git config core.fsmonitor \(evil)/fsmonitor\ngit config filter.evil.clean \(evil)/clean\ngit config core.hooksPath .git/hooks\n"
        try s.submit("auto.md", "---\nrepo: ~/code/widget\nharness: sh\nintegrate: merge\n---\n\(agentPlants)")
        var run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let auto = try s.result("auto")
        #expect(auto.status == .succeeded, "\(auto.reason) / \(s.read("logs/auto.log").suffix(2000))")
        #expect(auto.review?.flags == [.autoCommitted])
        #expect(auto.git?.integrated == "merged", "\(auto.git?.integratedReason ?? "")")
        #expect(try s.out(["rev-parse", "main"]) == auto.git?.headAfter)
        #expect(FileManager.default.fileExists(atPath: s.repo + "/auto.txt"), "the checkout was fast-forwarded")
        #expect(s.markers(markers) == [], "after prepare, auto-commit, review and integrate: merge")
        // 2. A task left for review, merged later by `mtor merge`.
        try s.submit("later.md", "---\nrepo: ~/code/widget\nharness: sh\n---\necho later > later.txt\n")
        run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        #expect(try s.result("later").status == .succeeded)
        let merged = try s.mtor(["merge", "later", "--spool", s.spool])
        #expect(merged.code == 0, "\(merged.out) \(merged.err)")
        #expect(FileManager.default.fileExists(atPath: s.repo + "/later.txt"))
        #expect(s.markers(markers) == [], "after mtor merge")
        // 3. In place: the worker's status and review in the user's checkout.
        try s.submit("inplace.md", "---\nrepo: ~/code/widget\nharness: sh\nworkspace: in-place\n---\necho edited >> README.md\n")
        run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let inplace = try s.result("inplace")
        #expect(inplace.status == .succeeded, "\(inplace.reason)")
        #expect(s.markers(markers) == [], "after an in-place task")
        #expect(try s.worktrees() == [s.repo])
        // The planted programs are real: plain git in the same repository runs them.
        _ = try? s.git(["status"])
        var said = ""
        do { try s.git(["-c", "filter.evil.process=", "-c", "filter.evil.required=false", "diff", "HEAD~1", "HEAD"]) } catch { said = "\(error)" }
        let ran = Set(s.markers(markers))
        #expect(ran.contains("fsmonitor") && ran.contains("process"), "\(ran)")
        #expect(!ran.isDisjoint(with: ["external", "textconv", "command"]), "\(ran) \(said)")
    }

    @Test("mtor merge lands exactly the recorded head_after, not a commit added to the branch later; a branch that lost head_after is refused",
          .timeLimit(.minutes(15)))
    func mergeTheRecordedCommit() throws {
        let s = try Sandbox("trust-merge")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        let base = try s.out(["rev-parse", "main"])
        for id in ["kept", "lost"] { try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\n---\n\(commitBody("\(id).txt", subject: id, nap: "0"))\n") }
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let kept = try s.result("kept"), lost = try s.result("lost")
        let recorded = try #require(kept.git?.headAfter)
        #expect(kept.status == .succeeded && lost.status == .succeeded)
        // A commit added to the task's branch by hand after the task ended.
        let tree = try s.out(["rev-parse", "\(recorded)^{tree}"])
        let extra = try s.out(["commit-tree", tree, "-p", recorded, "-m", "added after review"])
        try s.git(["update-ref", "refs/heads/mtor/kept", extra])
        // The other branch is moved so that it no longer contains its recorded commit.
        try s.git(["update-ref", "refs/heads/mtor/lost", base])
        let refused = try s.mtor(["merge", "lost", "--spool", s.spool])
        #expect(refused.code == 1)
        #expect(refused.out.contains("no longer contains"), "\(refused.out)")
        #expect(try s.out(["rev-parse", "main"]) == base)
        let merged = try s.mtor(["merge", "kept", "--spool", s.spool])
        #expect(merged.code == 0, "\(merged.out) \(merged.err)")
        #expect(try s.out(["rev-parse", "main"]) == recorded, "main is the reviewed commit")
        #expect(throws: (any Error).self, "the later commit is not in main") { try s.git(["merge-base", "--is-ancestor", extra, "main"]) }
        #expect(try s.git(["status", "--porcelain"]).isEmpty)
    }

    @Test("expect: changes needs a changed tree: an empty commit, a branch moved behind its base, a change reverted, or a clone whose .git the agent destroyed is no_changes",
          .timeLimit(.minutes(15)))
    func changesMeanADifferentTree() throws {
        let s = try Sandbox("trust-evidence")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        try s.seed(["NOTES.md": "notes\n"])
        let head = try s.out(["rev-parse", "main"]), parent = try s.out(["rev-parse", "main~1"])
        let bodies = [
            "empty": "git commit -q --allow-empty -m 'nothing at all'",
            "behind": "git reset -q --hard HEAD~1",
            "reverted": "echo x > x.txt && git add x.txt && git commit -q -m x && git revert --no-edit HEAD >/dev/null",
            "gone": "echo change > change.txt && git add change.txt && git commit -q -m change && rm -rf .git",
        ]
        for (id, body) in bodies { try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 0\n---\n\(body)\n") }
        try s.submit("real.md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 0\n---\necho real > real.txt && git add real.txt && git commit -q --allow-empty -m real\n")
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        for id in bodies.keys.sorted() {
            let r = try s.result(id)
            #expect(r.class == .noChanges, "\(id): \(r.class.rawValue) \(r.reason) / \(s.read("logs/\(id).log").suffix(1500))")
        }
        let empty = try s.result("empty")
        #expect(empty.git?.commits.map(\.subject) == ["nothing at all"], "the empty commit was brought back and judged by its tree")
        #expect(try s.out(["rev-parse", "mtor/empty"]) == empty.git?.headAfter)
        #expect(try s.result("behind").git?.headAfter == parent, "the branch moved behind its base is brought back as it is")
        #expect((try? s.out(["rev-parse", "--verify", "-q", "refs/heads/mtor/gone"])) == nil, "a clone without .git leaves the branch where it was: carrying no commit, it is removed")
        _ = head
        #expect(s.read("logs/gone.log").contains("no .git directory"), "\(s.read("logs/gone.log").suffix(1500))")
        #expect(try s.result("real").status == .succeeded)
        #expect(try s.out(["rev-parse", "main"]) == head)
    }

    @Test("copy: never follows a symlink, in the checkout or in the task's clone: setup_failed naming the link, nothing written outside",
          .timeLimit(.minutes(15)))
    func copyFollowsNoLink() throws {
        let s = try Sandbox("trust-copy")
        s.lockfile(Lockfiles.make([]))
        let outside = s.root + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "secret: 1\n".write(toFile: outside + "/local.yml", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: s.repo + "/cfg", withDestinationPath: outside)
        try s.git(["add", "cfg"])
        try s.git(["commit", "-q", "-m", "cfg is a link"])
        // In the checkout: cfg/local.yml would be read through the link.
        try s.submit("source.md", "---\nrepo: ~/code/widget\nharness: sh\ncopy: [cfg/local.yml]\n---\ntouch never-ran\n")
        var run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let source = try s.result("source")
        #expect(source.class == .setupFailed, "\(source.reason)")
        #expect(source.reason.contains("cfg") && source.reason.contains("symlink"), "\(source.reason)")
        #expect(source.attempts.isEmpty)
        // In the clone: the checkout's cfg is a real directory now, but the base commit's cfg is still the
        // link, so cfg/local.yml in the clone would be written through it.
        try FileManager.default.removeItem(atPath: s.repo + "/cfg")
        try FileManager.default.createDirectory(atPath: s.repo + "/cfg", withIntermediateDirectories: true)
        try "port: 8080\n".write(toFile: s.repo + "/cfg/local.yml", atomically: true, encoding: .utf8)
        try s.submit("target.md", "---\nrepo: ~/code/widget\nharness: sh\ncopy: [cfg/local.yml]\n---\ntouch never-ran\n")
        run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let target = try s.result("target")
        #expect(target.class == .setupFailed, "\(target.reason)")
        #expect(target.reason.contains("cfg") && target.reason.contains("clone"), "\(target.reason)")
        #expect(try String(contentsOfFile: outside + "/local.yml", encoding: .utf8) == "secret: 1\n", "nothing was written outside")
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers())")
    }

    @Test("the worker deletes only <workspaces>/<id>: a record whose path an agent rewrote, a record of a dead task pointing outside, and a symlink in place of a clone leave the outside alone",
          .timeLimit(.minutes(15)))
    func deletesOnlyWhatItDerived() throws {
        let s = try Sandbox("trust-discard")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n"])
        let precious = s.root + "/precious", other = s.root + "/other"
        for dir in [precious, other] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "keep\n".write(toFile: dir + "/keep.txt", atomically: true, encoding: .utf8)
        }
        // The agent rewrites its own record to point at a directory outside (possible without a sandbox).
        let record = s.spool + "/work/rewrite.json"
        try s.submit("rewrite.md", """
            ---
            repo: ~/code/widget
            harness: sh
            ---
            sed -i 's|"path":"[^"]*"|"path":"\(precious)"|' \(record)
            grep -q '\(precious)' \(record) && echo rewritten > rewritten.txt
            """)
        // Unsandboxed, so the agent can reach its record at all (a sandboxed one sees no spool: AgentGuestTests);
        // what is tested here is the worker's own rule: it deletes only what it derived.
        var run = try s.drain(["--sandbox", "none"])
        #expect(run.code == 0, "\(run.err)")
        let r = try s.result("rewrite")
        #expect(r.status == .succeeded, "\(r.reason) / \(s.read("logs/rewrite.log").suffix(1500))")
        #expect(try s.git(["show", "mtor/rewrite:rewritten.txt"]) == "rewritten\n", "the agent did rewrite the record")
        #expect(FileManager.default.fileExists(atPath: precious + "/keep.txt"), "the directory the record named survives")
        // Left by a dead task: a record pointing outside, and a symlink to outside where its clone would be.
        let ghost = #"{"id":"ghost","repo":"/etc","branch":"mtor/ghost","baseSHA":"nope","path":"\#(other)"}"#
        try ghost.write(toFile: s.spool + "/work/ghost.json", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: s.spool + "/work/ghost", withDestinationPath: other)
        run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        #expect(FileManager.default.fileExists(atPath: other + "/keep.txt"), "the link's target and its files survive the sweep")
        #expect(FileManager.default.fileExists(atPath: precious + "/keep.txt"))
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers())")
    }
}
