import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor merge ID... | --all`: the merge queue (MergeQueue): each task's recorded commit rebased onto
/// its base as it is now in a scratch clone, `verify:` run there, the base fast-forwarded only if it passed.
enum MergeCommand {
    static let command = Command(
        name: "merge", operands: "[ID...]", count: 0...1000, summary: "land finished tasks: rebase each onto its base, verify, fast-forward",
        flags: [
            Flag(name: "--all", help: "every succeeded task not yet landed (and not replaced by a follow-up), in the order they finished"),
            Flag(name: "--repo", value: "PATH", help: "with --all: only tasks of this repository"),
            Flag(name: "--merge-commit", help: "make a merge commit onto the base instead of rebasing"),
            Flag(name: "--dry-run", help: "say what would land or conflict; move nothing, run no verify, write no record"),
            Flag(name: "--resolve", value: "ID", help: "queue a follow-up task for a conflicted task: same provider, from the current base, the conflict as context"),
            Flag(name: "--keep-branch", help: "keep the branches of landed tasks (default: deleted)"),
            Flag(name: "--workspaces", value: "DIR", help: "where scratch clones go (default <spool>/work, as the worker)"),
            Flag(name: "--sandbox", value: "auto|bwrap|none", help: "how verify is confined (default auto: bubblewrap, refused where it does not work)"),
            Flag(name: "--sandbox-writable", value: "DIR:DIR", help: "extra directories verify may write"),
        ], remote: true,
        details: "Takes the commit each task's result recorded (git.head_after), never a later tip of its branch. One line per task: landed (the new commits), conflict (the files), verify failed (its output's tail) or skipped (why). The merge state goes to done/<ID>.merge.json (`mtor show ID`). One integration at a time per repository (a lock in its git directory), shared with `integrate: merge`. The checked-out base moves only when that checkout is clean. No hook or configured program of the repository runs. Exit 0 only when every named task landed, 1 otherwise, 4 when a named task does not exist.",
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let spool = Spool(root: args.spool)
        let all = args.flags.contains("--all")
        guard all || args.values["--resolve"] != nil || !args.positional.isEmpty else { throw .usage("merge needs task IDs, --all or --resolve ID\n(usage: \(command.synopsis))") }
        guard !(all && !args.positional.isEmpty) else { throw .usage("merge takes task IDs or --all, not both") }
        guard args.values["--repo"] == nil || all else { throw .usage("--repo narrows --all; with IDs, name only the tasks you want") }
        // Names mean what they mean everywhere (the rule `depends_on` uses).
        var named: [String] = []
        for word in args.positional { named.append(try spool.taskID(word)) }
        var resolve: String? = nil
        if let word = args.values["--resolve"] { resolve = try spool.taskID(word) }
        for (word, id) in zip(args.positional + [args.values["--resolve"]].compactMap({ $0 }), named + [resolve].compactMap({ $0 })) where spool.result(id) == nil {
            throw .notFound("no finished task '\(word)' in \(spool.root); `mtor status` lists tasks")
        }
        let queue = MergeQueue(try setup(args, spool))
        var lines: [MergeQueue.Line] = []
        if let resolve {
            lines.append(queue.resolve(resolve, spool: spool))
        } else {
            let repo = args.values["--repo"].map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            let ids = all ? MergeQueue.ready(spool, repo: repo).map(\.id) : named
            for id in ids {
                let line = queue.merge(id, spool: spool)
                lines.append(line)
                if !args.json { print(text(line)) }
            }
            if all && ids.isEmpty && !args.json { print("nothing to merge: no succeeded task with commits waits to land") }
        }
        if args.json { Output.json(lines) } else if resolve != nil { lines.forEach { print(text($0)) } }
        let wanted: Set<String> = resolve != nil ? ["queued"] : (args.flags.contains("--dry-run") ? ["would_land", "landed"] : ["landed"])
        return lines.allSatisfy { wanted.contains($0.state) } ? 0 : 1
    }

    static func text(_ l: MergeQueue.Line) -> String {
        let who = l.via.map { "\(l.id) (via follow-up \($0))" } ?? l.id
        switch l.state {
        case "landed": return "\(who): landed: \(l.reason)\((l.commits ?? []).isEmpty ? "" : " [" + (l.commits ?? []).map { String($0.prefix(10)) }.joined(separator: " ") + "]")"
        case "conflict": return "\(who): conflict in \((l.files ?? []).joined(separator: ", ")); `mtor merge --resolve \(l.id)` queues a follow-up task"
        case "verify_failed": return "\(who): verify failed: \(l.reason)\n\(l.verifyTail.map { $0.split(separator: "\n").suffix(8).map { "    " + $0 }.joined(separator: "\n") } ?? "")"
        default: return "\(who): \(l.state): \(l.reason)"
        }
    }

    /// How verify runs: the worker's kind of sandbox and a containment of its own.
    static func setup(_ args: Arguments, _ spool: Spool) throws(WorkerError) -> MergeQueue.Setup {
        var options = WorkerOptions(spool: args.spool, providers: args.providers, envFile: nil)
        try args.sandbox(&options)
        if !args.flags.contains("--dry-run") && args.values["--resolve"] == nil { try options.resolveSandbox() }
        let env = ProcessInfo.processInfo.environment
        let base = ["PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "HOME": env["HOME"] ?? "/", "USER": env["USER"] ?? "mtor",
                    "LANG": env["LANG"] ?? "C.UTF-8", "TMPDIR": env["TMPDIR"] ?? "/tmp"]
        let root = args.values["--workspaces"] ?? spool.root + "/work"
        let workspaces = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        let spoolRoot = spool.root.hasPrefix("/") ? spool.root : FileManager.default.currentDirectoryPath + "/" + spool.root
        var setup = MergeQueue.Setup(environment: base, workspaces: workspaces, spool: spoolRoot, bwrap: options.bwrap,
                                     envFile: FileSystem.exists("etc/mtor.env") ? FileManager.default.currentDirectoryPath + "/etc/mtor.env" : nil)
        setup.sandboxWritable = options.sandboxWritable
        setup.mergeCommit = args.flags.contains("--merge-commit")
        setup.keepBranch = args.flags.contains("--keep-branch")
        setup.dryRun = args.flags.contains("--dry-run")
        return setup
    }
}
