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
    private var sharing: SpoolSharing
    /// Queued specs whose repo this host lacks: left for a host that has it.
    var repos = RepoPresence()
    private let wake: WakePipe
    let lock = NSLock()
    var running: [String: TaskRun] = [:]
    private var runningProvider: [String: String] = [:]
    private var finishedIDs: [String] = []
    var queue = InboxQueue()
    private var warnings: [String] = []
    /// Running in-place tasks: id → repo (one per repo at a time).
    private var inPlace: [String: String] = [:]
    /// Why specs wait in inbox/, by file name.
    var waiting: [String: String] = [:]
    /// What the scheduler knows of each queued spec, and when a `not_before` falls due.
    var book = QueueBook()
    var nextStartAt: Double?
    var nextStarts: [String: Double] = [:]
    private var stopping = false
    /// Set just before the last write of worker.json, so `status` says "not running" at once.
    private var exited = false
    private let startedAt = Date()
    private var lastStateWrite = 0.0
    /// Something a reader of worker.json should see at once changed.
    var stateDirty = false
    /// Counts for `--once` summaries and tests.
    public private(set) var finishedCount = 0

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

    private func handle(signal: Int32, stopDeadline: inout Double) {
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

    /// Handles `cancel/<id>`: a queued task is failed as cancelled, a running one is stopped.
    private func cancel(_ id: String) {
        guard TaskID.isValid(id) else { return }
        if let run = lock.withLock({ running[id] }) {
            logger.info("\(id): cancel requested")
            run.control.requestCancel()
        } else if FileSystem.exists(spool.spec(in: spool.inbox, id)) {
            start(name: "\(id).md", bytes: [], preset: .cancelled)
        } else if spool.locate(id) == nil || spool.result(id) != nil {
            // Names no task (or a finished one): kept, it would cancel a future task of that name.
            FileSystem.remove("\(spool.cancel)/\(id)")
            warn("cancel/\(id) names no queued or running task in this spool; removed, so it cannot cancel a later task of that name")
        }
    }

    /// A watched spool directory was removed or renamed: recreate it and watch it again, so pickup
    /// never silently falls back to the rescan interval.
    private func rewatch(_ inotify: Inotify, _ dir: String) {
        do {
            try FileSystem.makeDirectories(dir)
            try inotify.watch(dir, mask: dir == spool.cancel ? UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR) : UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR))
            warn("\(dir) was removed or renamed while the worker watched it; it was recreated and is watched again")
        } catch {
            warn("\(dir) was removed or renamed and cannot be watched again (\(error)); new specs are seen only by the rescan every \(DurationText.format(options.rescanInterval))")
        }
        rescan()
    }

    /// Gives an inbox file whose name is not valid UTF-8 a valid name, so it can be claimed.
    private func repairUndecodableNames() {
        for raw in FileSystem.undecodableNames(spool.inbox) {
            let shown = String(decoding: raw, as: UTF8.self)
            var fixed = String(String.UnicodeScalarView(shown.unicodeScalars.map { $0 == "\u{FFFD}" ? "_" : $0 }))
            if !fixed.hasSuffix(".md") && raw.suffix(3) == Array(".md".utf8) { fixed += ".md" }
            let name = fixed.hasSuffix(".md") ? String(fixed.dropLast(3)) + "-\(UInt16.random(in: 0...UInt16.max)).md" : fixed
            do {
                try FileSystem.renameRaw(in: spool.inbox, raw, to: name)
                warn("inbox/\(shown) had a name that is not valid UTF-8; renamed to inbox/\(name)")
            } catch {
                warnOnce(shown, "inbox/\(shown) has a name that is not valid UTF-8 and could not be renamed (\(error)); rename it by hand")
            }
        }
    }

    private func rescan() {
        repairUndecodableNames()
        guard let names = try? FileSystem.list(spool.inbox) else { return }
        let listed = Set(names)
        book.prune(keeping: listed)
        waiting = waiting.filter { listed.contains($0.key) }
        for name in names.sorted() { queue.offer(name) }
        if let cancels = try? FileSystem.list(spool.cancel) {
            for id in cancels where !id.hasPrefix(".") { cancel(id) }
        }
    }

    private func collectFinished() {
        let ids: [String] = lock.withLock {
            let ids = finishedIDs
            finishedIDs.removeAll()
            for id in ids {
                running[id] = nil
                runningProvider[id] = nil
                inPlace[id] = nil
            }
            return ids
        }
        finishedCount += ids.count
    }

    // MARK: - Dispatch (Worker+Dispatch.swift decides the order; here: placement and claiming)

    enum Choice { case start(String?), hold(String) }

    /// The provider a spec can start on now: the first of its chain that passed preflight
    /// and has room. Providers never probed (or idle too long) are preflighted first.
    func choose(_ spec: Spec) -> Choice {
        guard let targets = try? settings.targets(for: spec) else {
            return .start(nil)  // invalid: it fails at once with the reason
        }
        if let why = inPlaceHold(spec) { return .hold(why) }
        // The first provider of the chain that has not failed preflight decides: it runs the spec,
        // or the spec waits for its preflight or its capacity. Only an unhealthy provider hands over.
        var reasons: [String] = []
        for target in targets {
            // Harnesses with no model behind them (sh) have nothing to preflight.
            guard let provider = target.providerName, target.harness.needsProvider else { return .start(target.providerName) }
            switch health.readiness(provider) {
            case .ready:
                if !atCapacity(provider) { return .start(provider) }
                return .hold((reasons + ["provider \(provider) is at its concurrency limit"]).joined(separator: "; "))
            case .probeNeeded:
                launchProbe(provider)
                return .hold((reasons + ["provider \(provider) is being preflighted"]).joined(separator: "; "))
            case .waiting(let why):
                reasons.append(why)
                if why.hasSuffix("is being preflighted") { return .hold(reasons.joined(separator: "; ")) }
            }
        }
        return .hold(reasons.joined(separator: "; "))
    }

    private func launchProbe(_ provider: String) {
        guard health.beginProbe(provider) else { return }
        let preflight = Preflight(settings: settings, spool: spool, containment: options.containment)
        let (health, logger, wake) = (self.health, self.logger, self.wake)
        logger.info("preflight of provider \(provider) started")
        let thread = Thread {
            let verdict = preflight.probe(provider)
            health.record(provider, verdict: verdict)
            if verdict.failureClass == .ok {
                logger.info("preflight of provider \(provider): healthy")
            } else {
                logger.warn("preflight of provider \(provider): \(verdict.failureClass.rawValue) — \(verdict.reason)\(verdict.hint.isEmpty ? "" : " (hint: \(verdict.hint))")")
            }
            wake.wake()
        }
        thread.start()
    }

    private func atCapacity(_ provider: String) -> Bool {
        guard let limit = settings.lock.providers[provider]?.concurrency else { return false }
        return lock.withLock { runningProvider.values.filter { $0 == provider }.count } >= limit
    }

    func start(name: String, bytes: [UInt8], preset: TaskRun.Preset?, provider: String? = nil, spec parsed: Spec? = nil) {
        let claimed: (id: String, lock: Int32)?
        do {
            claimed = try spool.claim(name: name)
        } catch {
            logger.error("cannot claim inbox/\(name): \(error)")
            return
        }
        guard let (id, claimLock) = claimed else { return }
        spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .claimed, pid: ProcessControl.pid))
        let run = TaskRun(id: id, file: name, bytes: bytes, context: taskContext, preset: preset, startProvider: provider, claimLock: claimLock)
        lock.withLock {
            running[id] = run
            if let provider { runningProvider[id] = provider }
            if let spec = parsed ?? (try? Spec.parse(bytes, home: "/")), spec.work.mode == .inPlace { inPlace[id] = repoKey(spec) }
        }
        logger.info("\(id): claimed from inbox/\(name)")
        let wake = self.wake
        let thread = Thread { [weak self] in
            _ = run.run()
            self?.lock.withLock { self?.finishedIDs.append(id) }
            wake.wake()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    // MARK: - Recovery and state

    /// Puts specs whose owner died back in inbox/ (or completes a move whose sidecar exists).
    private func recover() {
        guard let names = try? FileSystem.list(spool.claimed) else { return }
        for name in names where name.hasSuffix(".md") {
            let id = String(name.dropLast(3))
            let specPath = spool.spec(in: spool.claimed, id)
            // Its owner holds an flock on the claimed spec for the task's life: a free lock means the owner is gone.
            guard let fd = FileSystem.tryLock(specPath) ?? lockAfterEndingLeftovers(id, specPath) else { continue }
            defer { FileSystem.closeDescriptor(fd) }
            do {
                if let finished = spool.result(id) {
                    // Killed after the sidecar was written: finish the move (and its ledger line).
                    spool.recordOutcome(finished)
                    try spool.completeMove(id, to: finished.status == .succeeded ? spool.done : spool.failed)
                    logger.info("\(id): recovered a finished task (\(finished.status.rawValue)) left in claimed/")
                    continue
                }
                var attempts = spool.priorAttempts(id)
                let claim = spool.claim(id)
                if let claim { endLeftovers(of: claim, id: id) }
                let stamp = Stamp.iso()
                // Its owner died while holding the claim: that always counts as an interrupted attempt,
                // even when it died before writing claim.json, so a spec that kills its worker cannot requeue forever.
                do {
                    attempts.append(TaskResult.Attempt(n: attempts.count + 1, provider: claim?.provider, harness: nil, model: nil,
                        startedAt: claim?.startedAt ?? stamp, endedAt: stamp, durationS: 0, exitCode: nil, signal: nil, stdoutBytes: 0,
                        stderrTail: "", class: .interrupted, retryable: true,
                        reason: "the worker (pid \(claim.map { String($0.pid) } ?? "?")) died while this task was claimed"))
                }
                let retries = (try? FileSystem.read(specPath, limit: Spec.maxBytes)).flatMap { try? Spec.parse($0, home: "/") }?.retries ?? Spec.defaultRetries
                if attempts.filter({ $0.class == .interrupted }).count > retries {
                    let run = TaskRun(id: id, file: claim?.file ?? name, bytes: [], context: taskContext, preset: .interruptedTooOften(attempts))
                    _ = run.run()
                } else {
                    try spool.requeue(id, attempts: attempts)
                    logger.info("\(id): requeued after an interrupted attempt (\(attempts.count) so far)")
                }
            } catch {
                logger.error("\(id): recovery failed: \(error)")
            }
        }
        // A claim file whose spec has moved on is the trace of a kill between two renames.
        for name in names where name.hasSuffix(".claim.json") {
            let id = String(name.dropLast(".claim.json".count))
            if !FileSystem.exists(spool.spec(in: spool.claimed, id)) { FileSystem.remove(spool.claimFile(id)) }
        }
        for name in (try? FileSystem.list(spool.tmp)) ?? [] where (FileSystem.age("\(spool.tmp)/\(name)") ?? 0) > 86400 {
            FileSystem.remove("\(spool.tmp)/\(name)")
        }
    }

    /// A task's processes inherit its claim lock, so a worker killed on this host leaves it held by
    /// its agent: when the claim's worker (this host, this boot) is gone, end what the claim proves is
    /// the task's and try the lock again. Another host's claim waits until its lock is free.
    private func lockAfterEndingLeftovers(_ id: String, _ path: String) -> Int32? {
        guard let claim = spool.claim(id), claim.host == options.host, let boot = claim.bootID, boot == ProcessTable.bootID,
              claim.pid != ProcessControl.pid, !ProcessControl.isAlive(claim.pid) else { return nil }
        endLeftovers(of: claim, id: id)
        for _ in 0..<40 {
            if let fd = FileSystem.tryLock(path) { return fd }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// Why an in-place spec must wait: another in-place task runs in the same repo.
    private func inPlaceHold(_ spec: Spec) -> String? {
        guard spec.work.mode == .inPlace else { return nil }
        let repo = repoKey(spec)
        guard let other = lock.withLock({ inPlace.first { $0.value == repo }?.key }) else { return nil }
        return "in-place task \(other) is running in \(repo); in-place tasks on one repo run one at a time"
    }

    private func repoKey(_ spec: Spec) -> String {
        let repo = Spec.expandHome(spec.repoAsWritten, home: settings.baseEnvironment["HOME"] ?? "/")
        return FileSystem.realPath(repo) ?? repo
    }

    /// Removes worktrees left by tasks that are neither queued nor claimed any more.
    private func sweepWorkspaces() {
        guard !options.keepWorkspaces else { return }
        Workspace.sweep(root: Workspace.root(options, spool), shell: GitShell(base: settings.baseEnvironment, containment: nil)) { [spool] id in
            FileSystem.exists(spool.spec(in: spool.claimed, id)) || FileSystem.exists(spool.spec(in: spool.inbox, id))
        }
    }

    /// Ends what a dead worker's task left running, but only what the claim proves is that task's:
    /// on this host and this boot, the processes in the task's own cgroup or carrying its marker,
    /// and the recorded group leader when its start time still matches. A claim from another host,
    /// from before a reboot, or naming a cgroup or marker that is not the task's, signals nothing.
    private func endLeftovers(of claim: ClaimRecord, id: String) {
        guard claim.host == options.host else {
            logger.info("\(id): claimed on host \(claim.host); its processes are not signalled from \(options.host)")
            return
        }
        guard let boot = claim.bootID, boot == ProcessTable.bootID else {
            logger.info("\(id): the claim is from \(claim.bootID == nil ? "a worker that recorded no boot id" : "before this host's last boot"); nothing of it can be running, nothing is signalled")
            return
        }
        let name = "w\(claim.pid)-\(id)"
        var killed = 0
        if let marker = claim.marker, marker.hasPrefix(name + "."), let method = claim.containment.flatMap(Containment.Method.init(rawValue:)) {
            // Only a cgroup this worker's hierarchy would have made for that task is trusted.
            let trusted = { (dir: String) in FileSystem.basename(of: dir) == name && dir.contains("/mtor/") ? dir : nil }
            let path = claim.cgroup.flatMap(trusted)
            let box = Containment.recorded(method: path == nil ? .marker : method, path: path, marker: marker, memory: claim.memoryCgroup.flatMap(trusted))
            killed += box.killAll()
            box.dispose()
        }
        if let pgid = claim.agentPgid, pgid > 1, let start = claim.agentStart, ProcessTable.startTime(pgid) == start, ProcessTable.group(pgid) == pgid {
            ProcessControl.signalGroup(pgid, SIGKILL)
            killed += 1
        }
        if killed > 0 { logger.warn("\(id): killed \(killed) process(es) left running by a dead worker (pid \(claim.pid))") }
    }

    private func warnIfShared() {
        if let why = sharing.workspaceWarning(Workspace.root(options, spool), spool: spool) { warn(why) }
        if let mode = FileSystem.mode(spool.root), mode & 0o022 != 0 {
            warn("the spool \(spool.root) is group- or world-writable (mode \(String(mode, radix: 8))); anyone who can write it can make this worker run commands")
        }
    }

    func warnOnce(_ name: String, _ message: String) {
        queue.ignore(name)
        warn(message)
    }

    private func warn(_ message: String) {
        remember(warning: message)
        writeState(force: true)
    }

    private func remember(warning message: String) {
        logger.warn(message)
        lock.withLock {
            warnings.append("\(Stamp.iso()) \(message)")
            if warnings.count > 50 { warnings.removeFirst(warnings.count - 50) }
        }
    }

    /// One line for systemd's STATUS=: "3 running, 12 queued, zhipu unhealthy: auth_failed".
    func summary() -> String {
        let runningCount = lock.withLock { running.count }
        var parts = ["\(runningCount) running", "\(queue.count + book.count) queued"]
        parts += health.unhealthy().map { "\($0.provider) unhealthy: \($0.class?.rawValue ?? "?")" }
        if stopping { parts.append("stopping") }
        return parts.joined(separator: ", ")
    }

    /// Writes `state/worker.json`: heartbeat and live status.
    func writeState(force: Bool = false) {
        let t = now()
        guard force || t - lastStateWrite >= 1 else { return }
        lastStateWrite = t
        absorbGateReports()
        telemetry.writeMetrics(running: lock.withLock { running.count }, queued: queue.count + book.count, providers: health.snapshot(),
                               retry: retryGate.use, startedAt: startedAt, force: force)
        writeStateFile()
        // Writing it may have moved a bad worker.json aside: that is told at once too.
        if absorbGateReports() { writeStateFile() }
    }

    /// Spool entries the gate moved aside (a FIFO log, a symlinked ledger, ...) become warnings.
    @discardableResult
    private func absorbGateReports() -> Bool {
        let reports = spool.gate?.takeReports() ?? []
        for report in reports { remember(warning: report) }
        return !reports.isEmpty
    }

    private func writeStateFile() {
        let snapshot = lock.withLock { (running.values.map { $0.control.live }.sorted { $0.id < $1.id }, warnings) }
        let held = waiting.sorted { $0.key < $1.key }.map { "inbox/\($0.key): \($0.value)" }
        var state = WorkerState(host: options.host, pid: ProcessControl.pid, version: mtorVersion, startedAt: Stamp.iso(startedAt),
                                heartbeatAt: Stamp.iso(), spool: spool.root, concurrency: options.concurrency, stopping: stopping,
                                queued: queue.count + book.count, deferred: waiting.count, running: snapshot.0, waiting: held, warnings: snapshot.1,
                                providers: FileSystem.realPath(settings.lockPath), envFile: settings.envPath.flatMap(FileSystem.realPath), allowedRepos: options.allowedRepos, home: settings.baseEnvironment["HOME"], exitedAt: exited ? Stamp.iso() : nil)
        notify.status(summary())
        state.hooks = telemetry.hooks.snapshot
        state.filesystem = sharing.mount?.description
        state.missingRepos = repos.current(spool).nilIfEmpty
        state.pollS = sharing.poll.interval
        state.pollSummary = sharing.poll.summary
        state.nextStarts = nextStarts.isEmpty ? nil : nextStarts.mapValues { Stamp.iso(Date(timeIntervalSince1970: $0)) }
        // worker.json for one worker; with several, each also keeps its own file that `status` lists.
        for path in [spool.state + "/worker.json", spool.workerFile(host: options.host, pid: ProcessControl.pid)] {
            do {
                // Disk is set aside beyond the file's size, so it can still be told when the disk is full.
                try spool.writeJSON(state, to: path, tmpDir: spool.tmp, durable: false, reserve: WorkerState.reserve)
            } catch where error.isNoSpace {
                let data = spool.encode(state)
                if data.count <= WorkerState.reserve { try? FileSystem.overwriteInPlace(data, to: path) }
            } catch {}
        }
    }
}

/// `state/worker.json`.
public struct WorkerState: Codable, Sendable {
    /// Bytes of disk kept for worker.json beyond its size: room to say "the disk is full".
    static let reserve = 64 << 10

    public var host: String
    public var pid: Int32
    public var version: String
    public var startedAt: String
    public var heartbeatAt: String
    public var spool: String
    public var concurrency: Int
    public var stopping: Bool
    public var queued: Int
    public var deferred: Int
    public var running: [TaskControl.LiveTask]
    /// Specs held in inbox/ and why (e.g. their provider failed preflight).
    public var waiting: [String]
    public var warnings: [String]
    /// The lockfile, env file and allow-list this worker checks specs with (`mtor validate` uses them too).
    public var providers: String?
    public var envFile: String?
    public var allowedRepos: [String]?
    public var home: String?
    /// When the worker exited; nil while it runs.
    public var exitedAt: String?
    /// `--on-finish` / `--on-attention` runs, failures and the last error, when hooks are set.
    var hooks: Hooks.Counts?
    /// The spool's filesystem as `statfs` found it, the inbox poll interval (nil: inotify only) and why.
    public var filesystem: String?
    public var pollS: Double?
    public var pollSummary: String?
    /// inbox/ specs whose repo is missing on this host (name → repo), left for other hosts.
    public var missingRepos: [String: String]?
    /// inbox/ specs held by `not_before`, name → when they may start.
    public var nextStarts: [String: String]?
    /// The heartbeat is rewritten at least this often; `status` calls a worker stale after 3× this.
    public var heartbeatIntervalS: Double? = WorkerState.heartbeatInterval
    public static let heartbeatInterval = 10.0

    enum CodingKeys: String, CodingKey {
        case host, pid, version, spool, concurrency, stopping, queued, deferred, running, waiting, warnings, hooks, providers
        case nextStarts = "next_starts"
        case filesystem, missingRepos = "missing_repos", pollS = "poll_s", pollSummary = "poll", heartbeatIntervalS = "heartbeat_interval_s"
        case home, startedAt = "started_at", heartbeatAt = "heartbeat_at", envFile = "env_file", allowedRepos = "allowed_repos", exitedAt = "exited_at"
    }
}

extension Dictionary {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
