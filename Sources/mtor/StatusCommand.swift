import Foundation
import MtorCore
import MtorWorker

/// `mtor status`: counts, running tasks, provider health, and the last 24 h from the ledger.
enum StatusCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let status = try Spool.existing(args).status()
        if args.json { Output.json(status) } else { print(StatusText.render(status)) }
        return 0
    }
}

/// The human form of `SpoolStatus`.
enum StatusText {
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
        lines.append("queue: \(c.inbox) queued, \(c.claimed) running, \(c.done) done, \(c.failed) failed (tmp \(c.tmp), cancel \(c.cancel))")
        if !s.running.isEmpty {
            lines.append("running:")
            for r in s.running {
                var parts = ["attempt \(r.attempt.map(String.init) ?? "?") on \(r.provider ?? "-")"]
                if let e = r.elapsedS { parts.append("\(DurationText.format(max(0, e))) elapsed") }
                if let i = r.idleS { parts.append("last activity \(DurationText.format(max(0, i))) ago") }
                if let p = r.phase, p != "running" { parts.append(p) }
                if let n = r.nextAttemptAt { parts.append("next attempt at \(n)") }
                lines.append("  \(r.id)  " + parts.joined(separator: ", "))
            }
        }
        if !s.waiting.isEmpty {
            lines.append("waiting:")
            lines += s.waiting.map { "  \($0)" }
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
        lines += s.warnings.map { "warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}
