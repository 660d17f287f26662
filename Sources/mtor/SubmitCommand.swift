import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor submit SPEC... [--to [user@]host:SPOOL] [--via rsync|scp] [--wait]`: validate, name,
/// upload atomically (tmp/ then rename into inbox/), and optionally follow to the result.
enum SubmitCommand {
    static let command = Command(
        name: "submit", operands: "SPEC...", count: 1...Int.max, summary: "validate, name and upload specs atomically (tmp/ then inbox/)",
        flags: [Flag(name: "--to", value: "[user@]host:SPOOL", help: "submit to a spool on another machine over ssh; validated there, where the repo, lockfile and allow-list are"),
                Flag(name: "--via", value: "rsync|scp", help: "how to upload with --to (default rsync when installed, else scp)"),
                Flag(name: "--wait", help: "follow the tasks to their results; exit 0 only if all succeeded"), .timeout,
                Flag(name: "--force", help: "run it even if an identical spec was queued, ran or finished within the worker's --dedup-window (uploads it with 'dedup: false')"),
                .providers, .envFile,
                Flag(name: "--allow-repos", value: "DIR:DIR", help: "the worker's allow-list for a local spool (default: from state/worker.json, else $MTOR_ALLOWED_REPOS, else HOME)"),
                Flag(name: "--no-repo-check", help: "do not check that repo exists here (local spool only)"),
                Flag.remote[1], Flag.remote[2]],
        details: """
            Each spec is named <UTC time>-<slug of its file name>-<4 hex>, written to tmp/ and renamed into inbox/,
            so a worker never sees half a spec. Nothing is submitted unless every spec passes `mtor validate`'s checks.
            """,
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let remote = try args.values["--to"].map { (text) throws(WorkerError) in try RemoteSpool(text) }
        let via = try args.values["--via"].map { (text) throws(WorkerError) -> Upload.Via in
            guard let v = Upload.Via(rawValue: text) else { throw .usage("--via is rsync or scp, got '\(text)'") }
            guard remote != nil else { throw .usage("--via only makes sense with --to host:SPOOL") }
            return v
        }
        guard args.values["--timeout"] == nil || args.flags.contains("--wait") else { throw .usage("--timeout only makes sense with --wait") }
        let limit = try WaitLimit(args)
        // The repo, the lockfile and the allow-list live on the worker: with --to, only the spec itself is
        // checked here, and the rest on the worker's host once the specs are in its tmp/.
        var checks = try remote == nil ? SpecChecks.from(args) : SpecChecks(settings: nil, home: "/", checkRepo: false, allowed: ["/"], basis: "")
        if remote != nil, let lock = args.values["--providers"] { checks.settings = try Settings.load(providers: lock, envPath: args.values["--env-file"]) }
        var report = SpecReport.check(args.positional, checks)
        if remote == nil {
            if !args.flags.contains("--force") { report.refuseDuplicates(Spool(root: args.spool), checks) }
            report.warnUnhealthy(Spool(root: args.spool))
            report.warnWaits(Spool(root: args.spool), checks)
            report.warnUnknownDependencies(Spool(root: args.spool), checks)
        }
        guard report.allValid else { return refuse(report, json: args.json, where: remote == nil ? "here" : "before upload") }
        var items: [Upload.Item] = []
        for file in args.positional {
            var name = SpecName.make(for: file)
            while items.contains(where: { $0.name == name }) { name = SpecName.make(for: file + "-again") }
            guard var bytes = try? FileSystem.read(file, limit: Spec.maxBytes) else { throw .environment("cannot read \(file)") }
            if args.flags.contains("--force") {
                do { bytes = Array(try ScheduleRules.forced(String(decoding: bytes, as: UTF8.self)).utf8) } catch { throw .failed("\(file): \(error.description)") }
            }
            items.append(Upload.Item(file: file, name: name, bytes: bytes))
        }
        let ssh = SSH(args)
        var refused: SpecReport? = nil
        var warnings: SpecReport? = nil
        let placed: [Upload.Placed]
        do {
            placed = if let remote {
                try Upload.remote(items, to: remote, via: via, ssh: ssh) { (root, staged) throws(WorkerError) in
                    (refused, warnings) = try validateRemotely(staged, files: items.map(\.file), root: root, remote: remote, ssh: ssh)
                    if refused != nil { throw .failed("refused on \(remote.login)") }
                }
            } else {
                try Upload.local(items, spool: Spool.existing(args))
            }
        } catch where refused != nil {
            return refuse(refused!, json: args.json, where: "on \(remote!.login)")
        }
        if !args.json {
            placed.forEach { print("submitted \($0.file) as \($0.id) → \($0.path)") }
            report.printWarnings()
            warnings?.printWarnings()
            fflush(nil) // stdout, before --wait's progress lines on stderr (nil: Swift 6 refuses the C global `stdout`; mtor opens no other FILE stream)
        }
        guard args.flags.contains("--wait") else {
            if args.json { Output.json(Outcome(submitted: placed, results: nil)) }
            return 0
        }
        let results = if let remote { try waitRemotely(placed, remote: remote, ssh: ssh, json: args.json, limit: limit) }
            else { try waitLocally(placed, spool: Spool.existing(args), json: args.json, limit: limit) }
        if args.json { Output.json(Outcome(submitted: placed, results: results)) }
        return results.allSatisfy { $0.status == .succeeded } ? 0 : 1
    }

    private static func refuse(_ report: SpecReport, json: Bool, where place: String) -> Int32 {
        report.print(json: json)
        Output.error("nothing was submitted: the spec\(report.entries.count > 1 ? "s" : "") above failed the worker's checks \(place) (`mtor validate` runs them)")
        return 1
    }

    /// Runs `mtor validate --json` on the worker's host on the staged copies: the report when one is invalid, else nil.
    private static func validateRemotely(_ staged: [String], files: [String], root: String, remote: RemoteSpool, ssh: SSH) throws(WorkerError) -> (refused: SpecReport?, report: SpecReport) {
        let run = try SSH.run(ssh.command(remote, [ssh.remoteMtor, "validate", "--json", "--spool", root, "--"] + staged))
        _ = try ssh.check(run.code, remote: remote, stderr: run.err)
        guard var report = try? JSONDecoder().decode(SpecReport.self, from: Data(run.out.utf8)) else {
            throw .environment("'\(ssh.remoteMtor) validate' on \(remote.login) exited \(run.code) without a report: \(run.err.trimmingCharacters(in: .whitespacesAndNewlines)); nothing was submitted")
        }
        for i in report.entries.indices where i < files.count { report.entries[i].file = files[i] }
        return (report.allValid ? nil : report, report)
    }

    struct Outcome: Encodable {
        var submitted: [Upload.Placed]
        var results: [TaskResult]?
    }

    private static func waitLocally(_ placed: [Upload.Placed], spool: Spool, json: Bool, limit: WaitLimit) throws(WorkerError) -> [TaskResult] {
        var results: [TaskResult] = []
        for p in placed {
            let r = try TaskWatch(spool: spool, id: p.id, limit).follow()
            if !json { print(TaskSummary.text(r)) }
            results.append(r)
        }
        return results
    }

    /// Runs `mtor wait --json` on the worker's machine, its progress passed through on stderr.
    private static func waitRemotely(_ placed: [Upload.Placed], remote: RemoteSpool, ssh: SSH, json: Bool, limit: WaitLimit) throws(WorkerError) -> [TaskResult] {
        let timeout = limit.deadline.map { ["--timeout", String(format: "%.1f", max(0.1, $0 - now()))] } ?? []
        let argv = ssh.command(remote, [ssh.remoteMtor, "wait", "--json", "--spool", remote.shellWord] + timeout + placed.map(\.id), raw: [4])
        let run = try SSH.stream(argv, forwardStdout: false)
        _ = try ssh.check(run.code, remote: remote)
        if run.code == 1, run.out.isEmpty, limit.deadline != nil {
            throw .failed("stopped waiting at --timeout \(limit.text); the tasks go on on \(remote.login)")
        }
        guard let results = try? JSONDecoder().decode([TaskResult].self, from: Data(run.out)) else {
            throw .environment("'\(ssh.remoteMtor) wait' on \(remote.login) exited \(run.code) without results: \(String(decoding: run.out.prefix(500), as: UTF8.self))")
        }
        if !json { results.forEach { print(TaskSummary.text($0)) } }
        return results
    }
}
