import Foundation
import MtorCore
import MtorPlatform

/// The daemon: watches inbox/ with inotify, claims specs, runs them on threads, and keeps
/// `state/worker.json` current. One loop owns all decisions; tasks report back through a pipe.
///
/// What each job lives in: the scheduling turn (Worker+Dispatch), provider placement and preflight
/// (Worker+Placement, its rule in `Placement`), claiming and running tasks (Worker+Tasks), inbox/ and cancel/ events
/// (Worker+Inbox), crash recovery (Worker+Recovery), warnings and worker.json (Worker+Publish).
public final class Worker {
    let options: WorkerOptions
    let spool: Spool
    let logger: Logger
    let retryGate: RetryGate
    let health: ProviderHealth
    /// READY, STATUS, WATCHDOG and STOPPING for systemd (nothing without `$NOTIFY_SOCKET`).
    let notify = SdNotify()
    /// Watches the loop's spool calls on a network filesystem (see `SpoolStall`).
    let stall = SpoolStall()
    /// Metrics file and hooks, fed by the ledger lines this worker appends.
    let telemetry: Telemetry
    /// Direct provider checks for silent attempts, one in flight per provider.
    let triage = SilenceTriage()
    /// Each UTC day's spend, from every ledger of the spool.
    let spend = SpendBook()
    let wake: WakePipe
    /// Empty task cgroups kept between tasks (at most twice `--concurrency`).
    let cgroups: CgroupPool
    let startedAt = Date()
    /// Touched only on the loop thread (see `LoopState`).
    var loop: LoopState
    /// The state that crosses threads: ids of tasks whose thread has ended, and inbox/ names whose
    /// refusal a batch thread has settled, appended by those threads and taken by the loop (`collectFinished`).
    let ended = LockBox<[String]>([])
    let refusalsSettled = LockBox<[String]>([])
    /// Tasks whose processes are all gone and that only record their result now, told by their threads
    /// (`TaskRun.onRecording`): their slots are free (`RunningTasks.recording`).
    let recording = LockBox<[String]>([])
    /// The threads tasks run on, kept between tasks.
    let threads: TaskThreads

    /// Ready clones per repository (`--worktree-pool`), opened at start.
    var pool: WorktreePool?

    /// Tasks ended so far, for `--once` summaries and tests.
    public var finishedCount: Int { loop.finishedCount }

    public init(options: WorkerOptions, logger: Logger = Logger()) throws(WorkerError) {
        self.options = options
        threads = TaskThreads(keepIdle: 2 * max(1, options.concurrency))
        guard options.concurrency >= 1 else { throw .usage("--concurrency must be at least 1") }
        var spool = Spool(root: options.spool, gate: SpoolGate())
        try spool.prepare()
        let sharing = SpoolSharing.detect(spool, requestedPoll: options.poll, now: now())
        spool.appendLedger = sharing.ledger(spool, host: options.host)
        spool.networked = sharing.isNetwork
        if !sharing.isNetwork { spool.spares = SpareFiles(directory: spool.tmp, keep: 2 * options.concurrency + 2) }
        self.spool = spool
        self.logger = logger
        self.retryGate = RetryGate(perMinute: options.retriesPerMinute)
        let settings = try Settings.load(providers: options.providers, envPath: options.envFile)
        loop = LoopState(settings: settings, sharing: sharing)
        logger.setRedactor(settings.redactor)
        spool.gate?.redactor = settings.redactor
        let hooks = Hooks(onFinish: options.onFinish ?? settings.lock.onFinish, onAttention: options.onAttention ?? settings.lock.onAttention,
                          logger: logger, home: settings.home)
        telemetry = Telemetry(spool: spool, metricsPath: options.metricsFile, hooks: hooks, home: settings.baseEnvironment["HOME"])
        spool.gate?.sink = telemetry
        health = ProviderHealth(spool: spool, idleLimit: options.idleReprobe) { provider, cls, reason in
            hooks.attention(event: "provider_unhealthy", provider: provider, cls: cls, reason: reason)
        }
        do { wake = try WakePipe() } catch { throw .environment("cannot create the wake pipe: \(error)") }
        cgroups = CgroupPool(keep: 2 * options.concurrency)
    }

    /// Runs until SIGTERM/SIGINT (or, with `--once`, until inbox/ is drained). Returns the exit code.
    public func run() throws(WorkerError) -> Int32 {
        #if os(Linux)
        let signals: SignalReceiver
        do { signals = try SignalReceiver([SIGTERM, SIGINT, SIGHUP, SIGPIPE]) } catch { throw .environment("cannot receive signals: \(error)") }
        ProcessControl.becomeSubreaper()
        ProcessControl.ignoreLeaseBreaks()
        Containment.pruneStale()
        let inotify: Inotify
        do {
            inotify = try Inotify()
            try inotify.watch(spool.inbox)
            try inotify.watch(spool.cancel, mask: UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR))
        } catch {
            throw .environment("cannot watch the spool with inotify: \(error) (check fs.inotify.max_user_watches / max_user_instances)")
        }
        warnIfShared()
        spool.pruneWorkerFiles()
        recover()
        sweepWorkspaces()
        if !options.keepWorkspaces {
            pool = WorktreePool.open(workspaces: Workspace.root(options, spool), host: options.host, size: options.worktreePool,
                                     environment: loop.settings.baseEnvironment, logger: logger)
        }
        rescan()
        spool.spares?.refill()
        let memoryCaps = try options.memoryCaps()
        logger.info("worker started: processes contained by \(Containment.resolve(options.containment).rawValue), \(memoryCaps), spool \(spool.root), providers \(loop.settings.lockPath), env file \(loop.settings.envPath ?? "none"), concurrency \(options.concurrency)\(options.once ? ", --once" : ""), agents sandboxed by \(options.bwrap == nil ? "nothing (--sandbox none)" : "bwrap"), \(loop.sharing.poll.summary), repos allowed under \(options.allowedRepos.joined(separator: ":")) (--allow-repos)")
        var nextRescan = now() + options.rescanInterval
        var stopDeadline = Double.infinity
        writeState(force: true)
        notify.ready(summary())
        if loop.sharing.isNetwork {
            stall.watch(logger: logger, notifySocket: notify.socketAddress, watchdogInterval: notify.watchdogInterval, grace: options.shutdownGrace)
        }
        while true {
            notify.loopTurned()
            TestHooks.blockWhileExists("MTOR_TEST_BLOCK_LOOP_FILE")
            if let stuck = stall.takeReturned() {
                warn("spool I/O was stuck for \(Int(stuck.seconds)) s on \(stuck.path); it returned and work went on")
            }
            stall.around(spool.claimed) { collectFinished() }
            ChildProcess.reapOrphans()
            if loop.stopping {
                if loop.running.isEmpty, loop.refusing.isEmpty { break }
                if now() >= stopDeadline {
                    loop.running.tasks.values.forEach { $0.control.requestShutdown() }
                    stopDeadline = .infinity
                }
            } else {
                stall.around(spool.inbox) { dispatch() }
                // Between turns, once no start is in flight: never ahead of a spec waiting to start.
                if now() - loop.lastStart >= Worker.settle {
                    stall.around(spool.done) {
                        loop.book.refreshDuplicates(spool: spool, options: options, settings: loop.settings,
                                                    home: loop.settings.home, now: Date().timeIntervalSince1970)
                    }
                }
                if options.once, loop.queue.isEmpty, loop.running.isEmpty, loop.refusing.isEmpty, !health.probing {
                    rescan()
                    loop.book.othersTurn = nil  // about to exit: every hold decided afresh
                    dispatch()
                    if loop.queue.isEmpty, loop.running.isEmpty, loop.refusing.isEmpty, !health.probing {
                        for (name, why) in loop.waiting.sorted(by: { $0.key < $1.key }) { logger.warn("inbox/\(name) stays queued: \(why)") }
                        break
                    }
                    continue
                }
            }
            // A change readers should see is written within 0.1 s, not once per turn: a cascade settling
            // thousands of specs changes their reasons every turn, and worker.json lists them all.
            // With thousands of queued specs waiting for a reason worker.json takes milliseconds to write:
            // it is then written at most every five times that long, so it never holds the loop up for long.
            // Nor while a start is in flight (unless a second has gone by): the agent's spawn comes first.
            let settled = loop.lastStart + Worker.settle - now()
            let dirtyWait = max(loop.lastStateWrite + max(0.1, 5 * loop.stateWriteCost) - now(),
                                now() - loop.lastStateWrite >= 1 ? 0 : settled)
            let due = loop.stateDirty && dirtyWait <= 0
            stall.around(spool.workerFile(host: options.host, pid: ProcessControl.pid)) { writeState(force: due) }
            if due { loop.stateDirty = false }
            let timeout = max(0.01, min(nextRescan - now(), 5, loop.stopping ? stopDeadline - now() : 5, notify.watchdogInterval ?? 5, loop.sharing.poll.wait(now: now()),
                                        scheduleWait(), loop.stateDirty ? max(0, dirtyWait) : 5,
                                        loop.book.duplicatesDue(options).map { max($0, settled) } ?? 5))
            let ready = Poll.readable([inotify.fd, signals.fd, wake.readFD], timeout: timeout)
            if ready.contains(signals.fd) {
                for s in signals.pending() { handle(signal: s, stopDeadline: &stopDeadline) }
            }
            if ready.contains(inotify.fd) {
                for event in inotify.read() {
                    if event.overflow {
                        logger.warn("inotify queue overflowed; rescanning inbox/")
                        rescan()
                    } else if event.watchLost {
                        rewatch(inotify, event.directory)
                    } else if event.undecodable {
                        rescan()
                    } else if event.directory == spool.inbox {
                        loop.book.invalidate(event.name)
                        loop.queue.offer(event.name)
                    } else if event.directory == spool.cancel {
                        cancel(event.name)
                    }
                }
            }
            if ready.contains(wake.readFD) { wake.drain() }
            if loop.sharing.poll.due(now: now()), !loop.stopping { stall.around(spool.inbox) { rescan() } }
            if now() >= nextRescan {
                stall.around(spool.claimed) { recover() }
                stall.around(spool.inbox) { rescan() }
                nextRescan = now() + options.rescanInterval
            }
        }
        loop.exited = true
        pool?.close()
        cgroups.removeAll()
        writeState(force: true)
        FileSystem.remove(spool.workerFile(host: options.host, pid: ProcessControl.pid))
        removeStateSpares()
        spool.spares?.removeAll()
        logger.info("worker stopped after \(finishedCount) task(s)")
        return 0
        #else
        throw .environment("mtor worker needs Linux (inotify, signalfd, PR_SET_CHILD_SUBREAPER); on this machine use submit, status, show and logs with --to")
        #endif
    }

    /// How long after a task's start the loop leaves housekeeping alone: the claim, the agent's
    /// spawn and its first instructions take about a millisecond on this kind of machine.
    static let settle = 0.02

    // MARK: - Events

    private func handle(signal: Int32, stopDeadline: inout Double) {
        switch signal {
        case SIGHUP:
            do {
                let previous = loop.settings
                let settings = try Settings.load(providers: options.providers, envPath: options.envFile)
                loop.settings = settings
                logger.setRedactor(settings.redactor)
                spool.gate?.redactor = settings.redactor
                let changed = settings.changedProviders(since: previous)
                health.reset(changed)
                logger.info("SIGHUP: reloaded \(settings.lockPath) and \(settings.envPath ?? "no env file"); \(changed.isEmpty ? "no provider changed" : "re-probing " + changed.sorted().joined(separator: ", "))")
            } catch {
                warn("SIGHUP: kept the previous settings: \(error)")
            }
        case SIGTERM, SIGINT:
            if loop.stopping {
                logger.warn("second stop signal: interrupting running tasks now")
                loop.running.tasks.values.forEach { $0.control.requestShutdown() }
            } else {
                loop.stopping = true
                stall.stopRequested()
                notify.stopping()
                stopDeadline = now() + options.shutdownGrace
                logger.info("stopping: no new claims; running tasks get \(DurationText.format(options.shutdownGrace)) to finish")
            }
        default:
            break
        }
    }
}
