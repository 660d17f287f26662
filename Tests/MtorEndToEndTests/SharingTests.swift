import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Two workers share one spool", .serialized)
struct SharingTests {
    @Test("two workers on one spool, recovering claimed/ five times a second, never run the same spec", .timeLimit(.minutes(10)))
    func twoWorkers() throws {
        let s = try Sandbox("two-workers")
        s.lockfile(Lockfiles.make([]))
        // Agents are sandboxed: the one directory they may write besides their own is named to the worker.
        let observed = s.root + "/observed"
        try FileManager.default.createDirectory(atPath: observed, withIntermediateDirectories: true)
        let runs = observed + "/runs.txt"
        let options = ["--concurrency", "2", "--rescan", "0.2", "--sandbox-writable", observed]
        let first = try BackgroundWorker(s, extra: options)
        defer { first.stop() }
        try first.waitUntilStarted()
        let count = 200
        let ids = (0..<count).map { String(format: "shared%03d", $0) }
        var second: BackgroundWorker? = nil
        for (i, id) in ids.enumerated() {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\nsleep 0.0\(i % 5)\necho \(id) >> \(runs)\n")
            // The second worker starts while the first is claiming: its start-up recovery races those claims.
            if i == 40 {
                second = try BackgroundWorker(s, extra: options)
            }
        }
        defer { second?.stop() }
        // Every spec ends, in done/ or failed/ (a failure is reported below with its reason, not as a time-out).
        try first.waitFor(timeout: 400) {
            ["done", "failed"].reduce(0) { n, dir in
                n + ((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/" + dir))?.filter { $0.hasSuffix(".result.json") }.count ?? 0)
            } >= count
        }
        let ran = (try? String(contentsOfFile: runs, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        let twice = Dictionary(grouping: ran, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(twice.isEmpty, "specs run more than once: \(twice)")
        #expect(Set(ran) == Set(ids), "every spec ran")
        var byWorker: [Int32: Int] = [:]
        let entries = s.ledger()
        for id in ids {
            let r = try s.result(id)
            #expect(r.status == .succeeded && r.attempts.count == 1, "\(id): \(r.status.rawValue) after \(r.attempts.map(\.class.rawValue)): \(r.reason)")
            let claims = entries.filter { $0.id == id && $0.event == .claimed }
            #expect(claims.count == 1, "\(id) claimed \(claims.count) times")
            if let pid = claims.first?.pid { byWorker[pid, default: 0] += 1 }
        }
        #expect(!entries.contains { $0.event == .requeued }, "no live claim was taken for an orphan")
        // Both workers took part, or the race was never run.
        #expect(byWorker.count == 2, "claims per worker pid: \(byWorker)")
        print("two workers: \(count) specs, claims per worker \(byWorker.values.sorted()), \(ran.count) runs")
    }

    @Test("the worker-wide retry budget: with 1 retry a minute, a second failing task waits about a minute for its retry", .timeLimit(.minutes(10)))
    func retryBudget() throws {
        let s = try Sandbox("retry-budget")
        s.lockfile(Lockfiles.make([]))
        // Killed by a signal with no output at all: `unknown`, retried at most once (a plain exit 3 is the script's own verdict).
        for id in ["silent1", "silent2"] {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\n---\nkill -TERM $$\n")
        }
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2", "--retries-per-minute", "1"])
        defer { worker.stop() }
        // One task gets the only retry of this minute and ends; the other is told to wait.
        try worker.waitFor(timeout: 40) {
            ["silent1", "silent2"].contains { s.exists("failed/\($0).result.json") } && worker.stderr.components(separatedBy: "next attempt").count - 1 >= 2
        }
        let finished = try #require(["silent1", "silent2"].first { s.exists("failed/\($0).result.json") })
        let waiting = finished == "silent1" ? "silent2" : "silent1"
        let r = try s.result(finished)
        #expect(r.class == .unknown && r.attempts.count == 2, "\(r.attempts.map(\.class.rawValue))")
        try #require(s.exists("claimed/\(waiting).md"), "the waiting task stays claimed: \(s.listing())\n\(worker.stderr)")
        let claim = try JSONDecoder().decode(ClaimRecord.self, from: Data(s.read("claimed/\(waiting).claim.json").utf8))
        let next = try #require(claim.nextAttemptAt.flatMap(Stamp.date))
        let wait = next.timeIntervalSinceNow
        #expect(wait > 40 && wait <= 61, "the second retry of the minute is pushed out by the budget: \(wait) s from now")
        // Cancel the waiting task rather than sit out the minute.
        let cancel = try s.mtor(["cancel", waiting, "--wait", "--timeout", "30s", "--spool", s.spool])
        #expect(cancel.code == 0, "\(cancel.out) \(cancel.err)")
        let cancelled = try s.result(waiting)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.attempts.count == 1, "its retry never started")
    }

    @Test("wait --timeout gives up with exit 1 and leaves the task running; a bad --timeout is a usage error that uploads nothing", .timeLimit(.minutes(10)))
    func waitTimeout() throws {
        let s = try Sandbox("wait-timeout")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try s.submit("slow.md", "---\nrepo: ~/code/widget\n---\nsleep 30\n")
        try worker.waitFor { s.exists("claimed/slow.claim.json") }
        let started = Date()
        let waited = try s.mtor(["wait", "slow", "--timeout", "1s", "--spool", s.spool])
        #expect(waited.code == 1)
        #expect(waited.err.contains("after --timeout 1s"), "\(waited.err)")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(s.exists("claimed/slow.md"), "the task goes on")

        let spec = s.root + "/quick.md"
        writeFixture(spec, Data("---\nrepo: ~/code/widget\nexpect: nothing\n---\ntrue\n".utf8))
        for bad in [["--timeout", "soon", "--wait"], ["--timeout", "5s"]] {
            let r = try s.mtor(["submit", spec, "--spool", s.spool] + bad)
            #expect(r.code == 2, "\(bad): \(r.err)")
            #expect(r.err.contains("--timeout"), "\(r.err)")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/inbox")) ?? []).filter { !$0.hasPrefix(".") }.isEmpty,
                "nothing was submitted: \(s.listing())")
        _ = try s.mtor(["cancel", "slow", "--spool", s.spool])
        try worker.waitFor { s.exists("failed/slow.result.json") }
    }
}

extension PreflightTests {
    @Test("a healthy provider left idle longer than --reprobe-idle is preflighted again before its next task", .timeLimit(.minutes(10)), .requiresClaude)
    func idleReprobe() throws {
        let s = try Sandbox("idle-reprobe")
        let p = try ScriptedProvider(scenario: "ok", key: "sk-idle-2024")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: p.baseURL)]))
        s.envFile("SCRIPTED_KEY=sk-idle-2024\n")
        let worker = try BackgroundWorker(s, extra: ["--reprobe-idle", "4s"])
        defer { worker.stop() }
        func preflights() -> Int { worker.stderr.components(separatedBy: "preflight of provider zhipu started").count - 1 }
        func run(_ id: String) throws {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nprovider: zhipu\nexpect: answer\n---\nSay hello.\n")
            try worker.waitFor(timeout: 60) { s.exists("done/\(id).result.json") || s.exists("failed/\(id).result.json") }
            #expect(try s.result(id).status == .succeeded)
        }
        try run("first")
        #expect(preflights() == 1)
        try run("second")   // straight after a task: the provider has just answered
        #expect(preflights() == 1, "no probe right after a task")
        Thread.sleep(forTimeInterval: 5)
        try run("third")    // idle for longer than 4 s: probed again first
        #expect(preflights() == 2, "\(worker.stderr)")
        let log = worker.stderr
        let probe = try #require(log.range(of: "preflight of provider zhipu started", options: .backwards))
        let claimed = try #require(log.range(of: "third: claimed"))
        #expect(probe.lowerBound < claimed.lowerBound, "the probe comes before the task is claimed")
    }
}
