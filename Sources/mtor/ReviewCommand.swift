import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor review`: the tasks finished since a time, and the morning page (`--html FILE`).
enum ReviewCommand {
    static let command = Command(
        name: "review", summary: "the tasks finished since a time: verdict, review flags, diffstat, cost, duration, merge state",
        flags: [
            Flag(name: "--since", value: "T", help: "an ISO-8601 time or a duration back from now (90m, 24h, 7d; default 24h)"),
            Flag(name: "--html", value: "FILE", help: "write one self-contained HTML page (no server, no external assets): the table, each diff, a timeline and cost per provider, the merge command"),
        ], remote: true,
        details: "The last line (and the page) gives the exact `mtor merge` command for the tasks ready to land. With --json, the same rows as JSON.",
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let spool = try Spool.existing(args)
        let since = try sinceDate(args.values["--since"])
        let results = NightDiffs.results(spool)
        let review = NightReview.make(results: results, records: NightDiffs.records(spool, ids: results.map(\.id)), since: since,
                                      spool: spool.root)
        if let file = args.values["--html"] {
            let env = ProcessInfo.processInfo.environment
            let shown = Set(review.rows.map(\.id))
            let diffs = NightDiffs.diffs(results.filter { shown.contains($0.id) },
                                         environment: ["PATH": env["PATH"] ?? "/usr/bin:/bin", "HOME": env["HOME"] ?? "/", "LANG": "C.UTF-8"])
            let page = ReviewPage.html(review, diffs: diffs, title: "mtor review — \(FileSystem.hostName())")
            do { try FileSystem.writeAtomically(Array(page.utf8), to: file, mode: 0o644, durable: false) } catch {
                throw .environment("cannot write \(file): \(error)")
            }
            if !args.json { print("wrote \(file) (\(review.rows.count) tasks); open it in a browser (file://)") }
        }
        if args.json { Output.json(review); return 0 }
        if args.values["--html"] != nil { return 0 }
        print(text(review))
        return 0
    }

    static func sinceDate(_ text: String?) throws(WorkerError) -> Date {
        guard let text else { return Date().addingTimeInterval(-86_400) }
        if let d = Stamp.date(text) { return d }
        let days = text.hasSuffix("d") ? Double(text.dropLast()).map { $0 * 86_400 } : nil
        guard let s = days ?? DurationText.parse(text), s.isFinite, s >= 0 else {
            throw .usage("--since wants an ISO-8601 time (2026-12-01T20:00:00Z) or a duration back from now (90m, 24h, 7d), got '\(text)'")
        }
        return Date().addingTimeInterval(-s)
    }

    static func text(_ r: NightReview) -> String {
        var lines = ["\(r.rows.count) task\(r.rows.count == 1 ? "" : "s") finished since \(r.since)"]
        for row in r.rows {
            let stat = row.diffstat.map { "\($0.files)f +\($0.insertions) -\($0.deletions)" } ?? "-"
            let cost = row.costUSD.map { String(format: "$%.2f", $0) } ?? "-"
            lines.append("  \(row.id)  \(row.status) (\(row.class))  \(stat)  \(cost)  \(DurationText.format(row.durationS))  merge: \(row.merge)\(row.flags.isEmpty ? "" : "  FLAGS: " + row.flags.joined(separator: ", "))")
        }
        lines.append(r.mergeCommand.map { "ready to merge (\(r.ready.count)): \($0)" } ?? "nothing ready to merge")
        return lines.joined(separator: "\n")
    }
}
