import Foundation
import MtorCore
import MtorWorker
import MtorPlatform

/// `mtor worker`: the daemon.
enum WorkerCommand {
    static let command = Command(
        name: "worker", summary: "the daemon: watches inbox/, runs each spec, writes its result",
        flags: [
            .providers, .envFile,
            Flag(name: "--once", help: "drain inbox/ and exit"),
            Flag(name: "--concurrency", value: "N", help: "tasks at once (default 1); a task whose processes are all gone and that only records its result holds no slot"),
            Flag(name: "--grace", value: "D", help: "after SIGTERM, how long running tasks may finish before they are requeued (default 30s)"),
            Flag(name: "--allow-repos", value: "DIR:DIR", help: "directories a spec's repo must be under (default: $MTOR_ALLOWED_REPOS, else the worker's HOME)"),
            Flag(name: "--rescan", value: "D", help: "rescan inbox/ and recover claimed/ this often besides inotify (default 60s)"),
            Flag(name: "--poll", value: "D", help: "list inbox/ and cancel/ this often besides inotify (default 1s when the spool is on a network filesystem, where inotify never sees other hosts' writes; off on a local disk)"),
            Flag(name: "--reprobe-idle", value: "D", help: "preflight a provider again after it sat unused this long (default 30m)"),
            Flag(name: "--retries-per-minute", value: "N", help: "retries and fallback moves the whole worker may start in any 60 s (default 30)"),
            Flag(name: "--log-cap", value: "BYTES", help: "cap of each task's log (default 50 MiB)"),
            Flag(name: "--silence-probe", value: "D", help: "after this long without agent activity, call the attempt's provider directly (default 60s, at most half the spec's stall)"),
            Flag(name: "--containment", value: "auto|cgroup2|cgroup1|marker", help: "how each task's processes are kept together (default auto: the best this host allows)"),
            Flag(name: "--sandbox", value: "auto|bwrap|none", help: "how agents are confined (default auto: bubblewrap, and the worker refuses to start where it does not work; none: agents see what the worker sees)"),
            Flag(name: "--sandbox-writable", value: "DIR:DIR", help: "extra directories every agent may write besides its task directory and its own HOME (e.g. a shared build cache)"),
            Flag(name: "--task-memory", value: "SIZE", help: "memory cap of each attempt whose spec has no 'memory:' (e.g. 4G; default none); the worker refuses to start where no cgroup memory controller can enforce it"),
            Flag(name: "--on-finish", value: "CMD", help: "run CMD when a task ends (also on_finish in the lockfile; 30 s limit, environment from scratch)"),
            Flag(name: "--on-attention", value: "CMD", help: "run CMD when something needs a person (also on_attention in the lockfile)"),
            Flag(name: "--metrics", value: "FILE", help: "Prometheus textfile to write (default state/metrics.prom; on a network filesystem ~/.local/state/mtor/metrics.prom on this host)"),
            Flag(name: "--workspaces", value: "DIR", help: "where task worktrees live (default <spool>/work)"),
            Flag(name: "--budget-stop", help: "when a daily budget (budget_usd_per_day) runs out, stop the running attempts on it at once (default: they finish their current attempt)"),
            Flag(name: "--worktree-pool", value: "N", help: "ready clones kept per repository, recycled between tasks (cleaned and proven identical to a new clone, else replaced), so a task starts without a checkout (default 2; 0: none)"),
            Flag(name: "--keep-workspaces", help: "keep each task's worktree when it ends, for debugging (its branch always stays)"),
            Flag(name: "--review-max-lines", value: "N", help: "changed lines above which a task's review flags large_diff (default 2000)"),
            Flag(name: "--min-free-memory", value: "SIZE", help: "start no new agent while the host's MemAvailable is below SIZE (default 1G; 0: no floor)"),
            Flag(name: "--dedup-window", value: "D", help: "refuse a spec identical to one queued, running or finished within D (default 10m; 0: off)"),
            Flag(name: "--dependency-timeout", value: "D", help: "fail a spec whose depends_on names a task not in the spool after D (default 24h)"),
        ],
        details: """
            SIGHUP re-reads the lockfile and the env file (a failed reload keeps the old settings and says so in
            `mtor status`); SIGTERM or SIGINT stops claiming and gives running tasks --grace. The worker refuses to
            start without a usable HOME (it expands `~` in specs and is the default --allow-repos).
            """,
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        _ = try WorkerOptions.usableHome()
        var options = WorkerOptions(spool: args.spool, providers: args.providers, envFile: args.values["--env-file"])
        options.concurrency = try args.int("--concurrency", default: 1)
        options.once = args.flags.contains("--once")
        options.shutdownGrace = try args.seconds("--grace", default: options.shutdownGrace, zero: true)
        options.rescanInterval = try args.seconds("--rescan", default: options.rescanInterval)
        if args.values["--poll"] != nil { options.poll = try args.seconds("--poll", default: PollPlan.networkDefault) }
        options.idleReprobe = try args.seconds("--reprobe-idle", default: options.idleReprobe)
        options.retriesPerMinute = try args.int("--retries-per-minute", default: options.retriesPerMinute)
        guard options.retriesPerMinute >= 1 else { throw .usage("--retries-per-minute must be at least 1") }
        options.logCap = try args.int("--log-cap", default: options.logCap)
        options.silenceProbe = try args.seconds("--silence-probe", default: options.silenceProbe)
        options.onFinish = args.values["--on-finish"]
        options.onAttention = args.values["--on-attention"]
        options.metricsFile = args.values["--metrics"]
        if let text = args.values["--containment"] {
            guard let preference = Containment.Preference(rawValue: text) else {
                throw .usage("--containment must be one of \(Containment.Preference.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            options.containment = preference
        }
        if let roots = args.values["--allow-repos"] ?? ProcessInfo.processInfo.environment["MTOR_ALLOWED_REPOS"] {
            options.allowedRepos = roots.split(separator: ":").map(String.init)
        }
        if let text = args.values["--task-memory"] {
            switch MemoryCap.parse(text, name: "--task-memory") {
            case .success(let bytes): options.taskMemory = bytes
            case .failure(let error): throw .usage(error.description)
            }
        }
        try args.sandbox(&options)
        try options.resolveSandbox()
        options.workspaces = args.values["--workspaces"]
        options.keepWorkspaces = args.flags.contains("--keep-workspaces")
        options.worktreePool = try args.int("--worktree-pool", default: options.worktreePool)
        guard options.worktreePool >= 0 else { throw .usage("--worktree-pool must be 0 (no pool) or more") }
        options.budgetStop = args.flags.contains("--budget-stop")
        options.reviewMaxLines = try args.int("--review-max-lines", default: options.reviewMaxLines)
        if let text = args.values["--min-free-memory"] {
            guard let bytes = ByteSize.parse(text) else {
                throw .usage("--min-free-memory must be a size such as 512M, 1G or 2GiB (0 turns the floor off), got '\(text)'")
            }
            options.minFreeMemory = bytes
        }
        options.dedupWindow = try args.seconds("--dedup-window", default: options.dedupWindow, zero: true)
        options.dependencyTimeout = try args.seconds("--dependency-timeout", default: options.dependencyTimeout)
        let worker = try Worker(options: options)
        return try worker.run()
    }
}

extension Arguments {
    /// `--sandbox` and `--sandbox-writable` into `options` (the worker's agents, `mtor merge`'s verify).
    func sandbox(_ options: inout WorkerOptions) throws(WorkerError) {
        if let text = values["--sandbox"] {
            guard let preference = Sandbox.Preference(rawValue: text) else {
                throw .usage("--sandbox must be one of \(Sandbox.Preference.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            options.sandbox = preference
        }
        if let dirs = values["--sandbox-writable"] {
            options.sandboxWritable = dirs.split(separator: ":").map(String.init)
            for dir in options.sandboxWritable where FileSystem.kind(dir) != .directory {
                throw .usage("--sandbox-writable: \(dir) is not a directory; create it first or leave it out")
            }
        }
    }
}
