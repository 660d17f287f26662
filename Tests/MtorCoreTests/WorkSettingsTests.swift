import Testing
@testable import MtorCore

func workSpec(_ keys: String) throws(SpecError) -> Spec {
    try Spec.parse("---\nrepo: /srv/widget\n\(keys)\n---\nDo it.\n", home: testHome)
}

@Suite("Workspace keys of a spec: workspace, base, branch, copy, setup, expect, integrate, paths")
struct WorkSettingsTests {
    @Test("defaults: own worktree on mtor/<id> from HEAD, changes expected, branch left for review")
    func defaults() throws {
        let w = try workSpec("").work
        #expect(w == WorkSettings())
        #expect(w.mode == .worktree && w.expect == .changes && w.integrate == .branch && w.base == nil)
        #expect(w.branchName(id: "20261121-fix-3f2a") == "mtor/20261121-fix-3f2a")
        for id in ["a..b", "x.lock", "ends.", "a...b", "-lead", "1.2.3"] {
            #expect(WorkSettings.isValidBranch(w.branchName(id: id)), "\(id) → \(w.branchName(id: id))")
        }
        #expect(w.branchName(id: "a..b") == "mtor/a._b")
    }

    @Test("every key read as written")
    func all() throws {
        let w = try workSpec("""
            workspace: worktree
            base: release/2.1
            branch: agents/<id>/try
            copy: [.env, ./config/local.yml, assets/]
            setup: npm ci && make gen
            expect: answer
            integrate: push
            paths: [src/parser, README.md]
            """).work
        #expect(w.base == "release/2.1")
        #expect(w.branchName(id: "t1") == "agents/t1/try")
        #expect(w.copy == [".env", "config/local.yml", "assets"])
        #expect(w.setup == "npm ci && make gen")
        #expect(w.expect == .answer && w.integrate == .push)
        #expect(w.paths == ["src/parser", "README.md"])
        #expect(try workSpec("workspace: in-place\nexpect: nothing").work.mode == .inPlace)
        #expect(try workSpec("copy: .env").work.copy == [".env"])
    }

    @Test("refused with a sentence naming the key", arguments: [
        ("workspace: sandbox", "workspace", "worktree, in-place"),
        ("expect: success", "expect", "changes, answer, nothing"),
        ("integrate: rebase", "integrate", "branch, merge, push"),
        ("branch: my branch", "branch", "valid git branch name"),
        ("branch: -delete", "branch", "valid git branch name"),
        ("branch: a..b", "branch", "valid git branch name"),
        ("branch: topic.lock", "branch", "valid git branch name"),
        ("branch: x~1", "branch", "valid git branch name"),
        ("base: --all", "base", "branch, tag or commit"),
        ("base: main..dev", "base", "branch, tag or commit"),
        ("copy: [/etc/passwd]", "copy", "relative path inside the repo"),
        ("copy: [../other/.env]", "copy", "relative path inside the repo"),
        ("paths: [src/../../x]", "paths", "relative path inside the repo"),
        ("copy: {a: 1}", "copy", "must be a list"),
        ("workspace: in-place\nbranch: x", "branch", "in-place"),
        ("workspace: in-place\nsetup: make", "setup", "in-place"),
        ("workspace: in-place\ncopy: [.env]", "copy", "in-place"),
        ("workspace: in-place\nintegrate: merge", "integrate", "in-place"),
    ])
    func refused(_ keys: String, _ key: String, _ mention: String) {
        do {
            _ = try workSpec(keys)
            Issue.record("'\(keys)' was accepted")
        } catch {
            guard case .invalid(let named, let sentence) = error else { Issue.record("\(error)"); return }
            #expect(named == key)
            #expect(sentence.contains(mention), "\(sentence)")
        }
    }

    @Test("a misspelt workspace key gets a suggestion")
    func spelling() {
        #expect(specError("---\nrepo: /srv/w\nintegrat: merge\n---\nGo.\n")?.description.contains("did you mean 'integrate'") == true)
    }

    @Test("evidence: what each expect: accepts from an attempt that exited 0", arguments: [
        (WorkSettings.Expect.changes, true, "", true), (.changes, false, "a long answer", false), (.changes, false, "", false),
        (.answer, false, "The parser is fine.", true), (.answer, true, "", true), (.answer, false, " \n ", false),
        (.nothing, false, "", true),
    ])
    func evidence(_ expect: WorkSettings.Expect, _ changed: Bool, _ answer: String, _ accepted: Bool) {
        var w = WorkSettings()
        w.expect = expect
        let missing = w.missingEvidence(changed: changed, answer: answer)
        #expect((missing == nil) == accepted)
        if let missing { #expect(missing.hasPrefix("the agent exited 0 but")) }
    }

    @Test("answers are capped at 64 KiB on a character boundary", arguments: [10, 65535, 65536, 65537, 200_000])
    func answerCap(_ n: Int) {
        let text = String(repeating: "é", count: n / 2) + (n % 2 == 1 ? "x" : "")
        let capped = TaskResult.capAnswer(text)
        #expect(capped.utf8.count <= TaskResult.answerCap)
        #expect(text.hasPrefix(capped))
        if text.utf8.count <= TaskResult.answerCap { #expect(capped == text) } else { #expect(capped.utf8.count >= TaskResult.answerCap - 3) }
        #expect(TaskResult.capAnswer("🙂🙂", cap: 5) == "🙂")
    }
}
