import Foundation
import MtorCore
import MtorPlatform

extension Worker {
    /// One turn of scheduling: every queued spec is read (once per version of its file), the
    /// `Scheduler` decides which fail at once, which may start and in what order, and why the others
    /// wait; candidates are then placed on a provider with room (`choose`) while slots are free.
    func dispatch() {
        var names: [String] = []
        while let name = queue.next() { names.append(name) }
        guard !names.isEmpty else { return }
        let home = settings.baseEnvironment["HOME"] ?? "/"
        var list: [QueueBook.Entry] = []
        list.reserveCapacity(names.count)
        for name in names {
            if TaskID.isTemporary(name) { continue }
            guard name.hasSuffix(".md") else {
                warnOnce(name, "inbox/\(name) is not a .md spec; left untouched")
                continue
            }
            if let entry = book.cached(name) {
                list.append(entry)
                continue
            }
            let path = "\(spool.inbox)/\(name)"
            switch FileSystem.kind(path) {
            case .missing:
                if waiting.removeValue(forKey: name) != nil { stateDirty = true }
            case .regular(let size):
                if size > Int64(Spec.maxBytes) {
                    start(name: name, bytes: [], preset: .tooLarge(size))
                } else if let entry = book.load(name: name, path: path, size: size, settings: settings, home: home) {
                    list.append(entry)
                }
            case .symlink:
                warnOnce(name, "inbox/\(name) is a symlink; mtor never follows links in the inbox, so it is left untouched")
            case .fifo, .socket, .device:
                warnOnce(name, "inbox/\(name) is not a regular file (FIFO, socket or device); left untouched")
            case .directory:
                warnOnce(name, "inbox/\(name) is a directory; left untouched")
            }
        }
        // Wall-clock time: not_before and arrival (file times) are on it, not on the monotonic clock.
        let plan = book.plan(list, spool: spool, options: options, settings: settings, home: home, now: Date().timeIntervalSince1970)
        nextStartAt = plan.nextStart
        if nextStarts != plan.starts {
            nextStarts = plan.starts
            stateDirty = true
        }
        // Read again to start: the book keeps no prompts, and the file may have changed since.
        let bytes = { (name: String) in (try? FileSystem.read("\(self.spool.inbox)/\(name)", limit: Spec.maxBytes)) }
        for decision in plan.decisions {
            switch decision {
            case .fail(let name, let cls, let reason):
                hold(name, nil, requeue: false)
                book.invalidate(name)
                let failure = FailureClass(rawValue: cls) ?? .specInvalid
                let hint = failure == .dependencyFailed
                    ? "fix the dependency and `mtor retry` it, then `mtor retry` this task"
                    : "fix the spec; `mtor validate` runs the same checks"
                start(name: name, bytes: bytes(name) ?? [], preset: .refused(failure, reason: reason, hint: hint))
            case .candidate(let name):
                guard lock.withLock({ running.count }) < options.concurrency else {
                    hold(name, nil)  // waits for a free slot: no reason to show
                    continue
                }
                guard let data = bytes(name) else {
                    // Gone (another worker claimed it) or unreadable: forgotten until an event or a rescan offers it again.
                    book.invalidate(name)
                    hold(name, nil, requeue: false)
                    continue
                }
                let elsewhere = repos.hold(name, bytes: data, home: home, spool: spool, host: options.host, pid: ProcessControl.pid)
                switch elsewhere.map(Choice.hold) ?? choose(data) {
                case .start(let provider):
                    hold(name, nil, requeue: false)
                    book.invalidate(name)
                    start(name: name, bytes: data, preset: nil, provider: provider)
                case .hold(let why):
                    hold(name, why)
                }
            case .hold(let name, let reason):
                hold(name, reason)
            }
        }
    }

    /// Records why `name` waits (nil: no reason worth showing) and, unless it is leaving inbox/, keeps it for the next turn.
    private func hold(_ name: String, _ why: String?, requeue: Bool = true) {
        if waiting[name] != why {
            waiting[name] = why
            stateDirty = true
        }
        if requeue { queue.deferName(name) }
    }

    /// How long the loop may sleep before scheduling must look again: at a `not_before`, and within
    /// a second while anything waits on a pause, memory or a dependency (other workers and
    /// `mtor pause`/`resume` change those without an event this worker sees).
    func scheduleWait() -> Double {
        var wait = 5.0
        if !waiting.isEmpty || queue.deferredCount > 0 { wait = 1 }
        if let t = nextStartAt { wait = min(wait, max(0.01, t - Date().timeIntervalSince1970)) }
        return wait
    }
}
