import Foundation
import Testing
import MtorCore

/// The real Codex CLI: `$MTOR_CODEX_BIN`, else `.cache/bin/codex` as `.ci/run` installs it
/// (PyPI `openai-codex-cli-bin`, binary `codex_cli_bin/bin/codex` inside the wheel).
let codexBinary: String? = {
    let candidates = [ProcessInfo.processInfo.environment["MTOR_CODEX_BIN"], "\(packageRoot)/.cache/bin/codex"].compactMap { $0 }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// The `codex` harness as observed with codex-cli 0.163.0:
/// - `codex exec ... -` reads the prompt from stdin; `--json` prints a JSONL event stream.
/// - `--full-auto` no longer exists (exit 2, "unexpected argument"); running as root with no
///   sandbox needs `--dangerously-bypass-approvals-and-sandbox` (or `-s danger-full-access`).
/// - `OPENAI_BASE_URL` is ignored and the built-in provider ignores `OPENAI_API_KEY` in exec
///   (it reads `CODEX_API_KEY` and tries a WebSocket first), so a provider of our own is
///   declared with `-c` overrides: base_url from `{base_url}`, key from `OPENAI_API_KEY`
///   (sent as `Authorization: Bearer`), plain HTTP + SSE to `POST {base_url}/responses`.
/// - `--skip-git-repo-check`: preflight runs in a directory that is not a git tree.
/// - `--ephemeral`: no session files pile up under ~/.codex/sessions.
enum CodexLock {
    /// The `codex` harness exactly as etc/providers.json ships it: the tests run what users run.
    static let harness: String = {
        let data = FileManager.default.contents(atPath: packageRoot + "/etc/providers.json") ?? Data()
        let lock = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let entry = (lock?["harnesses"] as? [String: Any])?["codex"] ?? [:]
        let json = (try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) ?? Data("{}".utf8)
        return "\"codex\": " + String(decoding: json, as: UTF8.self)
    }()

    /// The `codex` harness as etc/providers.json had it before codex 0.163.0 was tried.
    static let fullAutoHarness = """
        "codex-full-auto": {
          "argv": ["codex", "exec", "--full-auto", "--skip-git-repo-check", "--model", "{model}", "-"],
          "prompt": "stdin",
          "auth_headers": { "OPENAI_API_KEY": "bearer" },
          "base_url_env": "OPENAI_BASE_URL"
        }
        """

    /// A provider served by the scripted provider's OpenAI Responses side, run by `codex`.
    static func entry(_ name: String, _ provider: ScriptedProvider, secretEnv: String = "SCRIPTED_KEY") -> Lockfiles.Entry {
        .init(name: name, baseURL: provider.baseURL + "/v1", authEnv: "OPENAI_API_KEY", secretEnv: secretEnv, harness: "codex")
    }

    static func sandbox(_ label: String) throws -> Sandbox {
        let s = try Sandbox(label)
        if let codex = codexBinary {
            let dir = URL(fileURLWithPath: codex).deletingLastPathComponent().path
            if !s.extraPath.contains(dir) { s.extraPath.insert(dir, at: 0) }
        }
        return s
    }
}

@Suite("The real Codex CLI as a second harness, against the scripted OpenAI Responses provider", .serialized, .requiresCodex)
struct CodexTests {
    @Test("real codex: the agent writes a file and commits it; the commit is in the sidecar", .timeLimit(.minutes(10)))
    func codexCommits() throws {
        let s = try CodexLock.sandbox("codex-commit")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-codex-commit-4711", extra: ["--api", "openai"])
        s.lockfile(Lockfiles.make([CodexLock.entry("openai", p)], extraHarnesses: CodexLock.harness))
        s.envFile("SCRIPTED_KEY=sk-codex-commit-4711\n")
        let r = try runSpec(s, "codex-hello", "provider: openai\ntimeout: 2m\nstall: 60s")
        #expect(r.status == .succeeded, "\(r.reason) / \(s.read("logs/codex-hello.log"))")
        #expect(r.class == .ok)
        #expect(r.spec.harness == "codex")
        #expect(r.attempts.count == 1)
        #expect(r.git?.commits.map(\.subject) == ["Add hello.txt"])
        #expect(r.git?.headAfter == (try s.git(["rev-parse", "mtor/codex-hello"])).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try s.git(["show", "mtor/codex-hello:hello.txt"]).contains("hello"))
        #expect(s.exists("done/codex-hello.md"))
        // Codex made the tool call and came back with its output; the key went as a Bearer token.
        let main = p.requests.filter { ($0["kind"] as? String) == "main" }
        #expect(main.map { $0["reply"] as? String } == ["function_call:exec_command", "text-done"], "\(main)")
        #expect(main.allSatisfy { ($0["path"] as? String) == "/v1/responses" && ($0["stream"] as? Bool) == true })
        #expect(main.allSatisfy { ($0["auth_header"] as? String) == "Bearer sk-codex-commit-4711" })
        #expect(!s.read("logs/codex-hello.log").contains("sk-codex-commit-4711"))
        #expect(!s.read("done/codex-hello.result.json").contains("sk-codex-commit-4711"))
    }

    @Test("real codex, provider answers 401: auth_failed after 1 attempt, no commit", .timeLimit(.minutes(10)))
    func codexAuthFailed() throws {
        let s = try CodexLock.sandbox("codex-401")
        let p = try ScriptedProvider(scenario: "401", passPreflight: true, extra: ["--api", "openai"])
        s.lockfile(Lockfiles.make([CodexLock.entry("openai", p)], extraHarnesses: CodexLock.harness))
        s.envFile("SCRIPTED_KEY=sk-codex-bad-0000\n")
        let r = try runSpec(s, "codex-401", "provider: openai\ntimeout: 2m\nstall: 60s")
        let attempt = try #require(r.attempts.first)
        print("codex 401: class \(r.class.rawValue), \(r.attempts.count) attempt(s), exit \(attempt.exitCode.map(String.init) ?? "-"), \(String(format: "%.1f", attempt.durationS)) s; reason: \(r.reason)")
        #expect(r.status == .failed)
        #expect(r.class == .authFailed, "\(r.reason) / \(s.read("logs/codex-401.log"))")
        #expect(r.attempts.count == 1)
        // mtor stops codex at its first "Reconnecting... 1/5 (unexpected status 401 ...)" event instead of
        // letting it reconnect 5 times (6 requests, ~8 s): so it made fewer than 6 requests.
        #expect(attempt.stoppedBy == "early_abort" || attempt.exitCode == 1, "\(attempt)")
        #expect(r.hint.contains("OPENAI_API_KEY"), "\(r.hint)")
        #expect(r.git?.commits.isEmpty ?? true)
        let posts = p.requests.filter { ($0["method"] as? String) == "POST" && ($0["kind"] as? String) != "preflight" }
        #expect(!posts.isEmpty && posts.allSatisfy { ($0["status"] as? Int) == 401 })
        #expect(posts.count < 6, "\(posts.count) requests")
        #expect(!s.read("failed/codex-401.result.json").contains("sk-codex-bad-0000"))
    }

    @Test("real codex, provider answers 429 on every request: rate_limited", .timeLimit(.minutes(10)))
    func codexRateLimited() throws {
        let s = try CodexLock.sandbox("codex-429")
        let p = try ScriptedProvider(scenario: "429-then-ok", count: 1000, passPreflight: true, extra: ["--api", "openai"])
        s.lockfile(Lockfiles.make([CodexLock.entry("openai", p)], extraHarnesses: CodexLock.harness))
        s.envFile("SCRIPTED_KEY=sk-codex-busy-1\n")
        let r = try runSpec(s, "codex-429", "provider: openai\nretries: 0\ntimeout: 2m\nstall: 60s", body: "Say ok.")
        #expect(r.class == .rateLimited, "\(r.reason)")
    }

    @Test("`codex exec --full-auto` (gone in codex 0.163): harness_usage, the model never reached", .timeLimit(.minutes(10)))
    func codexFullAutoRejected() throws {
        let s = try CodexLock.sandbox("codex-usage")
        let p = try ScriptedProvider(scenario: "ok", extra: ["--api", "openai"])
        s.lockfile(Lockfiles.make([CodexLock.entry("openai", p)], extraHarnesses: CodexLock.harness + ",\n" + CodexLock.fullAutoHarness))
        s.envFile("SCRIPTED_KEY=sk-codex-usage-1\n")
        let r = try runSpec(s, "codex-usage", "provider: openai\nharness: codex-full-auto")
        #expect(r.class == .harnessUsage, "\(r.reason)")
        #expect(r.attempts.count == 1)
        #expect(r.attempts.first?.exitCode == 2)
        #expect(r.attempts.first?.stderrTail.contains("unexpected argument '--full-auto' found") == true, "\(r.attempts.first?.stderrTail ?? "")")
        // The reason quotes the error line, not the "WARNING: ... could not create PATH aliases" codex prints first.
        #expect(r.reason.contains("--full-auto"), "\(r.reason)")
        #expect(p.requests.filter { ($0["method"] as? String) == "POST" && ($0["kind"] as? String) != "preflight" }.isEmpty)
    }

    @Test("real codex, provider answers HTTP 500 on every request: provider_unavailable", .timeLimit(.minutes(10)))
    func codexServerError() throws {
        let s = try CodexLock.sandbox("codex-500")
        let p = try ScriptedProvider(scenario: "500", passPreflight: true, extra: ["--api", "openai"])
        s.lockfile(Lockfiles.make([CodexLock.entry("openai", p)], extraHarnesses: CodexLock.harness))
        s.envFile("SCRIPTED_KEY=sk-codex-hot-1\n")
        let r = try runSpec(s, "codex-500", "provider: openai\nretries: 0\ntimeout: 2m\nstall: 60s", body: "Say ok.")
        print("codex 500: class \(r.class.rawValue), \(r.attempts.count) attempt(s), \(String(format: "%.1f", r.attempts.first?.durationS ?? 0)) s; reason: \(r.reason)")
        // Left alone, codex 0.163 retries for ~25 s (30 requests) and ends with
        //   {"type":"turn.failed","error":{"message":"We’re currently experiencing high demand, …"}}
        // mtor reads its "Reconnecting… (… status 500 …)" events and stops it once they prove the provider is down.
        #expect(r.class == .providerUnavailable, "\(r.reason) / \(s.read("logs/codex-500.log").suffix(1500))")
        #expect(r.reason.contains("overloaded"), "\(r.reason)")
        #expect(r.attempts.first?.durationS ?? 99 < 25, "stopped before codex gave up by itself")
    }

    @Test("real codex, nothing listening on the base URL: preflight says provider_unavailable and the spec waits in inbox/", .timeLimit(.minutes(10)))
    func codexNothingListening() throws {
        let s = try CodexLock.sandbox("codex-refused")
        s.lockfile(Lockfiles.make([.init(name: "down", baseURL: "http://127.0.0.1:\(closedPort())/v1", authEnv: "OPENAI_API_KEY", harness: "codex")],
                                  extraHarnesses: CodexLock.harness))
        s.envFile("SCRIPTED_KEY=sk-down-1\n")
        let (entry, _) = try heldByPreflight(s, provider: "down")
        print("codex refused: preflight \(entry)")
        // codex 0.163 never gives up on a refused connection: it prints
        //   {"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}
        // at t+3, 11, 24 s ... and keeps waiting; mtor stops it at the second such event.
        #expect(s.read("logs/.preflight-down.log").contains("Connection failed: error sending request"))
        #expect(entry["class"] as? String == "provider_unavailable", "\(entry)")
    }
}
