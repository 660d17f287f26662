import Foundation
import MtorCore
import MtorPlatform

extension Worker {
    /// One turn of scheduling: new and changed inbox/ files are read into the book, the `Scheduler`
    /// decides which specs fail at once, which may start and in what order, and why the others wait;
    /// candidates are then placed on a provider with room (`choose`) while slots are free.
    func dispatch() {
        let began = now()
        defer { telemetry.metrics.observeTurn(now() - began) }
        while let name = loop.queue.next() { ingest(name) }
        guard loop.book.count > 0 else { return }
        let home = loop.settings.home
        // A window of plain specs per look: wide enough to fill the free slots past providers that are
        // full (more windows follow while slots are left); a few when none is free, to keep their reasons current.
        let free = options.concurrency - loop.running.active
        let window = free > 0 ? max(16, 4 * free) : 8
        // Wall-clock time: not_before and arrival (file times) are on it, not on the monotonic clock.
        var plan = loop.book.plan(spool: spool, options: options, settings: loop.settings, home: home,
                                  now: Date().timeIntervalSince1970, window: window)
        loop.nextStartAt = plan.nextStart
        if loop.nextStarts != plan.starts {
            loop.nextStarts = plan.starts
            loop.stateDirty = true
        }
        act(plan.decisions, home: home)
        while hasFreeSlot {
            let more = loop.book.more(&plan, count: window)
            if more.isEmpty { break }
            act(more, home: home)
        }
        if hasFreeSlot { act(plan.later.map { .candidate($0) }, home: home) }
    }

    /// A slot is free while fewer than `--concurrency` tasks hold one (a task recording its result
    /// holds none), and fewer than twice that are running at all: a disk that stalls every result
    /// write stops new starts rather than piling up threads.
    private var hasFreeSlot: Bool { loop.running.active < options.concurrency && loop.running.count < 2 * options.concurrency }

    /// Reads a name inotify or a rescan offered into the book, or says why it is left alone.
    private func ingest(_ name: String) {
        if TaskID.isTemporary(name) || loop.book.cached(name) != nil || loop.refusing.contains(name) { return }
        guard name.hasSuffix(".md") else {
            warnOnce(name, "inbox/\(name) is not a .md spec; left untouched")
            return
        }
        let path = "\(spool.inbox)/\(name)"
        switch FileSystem.kind(path) {
        case .missing:
            hold(name, nil)
        case .regular(let size):
            if size > Int64(Spec.maxBytes) {
                start(name: name, bytes: [], preset: .tooLarge(size))
            } else {
                _ = loop.book.load(name: name, path: path, size: size, settings: loop.settings, home: loop.settings.home)
            }
        case .symlink:
            warnOnce(name, "inbox/\(name) is a symlink; mtor never follows links in the inbox, so it is left untouched")
        case .fifo, .socket, .device:
            warnOnce(name, "inbox/\(name) is not a regular file (FIFO, socket or device); left untouched")
        case .directory:
            warnOnce(name, "inbox/\(name) is a directory; left untouched")
        }
    }

    /// Acts on the scheduler's decisions in order: fails refused specs, starts candidates while slots
    /// are free, and records why the others wait.
    private func act(_ decisions: [Scheduler.Decision], home: String) {
        // Read again to start: the book keeps no prompts, and the file may have changed since.
        let read = { (name: String) in try? FileSystem.read("\(self.spool.inbox)/\(name)", limit: Spec.maxBytes) }
        var refusals: [(name: String, preset: TaskRun.Preset)] = []
        defer { refuse(refusals) }
        for decision in decisions {
            switch decision {
            case .fail(let name, let refusal):
                // Its dependents fail at once too, before its sidecar exists.
                if let id = loop.book.cached(name)?.id {
                    loop.book.condemned[id] = refusal.failureClass
                    loop.book.listing?.claimed(id)  // a batch claims it in a moment: still known by this id
                }
                leave(name)
                refusals.append((name, .refused(refusal.failureClass, reason: refusal.description, hint: refusal.hint)))
            case .candidate(let name):
                guard hasFreeSlot else {
                    hold(name, nil)  // waits for a free slot: no reason to show
                    continue
                }
                if let why = loop.book.holdNow(name, spool: spool, options: options, now: Date().timeIntervalSince1970) {
                    hold(name, .scheduled(why))
                    continue
                }
                guard let data = read(name) else {
                    leave(name)  // gone (another worker claimed it) or unreadable: forgotten until offered again
                    continue
                }
                // Parsed once on its way to running: when read into the book (again here only if the file
                // changed since), used for placement, and handed to the task, which checks it without
                // parsing again. An invalid spec starts and fails at once with the reason.
                guard let spec = loop.book.parsed(name, bytes: data) ?? (try? Spec.parse(data, home: home)) else {
                    leave(name)
                    start(name: name, bytes: data, preset: nil)
                    continue
                }
                switch place(name, spec) {
                case .start(let provider):
                    if let e = loop.book.cached(name) {
                        loop.book.duplicates.noteStarted(id: e.id, fingerprint: e.fingerprint, arrived: e.arrived)
                    }
                    leave(name)
                    start(name: name, bytes: data, preset: nil, provider: provider, spec: spec)
                case .probe(_, let why), .hold(let why):
                    hold(name, .placed(why))
                }
            case .hold(let name, let reason):
                hold(name, .scheduled(reason))
            }
        }
    }

    /// Records why `name` waits in inbox/ (nil: no reason worth showing), as the sentence
    /// worker.json publishes for `status`, `show` and `wait`.
    private func hold(_ name: String, _ why: Scheduler.Wait?) {
        let sentence = why?.description
        if loop.waiting[name] != sentence {
            loop.waiting[name] = sentence
            loop.stateDirty = true
        }
    }

    /// `name` leaves the book: started, refused, or gone.
    private func leave(_ name: String) {
        hold(name, nil)
        loop.book.invalidate(name)
    }

    /// How long the loop may sleep before scheduling must look again: at a `not_before`, and within
    /// a second while anything is queued (pauses, memory and other workers' results change without
    /// an event this worker sees).
    func scheduleWait() -> Double {
        var wait = loop.book.count > 0 ? 1.0 : 5.0
        if let t = loop.nextStartAt { wait = min(wait, max(0.01, t - Date().timeIntervalSince1970)) }
        return wait
    }
}
