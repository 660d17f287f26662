import Foundation
import MtorCore
import MtorPlatform

/// The daemon: watches inbox/ with inotify, claims specs, runs them on threads, and keeps
/// `state/worker.json` current. One loop owns all decisions; tasks report back through a pipe.
public final class Worker: @unchecked Sendable {
    let options: WorkerOptions
    let spool: Spool
    let logger: Logger
    let retryGate: RetryGate
    let health: ProviderHealth
    /// READY, STATUS, WATCHDOG and STOPPING for systemd (nothing without `$NOTIFY_SOCKET`).
    let notify = SdNotify()
    /// Metrics file and hooks, fed by the ledger lines this worker appends.
    let telemetry: Telemetry
    /// Direct provider checks for silent attempts, one in flight per provider.
    let triage = SilenceTriage()
    private(set) var settings: Settings
    /// The spool's filesystem and the inbox poll it needs (a network filesystem: inotify misses other hosts).
    var sharing: SpoolSharing
    /// Queued specs whose repo this host lacks: left for a host that has it.
    var repos = RepoPresence()
    let wake: WakePipe
    let lock = NSLock()
    var running: [String: TaskRun] = [:]
    var runningProvider: [String: String] = [:]
    var finishedIDs: [String] = []
    var queue = InboxQueue()
    var warnings: [String] = []
    /// Running in-place tasks: id → repo (one per repo at a time).
    var inPlace: [String: String] = [:]
    /// Why specs wait in inbox/, by file name.
    var waiting: [String: String] = [:]
    /// What the scheduler knows of each queued spec, and when a `not_before` falls due.
    var book = QueueBook()
    var nextStartAt: Double?
    var nextStarts: [String: Double] = [:]
    var stopping = false
    /// Set just before the last write of worker.json, so `status` says "not running" at once.
    var exited = false
    let startedAt = Date()
    var lastStateWrite = 0.0
    /// Something a reader of worker.json should see at once changed.
    var stateDirty = false
    /// Counts for `--once` summaries and tests.
    public internal(set) var finishedCount = 0

    public init(options: WorkerOptions, logger: Logger = Logger()) throws(WorkerError) {
        self.options = options
        guard options.concurrency >= 1 else { throw .usage("--concurrency must be at least 1") }
        var spool = Spool(root: options.spool, gate: SpoolGate())
        try spool.prepare()
        sharing = SpoolSharing.detect(spool, requestedPoll: options.poll, now: now())
        spool.appendLedger = sharing.ledger(spool, host: options.host)
        spool.networked = sharing.isNetwork
        self.spool = spool
        self.logger = logger
        self.retryGate = RetryGate(perMinute: options.retriesPerMinute)
        self.health = ProviderHealth(spool: spool, idleLimit: options.idleReprobe)
        settings = try Settings.load(providers: options.providers, envPath: options.envFile)
        logger.setRedactor(settings.redactor)
        spool.gate?.redactor = settings.redactor
        let hooks = Hooks(onFinish: options.onFinish ?? settings.lock.onFinish, onAttention: options.onAttention ?? settings.lock.onAttention,
                          logger: logger, home: settings.baseEnvironment["HOME"] ?? "/")
        telemetry = Telemetry(spool: spool, metricsPath: options.metricsFile, hooks: hooks)
        spool.gate?.sink = telemetry
        health.onUnhealthy = { provider, cls, reason in
            hooks.attention(event: "provider_unhealthy", provider: provider, cls: cls, reason: reason)
        }
        do { wake = try WakePipe() } catch { throw .environment("cannot create the wake pipe: \(error)") }
    }

    /// Runs until SIGTERM/SIGINT (or, with `--once`, until inbox/ is drained). Returns the exit code.
    public func run() throws(WorkerError) -> Int32 {
        #if os(Linux)
        let signals: SignalReceiver
        do { signals = try SignalReceiver([SIGTERM, SIGINT, SIGHUP, SIGPIPE]) } catch { throw .environment("cannot receive signals: \(error)") }
        ProcessControl.becomeSubreaper()
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
        rescan()
        let memoryCaps = try options.memoryCaps()
        logger.info("worker started: processes contained by \(Containment.resolve(options.containment).rawValue), \(memoryCaps), spool \(spool.root), providers \(settings.lockPath), env file \(settings.envPath ?? "none"), concurrency \(options.concurrency)\(options.once ? ", --once" : ""), \(sharing.poll.summary), repos allowed under \(options.allowedRepos.joined(separator: ":")) (--allow-repos)")
        var nextRescan = now() + options.rescanInterval
        var stopDeadline = Double.infinity
        writeState(force: true)
        notify.ready(summary())
        while true {
            notify.loopTurned()
            TestHooks.blockWhileExists("MTOR_TEST_BLOCK_LOOP_FILE")
            collectFinished()
            ChildProcess.reapOrphans()
            if stopping {
                if lock.withLock({ running.isEmpty }) { break }
                if now() >= stopDeadline {
                    lock.withLock { running.values.forEach { $0.control.requestShutdown() } }
                    stopDeadline = .infinity
                }
            } else {
                dispatch()
                if options.once, queue.isEmpty, lock.withLock({ running.isEmpty }), !health.probing {
                    rescan()
                    dispatch()
                    if queue.isEmpty, lock.withLock({ running.isEmpty }), !health.probing {
                        for (name, why) in waiting.sorted(by: { $0.key < $1.key }) { logger.warn("inbox/\(name) stays queued: \(why)") }
                        break
                    }
                    continue
                }
            }
            writeState(force: stateDirty)
            stateDirty = false
            let timeout = max(0.01, min(nextRescan - now(), 5, stopping ? stopDeadline - now() : 5, notify.watchdogInterval ?? 5, sharing.poll.wait(now: now()), scheduleWait()))
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
                        book.invalidate(event.name)
                        queue.offer(event.name)
                    } else if event.directory == spool.cancel {
                        cancel(event.name)
                    }
                }
            }
            if ready.contains(wake.readFD) { wake.drain() }
            if sharing.poll.due(now: now()), !stopping { rescan() }
            if now() >= nextRescan {
                recover()
                rescan()
                nextRescan = now() + options.rescanInterval
            }
        }
        exited = true
        writeState(force: true)
        FileSystem.remove(spool.workerFile(host: options.host, pid: ProcessControl.pid))
        logger.info("worker stopped after \(finishedCount) task(s)")
        return 0
        #else
        throw .environment("mtor worker needs Linux (inotify, signalfd, PR_SET_CHILD_SUBREAPER); on this machine use submit, status, show and logs with --to")
        #endif
    }

    // MARK: - Events

    func handle(signal: Int32, stopDeadline: inout Double) {
        switch signal {
        case SIGHUP:
            do {
                let previous = settings
                settings = try Settings.load(providers: options.providers, envPath: options.envFile)
                logger.setRedactor(settings.redactor)
                spool.gate?.redactor = settings.redactor
                let changed = settings.changedProviders(since: previous)
                health.reset(changed)
                logger.info("SIGHUP: reloaded \(settings.lockPath) and \(settings.envPath ?? "no env file"); \(changed.isEmpty ? "no provider changed" : "re-probing " + changed.sorted().joined(separator: ", "))")
            } catch {
                warn("SIGHUP: kept the previous settings: \(error)")
            }
        case SIGTERM, SIGINT:
            if stopping {
                logger.warn("second stop signal: interrupting running tasks now")
                lock.withLock { running.values.forEach { $0.control.requestShutdown() } }
            } else {
                stopping = true
                notify.stopping()
                stopDeadline = now() + options.shutdownGrace
                logger.info("stopping: no new claims; running tasks get \(DurationText.format(options.shutdownGrace)) to finish")
            }
        default:
            break
        }
    }
}
