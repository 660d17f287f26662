import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Lockfiles with prices and budgets for the budget tests.
enum BudgetLock {
    /// $/Mtok of the model the tests price: input 3, output 15, cache read 0.3, cache write 3.75.
    static let price = Budget.Price(input: 3.0, output: 15.0, cacheRead: 0.3, cacheWrite: 3.75)
    static let priceJSON = #"{ "claude-sonnet-4-5": { "input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75 }, "gpt-5": { "input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75 } }"#

    /// The `claude` harness exactly as etc/providers.json ships it (with `--include-partial-messages`, so each
    /// message's output count shows as it ends): the tests run what users run.
    static let claudeHarness: String = {
        let data = FileManager.default.contents(atPath: packageRoot + "/etc/providers.json") ?? Data()
        let lock = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let entry = (lock?["harnesses"] as? [String: Any])?["claude"] ?? [:]
        let json = (try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) ?? Data("{}".utf8)
        return "\"claude\": " + String(decoding: json, as: UTF8.self)
    }()

    /// A harness that prints Claude Code's stream-json as a model that read 1,000,000 input tokens would:
    /// at input $1/Mtok, each run costs exactly $1.
    static func dollarHarness(_ s: Sandbox) -> String {
        let script = s.root + "/dollar.sh"
        writeFixture(script, Data("""
            cat >/dev/null
            echo '{"type":"system","subtype":"init"}'
            echo '{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":1000000,"output_tokens":0}}}'
            echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","num_turns":1,"usage":{"input_tokens":1000000,"output_tokens":0}}'

            """.utf8))
        return #""dollar": { "argv": ["/bin/sh", "\#(script)"], "prompt": "stdin", "stream": "claude-stream-json" }"#
    }

    static func claude(_ provider: ScriptedProvider, budget: String = "") -> String {
        """
        {
          "schema": "mtor.providers/1", "default": "metered",
          "harnesses": { \(claudeHarness), "sh": { "argv": ["/bin/sh", "-s"], "prompt": "stdin" } },
          "providers": {
            "local": { "harness": "sh" },
            "metered": { "harness": "claude", "api": "anthropic", "base_url": "\(provider.baseURL)",
              "auth_env": "ANTHROPIC_AUTH_TOKEN", "secret_env": "SCRIPTED_KEY", "model": "claude-sonnet-4-5",
              "concurrency": 2, "prices": \(priceJSON)\(budget) }
          }
        }
        """
    }
}

@Suite("Budgets fail closed: a task, a provider and the worker stop spending at a limit", .serialized)
struct BudgetTests {
    /// The cost of one scripted turn of `--usage 1000,200,50,10`: $0.0060525.
    static let turn = BudgetLock.price.cost(Budget.Tokens(input: 1000, output: 200, cacheRead: 50, cacheWrite: 10))

    /// The real Claude Code against six scripted turns of known usage, with `frontmatter`'s cap. Each
    /// main-loop answer comes a second late and streams its message_start, then the rest 2 s later: the
    /// turn that crosses a cap is under way for 2 s, so a stop during it is not a race with the CLI's
    /// next request (the provider logs a request when it answers, a second after it arrived; with the
    /// whole answer at once, a stop that took more than the CLI's tool call under load lost that race).
    func cappedClaude(_ id: String, _ frontmatter: String) throws -> (Sandbox, ScriptedProvider, TaskResult) {
        let s = try Sandbox("budget-\(id)")
        let p = try ScriptedProvider(scenario: "turns", extra: ["--turns", "6", "--usage", "1000,200,50,10", "--delay-main", "1",
                                                                 "--start-gap", "2"])
        s.lockfile(BudgetLock.claude(p))
        s.envFile("SCRIPTED_KEY=sk-budget-1\n")
        return (s, p, try runSpec(s, id, "provider: metered\n\(frontmatter)\nexpect: nothing", body: "Read a file, six times."))
    }

    @Test("real Claude Code: max_cost_usd below the third turn's running cost ends budget_exceeded during that turn; the figures are the lockfile's prices",
          .timeLimit(.minutes(10)), .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
    func claudeCostCap() throws {
        // Two turns cost $0.012105, three $0.0181575 (the third counts from its first event on).
        let (s, p, r) = try cappedClaude("capped", "max_cost_usd: 0.015")
        #expect(r.status == .failed && r.class == .budgetExceeded, "\(r.class): \(r.reason)")
        #expect(r.attempts.count == 1, "budget_exceeded is never retried")
        #expect(r.attempts.first?.stoppedBy == "budget", "\(String(describing: r.attempts.first?.stoppedBy))")
        #expect(r.reason.contains("max_cost_usd: $0.015, so the agent was stopped at once"), "\(r.reason)")
        let u = try #require(r.attempts.first?.usage)
        // Three turns' input and cache tokens; the third turn's output is 1 or 200 depending on whether its
        // message_delta was read before the stop.
        #expect(u.inputTokens == 3000 && u.cacheReadTokens == 150 && u.cacheWriteTokens == 30, "\(u)")
        #expect([401, 600].contains(u.outputTokens ?? -1), "\(u)")
        let priced = try #require(u.pricedCostUSD)
        let expected = BudgetLock.price.cost(Budget.Tokens(input: 3000, output: u.outputTokens ?? 0, cacheRead: 150, cacheWrite: 30))
        #expect(abs(priced - expected) < 1e-9, "priced \(priced), prices give \(expected)")
        #expect(priced > 0.015 && priced > 2 * Self.turn, "crossed in the third turn: \(priced)")
        #expect(r.usage?.pricedCostUSD == priced)
        // Stopped during the third turn: the provider never saw a fourth main-loop request.
        let main = p.requests.filter { $0["kind"] as? String == "main" }
        #expect(main.count == 3, "main-loop requests: \(main.count)")
        let spent = s.ledger().filter { $0.event == .spent && $0.id == "capped" }
        #expect(spent.count == 1 && spent.first?.costUSD == priced && spent.first?.model == "claude-sonnet-4-5")
        print("capped claude run: \(r.reason); priced \(priced) for \(u.inputTokens ?? -1) in / \(u.outputTokens ?? -1) out / \(u.cacheReadTokens ?? -1) cache read / \(u.cacheWriteTokens ?? -1) cache write; harness's own figure \(String(describing: u.costUSD))")
    }

    @Test("real Claude Code, uncapped: mtor's priced figure equals Claude Code's own total_cost_usd when the lockfile has its list prices; show prints both",
          .timeLimit(.minutes(10)), .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
    func claudeFiguresAgree() throws {
        let s = try Sandbox("budget-agree")
        let p = try ScriptedProvider(scenario: "turns", extra: ["--turns", "3", "--usage", "1000,200,50,10"])
        s.lockfile(BudgetLock.claude(p))
        s.envFile("SCRIPTED_KEY=sk-budget-3\n")
        let r = try runSpec(s, "agree", "provider: metered\nexpect: nothing\nmax_turns: 3", body: "Read a file, three times.")
        #expect(r.status == .succeeded, "\(r.class): \(r.reason)")
        let u = try #require(r.usage)
        let own = try #require(u.costUSD), priced = try #require(u.pricedCostUSD)
        #expect(abs(priced - 3 * Self.turn) < 1e-9 && abs(own - priced) < 1e-9, "priced \(priced), Claude Code's own \(own)")
        let show = try s.mtor(["show", "agree", "--spool", s.spool])
        #expect(show.out.contains("cost:   $0.018158 at the lockfile's prices; $0.018158 by the harness's own figure; 3000 in / 600 out tokens, 3 turns"), "\(show.out)")
        print("uncapped claude run: priced \(priced), Claude Code's total_cost_usd \(own)")
    }

    @Test("real Claude Code: max_turns 2 stops the agent when it begins its third turn", .timeLimit(.minutes(10)),
          .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
    func claudeTurnCap() throws {
        let (_, p, r) = try cappedClaude("turned", "max_turns: 2")
        #expect(r.class == .budgetExceeded && r.attempts.count == 1, "\(r.class): \(r.reason)")
        #expect(r.reason.contains("model turn 3") && r.reason.contains("max_turns: 2"), "\(r.reason)")
        #expect(r.attempts.first?.usage?.numTurns == 3, "\(String(describing: r.attempts.first?.usage))")
        #expect(p.requests.filter { $0["kind"] as? String == "main" }.count == 3)
    }

    @Test("a harness without token counts and a spec with max_cost_usd: refused before spawning, with the reason")
    func refusedWithoutTokenCounts() throws {
        let s = try Sandbox("budget-refused")
        s.lockfile(Lockfiles.make([]))
        let mark = s.root + "/ran"
        let r = try runSpec(s, "blind", "provider: local\nmax_cost_usd: 1\nexpect: nothing", body: "touch \(mark)")
        #expect(r.class == .specInvalid && r.attempts.isEmpty, "refused before any attempt: \(r.class): \(r.reason)")
        #expect(r.reason.contains("max_cost_usd") && r.reason.contains("reports no token counts") && r.reason.contains("not started"), "\(r.reason)")
        #expect(!FileManager.default.fileExists(atPath: mark), "the agent never ran")
        #expect(!s.read("logs/blind.log").contains("attempt 1"), "no attempt was started")
        // `mtor validate` on the laptop says the same before upload.
        writeFixture(s.root + "/blind.md", Data("---\nrepo: ~/code/widget\nprovider: local\nmax_cost_usd: 1\n---\nGo.\n".utf8))
        let v = try s.mtor(["validate", s.root + "/blind.md", "--providers", s.etc + "/providers.json"])
        #expect(v.code != 0 && (v.out + v.err).contains("reports no token counts"), "\(v.out)\(v.err)")
        // The same spec without a cap runs.
        let free = try runSpec(s, "seeing", "provider: local\nexpect: nothing", body: "touch \(mark)")
        #expect(free.status == .succeeded && FileManager.default.fileExists(atPath: mark), "\(free.reason)")
    }

    @Test("a provider's daily budget spent by two tasks holds a third in inbox/ with the reason at submit --wait; a restart keeps the count; the next UTC day releases it",
          .timeLimit(.minutes(15)))
    func dailyBudget() throws {
        let s = try Sandbox("budget-daily")
        s.lockfile("""
            {
              "schema": "mtor.providers/1", "default": "daily",
              "harnesses": { \(BudgetLock.dollarHarness(s)), "sh": { "argv": ["/bin/sh", "-s"], "prompt": "stdin" } },
              "providers": {
                "local": { "harness": "sh" },
                "daily": { "harness": "dollar", "model": "m", "concurrency": 1,
                           "prices": { "m": { "input": 1.0, "output": 1.0 } }, "budget_usd_per_day": 2 }
              }
            }
            """)
        let clock = s.root + "/now"
        let env = ["MTOR_TEST_NOW_FILE": clock]
        let spec = { (n: Int) in "---\nrepo: ~/code/widget\nexpect: answer\n---\nTask \(n).\n" }
        var worker = try BackgroundWorker(s, env: env)
        try worker.waitUntilStarted()
        for n in 1...2 { try s.submit("t\(n).md", spec(n)) }
        try worker.waitFor(timeout: 60) { s.exists("done/t1.result.json") && s.exists("done/t2.result.json") }
        #expect(try s.result("t1").usage?.pricedCostUSD == 1.0)
        // Visible: status shows today's spend against the budget; the metrics price it by provider and model.
        try worker.waitFor(timeout: 30) {
            let metrics = s.read("state/metrics.prom")
            return metrics.contains(#"mtor_cost_usd_total{provider="daily",model="m"} 2"#) && metrics.contains(#"mtor_budget_spent_usd{provider="daily"} 2"#)
        }
        #expect(s.read("state/metrics.prom").contains(#"mtor_budget_usd{provider="daily"} 2"#))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let check = try ChildProcess.run(["/usr/bin/promtool", "check", "metrics"], environment: ["PATH": "/usr/bin:/bin"], stdin: Array(s.read("state/metrics.prom").utf8))
            let said = String(decoding: check.stdout + check.stderr, as: UTF8.self)
            #expect(check.0.succeeded && said.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool: \(said)")
        }
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("budget provider daily: $2.00 of $2.00 spent today"), "\(status.out)")
        // A restart in between: the count comes back from the ledger.
        worker.stop()
        worker = try BackgroundWorker(s, env: env)
        try worker.waitUntilStarted()
        try FileManager.default.createDirectory(atPath: s.root + "/laptop", withIntermediateDirectories: true)
        writeFixture(s.root + "/laptop/t3.md", Data(spec(3).utf8))
        let held = try s.mtor(["submit", s.root + "/laptop/t3.md", "--spool", s.spool, "--wait", "--timeout", "6s"])
        #expect(held.code != 0, "t3 may not run today")
        let said = held.out + held.err
        #expect(said.contains("provider daily spent $2.00 of its daily budget $2.00 (providers.daily.budget_usd_per_day)"), "\(said)")
        let queued = try FileManager.default.contentsOfDirectory(atPath: s.spool + "/inbox").filter { $0.contains("-t3-") && $0.hasSuffix(".md") }
        let id = try #require(queued.first.map { String($0.dropLast(3)) }, "t3 waits in inbox/: \(s.listing())")
        let waiting = try s.mtor(["status", "--spool", s.spool])
        #expect(waiting.out.contains("inbox/\(id).md: provider daily spent $2.00 of its daily budget $2.00"), "\(waiting.out)")
        let show = try s.mtor(["show", id, "--spool", s.spool])
        #expect(show.out.contains("budget_usd_per_day"), "\(show.out)")
        // The next UTC day.
        let tomorrow = Budget.nextDay(after: Date().timeIntervalSince1970) + 60
        writeFixture(clock, Data(Stamp.iso(Date(timeIntervalSince1970: tomorrow)).utf8))
        try worker.waitFor(timeout: 60) { s.exists("done/\(id).result.json") }
        worker.stop()
        #expect(try s.result(id).status == .succeeded)
    }

    @Test("the worker's daily budget with --budget-stop: a running attempt that spends it is stopped at once (budget_exceeded); without the flag it finishes",
          .timeLimit(.minutes(15)))
    func workerBudgetStop() throws {
        /// A harness that reports $1 of input at once, then works for the seconds in `<root>/sleep` before it ends.
        func world(_ label: String, sleep: Int) throws -> Sandbox {
            let s = try Sandbox(label)
            let script = s.root + "/slow.sh"
            writeFixture(script, Data("""
                p=$(cat)
                case "$p" in *"single word"*) echo '{"type":"result","subtype":"success","is_error":false,"result":"ok"}'; exit 0;; esac
                echo '{"type":"system","subtype":"init"}'
                echo '{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"working"}],"usage":{"input_tokens":1000000,"output_tokens":0}}}'
                sleep \(sleep)
                echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":1000000,"output_tokens":0}}'

                """.utf8))
            s.lockfile("""
                {
                  "schema": "mtor.providers/1", "default": "slow", "budget_usd_per_day": 1,
                  "harnesses": { "slow": { "argv": ["/bin/sh", "\(script)"], "prompt": "stdin", "stream": "claude-stream-json" },
                                 "sh": { "argv": ["/bin/sh", "-s"], "prompt": "stdin" } },
                  "providers": { "local": { "harness": "sh" },
                                 "slow": { "harness": "slow", "model": "m", "prices": { "m": { "input": 1.0, "output": 1.0 } } } }
                }
                """)
            return s
        }
        let s = try world("budget-stop", sleep: 60)
        let started = Date()
        let r = try runSpec(s, "stopped", "expect: answer\ntimeout: 5m", body: "Work.", extra: ["--budget-stop"])
        #expect(r.class == .budgetExceeded && r.attempts.first?.stoppedBy == "budget", "\(r.class): \(r.reason)")
        #expect(r.reason.contains("--budget-stop") && r.reason.contains("(budget_usd_per_day)"), "\(r.reason)")
        #expect(Date().timeIntervalSince(started) < 50, "stopped at once, not after the agent's 60 s")
        // Without the flag, on a fresh spool of the same day, the attempt that spends the budget finishes.
        let s2 = try world("budget-nostop", sleep: 1)
        let ok = try runSpec(s2, "finished", "expect: answer\ntimeout: 5m", body: "Work.")
        #expect(ok.status == .succeeded && ok.usage?.pricedCostUSD == 1.0, "\(ok.class): \(ok.reason)")
    }

    @Test("a retry on a provider whose daily budget its first attempt spent waits in inbox/ with the reason, its attempt kept, until the next UTC day",
          .timeLimit(.minutes(15)))
    func retryHeld() throws {
        let s = try Sandbox("budget-retry")
        let script = s.root + "/stall.sh"
        writeFixture(script, Data("""
            p=$(cat)
            case "$p" in *"single word"*) echo '{"type":"result","subtype":"success","is_error":false,"result":"ok"}'; exit 0;; esac
            echo '{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"thinking"}],"usage":{"input_tokens":1000000,"output_tokens":0}}}'
            exec sleep 60

            """.utf8))
        s.lockfile("""
            {
              "schema": "mtor.providers/1", "default": "daily",
              "harnesses": { "stall": { "argv": ["/bin/sh", "\(script)"], "prompt": "stdin", "stream": "claude-stream-json" },
                             "sh": { "argv": ["/bin/sh", "-s"], "prompt": "stdin" } },
              "providers": { "local": { "harness": "sh" },
                             "daily": { "harness": "stall", "model": "m", "prices": { "m": { "input": 1.0, "output": 1.0 } }, "budget_usd_per_day": 1 } }
            }
            """)
        let clock = s.root + "/now"
        let worker = try BackgroundWorker(s, env: ["MTOR_TEST_NOW_FILE": clock])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try s.submit("r1.md", "---\nrepo: ~/code/widget\nstall: 3s\nexpect: answer\n---\nThink.\n")
        // Attempt 1 spends the day's $1 and stalls; its retry would spend more: the task goes back to inbox/, held.
        try worker.waitFor(timeout: 60) { s.read("state/worker.json").contains("inbox/r1.md: provider daily spent $1.00 of its daily budget $1.00") }
        #expect(s.exists("inbox/r1.md"), "\(s.listing())")
        #expect(s.read("state/attempts/r1.json").contains("stalled"), "the first attempt is kept")
        #expect(s.read("logs/r1.log").contains("requeued before the next attempt: provider daily spent"))
        // The next UTC day: the retry runs (and stalls again: stalled is retried once).
        writeFixture(clock, Data(Stamp.iso(Date(timeIntervalSince1970: Budget.nextDay(after: Date().timeIntervalSince1970) + 60)).utf8))
        try worker.waitFor(timeout: 60) { s.exists("failed/r1.result.json") }
        let r = try s.result("r1")
        #expect(r.class == .stalled && r.attempts.count == 2 && r.usage?.pricedCostUSD == 2.0, "\(r.class) after \(r.attempts.count): \(r.reason)")
    }

    @Test("real Aider: its Tokens reports priced from the lockfile", .timeLimit(.minutes(10)), .requiresAider)
    func aiderPriced() throws {
        let s = try AiderLock.sandbox("budget-aider")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-aider-budget-1")
        s.lockfile(AiderLock.lockfile(p).replacingOccurrences(of: "\"concurrency\": 1 }",
                                                              with: #""concurrency": 1, "prices": { "openai/mtor-scripted": { "input": 3.0, "output": 15.0 } } }"#))
        s.envFile("SCRIPTED_KEY=sk-aider-budget-1\n")
        let r = try runSpec(s, "aider-priced", "provider: aider-p\ntimeout: 3m\nstall: 90s\nmax_cost_usd: 5")
        #expect(r.status == .succeeded, "\(r.class): \(r.reason)")
        let log = s.read("logs/aider-priced.log")
        let reports = log.split(separator: "\n").filter { $0.hasPrefix("Tokens: ") }
        // Aider reports its own count ("Tokens: 597 sent, 21 received."), which is what mtor prices.
        func count(_ line: Substring, _ word: String) -> Int {
            guard let r = line.range(of: #"[0-9.]+k? "# + word, options: .regularExpression) else { return 0 }
            let n = line[r].split(separator: " ")[0]
            return n.hasSuffix("k") ? Int((Double(n.dropLast()) ?? 0) * 1000) : Int(n) ?? 0
        }
        #expect(!reports.isEmpty && reports.allSatisfy { count($0, "sent") > 0 }, "\(reports)")
        let expected = reports.reduce(0) { $0 + BudgetLock.price.cost(Budget.Tokens(input: count($1, "sent"), output: count($1, "received"))) }
        #expect(abs((r.usage?.pricedCostUSD ?? -1) - expected) < 1e-9, "priced \(String(describing: r.usage?.pricedCostUSD)), expected \(expected) for \(reports.count) report(s)")
    }

    @Test("real Codex: tokens priced from the lockfile; a max_cost_usd below the turn's cost ends budget_exceeded", .timeLimit(.minutes(10)),
          .enabled(if: codexBinary != nil, "the real Codex CLI is not installed; .ci/run installs it"))
    func codexCostCap() throws {
        let s = try CodexLock.sandbox("budget-codex")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-codex-budget-1", extra: ["--api", "openai", "--usage", "2345,678,91,0"])
        var entry = CodexLock.entry("openai", p)
        entry.env = "\"X_UNUSED\": \"1\"" // keeps the entry's shape; prices are spliced below
        var lock = Lockfiles.make([entry], extraHarnesses: CodexLock.harness)
        lock = lock.replacingOccurrences(of: "\"concurrency\": 2, \"env\": {\"X_UNUSED\": \"1\"}", with: "\"concurrency\": 2, \"prices\": \(BudgetLock.priceJSON)")
        lock = lock.replacingOccurrences(of: "\"model\": \"claude-sonnet-4-5\"", with: "\"model\": \"gpt-5\"")
        s.lockfile(lock)
        s.envFile("SCRIPTED_KEY=sk-codex-budget-1\n")
        let r = try runSpec(s, "codex-capped", "provider: openai\ntimeout: 2m\nstall: 60s\nmax_cost_usd: 0.001")
        #expect(r.class == .budgetExceeded && r.attempts.count == 1, "\(r.class): \(r.reason)")
        let u = try #require(r.attempts.first?.usage)
        let input = u.inputTokens ?? 0, cached = u.cacheReadTokens ?? 0
        let expected = BudgetLock.price.cost(Budget.Tokens(input: input - cached, output: u.outputTokens ?? 0, cacheRead: cached, cacheWrite: u.cacheWriteTokens ?? 0))
        #expect(input >= 2345 && abs((u.pricedCostUSD ?? -1) - expected) < 1e-9, "\(u) vs \(expected)")
        #expect(u.costUSD == nil, "Codex reports no cost of its own")
        print("capped codex run: \(r.reason); priced \(u.pricedCostUSD ?? -1)")
    }
}
