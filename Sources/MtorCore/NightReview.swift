import Foundation

/// `mtor review`: the tasks that finished since a time, each with its verdict, review flags,
/// diffstat, cost, duration and merge state, and what is ready to land. Built from sidecars and
/// merge records alone (pure); `ReviewPage` renders it as one HTML page.
public struct NightReview: Codable, Equatable, Sendable {
    /// One attempt on the timeline.
    public struct Span: Codable, Equatable, Sendable {
        public var provider: String
        public var startedAt: String
        public var endedAt: String
        public var `class`: String
        enum CodingKeys: String, CodingKey { case provider, startedAt = "started_at", endedAt = "ended_at", `class` }
    }

    public struct Row: Codable, Equatable, Sendable {
        public var id: String
        public var status: String
        public var `class`: String
        public var reason: String
        public var repo: String?
        public var provider: String?
        public var model: String?
        public var branch: String?
        public var flags: [String]
        public var diffstat: Review.Diffstat?
        public var costUSD: Double?
        public var durationS: Double
        public var finishedAt: String
        /// `landed`, `conflict`, `verify_failed`, `skipped` (from the merge record), `ready` (can be merged), or `-`.
        public var merge: String
        public var mergeCommit: String?
        public var followUp: String?
        public var origin: String?
        public var attempts: [Span]
        enum CodingKeys: String, CodingKey {
            case id, status, `class`, reason, repo, provider, model, branch, flags, diffstat, merge, origin, attempts
            case costUSD = "cost_usd", durationS = "duration_s", finishedAt = "finished_at", mergeCommit = "merge_commit", followUp = "follow_up"
        }
    }

    public var since: String
    public var until: String
    public var rows: [Row]
    /// The tasks ready to land, in finish order, and the command that lands them.
    public var ready: [String]
    public var mergeCommand: String?
    enum CodingKeys: String, CodingKey { case since, until, rows, ready, mergeCommand = "merge_command" }

    /// The review of `results` that finished at or after `since` (newest last), with their merge records.
    public static func make(results: [TaskResult], records: [String: MergeRecord], since: Date, now: Date = Date(), spool: String) -> NightReview {
        let window = results.filter { r in Stamp.date(r.finishedAt).map { $0 >= since } ?? false }
            .sorted { ($0.finishedAt, $0.id) < ($1.finishedAt, $1.id) }
        let rows = window.map { r -> Row in
            let record = records[r.id]
            let merge = record?.state.rawValue ?? (MergePlan.refusal(r) == nil ? "ready" : "-")
            let duration: Double = {
                if let a = Stamp.date(r.claimedAt), let b = Stamp.date(r.finishedAt), b >= a { return ((b.timeIntervalSince(a)) * 10).rounded() / 10 }
                return r.attempts.reduce(0) { $0 + $1.durationS }
            }()
            return Row(id: r.id, status: r.status.rawValue, class: r.class.rawValue, reason: r.reason, repo: r.spec.repo,
                       provider: r.spec.provider ?? r.spec.harness, model: r.spec.model, branch: r.git?.branch,
                       flags: r.review?.flags.map(\.rawValue) ?? [], diffstat: r.review?.diffstat ?? r.git?.diffstat,
                       costUSD: r.usage?.costUSD, durationS: duration, finishedAt: r.finishedAt, merge: merge,
                       mergeCommit: record?.state == .landed ? record?.commit : nil, followUp: record?.followUp, origin: MergePlan.origin(of: r),
                       attempts: r.attempts.map { Span(provider: $0.provider ?? $0.harness ?? "-", startedAt: $0.startedAt,
                                                       endedAt: $0.endedAt, class: $0.class.rawValue) })
        }
        let ready = MergePlan.pending(window, records: records).map(\.id)
        let command = ready.isEmpty ? nil : (["mtor", "merge", "--spool", shellWord(spool)] + ready.map(shellWord)).joined(separator: " ")
        return NightReview(since: Stamp.iso(since), until: Stamp.iso(now), rows: rows, ready: ready, mergeCommand: command)
    }

    /// Cost per provider over the rows (nil cost: the harness reported none).
    public var costByProvider: [(provider: String, cost: Double?, tasks: Int)] {
        var order: [String] = [], cost: [String: Double] = [:], tasks: [String: Int] = [:]
        for r in rows {
            let p = r.provider ?? "-"
            if tasks[p] == nil { order.append(p) }
            tasks[p, default: 0] += 1
            if let c = r.costUSD { cost[p, default: 0] += c }
        }
        return order.map { ($0, cost[$0], tasks[$0] ?? 0) }
    }

    /// `word` quoted for a POSIX shell when it needs it.
    static func shellWord(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./:=@%+,".unicodeScalars.contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
