import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Runs one spec to its end with `mtor worker --once` and returns its sidecar.
func runSpec(_ s: Sandbox, _ id: String, _ frontmatter: String, body: String = "Create hello.txt and commit it.", extra: [String] = []) throws -> TaskResult {
    try s.submit("\(id).md", "---\nrepo: ~/code/widget\n\(frontmatter)\n---\n\(body)\n")
    let run = try s.drain(extra)
    #expect(run.code == 0, "worker stderr: \(run.err)")
    return try s.result(id)
}

@Suite("Failures are classified from evidence, with the real Claude Code CLI", .serialized, .requiresClaude)
struct ClaudeFailureTests {
    @Test("401: auth_failed within 15 s on that provider, after 1 attempt; the fallback then succeeds", .timeLimit(.minutes(10)))
    func authThenFallback() throws {
        let s = try Sandbox("auth")
        let bad = try ScriptedProvider(scenario: "401", passPreflight: true)
        let good = try ScriptedProvider(scenario: "commit", key: "sk-good-0001")
        s.lockfile(Lockfiles.make([.init(name: "bad", baseURL: bad.baseURL, secretEnv: "BAD_KEY"),
                                   .init(name: "good", baseURL: good.baseURL, secretEnv: "GOOD_KEY")]))
        s.envFile("BAD_KEY=sk-bad-0000\nGOOD_KEY=sk-good-0001\n")
        let r = try runSpec(s, "fallback", "provider: bad\nfallback: [good]")
        #expect(r.status == .succeeded, "\(r.reason)")
        #expect(r.attempts.map(\.class) == [.authFailed, .ok])
        #expect(r.attempts.map(\.provider) == ["bad", "good"])
        #expect(r.attempts[0].durationS < 15, "auth_failed after \(r.attempts[0].durationS) s")
        #expect(r.attempts[0].apiRetries?.first?.status == 401)
        #expect(r.attempts[0].stoppedBy == "early_abort")
        #expect(r.git?.commits.count == 1)
    }

    @Test("Bearer-only provider, lockfile maps the secret to ANTHROPIC_API_KEY: auth_failed, hint names the variable", .timeLimit(.minutes(10)))
    func wrongAuthVariable() throws {
        let s = try Sandbox("bearer")
        let p = try ScriptedProvider(scenario: "bearer-only", key: "sk-bearer-77", passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: p.baseURL, authEnv: "ANTHROPIC_API_KEY")]))
        s.envFile("SCRIPTED_KEY=sk-bearer-77\n")
        let r = try runSpec(s, "bearer", "provider: zhipu\nretries: 0")
        #expect(r.class == .authFailed)
        #expect(r.attempts.count == 1)
        #expect(r.hint.contains("ANTHROPIC_API_KEY") && r.hint.contains("ANTHROPIC_AUTH_TOKEN"), "\(r.hint)")
        #expect(p.requests.contains { ($0["x_api_key"] as? String) == "sk-bearer-77" }, "the harness sent x-api-key, which this provider refuses")
        #expect(!s.read("failed/bearer.result.json").contains("sk-bearer-77"))
    }

    @Test("429 for the first requests, then success: the task succeeds and the sidecar shows the 429s", .timeLimit(.minutes(10)))
    func rateLimitedThenOK() throws {
        let s = try Sandbox("429")
        let p = try ScriptedProvider(scenario: "429-then-ok", count: 2, passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "busy", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-busy-123\n")
        let r = try runSpec(s, "busy", "provider: busy\nexpect: answer", body: "Say ok.")
        #expect(r.status == .succeeded, "\(r.reason)")
        #expect(r.attempts.last?.apiRetries?.compactMap(\.status).contains(429) == true, "the sidecar records the 429s")
    }

    @Test("a provider that accepts and never answers: stalled at the spec's stall, retried once", .timeLimit(.minutes(10)))
    func stalled() throws {
        let s = try Sandbox("stall")
        let p = try ScriptedProvider(scenario: "hang", passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "silent", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-silent-1\n")
        let r = try runSpec(s, "silent", "provider: silent\nstall: 3s")
        #expect(r.class == .stalled)
        #expect(r.attempts.count == 2, "stalled is retried once: \(r.attempts.map(\.class))")
        for a in r.attempts {
            #expect(a.stoppedBy == "stall")
            #expect(a.durationS >= 3 && a.durationS < 15, "\(a.durationS)")
        }
    }

    @Test("nothing listening on the base URL: preflight says provider_unavailable and the spec waits in inbox/", .timeLimit(.minutes(10)))
    func nothingListening() throws {
        let s = try Sandbox("refused")
        s.lockfile(Lockfiles.make([.init(name: "down", baseURL: "http://127.0.0.1:\(closedPort())")]))
        s.envFile("SCRIPTED_KEY=sk-down-1\n")
        let (entry, log) = try heldByPreflight(s, provider: "down")
        #expect(entry["class"] as? String == "provider_unavailable", "\(entry)")
        #expect(log.contains("inbox/down.md stays queued"))
    }

    @Test("529 overloaded on every call during the task: provider_unavailable", .timeLimit(.minutes(10)))
    func overloaded() throws {
        let s = try Sandbox("529")
        let p = try ScriptedProvider(scenario: "500", passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "hot", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-hot-1\n")
        let r = try runSpec(s, "hot", "provider: hot\nretries: 0")
        #expect(r.class == .providerUnavailable, "\(r.reason)")
        #expect(r.attempts.count == 1)
        #expect(r.attempts[0].stoppedBy == "early_abort")
    }

    @Test("402 with billing text: quota_exhausted", .timeLimit(.minutes(10)))
    func quota() throws {
        let s = try Sandbox("402")
        let p = try ScriptedProvider(scenario: "402", passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "broke", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-broke-1\n")
        let r = try runSpec(s, "broke", "provider: broke")
        #expect(r.class == .quotaExhausted, "\(r.reason)")
        #expect(r.attempts.count == 1)
    }

    @Test("429 on every request: rate_limited", .timeLimit(.minutes(10)))
    func alwaysRateLimited() throws {
        let s = try Sandbox("429-always")
        let p = try ScriptedProvider(scenario: "429-then-ok", count: 1000, passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "busy", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-busy-1\n")
        let r = try runSpec(s, "always", "provider: busy\nretries: 0")
        #expect(r.class == .rateLimited, "\(r.reason)")
    }

    @Test("a spec naming a harness whose argv has an unknown flag: harness_usage after exactly 1 attempt; 50 in a row finish fast and log little", .timeLimit(.minutes(10)))
    func poisonArgv() throws {
        let s = try Sandbox("usage")
        let p = try ScriptedProvider(scenario: "ok")
        let badHarness = """
            "badflag": { "argv": ["claude", "--no-such-flag", "-p", "--output-format", "stream-json", "--verbose"], "prompt": "stdin",
                         "stream": "claude-stream-json", "base_url_env": "ANTHROPIC_BASE_URL",
                         "auth_headers": { "ANTHROPIC_AUTH_TOKEN": "bearer" } }
            """
        // The provider itself is healthy (its own harness passes preflight); the poison is the spec's harness.
        s.lockfile(Lockfiles.make([.init(name: "poison", baseURL: p.baseURL)], extraHarnesses: badHarness))
        s.envFile("SCRIPTED_KEY=sk-poison-1\n")
        for i in 0..<50 {
            try s.submit(String(format: "poison-%02d.md", i), "---\nrepo: ~/code/widget\nprovider: poison\nharness: badflag\n---\nanything\n")
        }
        let start = Date()
        let run = try s.drain(["--concurrency", "2"], timeout: 170)
        let elapsed = Date().timeIntervalSince(start)
        #expect(run.code == 0)
        var attempts = 0
        for i in 0..<50 {
            let r = try s.result(String(format: "poison-%02d", i))
            #expect(r.class == .harnessUsage, "\(r.reason)")
            #expect(r.reason.contains("never reached"))
            attempts += r.attempts.count
        }
        #expect(attempts == 50)
        #expect(p.requests.filter { ($0["method"] as? String) == "POST" && ($0["kind"] as? String) != "preflight" }.isEmpty, "only the preflight reached the model")
        let logBytes = try FileManager.default.contentsOfDirectory(atPath: s.spool + "/logs").reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: s.spool + "/logs/" + name)[.size] as? Int) ?? 0)
        }
        #expect(logBytes < 1 << 20, "logs/ holds \(logBytes) bytes")
        print("50 poison specs: \(String(format: "%.1f", elapsed)) s, \(attempts) attempts, logs \(logBytes) bytes")
    }
}

@Suite("Failures are classified from evidence, with plain commands")
struct CommandFailureTests {
    func sandbox(_ label: String) throws -> Sandbox {
        let s = try Sandbox(label)
        s.lockfile(Lockfiles.make([], extraHarnesses: """
            "ghost": { "argv": ["mtor-no-such-harness", "-p"], "prompt": "stdin" }
            """))
        return s
    }

    @Test("a missing harness binary: harness_missing after 1 attempt", .timeLimit(.minutes(10)))
    func missingHarness() throws {
        let s = try sandbox("ghost")
        let r = try runSpec(s, "ghost", "harness: ghost")
        #expect(r.class == .harnessMissing)
        #expect(r.attempts.count == 1)
        #expect(r.reason.contains("mtor-no-such-harness"))
    }

    @Test("verify: false → verify_failed; verify: true → succeeded", .timeLimit(.minutes(10)))
    func verifyGate() throws {
        let s = try sandbox("verify")
        let failed = try runSpec(s, "v-false", "harness: sh\nverify: false\nexpect: nothing", body: "echo agent ok")
        #expect(failed.class == .verifyFailed)
        #expect(failed.status == .failed)
        #expect(failed.verify?.exitCode == 1)
        #expect(failed.attempts.count == 1)
        let passed = try runSpec(s, "v-true", "harness: sh\nverify: true\nexpect: nothing", body: "echo agent ok")
        #expect(passed.status == .succeeded)
        #expect(passed.verify?.exitCode == 0)
    }

    @Test("wall-clock timeout kills the agent's whole group: timed_out, never retried", .timeLimit(.minutes(10)))
    func timeout() throws {
        let s = try sandbox("timeout")
        let r = try runSpec(s, "slow", "harness: sh\ntimeout: 2s", body: "sleep 30 &\nsleep 30")
        #expect(r.class == .timedOut)
        #expect(r.attempts.count == 1)
        #expect(r.attempts[0].durationS < 12)
    }

    @Test("an sh script's non-zero exit is agent_failed, never retried, with output or without (its side effects run once)", .timeLimit(.minutes(10)))
    func agentFailedAndUnknown() throws {
        let s = try sandbox("exit")
        let agent = try runSpec(s, "agent", "harness: sh", body: "echo 'working on it'\nexit 3")
        #expect(agent.class == .agentFailed)
        #expect(agent.attempts.count == 1)
        let silent = try runSpec(s, "silent", "harness: sh", body: "echo ran >> \(s.root)/side-effect\nexit 1")
        #expect(silent.class == .agentFailed, "\(silent.class.rawValue): \(silent.reason)")
        #expect(silent.attempts.count == 1)
        #expect(silent.reason.contains("exited 1"), "\(silent.reason)")
        #expect(String(decoding: FileManager.default.contents(atPath: s.root + "/side-effect") ?? Data(), as: UTF8.self) == "ran\n", "the side effect ran more than once")
    }

    @Test("mtor itself cannot record the claim (spool/tmp is gone): internal_error, the agent never runs, the result is still written",
          .timeLimit(.minutes(10)))
    func internalError() throws {
        let s = try sandbox("internal")
        // The claim is written through spool/tmp just before the agent may run (its prompt is in memory: a memfd).
        let worker = try BackgroundWorker(s, extra: ["--sandbox", "none"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try FileManager.default.removeItem(atPath: s.spool + "/tmp")
        #expect(FileManager.default.createFile(atPath: s.spool + "/tmp", contents: Data("not a directory".utf8)))
        try s.submit("staging.md", "---\nrepo: ~/code/widget\nharness: sh\n---\necho ran >> \(s.root)/side-effect\n", via: "inbox")
        try worker.waitFor { s.exists("failed/staging.md") }
        let r = try s.result("staging")
        #expect(r.class == .internalError, "\(r.reason)")
        #expect(r.reason.contains("could not record the claim before starting the agent"), "\(r.reason)")
        #expect(r.attempts.count == 1)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/side-effect"), "the agent ran without its claim recorded")
    }

    @Test("a log over the cap is cut with a marker", .timeLimit(.minutes(10)))
    func logCap() throws {
        let s = try sandbox("cap")
        let r = try runSpec(s, "loud", "harness: sh\nexpect: nothing", body: "head -c 3000000 /dev/zero | tr '\\\\0' x", extra: ["--log-cap", "1000000"])
        #expect(r.status == .succeeded)
        let size = (try FileManager.default.attributesOfItem(atPath: s.spool + "/logs/loud.log")[.size] as? Int) ?? 0
        #expect(size < 1_001_000)
        #expect(s.read("logs/loud.log").contains("log cut at 1000000 bytes"))
    }
}

/// Submits a spec for `provider`, drains, and returns the provider's health entry after
/// checking that the spec still waits in inbox/ (no attempt burned) and the provider is unhealthy;
/// also returns what the worker logged.
func heldByPreflight(_ s: Sandbox, provider: String) throws -> (entry: [String: Any], log: String) {
    try s.submit("\(provider).md", "---\nrepo: ~/code/widget\nprovider: \(provider)\n---\nanything\n")
    let run = try s.drain()
    #expect(run.code == 0)
    #expect(s.exists("inbox/\(provider).md"), "no attempt is burned on a provider that fails preflight: \(s.listing())")
    let entry = try #require(providerState(s, provider))
    #expect(entry["state"] as? String == "unhealthy")
    return (entry, run.err)
}
