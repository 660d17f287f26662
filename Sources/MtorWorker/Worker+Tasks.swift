import Foundation
import MtorCore
import MtorPlatform

/// Running tasks: claiming a spec and starting its thread, and collecting the tasks that ended.
extension Worker {
    /// Claims inbox/`name` and runs the task on a thread of its own, which reports its end through
    /// `ended` and the wake pipe (`preset`: a task that ends without running, such as a refused spec).
    func start(name: String, bytes: [UInt8], preset: TaskRun.Preset?, provider: String? = nil, spec parsed: Spec? = nil) {
        let claimed: (id: String, lock: Int32)?
        do {
            claimed = try spool.claim(name: name)
        } catch {
            logger.error("cannot claim inbox/\(name): \(error)")
            return
        }
        guard let (id, claimLock) = claimed else { return }
        loop.lastStart = now()
        loop.book.listing?.claimed(id)
        let run = TaskRun(id: id, file: name, bytes: bytes, spec: parsed, context: taskContext, preset: preset,
                          startProvider: provider, claimLock: claimLock)
        let inPlaceRepo = (parsed ?? (try? Spec.parse(bytes, home: "/"))).flatMap { $0.work.mode == .inPlace ? repoKey($0) : nil }
        loop.running.add(run, id: id, provider: provider, inPlaceRepo: inPlaceRepo)
        let (ended, recording, wake, spool, logger) = (self.ended, self.recording, self.wake, self.spool, self.logger)
        run.onRecording = {
            recording.withLock { $0.append(id) }
            wake.wake()
        }
        threads.run {
            // The claim's ledger line and log line, on the task's thread: the loop goes on to the next start.
            spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .claimed, pid: ProcessControl.pid))
            logger.info("\(id): claimed from inbox/\(name)")
            _ = run.run()
            ended.withLock { $0.append(id) }
            wake.wake()
        }
    }

    /// Fails specs the scheduler refused (a failed dependency, a cycle, a duplicate) without running
    /// them: each is claimed, gets its sidecar and moves to failed/ like any task, but on one of at
    /// most four batch threads (at nice 5) and outside `--concurrency`. The loop only hands them over, so a
    /// cascade of 10 000 refusals never holds up a spec that may start.
    func refuse(_ refusals: [(name: String, preset: TaskRun.Preset)]) {
        guard !refusals.isEmpty else { return }
        for r in refusals { loop.refusing.insert(r.name) }
        let (spool, context, logger, settled, wake) = (self.spool, taskContext, self.logger, refusalsSettled, self.wake)
        let batches = min(4, refusals.count)
        for b in 0..<batches {
            let batch = stride(from: b, to: refusals.count, by: batches).map { refusals[$0] }
            let thread = Thread {
                // Below the loop and the tasks that run: a plain spec arriving during a cascade starts at once.
                ProcessControl.lowerThreadPriority(nice: 5)
                for r in batch {
                    defer { settled.withLock { $0.append(r.name) } }
                    guard let bytes = try? FileSystem.read("\(spool.inbox)/\(r.name)", limit: Spec.maxBytes) else { continue }
                    let claimed: (id: String, lock: Int32)?
                    do { claimed = try spool.claim(name: r.name) } catch {
                        logger.error("cannot claim inbox/\(r.name): \(error)")
                        continue
                    }
                    guard let (id, lock) = claimed else { continue }
                    spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .claimed, pid: ProcessControl.pid))
                    _ = TaskRun(id: id, file: r.name, bytes: bytes, context: context, preset: r.preset, claimLock: lock).run()
                }
                wake.wake()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Forgets the tasks whose threads have ended since the last turn; a running task whose phase
    /// changed makes worker.json due (within 0.1 s) so `status` never shows a phase already over.
    func collectFinished() {
        for run in loop.running.tasks.values where run.control.takePhaseChanged() { loop.stateDirty = true }
        let ids = ended.takeAll()
        for id in recording.takeAll() { loop.running.recordingResult(id) }
        for id in ids {
            loop.running.remove(id)
            loop.book.listing?.ended(id, in: spool)
            loop.book.duplicates.noteEnded(id, in: spool)
        }
        loop.book.endedSinceTurn += ids
        for name in refusalsSettled.takeAll() { loop.refusing.remove(name) }
        loop.finishedCount += ids.count
    }
}
