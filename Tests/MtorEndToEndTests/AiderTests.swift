import Foundation
import Testing
import MtorCore

/// The real Aider: `$MTOR_AIDER_BIN`, else `.cache/bin/aider` as `.ci/run` installs it
/// (PyPI `aider-chat`, pinned, in a venv of its own under `.cache/aider-venv`).
let aiderBinary: String? = {
    let candidates = [ProcessInfo.processInfo.environment["MTOR_AIDER_BIN"], "\(packageRoot)/.cache/bin/aider"].compactMap { $0 }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

extension Trait where Self == ConditionTrait {
    static var requiresAider: Self {
        .enabled(if: aiderBinary != nil, "the real Aider is not installed; .ci/run installs aider-chat into .cache/aider-venv")
    }
}

/// The `aider` harness exactly as etc/providers.json ships it, pointed at the scripted
/// provider's OpenAI chat completions side (`openai/…` model, `OPENAI_BASE_URL`, `OPENAI_API_KEY`).
enum AiderLock {
    static let harness: String = {
        let data = FileManager.default.contents(atPath: packageRoot + "/etc/providers.json") ?? Data()
        let lock = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let entry = (lock?["harnesses"] as? [String: Any])?["aider"] ?? [:]
        let json = (try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) ?? Data("{}".utf8)
        return "\"aider\": " + String(decoding: json, as: UTF8.self)
    }()

    /// The same harness with a flag Aider does not know.
    static let badFlagHarness = """
        "aider-bad": { "argv": ["aider", "--no-such-flag", "--yes-always", "--model", "{model}", "--message-file", "{prompt_file}"],
                       "prompt": "file", "stream": "aider-text", "base_url_env": "OPENAI_BASE_URL" }
        """

    /// A lockfile whose only model provider is `aider-p`, run by the real Aider against `provider`.
    static func lockfile(_ provider: ScriptedProvider) -> String {
        """
        {
          "schema": "mtor.providers/1",
          "default": "aider-p",
          "harnesses": { \(AiderLock.harness), \(badFlagHarness) },
          "providers": {
            "aider-p": { "harness": "aider", "api": "openai-chat", "base_url": "\(provider.baseURL)/v1",
                         "auth_env": "OPENAI_API_KEY", "secret_env": "SCRIPTED_KEY",
                         "model": "openai/mtor-scripted", "concurrency": 1 }
          }
        }
        """
    }

    static func sandbox(_ label: String) throws -> Sandbox {
        let s = try Sandbox(label)
        if let aider = aiderBinary {
            let dir = URL(fileURLWithPath: aider).deletingLastPathComponent().path
            if !s.extraPath.contains(dir) { s.extraPath.insert(dir, at: 0) }
        }
        return s
    }

    /// The chat completion calls the task made (not mtor's preflight).
    static func calls(_ p: ScriptedProvider) -> [[String: Any]] {
        p.requests.filter { ($0["path"] as? String) == "/v1/chat/completions" && ($0["kind"] as? String) != "preflight" }
    }
}

@Suite("The real Aider as a harness, against the scripted OpenAI chat completions provider", .serialized, .requiresAider)
struct AiderTests {
    @Test("real aider: applies the provider's edit, commits it itself; the sidecar says succeeded with that commit", .timeLimit(.minutes(10)))
    func aiderCommits() throws {
        let s = try AiderLock.sandbox("aider-commit")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-aider-commit-4711")
        s.lockfile(AiderLock.lockfile(p))
        s.envFile("SCRIPTED_KEY=sk-aider-commit-4711\n")
        let r = try runSpec(s, "aider-hello", "provider: aider-p\ntimeout: 3m\nstall: 90s")
        let log = s.read("logs/aider-hello.log")
        #expect(r.status == .succeeded, "\(r.reason) / \(log)")
        #expect(r.class == .ok)
        #expect(r.spec.harness == "aider")
        #expect(r.attempts.count == 1)
        let commits = r.git?.commits ?? []
        #expect(commits.map(\.subject) == ["Add hello.txt"], "\(commits)")
        // Aider made the commit (aider-chat 0.86 adds its Co-authored-by trailer), not mtor's auto-commit of leftovers.
        let head = try #require(r.git?.headAfter)
        let made = try s.git(["log", "-1", "--format=%an|%B", head]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(made == "mtor test|Add hello.txt\n\nCo-authored-by: aider (openai/mtor-scripted) <aider@aider.chat>", "\(made)")
        #expect(try s.git(["show", "\(head):hello.txt"]) == "hello from the mtor scripted provider\n")
        #expect(try s.git(["show", "--name-only", "--format=", head]).trimmingCharacters(in: .whitespacesAndNewlines) == "hello.txt",
                "only the edited file: no .aider* files, no .gitignore")
        #expect(try s.git(["status", "--porcelain", "--untracked-files=all"]).isEmpty, "aider left nothing behind in the checkout")
        // One streamed edit request, one commit-message request, both with the key as a Bearer token.
        let calls = AiderLock.calls(p)
        #expect(calls.map { $0["reply"] as? String } == ["edit-whole", "commit-message"], "\(calls)")
        #expect(calls.allSatisfy { ($0["auth_header"] as? String) == "Bearer sk-aider-commit-4711" && ($0["model"] as? String) == "mtor-scripted" })
        #expect((calls.first?["stream"] as? Bool) == true)
        #expect(log.contains("Applied edit to hello.txt"), "\(log)")
        #expect(!log.contains("sk-aider-commit-4711"))
        #expect(!s.read("done/aider-hello.result.json").contains("sk-aider-commit-4711"))
    }

    @Test("real aider with a model it knows (openai/gpt-4o: diff edit format): a SEARCH/REPLACE block creates the file, aider commits it", .timeLimit(.minutes(10)))
    func aiderCommitsSearchReplace() throws {
        let s = try AiderLock.sandbox("aider-diff")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-aider-diff-1")
        s.lockfile(AiderLock.lockfile(p))
        s.envFile("SCRIPTED_KEY=sk-aider-diff-1\n")
        let r = try runSpec(s, "aider-diff", "provider: aider-p\nmodel: openai/gpt-4o\ntimeout: 3m\nstall: 90s")
        #expect(r.status == .succeeded, "\(r.reason) / \(s.read("logs/aider-diff.log"))")
        #expect(r.spec.model == "openai/gpt-4o")
        #expect(r.git?.commits.map(\.subject) == ["Add hello.txt"])
        let head = try #require(r.git?.headAfter)
        #expect(try s.git(["show", "\(head):hello.txt"]) == "hello from the mtor scripted provider\n")
        let main = AiderLock.calls(p).filter { ($0["kind"] as? String) == "main" }
        #expect(main.map { $0["reply"] as? String } == ["edit-search-replace"], "\(main)")
    }

    @Test("doctor's direct call for an `api: openai-chat` provider: POST /v1/chat/completions, the litellm prefix dropped; 401 → auth", .timeLimit(.minutes(10)))
    func doctorChatCompletions() throws {
        let s = try AiderLock.sandbox("aider-doctor")
        let p = try ScriptedProvider(scenario: "ok", key: "sk-aider-doctor-1")
        s.lockfile(AiderLock.lockfile(p))
        let args = ["doctor", "--json", "--provider", "aider-p", "--spool", s.spool, "--providers", s.etc + "/providers.json"]
        s.envFile("SCRIPTED_KEY=sk-aider-doctor-1\n")
        let good = try s.mtor(args, timeout: 60)
        #expect(good.out.contains("\"verdict\" : \"ok\"") || good.out.contains("\"verdict\":\"ok\""), "\(good.out) \(good.err)")
        s.envFile("SCRIPTED_KEY=sk-aider-doctor-wrong\n")
        let bad = try s.mtor(args, timeout: 60)
        #expect(bad.code == 3)
        #expect(bad.out.contains("\"verdict\" : \"auth\"") || bad.out.contains("\"verdict\":\"auth\""), "\(bad.out)")
        let calls = p.requests.filter { ($0["method"] as? String) == "POST" }
        // On a 401 doctor tries the other header once more (x-api-key), to say which one the key works with.
        #expect(calls.count == 3 && calls.allSatisfy { ($0["path"] as? String) == "/v1/chat/completions" }, "\(calls)")
        #expect(calls.allSatisfy { ($0["model"] as? String) == "mtor-scripted" })
        #expect(calls.map { $0["status"] as? Int } == [200, 401, 401])
        #expect(calls.map { $0["auth_header"] as? String } == ["Bearer sk-aider-doctor-1", "Bearer sk-aider-doctor-wrong", nil])
    }

    @Test("real aider, provider answers 401: aider exits 0, mtor still says auth_failed from its 'litellm.AuthenticationError' line", .timeLimit(.minutes(10)))
    func aiderAuthFailed() throws {
        let s = try AiderLock.sandbox("aider-401")
        let p = try ScriptedProvider(scenario: "401", passPreflight: true)
        s.lockfile(AiderLock.lockfile(p))
        s.envFile("SCRIPTED_KEY=sk-aider-bad-0000\n")
        let r = try runSpec(s, "aider-401", "provider: aider-p\ntimeout: 3m\nstall: 90s")
        let attempt = try #require(r.attempts.first)
        print("aider 401: class \(r.class.rawValue), exit \(attempt.exitCode.map(String.init) ?? "-"), \(String(format: "%.1f", attempt.durationS)) s; reason: \(r.reason)")
        #expect(r.status == .failed)
        #expect(r.class == .authFailed, "\(r.reason) / \(s.read("logs/aider-401.log"))")
        #expect(r.attempts.count == 1, "auth_failed is never retried on the same provider")
        #expect(attempt.apiRetries?.first?.status == 401)
        #expect(r.hint.contains("OPENAI_API_KEY"), "\(r.hint)")
        #expect(r.git?.commits.isEmpty ?? true)
        #expect(!AiderLock.calls(p).isEmpty && AiderLock.calls(p).allSatisfy { ($0["status"] as? Int) == 401 })
        #expect(!s.read("failed/aider-401.result.json").contains("sk-aider-bad-0000"))
    }

    @Test("real aider, provider answers 429 on every call: rate_limited, stopped long before aider's own ~64 s of retries", .timeLimit(.minutes(10)))
    func aiderRateLimited() throws {
        let s = try AiderLock.sandbox("aider-429")
        let p = try ScriptedProvider(scenario: "429-then-ok", count: 1000, passPreflight: true)
        s.lockfile(AiderLock.lockfile(p))
        s.envFile("SCRIPTED_KEY=sk-aider-busy-1\n")
        let r = try runSpec(s, "aider-429", "provider: aider-p\nretries: 0\ntimeout: 3m\nstall: 90s")
        let attempt = try #require(r.attempts.first)
        print("aider 429: class \(r.class.rawValue), \(attempt.apiRetries?.count ?? 0) retries seen, \(String(format: "%.1f", attempt.durationS)) s; reason: \(r.reason)")
        #expect(r.class == .rateLimited, "\(r.reason) / \(s.read("logs/aider-429.log"))")
        #expect(attempt.stoppedBy == "early_abort", "\(attempt)")
        #expect((attempt.apiRetries ?? []).count >= 4 && (attempt.apiRetries ?? []).allSatisfy { $0.status == 429 })
        #expect(attempt.durationS < 60, "stopped before aider gave up by itself")
        #expect(r.git?.commits.isEmpty ?? true)
    }

    @Test("real aider with a flag it does not know: exit 2, harness_usage, the model never reached", .timeLimit(.minutes(10)))
    func aiderBadFlag() throws {
        let s = try AiderLock.sandbox("aider-usage")
        let p = try ScriptedProvider(scenario: "ok")
        s.lockfile(AiderLock.lockfile(p))
        s.envFile("SCRIPTED_KEY=sk-aider-usage-1\n")
        let r = try runSpec(s, "aider-usage", "provider: aider-p\nharness: aider-bad")
        // The provider's preflight runs the good `aider` harness; the spec's override runs the bad argv.
        #expect(r.class == .harnessUsage, "\(r.reason)")
        #expect(r.attempts.count == 1)
        #expect(r.attempts.first?.exitCode == 2)
        #expect(r.reason.contains("unrecognized arguments: --no-such-flag"), "\(r.reason)")
        #expect(AiderLock.calls(p).isEmpty)
    }
}
