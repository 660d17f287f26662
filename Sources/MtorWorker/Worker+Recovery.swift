import Foundation
import MtorCore
import MtorPlatform

/// Crash recovery: claims whose worker died, what their tasks left running, stale worktrees.
extension Worker {
    /// Puts specs whose owner died back in inbox/ (or completes a move whose sidecar exists).
    func recover() {
        guard let names = try? FileSystem.list(spool.claimed) else { return }
        for name in names where name.hasSuffix(".md") {
            let id = String(name.dropLast(3))
            let specPath = spool.spec(in: spool.claimed, id)
            // Its owner holds an flock on the claimed spec for the task's life: a free lock means the owner is gone.
            guard let fd = FileSystem.tryLock(specPath) ?? lockAfterEndingLeftovers(id, specPath) else { continue }
            defer { FileSystem.closeDescriptor(fd) }
            do {
                if let finished = spool.result(id, completingMove: true) {
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
                let spec = (try? FileSystem.read(specPath, limit: Spec.maxBytes)).flatMap { try? Spec.parse($0, home: "/") }
                let retries = spec?.retries ?? Spec.defaultRetries
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

    /// Removes worktrees left by tasks that are neither queued nor claimed any more.
    func sweepWorkspaces() {
        guard !options.keepWorkspaces else { return }
        Workspace.sweep(root: Workspace.root(options, spool), shell: GitShell(base: loop.settings.baseEnvironment, containment: nil)) { [spool] id in
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
            logger.info("\(id): the claim is from "
                + "\(claim.bootID == nil ? "a worker that recorded no boot id" : "before this host's last boot"); nothing of it can be "
                + "running, nothing is signalled")
            return
        }
        let name = "w\(claim.pid)-\(id)"
        var killed = 0
        if let marker = claim.marker, marker.hasPrefix(name + "."), let method = claim.containment.flatMap(Containment.Method.init(rawValue:)) {
            // Only a cgroup this worker's hierarchy would have made for that task is trusted: the task's
            // own, or one the dead worker kept between its tasks (all in it are that worker's leftovers).
            let trusted = { (dir: String) -> String? in
                let base = FileSystem.basename(of: dir)
                return (base == name || CgroupPool.isPooled(base, of: claim.pid)) && dir.contains("/mtor/") ? dir : nil
            }
            let path = claim.cgroup.flatMap(trusted)
            let box = Containment.recorded(method: path == nil ? .marker : method, path: path, marker: marker,
                                           memory: claim.memoryCgroup.flatMap(trusted))
            killed += box.killAll()
            box.dispose()
        }
        if let pgid = claim.agentPgid, pgid > 1, let start = claim.agentStart, ProcessTable.startTime(pgid) == start,
           ProcessTable.group(pgid) == pgid {
            ProcessControl.signalGroup(pgid, SIGKILL)
            killed += 1
        }
        if killed > 0 { logger.warn("\(id): killed \(killed) process(es) left running by a dead worker (pid \(claim.pid))") }
    }
}
