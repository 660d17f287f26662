import Foundation
import MtorCore
import MtorWorker

/// `mtor status`: counts, running tasks, provider health, and the last 24 h from the ledger.
enum StatusCommand {
    static let command = Command(
        name: "status", summary: "the worker, queue counts, running tasks, provider health, the last 24 h, warnings",
        remote: true,
        details: "On a network filesystem whose server stops answering, a read that waits 5 s is reported (`spool I/O stuck for N s on PATH`) and status exits 3 instead of hanging; `show` does the same.",
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let spool = try Spool.existing(args)
        let status = try spool.status()
        let merges = MergeQueue.stateCounts(spool)
        if args.json { Output.json(status, adding: ["merges": merges]) } else {
            print(StatusText.render(status))
            if !merges.isEmpty {
                print("merge queue: " + merges.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + "\((merges["conflict"] ?? 0) > 0 ? " (`mtor merge --resolve ID` queues a follow-up)" : "")")
            }
        }
        return 0
    }
}

/// The human form of `SpoolStatus`.
enum StatusText {
    /// 1234567 as "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func render(_ s: SpoolStatus) -> String {
        let c = s.counts
        var lines = ["spool \(s.spool)"]
        if let w = s.worker {
            let age = w.heartbeatAgeS.map { DurationText.format(max(0, $0)) + " ago" } ?? "at \(w.heartbeatAt)"
            lines.append(w.alive ? "worker: pid \(w.pid) on \(w.host), mtor \(w.version), heartbeat \(age)\(w.stopping ? ", stopping" : "")"
                                 : "worker: not running (last heartbeat \(age), pid \(w.pid) on \(w.host))")
        } else {
            lines.append("worker: never ran on this spool (no state/worker.json)")
        }
        if let all = s.workers, all.count > 1 || all.first?.pid != s.worker?.pid {
            lines.append("workers: \(all.filter(\.alive).count) alive of \(all.count)")
            for w in all.prefix(20) {
                let age = w.heartbeatAgeS.map { DurationText.format(max(0, $0)) + " ago" } ?? "at \(w.heartbeatAt)"
                let load = w.running.map { r in "\(r)/\(w.concurrency.map(String.init) ?? "?") running, " } ?? ""
                lines.append("  \(w.host)-\(w.pid): \(w.alive ? "" : "STALE, ")\(load)heartbeat \(age)\(w.stopping ? ", stopping" : "")")
            }
            if all.count > 20 { lines.append("  … \(all.count - 20) more (mtor status --json lists them all)") }
        }
        if let poll = s.workers?.first(where: \.alive)?.poll ?? s.workers?.first?.poll { lines.append("spool: \(poll)") }
        if let sandbox = s.workers?.first(where: \.alive)?.sandbox ?? s.workers?.first?.sandbox { lines.append("sandbox: \(sandbox)") }
        if let w = s.worker, w.alive, let metrics = w.metrics {
            let elsewhere = (s.workers ?? []).filter { $0.alive && $0.metrics != nil && !($0.host == w.host && $0.pid == w.pid) }
            lines.append("metrics: \(metrics)\(metrics.hasPrefix(s.spool + "/") ? "" : " on \(w.host)")\(elsewhere.isEmpty ? "" : " (each host keeps its own: mtor status --json lists them)")")
        }
        for var p in s.paused {
            p.provider = p.provider.map(PauseMarker.printable)  // a file name may hold a line break or an escape
            lines.append("\(p.provider.map { "provider \($0)" } ?? "spool") \(p.sentence): no new task starts\(p.provider == nil ? "" : " on it") (`mtor resume\(p.provider.map { " --provider \($0)" } ?? "")`)")
        }
        for b in s.budgets ?? [] {
            let whose = b.provider.map { "provider \($0)" } ?? "worker"
            lines.append("budget \(whose): \(Budget.dollars(b.spentUSD)) of \(Budget.dollars(b.limitUSD)) spent today (\(b.day) UTC)\(b.spentUSD >= b.limitUSD ? ", spent: no new task starts on it until tomorrow" : "")")
        }
        lines.append("queue: \(c.inbox) queued, \(c.claimed) running, \(c.done) done, \(c.failed) failed or cancelled (tmp \(c.tmp), cancel \(c.cancel))")
        if !s.running.isEmpty {
            lines.append("running:")
            for r in s.running {
                var parts = ["attempt \(r.attempt.map(String.init) ?? "?") on \(r.provider ?? "-")"]
                if let e = r.elapsedS { parts.append("\(DurationText.format(max(0, e))) elapsed") }
                if let i = r.idleS {
                    // A silent agent whose provider answered a direct check is working, not hung.
                    if let a = r.providerAnsweredAgoS, i >= 30 {
                        parts.append("silent \(DurationText.format(max(0, i).rounded())), provider answered \(DurationText.format(max(0, a).rounded())) ago")
                    } else {
                        parts.append("last activity \(DurationText.format(max(0, i))) ago")
                    }
                }
                if let cap = r.memoryCapBytes {
                    parts.append(MemoryCap.line(cap: cap, inUse: r.memoryBytes))
                }
                if let p = r.phase, p != "running" { parts.append(p) }
                if let n = r.nextAttemptAt { parts.append("next attempt at \(n)") }
                lines.append("  \(r.id)  " + parts.joined(separator: ", "))
            }
        }
        if !s.waiting.isEmpty {
            lines.append("waiting:")
            lines += s.waiting.map { "  \($0)" }
        }
        if let starts = s.nextStarts, !starts.isEmpty {
            lines.append("next starts (not_before):")
            for (name, at) in starts.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }).prefix(20) {
                let wait = Stamp.date(at).map { " (in \(DurationText.format(max(0, $0.timeIntervalSinceNow).rounded())))" } ?? ""
                lines.append("  \(at.prefix(19).replacingOccurrences(of: "T", with: " ")) UTC\(wait)  inbox/\(name)")
            }
            if starts.count > 20 { lines.append("  … \(starts.count - 20) more (mtor status --json lists them all)") }
        }
        let providers = s.providers ?? []
        if !providers.isEmpty {
            lines.append("providers:")
            for p in providers {
                let why = p.state == .unhealthy ? " — \(p.class?.rawValue ?? "?"): \(p.reason ?? "")" : ""
                lines.append("  \(p.provider): \(p.state == .unhealthy ? "UNHEALTHY" : p.state.rawValue)\(why)")
            }
        }
        let r = s.recent
        let rate = r.successRate.map { ", \(Int(($0 * 100).rounded()))% success" } ?? ""
        lines.append("last \(Int(r.windowHours)) h: \(r.succeeded) succeeded\(r.flagged > 0 ? " (\(r.flagged) flagged for review)" : ""), \(r.failed) failed, \(r.cancelled) cancelled\(rate)")
        if !r.failureClasses.isEmpty {
            lines.append("  failures: " + r.failureClasses.prefix(5).map { "\($0.class) \($0.count) (latest \($0.latest))" }.joined(separator: ", "))
        }
        for u in r.usage ?? [] where u.inputTokens != nil || u.costUSD != nil {
            let tokens = "\(u.inputTokens.map(StatusText.grouped) ?? "?") in / \(u.outputTokens.map(StatusText.grouped) ?? "?") out"
            let cost = u.costUSD.map { String(format: ", $%.2f", $0) } ?? ""
            lines.append("  \(u.provider): \(tokens) tokens\(cost) (\(u.tasks) task\(u.tasks == 1 ? "" : "s"))")
        }
        lines += s.warnings.map { "warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}
