import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 12: a hung provider is named within a minute, a slow one is left to work, and a
/// preflight that gets no answer blames the provider, not the spec. Real Claude Code CLI.
@Suite("Silence is never ambiguous", .serialized, .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
struct SilenceTests {
    @Test("a provider that answers the preflight and then hangs: provider_unavailable within 30 s at default stall, the provider marked unhealthy, the next spec held", .timeLimit(.minutes(10)))
    func hangMidTask() throws {
        let s = try Sandbox("silence")
        let p = try ScriptedProvider(scenario: "hang", passPreflight: true)
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: p.baseURL, concurrency: 1)]))
        s.envFile("SCRIPTED_KEY=sk-hang-1\n")
        try s.submit("first.md", "---\nrepo: ~/code/widget\nprovider: zhipu\n---\nSay ok.\n")
        let worker = try BackgroundWorker(s, extra: ["--silence-probe", "5s"])
        defer { worker.stop() }
        try worker.waitFor(timeout: 60) { s.exists("claimed/first.md") }
        let claimed = Date()
        try s.submit("second.md", "---\nrepo: ~/code/widget\nprovider: zhipu\n---\nSay ok.\n")
        try worker.waitFor(timeout: 90) { s.exists("failed/first.result.json") }
        let named = Date().timeIntervalSince(claimed)
        let r = try s.result("first")
        #expect(r.class == .providerUnavailable, "\(r.class.rawValue): \(r.reason)")
        #expect(r.reason.contains("silent") && r.reason.contains("zhipu") && r.reason.contains("did not answer a direct request within 15 s"), "\(r.reason)")
        #expect(r.attempts.count == 1, "no retry on a provider found hung: \(r.attempts.map(\.class))")
        #expect(r.attempts.first?.stoppedBy == "silence_probe")
        #expect(named < 30, "named after \(named) s")
        #expect(providerState(s, "zhipu")?["state"] as? String == "unhealthy")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(s.exists("inbox/second.md"), "the next spec waits: \(s.listing())")
        #expect(s.read("state/worker.json").contains("inbox/second.md: provider zhipu"), "worker.json says why it waits")
        print("hung provider named after \(String(format: "%.1f", named)) s (silence probe 5 s, direct check limit 15 s)")
    }

    @Test("a slow but alive provider (answers the direct check, streams the reply after 20 s): the task succeeds and is not killed", .timeLimit(.minutes(10)))
    func slowButAlive() throws {
        let s = try Sandbox("slow")
        let p = try ScriptedProvider(scenario: "ok", extra: ["--delay-main", "20"])
        s.lockfile(Lockfiles.make([.init(name: "slow", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-slow-1\n")
        try s.submit("slow.md", "---\nrepo: ~/code/widget\nprovider: slow\nexpect: answer\n---\nSay ok.\n")
        let worker = try BackgroundWorker(s, extra: ["--silence-probe", "5s"])
        defer { worker.stop() }
        var sawAnswer = false
        try worker.waitFor(timeout: 120) {
            if s.read("state/worker.json").contains("provider_answered_at") { sawAnswer = true }
            return s.exists("done/slow.result.json") || s.exists("failed/slow.result.json")
        }
        let r = try s.result("slow")
        #expect(r.status == .succeeded, "\(r.class.rawValue): \(r.reason)")
        #expect(r.attempts.count == 1)
        #expect((r.attempts.first?.durationS ?? 0) >= 20)
        #expect(sawAnswer, "the live state recorded that the provider answered while the agent was silent")
        #expect(p.requests.contains { ($0["stream"] as? Bool) != true && ($0["status"] as? Int) == 200 }, "the direct check reached the provider")
    }

    @Test("a preflight that gets no answer: provider_unavailable, with a hint about the provider and no word about the spec's timeout", .timeLimit(.minutes(10)))
    func preflightHang() throws {
        let s = try Sandbox("preflight-hang")
        let p = try ScriptedProvider(scenario: "hang")
        s.lockfile(Lockfiles.make([.init(name: "mute", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-mute-1\n")
        let (entry, log) = try heldByPreflight(s, provider: "mute")
        #expect(entry["class"] as? String == "provider_unavailable", "\(entry)")
        let reason = entry["reason"] as? String ?? ""
        #expect(reason.contains("no answer within 30 s"), "\(reason)")
        #expect(!log.contains("timeout:") && !reason.contains("timeout:"), "no spec-timeout advice: \(log.suffix(1500))")
        #expect(log.contains("mtor doctor --provider mute"))
    }
}

@Suite("A provider's rate-limit reset holds the provider", .serialized, .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
struct RateLimitResetTests {
    @Test("a 429 naming a reset 40 s away (in the headers, or as Claude Code's usage-limit text): the provider is held until then, the task waits in inbox/ and then runs, with no attempt spent",
          .timeLimit(.minutes(10)), arguments: ["headers", "usage-limit-text"])
    func resetHoldsProvider(shape: String) throws {
        let s = try Sandbox("reset")
        // "headers": the CLI would sleep through retry-after itself; "usage-limit-text": x-should-retry false
        // makes it give up at once with "API Error: Request rejected (429) · Usage limit reached …; resets at T".
        let p = try ScriptedProvider(scenario: "usage-limit", passPreflight: true,
                                     extra: ["--reset-in", "40"] + (shape == "usage-limit-text" ? ["--no-retry"] : []))
        s.lockfile(Lockfiles.make([.init(name: "capped", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-capped-1\n")
        try s.submit("capped.md", "---\nrepo: ~/code/widget\nprovider: capped\nexpect: answer\n---\nSay ok.\n")
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        var sawHold = false
        try worker.waitFor(timeout: 150) {
            if s.read("state/worker.json").contains("rate-limited until") { sawHold = true }
            return s.exists("done/capped.result.json") || s.exists("failed/capped.result.json")
        }
        let r = try s.result("capped")
        #expect(r.status == .succeeded, "\(r.class.rawValue): \(r.reason)")
        #expect(r.attempts.map(\.class) == [.ok], "no attempt spent on the limit: \(r.attempts.map(\.class))")
        #expect(sawHold, "worker.json said the provider is rate-limited until its reset")
        #expect(s.ledger().contains { $0.id == "capped" && $0.event == .requeued && $0.class == .rateLimited })
        #expect(worker.stderr.contains("rate-limited until"))
    }
}

@Suite("Every waiting task explains itself", .serialized, .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
struct HeldTaskTests {
    @Test("a spec held by a provider whose key went in the wrong variable: submit --wait and show print auth_failed and name ANTHROPIC_AUTH_TOKEN within 5 s; a later submit warns at once", .timeLimit(.minutes(10)))
    func wrongVariableExplained() throws {
        let s = try Sandbox("held")
        let p = try ScriptedProvider(scenario: "bearer-only")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: p.baseURL, authEnv: "ANTHROPIC_API_KEY")]))
        s.envFile("SCRIPTED_KEY=sk-held-1\n")
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        let spec = s.root + "/fix-it.md"
        try Data("---\nrepo: ~/code/widget\nprovider: zhipu\n---\nFix it.\n".utf8).write(to: URL(fileURLWithPath: spec))
        let began = Date()
        let submit = try s.mtor(["submit", "--spool", s.spool, "--providers", s.etc + "/providers.json", "--wait", "--timeout", "5s", spec], timeout: 60)
        let took = Date().timeIntervalSince(began)
        #expect(submit.code != 0, "still queued at --timeout")
        #expect(submit.err.contains("queued — held: provider zhipu failed preflight (auth_failed)"), "\(submit.err)")
        #expect(submit.err.contains("ANTHROPIC_AUTH_TOKEN"), "the hint names the variable the provider wants: \(submit.err)")
        #expect(took < 10, "the explanation came within the 5 s wait: \(took) s")
        let id = try #require(submit.out.split(separator: " ").dropFirst(3).first.map(String.init), "\(submit.out)")
        let show = try s.mtor(["show", "--spool", s.spool, id])
        #expect(show.out.contains("queued — held:") && show.out.contains("auth_failed") && show.out.contains("ANTHROPIC_AUTH_TOKEN"), "\(show.out)")
        let json = try s.mtor(["show", "--json", "--spool", s.spool, id])
        #expect(json.out.contains("\"held\"") && json.out.contains("auth_failed"), "\(json.out)")
        // The worker already knows: the next submit (another spec: a twin of the queued one is refused as a duplicate) says so at once.
        let other = s.root + "/fix-that.md"
        try Data("---\nrepo: ~/code/widget\nprovider: zhipu\n---\nFix that.\n".utf8).write(to: URL(fileURLWithPath: other))
        let again = try s.mtor(["submit", "--spool", s.spool, "--providers", s.etc + "/providers.json", other])
        #expect(again.code == 0)
        #expect(again.err.contains("warning:") && again.err.contains("holds provider zhipu as unhealthy (auth_failed"), "\(again.err)")
    }
}
