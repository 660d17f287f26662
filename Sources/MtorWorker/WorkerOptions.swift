import Foundation
import MtorCore
import MtorPlatform

/// How `mtor worker` was asked to run.
public struct WorkerOptions: Sendable {
    public var spool: String
    public var providers: String
    public var envFile: String?
    public var concurrency = 1
    public var once = false
    /// Seconds between SIGTERM and SIGKILL when mtor stops an agent.
    public var grace: Double = 5
    /// Seconds running attempts get to finish after SIGTERM/SIGINT before they are interrupted.
    public var shutdownGrace: Double = 30
    public var logCap = TaskLog.defaultCap
    public var retriesPerMinute = 30
    public var backoffBase: Double = 2
    /// Seconds between full rescans of inbox/ (and recovery of claimed/) besides inotify.
    public var rescanInterval: Double = 60
    /// Seconds between listings of inbox/ and cancel/ besides inotify (`--poll`); nil: 1 s on a
    /// network filesystem (inotify never sees what other hosts write there), none on a local one.
    public var poll: Double?
    /// A healthy provider unused for this long is preflighted again before it gets work.
    public var idleReprobe: Double = 30 * 60
    public var host = FileSystem.hostName()
    /// Run after each sidecar is written / when something needs a person (`--on-finish`, `--on-attention`).
    public var onFinish: String?
    public var onAttention: String?
    /// The Prometheus textfile (`--metrics`); default `state/metrics.prom`.
    public var metricsFile: String?
    /// Seconds of agent silence after which the provider is checked directly (`--silence-probe`).
    public var silenceProbe: Double = 60
    /// How each task's processes are kept together (`--containment`); `auto` takes the best this host allows.
    public var containment: Containment.Preference = .auto
    /// How agents are confined (`--sandbox`): `auto` and `bwrap` need a working bubblewrap.
    public var sandbox: Sandbox.Preference = .auto
    /// Extra paths every agent may write (`--sandbox-writable DIR:DIR`), e.g. a shared build cache.
    public var sandboxWritable: [String] = []
    /// The `bwrap` that confines agents, found and tried at start (`resolveSandbox()`); nil: none.
    public var bwrap: String?
    /// Directory prefixes a spec's `repo` (after symlinks) must be under; default: the worker's home.
    public var allowedRepos: [String] = [ProcessInfo.processInfo.environment["HOME"] ?? "/"]

    /// Where task worktrees live (default `<spool>/work`); `--workspaces DIR`.
    public var workspaces: String?
    /// Keep each task's worktree when it ends, for debugging; `--keep-workspaces`.
    public var keepWorkspaces = false
    /// Ready clones kept per repository, recycled between tasks; `--worktree-pool N` (0: none).
    public var worktreePool = 2
    /// Stop running attempts at once when a daily budget runs out (`--budget-stop`); else they finish their attempt.
    public var budgetStop = false
    /// Changed lines above which a task's review flags `large_diff`; `--review-max-lines`.
    public var reviewMaxLines = ReviewRules.defaultMaxLines
    /// The memory cap of a task whose spec names none (`--task-memory`); nil: uncapped.
    public var taskMemory: Int64?

    /// No new agent starts while the host's `MemAvailable` is below this many bytes (`--min-free-memory`; 0: no floor).
    public var minFreeMemory: Int64 = 1 << 30
    /// A spec identical to one queued, running or finished this many seconds before it arrived is refused (`--dedup-window`; 0: off).
    public var dedupWindow: Double = 600
    /// A dependency not in the spool this long after its dependent arrived fails the dependent (`--dependency-timeout`).
    public var dependencyTimeout: Double = 86400

    public init(spool: String, providers: String, envFile: String?) {
        self.spool = spool
        self.providers = providers
        self.envFile = envFile
    }

    /// The worker's HOME, refused when it is unset, `/`, relative or not a directory: the worker
    /// expands `~` in specs with it, agents get it (git reads its identity there), and it is the
    /// default `--allow-repos`.
    public static func usableHome(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(WorkerError) -> String {
        let why: String
        switch environment["HOME"] {
        case nil, ""?: why = "HOME is not set"
        case "/"?: why = "HOME is /"
        case let home? where !home.hasPrefix("/"): why = "HOME is '\(home)', not an absolute path"
        case let home? where FileSystem.kind(home) != .directory: why = "HOME is \(home), which is not a directory"
        case let home?: return home
        }
        throw .environment("\(why); the worker expands ~ in specs with HOME, agents get it (git finds its identity there), and it is the "
            + "default --allow-repos. Under systemd, set User= in the unit (systemd then sets HOME); elsewhere export HOME=/home/USER")
    }
}

extension WorkerOptions {
    /// How agents are confined, in one line for the start line, `status` and `doctor`.
    public var sandboxSummary: String { Self.sandboxSummary(bwrap: bwrap) }

    /// The same line for agents confined by `bwrap` (nil: `--sandbox none`).
    public static func sandboxSummary(bwrap: String?) -> String {
        guard let bwrap else {
            return "none (--sandbox none): agents see what the worker sees — the spool, the env file, every provider's key"
        }
        return "bwrap (\(bwrap)): own user, mount, PID, IPC and UTS namespaces, no capabilities, read-only filesystem but the task's clone "
            + "and HOME; not covered: network, world-readable files"
    }

    /// Finds and tries bubblewrap unless `--sandbox none`; throws, naming the fix, when agents
    /// would have to run unconfined without the operator having said so.
    public mutating func resolveSandbox() throws(WorkerError) {
        guard sandbox != .none else { bwrap = nil; return }
        let found = Sandbox.findBwrap(searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        if let why = Sandbox.probe(bwrap: found) {
            throw .environment("agents cannot be sandboxed on this host: \(why). mtor will not start agents unconfined unless told to: fix "
                + "the host, or start the worker with --sandbox none (every agent then sees what the worker sees: the spool, the env "
                + "file, every key)")
        }
        bwrap = found
    }

    /// How this host caps a task's memory, for the worker's start line; throws when `--task-memory`
    /// asks for a cap no controller here can enforce (a cap is never silently dropped).
    func memoryCaps() throws(WorkerError) -> String {
        switch Containment.memoryCapSupport(containment) {
        case .success(let controller):
            let how = controller == .cgroup2 ? "cgroup v2 memory.max" : "the cgroup v1 memory controller"
            return "memory caps by \(how)" + (taskMemory.map { ", \(ByteSize.format($0)) per task unless a spec says otherwise "
                + "(--task-memory)" } ?? "")
        case .failure(let why):
            if let taskMemory {
                throw .environment("--task-memory \(ByteSize.format(taskMemory)) cannot be enforced: \(why.description)")
            }
            return "memory caps unavailable (a spec with 'memory:' fails): \(why.description)"
        }
    }
}
