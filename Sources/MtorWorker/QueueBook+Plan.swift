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

    /// The turn's first decisions: refusals found at ingest (a cycle, a duplicate), invalid specs
    /// (they fail at once), then the scheduler's decisions for every non-plain spec and the oldest
    /// `window` plain ones. `more` gives the next plain specs while slots are left.
    mutating func plan(spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double, window: Int) -> Plan {
        var plan = Plan()
        guard !entries.isEmpty else { return plan }
        let dependents = others.compactMap { entries[$0] }.filter { !($0.terms?.dependsOn.isEmpty ?? true) }
        let directory = dependents.isEmpty ? TaskDirectory() : TaskDirectory.scan(spool, inboxNames: Array(entries.keys))
        var refused: [String: Scheduler.Refusal] = [:]
        // A cycle among queued specs can never start: every member is refused at ingest.
        var graph: [String: [String]] = [:]
        for e in dependents { graph[e.id] = (e.terms?.dependsOn ?? []).compactMap { directory.resolve($0) }.filter { directory.queued[$0] != nil } }
        let cycles = graph.isEmpty ? [:] : Scheduler.cycles(graph)
        for e in dependents {
            guard let cycle = cycles[e.id] else { continue }
            refused[e.name] = .dependencyCycle(cycle)
        }
        judgeDuplicates(refused: &refused, spool: spool, options: options, settings: settings, home: home, now: now)
        // An invalid spec is refused at once with its reason, whatever would hold a valid one.
        let invalid = others.filter { entries[$0]?.terms == nil && refused[$0] == nil }.sorted().map { Scheduler.Decision.candidate($0) }
        var queued: [Scheduler.Queued] = []
        var dependencies: [String: Scheduler.Dependency] = [:]
        var resolved: [String: String] = [:]
        var special: Set<String> = []
        for name in others where refused[name] == nil {
            guard let e = entries[name], let terms = e.terms else { continue }
            for dep in terms.dependsOn where dependencies[dep] == nil {
                guard let id = directory.resolve(dep) else { continue }
                resolved[dep] = id
                dependencies[dep] = directory.state(of: id, in: spool)
            }
            let notBefore = terms.notBefore?.time(arrived: e.arrived)
            if let t = notBefore, t > now { plan.starts[name] = t }
            special.insert(name)
            queued.append(Scheduler.Queued(name: name, id: e.id, arrived: e.arrived, priority: terms.priority, notBefore: notBefore,
                                           dependsOn: terms.dependsOn, provider: e.provider))
        }
        let windowed = plain(from: &plan.cursor, count: window).filter { refused[$0.name] == nil }
        queued += windowed.map { Scheduler.Queued(name: $0.name, id: $0.id, arrived: $0.arrived, provider: $0.provider) }
        let host = hostState(spool, options)
        let scheduler = Scheduler()
        var snapshot = Scheduler.Snapshot(
            now: now, queued: queued, dependencies: dependencies, pausedAll: host.pausedAll, pausedProviders: host.pausedProviders,
            memoryAvailable: host.memory, memoryFloor: options.minFreeMemory, dependencyTimeout: options.dependencyTimeout, freeSlots: options.concurrency)
        snapshot.resolved = resolved
        var decisions = scheduler.decide(snapshot)
        plan.nextStart = scheduler.nextStart(snapshot)
        // Plain specs beyond the window are younger than its last one: a candidate ranked below that one waits for them.
        if plan.cursor < plainOrder.count, let last = windowed.last {
            let floor = scheduler.effectivePriority(Scheduler.Queued(name: last.name, id: last.id, arrived: last.arrived), now: now)
            let rank = Dictionary(queued.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            decisions.removeAll { d in
                guard case .candidate(let name) = d, special.contains(name), let q = rank[name], scheduler.effectivePriority(q, now: now) < floor else { return false }
                plan.later.append(name)
                return true
            }
        }
        plan.decisions = refused.sorted { $0.key < $1.key }.map { .fail($0.key, $0.value) } + invalid + decisions
        let blocked = snapshot.pausedAll != nil || (snapshot.memoryAvailable.map { $0 < snapshot.memoryFloor } ?? false)
        snapshot.queued = []
        plan.template = blocked ? nil : snapshot
        return plan
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
            pausedProviders: Dictionary(pauses.compactMap { p in p.provider.map { ($0, Scheduler.Pause(since: p.clock, by: p.by)) } }, uniquingKeysWith: { a, _ in a }),
            memory: options.minFreeMemory > 0 ? HostMemory.available() : nil)
        host = state
        return state
    }

    /// The scheduler's decisions for the next `count` plain specs (a provider's pause still holds them).
    func more(_ plan: inout Plan, count: Int) -> [Scheduler.Decision] {
        guard var snapshot = plan.template else { return [] }
        snapshot.queued = plain(from: &plan.cursor, count: count).map { Scheduler.Queued(name: $0.name, id: $0.id, arrived: $0.arrived, provider: $0.provider) }
        return snapshot.queued.isEmpty ? [] : Scheduler().decide(snapshot)
    }

    /// Judges each spec not judged yet: a duplicate of an earlier identical spec that is queued or
    /// running, or that finished within `--dedup-window`, is refused, naming the original.
    private mutating func judgeDuplicates(refused: inout [String: Scheduler.Refusal], spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double) {
        guard !unjudged.isEmpty else { return }
        let names = unjudged
        unjudged = []
        guard options.dedupWindow > 0 else { return }
        // A finished original counts while it ended less than the window ago; a queued or running one always.
        let since = now - options.dedupWindow
        duplicates.refresh(spool, since: since, settings: settings, home: home)
        for name in names.sorted() {
            guard var e = entries[name] else { continue }
            if e.terms?.dedup == true, let print = e.fingerprint {
                let earlier = (byFingerprint[print] ?? []).compactMap { entries[$0] }
                    .filter { $0.name != name && ($0.arrived, $0.name) < (e.arrived, name) }.min { ($0.arrived, $0.name) < ($1.arrived, $1.name) }
                if let o = earlier {
                    e.duplicateOf = "\(o.id), queued in inbox/"
                } else if let o = duplicates.original(of: print, arrived: e.arrived, finishedSince: since, except: e.id) {
                    e.duplicateOf = o
                }
            }
            store(e)
            if let original = e.duplicateOf {
                refused[name] = .duplicate(of: original, window: options.dedupWindow)
            }
        }
    }
}
