import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

/// 1234 as "1,234", as `mtor status` prints token counts.
func groupedDigits(_ n: Int) -> String {
    let d = String(n)
    return d.enumerated().map { i, c in (i > 0 && (d.count - i) % 3 == 0 ? "," : "") + String(c) }.joined()
}

/// The last JSON line of a task log whose `type` is `type`, as the harness printed it.
func lastEvent(_ log: String, type: String) -> [String: Any]? {
    log.split(separator: "\n").reversed().lazy.compactMap { line -> [String: Any]? in
        guard line.hasPrefix("{"), let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return o["type"] as? String == type ? o : nil
    }.first
}

@Suite("What every task cost", .serialized)
struct UsageTests {
    @Test("real Claude Code: the sidecar's usage is what its result event reported (distinctive token counts from the provider)", .timeLimit(.minutes(10)),
          .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it"))
    func claudeUsage() throws {
        let s = try Sandbox("usage-claude")
        let p = try ScriptedProvider(scenario: "commit", extra: ["--usage", "1234,567,89,12"])
        s.lockfile(Lockfiles.make([.init(name: "metered", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-metered-1\n")
        let r = try runSpec(s, "metered", "provider: metered")
        #expect(r.status == .succeeded, "\(r.reason)")
        let event = try #require(lastEvent(s.read("logs/metered.log"), type: "result"), "Claude Code printed a result event")
        let usage = try #require(event["usage"] as? [String: Any])
        let u = try #require(r.attempts.last?.usage)
        #expect(u.inputTokens == usage["input_tokens"] as? Int && (u.inputTokens ?? 0) >= 1234, "\(u)")
        #expect(u.outputTokens == usage["output_tokens"] as? Int && (u.outputTokens ?? 0) >= 567)
        #expect(u.cacheReadTokens == usage["cache_read_input_tokens"] as? Int && (u.cacheReadTokens ?? 0) >= 89)
        #expect(u.cacheWriteTokens == usage["cache_creation_input_tokens"] as? Int && (u.cacheWriteTokens ?? 0) >= 12)
        #expect(u.costUSD == event["total_cost_usd"] as? Double)
        #expect(u.numTurns == event["num_turns"] as? Int)
        #expect(u.apiDurationS == (event["duration_api_ms"] as? Int).map { Double($0) / 1000 })
        #expect(u.sessionID == event["session_id"] as? String && u.sessionID != nil)
        #expect(r.usage?.inputTokens == u.inputTokens && r.usage?.costUSD == u.costUSD, "the task's total is its one attempt's")
        // status: the last 24 h per provider, in text and JSON.
        let text = try s.mtor(["status", "--spool", s.spool])
        #expect(text.out.contains("metered: \(u.inputTokens ?? 0) in".replacingOccurrences(of: "\(u.inputTokens ?? 0)", with: groupedDigits(u.inputTokens ?? 0))), "\(text.out)")
        let json = try s.mtor(["status", "--json", "--spool", s.spool])
        let status = try JSONDecoder().decode(SpoolStatus.self, from: Data(json.out.utf8))
        let metered = status.recent.usage?.first { $0.provider == "metered" }
        #expect(metered?.inputTokens == u.inputTokens && metered?.outputTokens == u.outputTokens && metered?.costUSD == u.costUSD, "\(String(describing: metered))")
        print("claude usage: in \(u.inputTokens ?? -1), out \(u.outputTokens ?? -1), cache read \(u.cacheReadTokens ?? -1), cache write \(u.cacheWriteTokens ?? -1), cost \(u.costUSD ?? -1), turns \(u.numTurns ?? -1)")
    }

    @Test("real Codex: the sidecar takes the last turn.completed running total, never a sum", .timeLimit(.minutes(10)),
          .enabled(if: codexBinary != nil, "the real Codex CLI is not installed; .ci/run installs it"))
    func codexUsage() throws {
        let s = try CodexLock.sandbox("usage-codex")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-codex-usage-1", extra: ["--api", "openai", "--usage", "2345,678,91,0"])
        s.lockfile(Lockfiles.make([CodexLock.entry("openai", p)], extraHarnesses: CodexLock.harness))
        s.envFile("SCRIPTED_KEY=sk-codex-usage-1\n")
        let r = try runSpec(s, "codex-metered", "provider: openai\ntimeout: 2m\nstall: 60s")
        #expect(r.status == .succeeded, "\(r.reason)")
        let log = s.read("logs/codex-metered.log")
        let event = try #require(lastEvent(log, type: "turn.completed"))
        let usage = try #require(event["usage"] as? [String: Any])
        let u = try #require(r.attempts.last?.usage)
        #expect(u.inputTokens == usage["input_tokens"] as? Int && (u.inputTokens ?? 0) >= 2345, "\(u) vs \(usage)")
        #expect(u.outputTokens == usage["output_tokens"] as? Int && (u.outputTokens ?? 0) >= 678)
        #expect(u.cacheReadTokens == usage["cached_input_tokens"] as? Int)
        #expect(u.cacheWriteTokens == usage["cache_write_input_tokens"] as? Int, "codex 0.163 reports cache_write_input_tokens too")
        #expect(u.costUSD == nil && u.numTurns == nil && u.apiDurationS == nil, "what Codex does not report is null: \(u)")
        print("codex usage: in \(u.inputTokens ?? -1), out \(u.outputTokens ?? -1), cached \(u.cacheReadTokens ?? -1)")
    }
}

/// A loopback HTTP receiver that records each POST body (what a webhook service would get).
final class WebhookReceiver {
    let port: Int
    let bodies: String
    private let child: ChildProcess
    private let thread: Thread

    init() throws {
        let dir = NSTemporaryDirectory() + "mtor-hook-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        bodies = dir + "/bodies.jsonl"
        let script = """
            import http.server, json, os, sys
            out, portfile = sys.argv[1], sys.argv[2]
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('content-length', 0)))
                    with open(out, 'ab') as f:
                        f.write(json.dumps({'path': self.path, 'title': self.headers.get('Title', ''), 'body': body.decode('utf-8', 'replace')}).encode() + b'\\n')
                    self.send_response(200); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            open(portfile + '.tmp', 'w').write(str(s.server_address[1])); os.rename(portfile + '.tmp', portfile)
            s.serve_forever()
            """
        let portFile = dir + "/port"
        child = try ChildProcess(executable: "/usr/bin/python3", argv: ["python3", "-c", script, bodies, portFile], environment: ["PATH": "/usr/bin:/bin"], directory: dir)
        let running = child
        thread = Thread { _ = running.drive(onOutput: { _, _ in }, stop: { false }) }
        thread.start()
        var p = 0
        for _ in 0..<400 where p == 0 {
            p = Int((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "") ?? 0
            Thread.sleep(forTimeInterval: 0.025)
        }
        guard p > 0 else { throw SandboxError("the webhook receiver did not start") }
        port = p
    }

    deinit { child.signal(SIGKILL, group: true) }

    var received: [[String: Any]] {
        ((try? String(contentsOfFile: bodies, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

@Suite("Finish hooks and metrics", .serialized)
struct HookAndMetricsTests {
    @Test("the shipped on-finish example posts each finished task to a real HTTP receiver on loopback; no secret reaches the hook", .timeLimit(.minutes(10)))
    func onFinishWebhook() throws {
        let s = try Sandbox("hook")
        s.lockfile(Lockfiles.make([.init(name: "leaky", baseURL: "http://127.0.0.1:9", authEnv: "MTOR_TOKEN", secretEnv: "HOOK_SECRET", harness: "sh")]))
        s.envFile("HOOK_SECRET=hook-secret-31337\n")
        let receiver = try WebhookReceiver()
        try s.submit("good.md", "---\nrepo: ~/code/widget\nprovider: leaky\nexpect: nothing\n---\ntrue\n")
        try s.submit("bad.md", "---\nrepo: ~/code/widget\nprovider: leaky\n---\nexit 3\n")
        let hook = "\(packageRoot)/etc/hooks/on-finish.example http://127.0.0.1:\(receiver.port)/mtor; env > \(s.root)/hook-env-$MTOR_ID"
        let r = try s.drain(["--on-finish", hook])
        #expect(r.code == 0, "\(r.err.suffix(1000))")
        var got: [[String: Any]] = []
        for _ in 0..<200 where got.count < 2 {
            got = receiver.received
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(got.count == 2, "\(got)")
        let good = got.first { ($0["body"] as? String)?.contains("good") == true }
        #expect((good?["title"] as? String)?.contains("good succeeded") == true, "\(good ?? [:])")
        let bad = got.first { ($0["body"] as? String)?.contains("bad") == true }
        let badClass = try s.result("bad").class.rawValue
        #expect((bad?["body"] as? String)?.contains("bad failed (\(badClass))") == true, "\(bad ?? [:])")
        let env = (try? String(contentsOfFile: s.root + "/hook-env-good", encoding: .utf8)) ?? ""
        #expect(env.contains("MTOR_STATUS=succeeded") && env.contains("MTOR_CLASS=ok"), "\(env)")
        #expect(!env.contains("hook-secret-31337") && !env.contains("HOOK_SECRET"), "the hook's environment is built from scratch: \(env)")
    }

    @Test("a hook that hangs is killed at its 30 s limit, counted in worker.json, and never delays other tasks or changes a result", .timeLimit(.minutes(10)))
    func hangingHook() throws {
        let s = try Sandbox("hook-hang")
        s.lockfile(Lockfiles.make([]))
        let pids = s.root + "/hook-pids"
        let worker = try BackgroundWorker(s, extra: ["--on-finish", "echo $$ >> \(pids); exec sleep 600"])
        defer { worker.stop() }
        try s.submit("first.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\ntrue\n")
        try worker.waitFor { s.exists("done/first.result.json") }
        let first = Date()
        try s.submit("second.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\ntrue\n")
        try worker.waitFor { s.exists("done/second.result.json") }
        #expect(Date().timeIntervalSince(first) < 10, "the second task did not wait for the first one's hook")
        try worker.waitFor(timeout: 60) { s.read("state/worker.json").contains("\"timed_out\" : 2") }
        #expect(try s.result("first").status == .succeeded)
        let hookPids = ((try? String(contentsOfFile: pids, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        #expect(hookPids.count == 2 && hookPids.allSatisfy { !ProcessTable.isRunning($0) }, "hooks killed: \(hookPids)")
        #expect(worker.stderr.contains("on-finish for first failed (killed after 30 s)"))
    }

    @Test("after a mixed run (ok, failed, held) the metrics file passes promtool and its counters match the sidecars", .timeLimit(.minutes(10)),
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "promtool is not installed (Debian's prometheus package); .ci/run installs it"))
    func metricsFile() throws {
        let s = try Sandbox("metrics")
        s.lockfile(Lockfiles.make([.init(name: "down", baseURL: "http://127.0.0.1:\(closedPort())")]))
        for i in 0..<3 { try s.submit("ok\(i).md", "---\nrepo: ~/code/widget\nprovider: local\nexpect: nothing\n---\ntrue\n") }
        for i in 0..<2 { try s.submit("bad\(i).md", "---\nrepo: ~/code/widget\nprovider: local\n---\nexit 4\n") }
        try s.submit("held.md", "---\nrepo: ~/code/widget\nprovider: down\n---\nanything\n")
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { worker.stop() }
        try worker.waitFor(timeout: 120) {
            s.read("state/metrics.prom").contains("mtor_task_duration_seconds_count 5") && s.read("state/metrics.prom").contains("mtor_provider_healthy{provider=\"down\"")
        }
        let text = s.read("state/metrics.prom")
        let check = try ChildProcess.run(["/usr/bin/promtool", "check", "metrics"], environment: ["PATH": "/usr/bin:/bin"], stdin: Array(text.utf8))
        let said = String(decoding: check.stdout + check.stderr, as: UTF8.self)
        #expect(check.0.succeeded, "promtool: \(said)\n\(text)")
        #expect(said.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool had remarks: \(said)")
        var byClass: [String: Int] = [:]
        var attempts = 0
        for dir in ["done", "failed"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)") where name.hasSuffix(".result.json") {
                let r = try s.result(String(name.dropLast(".result.json".count)))
                byClass[r.class.rawValue, default: 0] += 1
                attempts += r.attempts.count
            }
        }
        #expect(byClass["ok"] == 3 && byClass.values.reduce(0, +) == 5, "\(byClass)")
        for (cls, n) in byClass {
            #expect(text.contains("mtor_tasks_total{class=\"\(cls)\",provider=\"local\"} \(n)"), "the counter for \(cls) matches the sidecars: \(text)")
        }
        #expect(text.contains("mtor_attempts_total{provider=\"local\"} \(attempts)"), "attempts match the sidecars (\(attempts))")
        #expect(text.contains("mtor_queue_depth{dir=\"done\"} 3") && text.contains("mtor_queue_depth{dir=\"failed\"} 2"))
        #expect(text.contains("mtor_task_duration_seconds_count 5"))
        // Every scheduling turn is counted: at least one per spec it read.
        let turns = text.split(separator: "\n").first { $0.hasPrefix("mtor_dispatch_seconds_count ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
        #expect((turns ?? 0) >= 6, "mtor_dispatch_seconds_count: \(turns.map(String.init) ?? "missing")")
        #expect(text.contains("mtor_queue_depth{dir=\"inbox\"} 1"), "the held spec is queued")
        let down = text.split(separator: "\n").first { $0.hasPrefix("mtor_provider_healthy{provider=\"down\",class=\"") }
        #expect(down?.hasSuffix("\"} 0") == true && down?.contains("class=\"\"") == false, "the held provider is unhealthy, with its class: \(down ?? "none")")
        #expect(text.contains("mtor_worker_start_time_seconds "))
        print("metrics: promtool check metrics passed on \(text.split(separator: "\n").count) lines")
    }
}
