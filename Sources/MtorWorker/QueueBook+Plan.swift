import Foundation
import MtorCore
import MtorPlatform

extension QueueBook {
    /// What one turn decided, and how to go on when slots are left after the first window.
    struct Plan {
        var decisions: [Scheduler.Decision] = []
        var nextStart: Double?
        /// inbox/ name → when its `not_before` lets it start.
        var starts: [String: Double] = [:]
        /// Where the next window of plain specs starts in the arrival order.
        var cursor = 0
        /// The turn's pauses and memory, for the next windows; nil when nothing more may start.
        var template: Scheduler.Snapshot?
        /// Candidates ranked below every plain spec still queued: offered once the plain specs are placed.
        var later: [String] = []
    }

    /// The scheduler's decisions for every non-plain spec (prioritised, dependent, delayed, invalid),
    /// kept while nothing they rest on changes: no such spec came, the pauses and memory read the
    /// same, and no `not_before` fell due (and at most a second, for other hosts' progress). What
    /// changes meanwhile is patched in (`patch`): a spec that left the book leaves the turn, and the
    /// dependents of a task this worker ended (and theirs, transitively) are decided again. So a turn
    /// costs the same with 10 000 dependent specs queued as with none.
    struct OthersTurn {
        var version: Int
        var hostKey: HostKey
        var madeAt: Double
        var validUntil: Double
        var fails: [Scheduler.Decision] = []
        var invalid: [Scheduler.Decision] = []
        var candidates: [Scheduler.Queued] = []
        var starts: [String: Double] = [:]
        var nextStart: Double?
        /// A dependency's task id (as resolved when the turn was made; the name as written when it was
        /// not in the spool then) → the queued specs naming it.
        var dependents: [String: [String]] = [:]

        func fits(_ book: QueueBook, hostKey: HostKey, now: Double) -> Bool {
            version == book.othersVersion && hostKey == self.hostKey && now < validUntil
        }

        /// Drops every decision about `names` that a turn hands out again (its holds are handed out once, when made).
        mutating func drop(_ names: Set<String>) {
            guard !names.isEmpty else { return }
            let keep = { (d: Scheduler.Decision) in !names.contains(d.name) }
            fails = fails.filter(keep)
            invalid = invalid.filter(keep)
            candidates = candidates.filter { !names.contains($0.name) }
        }
    }

    /// What of the host a turn's decisions rest on: the pauses, and whether memory is below the floor.
    struct HostKey: Equatable {
        var pausedAll: Scheduler.Pause?
        var pausedProviders: [String: Scheduler.Pause]
        var memoryLow: Bool
    }

    /// The turn's first decisions: refusals found at ingest (a cycle, a duplicate), invalid specs
    /// (they fail at once), then the scheduler's decisions for every non-plain spec and the oldest
    /// `window` plain ones. `more` gives the next plain specs while slots are left.
    mutating func plan(spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double, window: Int) -> Plan {
        var plan = Plan()
        guard !entries.isEmpty else { return plan }
        judgeDuplicates(spool: spool, options: options, settings: settings, home: home, now: now)
        let host = hostState(spool, options)
        var template = Scheduler.Snapshot(
            now: now, queued: [], pausedAll: host.pausedAll, pausedProviders: host.pausedProviders,
            memoryAvailable: host.memory, memoryFloor: options.minFreeMemory, dependencyTimeout: options.dependencyTimeout,
            freeSlots: options.concurrency)
        let hostKey = HostKey(pausedAll: host.pausedAll, pausedProviders: host.pausedProviders,
                          memoryLow: host.memory.map { $0 < options.minFreeMemory } ?? false)
        var turn: OthersTurn
        if var cached = othersTurn, cached.fits(self, hostKey: hostKey, now: now) {
            if !othersGone.isEmpty || !endedSinceTurn.isEmpty {
                unshownHolds += patch(&cached, spool: spool, template: template, now: now)
                othersTurn = cached
            }
            turn = cached
        } else {
            turn = decideOthers(spool: spool, template: template, now: now, hostKey: hostKey)
            othersTurn = turn
        }
        // Only the holds decided since the last turn: re-recording 10 000 unchanged reasons every turn is what a turn must not cost.
        let holds = unshownHolds
        unshownHolds = []
        plan.starts = turn.starts
        plan.nextStart = turn.nextStart
        let scheduler = Scheduler()
        let windowed = plain(from: &plan.cursor, count: window).filter { refusals[$0.name] == nil }
        template.queued = windowed.map { Scheduler.Queued(name: $0.name, id: $0.id, arrived: $0.arrived, provider: $0.provider) }
        let plainDecisions = scheduler.decide(template)
        // Both lists are in the scheduler's order: merged by effective priority now.
        let key = { (q: Scheduler.Queued) in scheduler.effectivePriority(q, now: now) }
        var ranked: [Scheduler.Queued] = []
        var plainCandidates = template.queued.filter { q in plainDecisions.contains(.candidate(q.name)) }[...]
        for q in turn.candidates {
            while let p = plainCandidates.first, key(p) > key(q) || (key(p) == key(q) && (p.arrived, p.name) < (q.arrived, q.name)) {
                ranked.append(p)
                plainCandidates = plainCandidates.dropFirst()
            }
            ranked.append(q)
        }
        ranked += plainCandidates
        // Plain specs beyond the window are younger than its last one: a candidate ranked below that one waits for them.
        var candidates: [Scheduler.Decision] = []
        let floor = plan.cursor < plainOrder.count ? windowed.last.map { key(Scheduler.Queued(name: $0.name, id: $0.id, arrived: $0.arrived)) } : nil
        for q in ranked {
            if let floor, others.contains(q.name), key(q) < floor { plan.later.append(q.name) } else { candidates.append(.candidate(q.name)) }
        }
        let plainHolds = plainDecisions.filter { if case .hold = $0 { return true } else { return false } }
        plan.decisions = refusals.sorted { $0.key < $1.key }.map { .fail($0.key, $0.value) } + turn.invalid + turn.fails
            + candidates + holds + plainHolds
        let blocked = template.pausedAll != nil || (template.memoryAvailable.map { $0 < template.memoryFloor } ?? false)
        template.queued = []
        plan.template = blocked ? nil : template
        return plan
    }

    /// Decides every non-plain spec: cycles among them are refused, invalid ones fail at once, the
    /// rest go to the scheduler with where each dependency stands (their holds become `unshownHolds`).
    private mutating func decideOthers(spool: Spool, template: Scheduler.Snapshot, now: Double, hostKey: HostKey) -> OthersTurn {
        var turn = OthersTurn(version: othersVersion, hostKey: hostKey, madeAt: now, validUntil: now + 1)
        othersGone = []
        endedSinceTurn = []
        let dependents = others.compactMap { entries[$0] }.filter { !($0.terms?.dependsOn.isEmpty ?? true) }
        var directory = TaskDirectory()
        if !dependents.isEmpty {
            var fresh = listing ?? TaskDirectory.Listing()
            if listing == nil || MtorPlatform.now() - fresh.at >= 1 {
                fresh = .list(spool)
                // A refused task stands for its refusal while it is in claimed/ or failed/ (its sidecar need not be read again).
                for id in condemned.keys where !fresh.claimed.contains(id) && !fresh.failed.contains(id) { condemned[id] = nil }
            }
            listing = fresh
            directory = TaskDirectory(queued: ids, listing: fresh)
        }
        // A cycle among queued specs can never start: every member is refused at ingest.
        var graph: [String: [String]] = [:]
        for e in dependents {
            graph[e.id] = (e.terms?.dependsOn ?? []).compactMap { directory.resolve($0) }.filter { directory.queued[$0] != nil }
        }
        let cycles = Scheduler.cycleRefusals(graph)
        for e in dependents {
            if let refusal = cycles[e.id] { refusals[e.name] = refusal }
        }
        // An invalid spec is refused at once with its reason, whatever would hold a valid one.
        turn.invalid = others.filter { entries[$0]?.terms == nil && refusals[$0] == nil }.sorted().map { Scheduler.Decision.candidate($0) }
        let decided = decide(others.filter { refusals[$0] == nil }, directory: directory, spool: spool, template: template, now: now,
                             into: &turn, indexing: true)
        unshownHolds = decided.holds
        turn.nextStart = decided.nextStart
        if let t = turn.nextStart { turn.validUntil = min(turn.validUntil, t) }
        return turn
    }

    /// Brings a kept turn up to date: specs that left the book leave it, and the dependents of the
    /// tasks this worker ended since, with everything queued behind them, are decided again (a chain
    /// whose root failed fails in one patch, however deep).
    /// Returns the holds it decided.
    private mutating func patch(_ turn: inout OthersTurn, spool: Spool, template: Scheduler.Snapshot, now: Double) -> [Scheduler.Decision] {
        var gone = othersGone
        var frontier = endedSinceTurn
        othersGone = []
        endedSinceTurn = []
        var affected: [String] = []
        var seen: Set<String> = []
        while let id = frontier.popLast() {
            for name in turn.dependents[id] ?? [] where seen.insert(name).inserted {
                guard let e = entries[name], others.contains(name), refusals[name] == nil else { continue }
                affected.append(name)
                frontier.append(e.id)
            }
        }
        gone.formUnion(seen)
        turn.drop(gone)
        unshownHolds = unshownHolds.filter { !gone.contains($0.name) }
        guard !affected.isEmpty else { return [] }
        let directory = TaskDirectory(queued: ids, listing: listing ?? .list(spool))
        let decided = decide(affected, directory: directory, spool: spool, template: template, now: now, into: &turn, indexing: false)
        turn.candidates = Scheduler().startOrder(turn.candidates, now: now)
        return decided.holds
    }

    /// The scheduler's decisions for the queued specs `names`, with where each of their dependencies
    /// stands: failures and candidates added to `turn` (with `indexing`, each dependency's dependents
    /// are noted for `patch`); the holds, and the earliest `not_before` still ahead, returned.
    private mutating func decide(_ names: some Sequence<String>, directory: TaskDirectory, spool: Spool, template: Scheduler.Snapshot,
                                 now: Double, into turn: inout OthersTurn, indexing: Bool) -> (holds: [Scheduler.Decision], nextStart: Double?) {
        var snapshot = template
        var dependencies: [String: Scheduler.Dependency] = [:]
        for name in names {
            guard let e = entries[name], let terms = e.terms else { continue }
            for dep in terms.dependsOn {
                guard let id = snapshot.resolved[dep] ?? directory.resolve(dep) else {
                    // Not in the spool yet: filed under the name as written, the id a spec dropped under that name gets.
                    if indexing { turn.dependents[dep, default: []].append(name) }
                    continue
                }
                if indexing { turn.dependents[id, default: []].append(name) }
                guard dependencies[dep] == nil else { continue }
                snapshot.resolved[dep] = id
                dependencies[dep] = condemned[id].map { .failed($0) } ?? directory.state(of: id, in: spool)
            }
            let notBefore = terms.notBefore?.time(arrived: e.arrived)
            if let t = notBefore, t > now { turn.starts[name] = t }
            snapshot.queued.append(Scheduler.Queued(name: name, id: e.id, arrived: e.arrived, priority: terms.priority, notBefore: notBefore,
                                                    dependsOn: terms.dependsOn, provider: e.provider))
        }
        snapshot.dependencies = dependencies
        let byName = Dictionary(snapshot.queued.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let scheduler = Scheduler()
        var holds: [Scheduler.Decision] = []
        for decision in scheduler.decide(snapshot) {
            switch decision {
            case .fail: turn.fails.append(decision)
            case .hold: holds.append(decision)
            case .candidate(let name): if let q = byName[name] { turn.candidates.append(q) }
            }
        }
        return (holds, scheduler.nextStart(snapshot))
    }

    /// Why a candidate may not start after all, from a fresh reading of the pauses and memory: the
    /// turn's reading may be a quarter second old, and `mtor pause` must hold from the moment it returns.
    mutating func holdNow(_ name: String, spool: Spool, options: WorkerOptions, now wall: Double) -> Scheduler.Hold? {
        guard let e = entries[name] else { return nil }
        let h = hostState(spool, options, fresh: true)
        let snapshot = Scheduler.Snapshot(now: wall, queued: [Scheduler.Queued(name: e.name, id: e.id, arrived: e.arrived, provider: e.provider)],
                                          pausedAll: h.pausedAll, pausedProviders: h.pausedProviders, memoryAvailable: h.memory,
                                          memoryFloor: options.minFreeMemory, freeSlots: 1)
        if case .hold(_, let reason)? = Scheduler().decide(snapshot).first { return reason }
        return nil
    }

    /// The pauses (`state/paused*`) and the host's available memory, read at most every quarter
    /// second for a turn's reasons (a turn can come every millisecond when specs pour in); `holdNow`
    /// wants them at most 20 ms old before each start (a pause is honoured within a second; a burst
    /// of starts reads them once, not once per start).
    private mutating func hostState(_ spool: Spool, _ options: WorkerOptions, fresh: Bool = false) -> HostState {
        if let cached = host, now() - cached.readAt < (fresh ? 0.02 : 0.25) { return cached }
        let pauses = PauseMarker.all(spool)
        let state = HostState(
            readAt: now(),
            pausedAll: pauses.first { $0.provider == nil }.map { Scheduler.Pause(since: $0.clock, by: $0.by) },
            pausedProviders: Dictionary(pauses.compactMap { p in p.provider.map { ($0, Scheduler.Pause(since: p.clock, by: p.by)) } },
                                        uniquingKeysWith: { a, _ in a }),
            memory: options.minFreeMemory > 0 ? HostMemory.available() : nil)
        host = state
        return state
    }

    /// The scheduler's decisions for the next `count` plain specs (a provider's pause still holds them).
    func more(_ plan: inout Plan, count: Int) -> [Scheduler.Decision] {
        guard var snapshot = plan.template else { return [] }
        snapshot.queued = plain(from: &plan.cursor, count: count).map {
            Scheduler.Queued(name: $0.name, id: $0.id, arrived: $0.arrived, provider: $0.provider)
        }
        return snapshot.queued.isEmpty ? [] : Scheduler().decide(snapshot)
    }

    /// Lists claimed/ and done/ again for dedup when specs were judged since the last listing and it
    /// is a second old: between turns, not during one (`duplicatesDue` says when the loop should wake for it).
    mutating func refreshDuplicates(spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double) {
        guard judgedSinceListing, options.dedupWindow > 0, duplicates.age >= 1 else { return }
        judgedSinceListing = false
        duplicates.refresh(spool, since: now - options.dedupWindow, settings: settings, home: home)
    }

    /// Seconds until `refreshDuplicates` has work (nil: none), so an idle loop lists then and a spec
    /// arriving later is judged without listing inside its turn.
    func duplicatesDue(_ options: WorkerOptions) -> Double? {
        guard judgedSinceListing, options.dedupWindow > 0 else { return nil }
        return max(0, 1 - duplicates.age)
    }

    /// Judges each spec not judged yet: a duplicate of an earlier identical spec that is queued or
    /// running, or that finished within `--dedup-window`, is refused, naming the original.
    private mutating func judgeDuplicates(spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double) {
        guard !unjudged.isEmpty else { return }
        let names = unjudged
        unjudged = []
        guard options.dedupWindow > 0 else { return }
        // A finished original counts while it ended less than the window ago; a queued or running one always.
        let since = now - options.dedupWindow
        // Other hosts' tasks are learnt by listing claimed/ and done/ (at most two seconds old when
        // judging); this worker's own starts and ends are noted as they happen. While specs arrive the
        // listing is renewed between turns each second (`refreshDuplicates`), so a spec is held up by
        // reading done/ only when none came for a while.
        duplicates.refresh(spool, since: since, settings: settings, home: home, maxAge: 2)
        judgedSinceListing = true
        for name in names.sorted() {
            guard var e = entries[name] else { continue }
            if e.terms?.dedup == true, let print = e.fingerprint {
                let queued = (byFingerprint[print] ?? []).compactMap { entries[$0] }
                    .map { Scheduler.Twin(id: $0.id, name: $0.name, arrived: $0.arrived, state: .queued) }
                let spec = Scheduler.Twin(id: e.id, name: name, arrived: e.arrived, state: .queued)
                e.duplicateOf = Scheduler.original(of: spec, among: queued + duplicates.twins(of: print), finishedSince: since)
            }
            store(e)
            if let original = e.duplicateOf {
                refusals[name] = .duplicate(of: original, window: options.dedupWindow)
            }
        }
    }
}
