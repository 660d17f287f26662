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
        spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .claimed, pid: ProcessControl.pid))
        let run = TaskRun(id: id, file: name, bytes: bytes, context: taskContext, preset: preset, startProvider: provider, claimLock: claimLock)
        let inPlaceRepo = (parsed ?? (try? Spec.parse(bytes, home: "/"))).flatMap { $0.work.mode == .inPlace ? repoKey($0) : nil }
        loop.running.add(run, id: id, provider: provider, inPlaceRepo: inPlaceRepo)
        logger.info("\(id): claimed from inbox/\(name)")
        let (ended, wake) = (self.ended, self.wake)
        let thread = Thread {
            _ = run.run()
            ended.withLock { $0.append(id) }
            wake.wake()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Forgets the tasks whose threads have ended since the last turn.
    func collectFinished() {
        let ids = ended.withLock { ids in
            defer { ids.removeAll() }
            return ids
        }
        for id in ids { loop.running.remove(id) }
        loop.finishedCount += ids.count
    }
}
