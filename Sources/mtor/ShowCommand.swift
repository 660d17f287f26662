import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor show ID`: the result, or the live state, of one task.
enum ShowCommand {
    static let command = Command(
        name: "show", operands: "ID", count: 1...1, summary: "the result, or the live state, of one task",
        remote: true, details: "With --json, a finished task's sidecar (`mtor help sidecar` explains its fields).", run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let id = try Spool.taskID(args, for: "show")
        let spool = Spool(root: args.spool)
        // A name several tasks came from: which one this is, and the others' ids (stderr with --json).
        let note = TaskNames.ambiguity(args.positional[0], in: spool)
        defer { if let note { if args.json { Output.error(note) } else { print(note) } } }
        if let result = spool.result(id) {
            let merge = spool.mergeRecord(id)
            if args.json { Output.json(result, adding: merge.map { ["merge": $0] } ?? [:]) } else {
                print(TaskSummary.text(result))
                if let line = MergeSummary.line(merge, result: result) { print(line) }
            }
            return 0
        }
        guard let place = spool.locate(id) ?? spool.queuedUnderOriginalName(id).map({ (spool.inbox + "/" + $0, "inbox") }) else {
            throw .notFound("no task '\(args.positional[0])' in \(spool.root) (not in inbox/, claimed/, done/ or failed/); `mtor status` lists the queue")
        }
        let claim = spool.claim(id)
        let held = place.name == "inbox" ? spool.heldReason(id) ?? spool.pauseReason() : nil
        if args.json {
            Output.json(LiveView(id: id, state: place.name == "claimed" ? "running" : "queued", claim: claim, held: held))
        } else if let held {
            print("\(id): queued — held: \(held)")
        } else {
            print("\(id): \(place.name == "claimed" ? "running" : "queued")\(claim.map { ", attempt \($0.attempt) on \($0.provider ?? "-") since \($0.startedAt)\($0.nextAttemptAt.map { ", next attempt at \($0)" } ?? "")" } ?? "")\(claim.flatMap(memoryLine) ?? "")")
        }
        return 0
    }

    /// `, memory 40 MiB of 2 GiB` for a running task with a cap.
    static func memoryLine(_ claim: ClaimRecord) -> String? {
        guard let cap = claim.memoryCapBytes else { return nil }
        return ", " + MemoryCap.line(cap: cap, inUse: Spool.memoryInUse(claim))
    }

    struct LiveView: Encodable {
        var id: String
        var state: String
        var claim: ClaimRecord?
        /// Why the worker holds it in inbox/ (failed preflight, capacity, pause, dependency).
        var held: String?
    }
}

/// The human summary of a finished task.
enum TaskSummary {
    static func text(_ r: TaskResult) -> String {
        var lines = ["\(r.id): \(r.status.rawValue) (\(r.class.rawValue))"]
        lines += ReviewSummary.lines(r)
        lines.append("  reason: \(r.reason)")
        if !r.hint.isEmpty { lines.append("  hint:   \(r.hint)") }
        if let cap = r.containment?.memoryCapBytes {
            lines.append("  memory: capped at \(ByteSize.format(cap)) per attempt (\(r.containment?.memoryController ?? "cgroup"))")
        }
        if let u = r.usage {
            var parts = [u.pricedCostUSD.map { "\(Budget.dollars($0)) at the lockfile's prices" }, u.costUSD.map { "\(Budget.dollars($0)) by the harness's own figure" }].compactMap { $0 }
            parts.append("\(u.inputTokens ?? 0) in / \(u.outputTokens ?? 0) out tokens\(u.numTurns.map { ", \($0) turns" } ?? "")")
            lines.append("  cost:   " + parts.joined(separator: "; "))
        }
        lines.append("  spec:   \(r.spec.file) repo \(r.spec.repo ?? "?") provider \(r.spec.provider ?? "-") harness \(r.spec.harness ?? "-") model \(r.spec.model ?? "-")")
        for a in r.attempts {
            lines.append("  attempt \(a.n): \(a.class.rawValue) on \(a.provider ?? a.harness ?? "-") after \(a.durationS)s, exit \(a.exitCode.map(String.init) ?? "-")\(a.signal.map { " signal \($0)" } ?? "")\(a.peakMemoryBytes.map { ", peak memory \(ByteSize.format($0))" } ?? "") — \(a.reason)")
        }
        if let g = r.git, !g.commits.isEmpty {
            lines.append("  commits:")
            lines += g.commits.map { "    \($0.sha.prefix(10)) \($0.subject)" }
        }
        if let v = r.verify { lines.append("  verify: \(v.command) → exit \(v.exitCode.map(String.init) ?? "none")") }
        lines.append("  log:    \(r.log)")
        return lines.joined(separator: "\n")
    }
}

/// The `merge:` line of `mtor show` (and its origin line for a follow-up).
enum MergeSummary {
    static func line(_ m: MergeRecord?, result: TaskResult) -> String? {
        var lines: [String] = []
        if let origin = MergePlan.origin(of: result) { lines.append("  origin: follow-up of \(origin), whose merge conflicted") }
        if let m {
            var text = "  merge:  \(m.state.rawValue) at \(m.at)"
            if let c = m.commit, m.state == .landed { text += ", \(m.base ?? "base") at \(c.prefix(10))" }
            if let files = m.files, !files.isEmpty { text += ", conflicting files: \(files.joined(separator: ", "))" }
            if let f = m.followUp { text += "; follow-up \(f)" } else if m.state == .conflict { text += "; `mtor merge --resolve \(m.id)` queues a follow-up" }
            lines.append(text)
            if m.state != .landed { lines.append("          \(m.reason)") }
        } else if MergePlan.refusal(result) == nil {
            lines.append("  merge:  ready (branch \(result.git?.branch ?? "?"), not in the checkout); `mtor merge \(result.id)` lands it")
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }
}
