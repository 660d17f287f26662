import Foundation
import MtorCore
import MtorPlatform

/// Running tasks: claiming a spec and starting its thread, and collecting the tasks that ended.
extension Worker {
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
        let run = TaskRun(id: id, file: name, bytes: bytes, spool: spool, settings: settings, options: options,
                          retryGate: retryGate, logger: logger, preset: preset, startProvider: provider, health: health, claimLock: claimLock, triage: triage)
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

    func collectFinished() {
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
}
