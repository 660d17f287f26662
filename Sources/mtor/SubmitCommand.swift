import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor submit SPEC... [--to [user@]host:SPOOL] [--via rsync|scp] [--wait]`: validate, name,
/// upload atomically (tmp/ then rename into inbox/), and optionally follow to the result.
enum SubmitCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        guard !args.positional.isEmpty else { throw .usage("submit needs at least one spec file") }
        let remote = try args.values["--to"].map { (text) throws(WorkerError) in try RemoteSpool(text) }
        let via = try args.values["--via"].map { (text) throws(WorkerError) -> Upload.Via in
            guard let v = Upload.Via(rawValue: text) else { throw .usage("--via is rsync or scp, got '\(text)'") }
            guard remote != nil else { throw .usage("--via only makes sense with --to host:SPOOL") }
            return v
        }
        guard args.values["--timeout"] == nil || args.flags.contains("--wait") else { throw .usage("--timeout only makes sense with --wait") }
        let limit = try WaitLimit(args)
        // The repo lives on the worker, and so may the lockfile: check them here only for a local spool.
        let providers = args.values["--providers"] ?? (remote == nil && FileSystem.exists(args.providers) ? args.providers : nil)
        let settings = try providers.map { (p) throws(WorkerError) in try Settings.load(providers: p, envPath: args.values["--env-file"]) }
        let report = SpecReport.check(args.positional, settings: settings, checkRepo: remote == nil && !args.flags.contains("--no-repo-check"))
        guard report.allValid else {
            report.print(json: args.json)
            Output.error("nothing was submitted: fix the spec\(report.entries.count > 1 ? "s" : "") above (`mtor validate` runs the same checks)")
            return 1
        }
        var items: [Upload.Item] = []
        for file in args.positional {
            var name = SpecName.make(for: file)
            while items.contains(where: { $0.name == name }) { name = SpecName.make(for: file + "-again") }
            guard let bytes = try? FileSystem.read(file, limit: Spec.maxBytes) else { throw .environment("cannot read \(file)") }
            items.append(Upload.Item(file: file, name: name, bytes: bytes))
        }
        let ssh = SSH(args)
        let placed = if let remote { try Upload.remote(items, to: remote, via: via, ssh: ssh) } else { try Upload.local(items, spool: Spool.existing(args)) }
        if !args.json {
            placed.forEach { print("submitted \($0.file) as \($0.id) → \($0.path)") }
            fflush(stdout) // before --wait's progress lines on stderr
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
