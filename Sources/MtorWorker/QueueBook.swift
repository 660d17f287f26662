import Foundation
import MtorCore
import MtorPlatform

/// What the worker knows of each spec in inbox/ to schedule it, read once per version of the
/// file; and, each turn, the `Scheduler` snapshot built from it and the spool: dependencies,
/// pauses, available memory. Refusals found at ingest (a `depends_on` cycle, a duplicate) come
/// first; `DuplicateIndex` holds what dedup compares against.
struct QueueBook {
    /// One inbox/ spec as the scheduler sees it.
    struct Entry {
        var name: String
        var id: String
        /// The file's modification time: its arrival, the base of `not_before: 2h` and of aging.
        var arrived: Double
        var size: Int64
        /// What the scheduler reads of the spec (not its prompt: a queue of large specs stays small in memory);
        /// nil when the spec is invalid: it is offered to start, and fails at once with the reason.
        var terms: Terms?
        /// The first provider of its chain ("" for none), for per-provider pause.
        var provider: String = ""
        var fingerprint: UInt64?
        /// Set once dedup has judged it: the sentence naming the original, or "" when it is no duplicate.
        var duplicateOf: String?
    }

    /// The spec's scheduling keys.
    struct Terms {
        var priority: Int
        var dependsOn: [String]
        var notBefore: NotBefore?
        var dedup: Bool
    }

    /// What one turn decided, and when the worker must look again.
    struct Plan {
        var decisions: [Scheduler.Decision] = []
        var nextStart: Double?
        /// inbox/ name → when its `not_before` lets it start.
        var starts: [String: Double] = [:]
    }

    private var entries: [String: Entry] = [:]
    private var duplicates = DuplicateIndex()

    /// The entry for a name already read, trusted without a system call until `invalidate` (an
    /// inotify event for the name) or `prune` (a rescan that no longer lists it): each turn looks
    /// at every queued spec, so a turn must cost no I/O per spec.
    func cached(_ name: String) -> Entry? { entries[name] }

    mutating func invalidate(_ name: String) { entries[name] = nil }

    mutating func prune(keeping names: Set<String>) { entries = entries.filter { names.contains($0.key) } }

    /// The entry for inbox/`name`, read again only when its size or modification time changed.
    mutating func load(name: String, path: String, size: Int64, settings: Settings, home: String) -> Entry? {
        guard let mtime = FileSystem.modificationTime(path) else { return nil }
        if let e = entries[name], e.size == size, e.arrived == mtime { return e }
        guard let bytes = try? FileSystem.read(path, limit: Spec.maxBytes) else { return nil }
        var e = Entry(name: name, id: TaskID.from(fileName: name), arrived: mtime, size: size)
        if let spec = try? Spec.parse(bytes, home: home), let target = (try? settings.targets(for: spec))?.first {
            e.terms = Terms(priority: spec.priority, dependsOn: spec.dependsOn, notBefore: spec.notBefore, dedup: spec.dedup)
            e.provider = target.providerName ?? ""
            e.fingerprint = spec.fingerprint(provider: target.providerName ?? "harness:" + target.harnessName)
        }
        entries[name] = e
        return e
    }

    /// The turn's decisions for `list`, in the order the worker acts on them.
    mutating func plan(_ list: [Entry], spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double) -> Plan {
        var plan = Plan()
        guard !list.isEmpty else { return plan }
        let needsDirectory = list.contains { !($0.terms?.dependsOn.isEmpty ?? true) }
        let directory = needsDirectory ? TaskDirectory.scan(spool, inboxNames: list.map(\.name)) : TaskDirectory()
        var refused: [String: String] = [:]
        // A cycle among queued specs can never start: every member is refused at ingest.
        var graph: [String: [String]] = [:]
        let dependents = needsDirectory ? list.filter { !($0.terms?.dependsOn.isEmpty ?? true) } : []
        for e in dependents { graph[e.id] = (e.terms?.dependsOn ?? []).compactMap { directory.resolve($0) }.filter { directory.queued[$0] != nil } }
        let cycles = graph.isEmpty ? [:] : Scheduler.cycles(graph)
        for e in dependents {
            guard let cycle = cycles[e.id] else { continue }
            refused[e.name] = cycle.split(separator: " ").count == 3
                ? "'depends_on' names the task itself (\(cycle)); a task cannot wait for itself — remove it from 'depends_on'"
                : "'depends_on' forms a cycle (\(cycle)), so none of these tasks could ever start; remove one of the dependencies and submit again"
        }
        judgeDuplicates(list, refused: &refused, spool: spool, options: options, settings: settings, home: home, now: now)
        // An invalid spec is refused at once with its reason, whatever would hold a valid one.
        let invalid = list.filter { $0.terms == nil && refused[$0.name] == nil }.map { Scheduler.Decision.candidate($0.name) }
        var queued: [Scheduler.Queued] = []
        var dependencies: [String: Scheduler.Dependency] = [:]
        var resolved: [String: String] = [:]
        for e in list where refused[e.name] == nil {
            guard let terms = e.terms else { continue }
            let deps = terms.dependsOn
            for dep in deps where dependencies[dep] == nil {
                guard let id = directory.resolve(dep) else { continue }
                resolved[dep] = id
                dependencies[dep] = directory.state(of: id, in: spool)
            }
            let notBefore = terms.notBefore?.time(arrived: e.arrived)
            if let t = notBefore, t > now { plan.starts[e.name] = t }
            queued.append(Scheduler.Queued(name: e.name, id: e.id, arrived: e.arrived, priority: terms.priority, notBefore: notBefore,
                                           dependsOn: deps, provider: e.provider))
        }
        let pauses = PauseMarker.all(spool)
        let scheduler = Scheduler()
        var snapshot = Scheduler.Snapshot(
            now: now, queued: queued, dependencies: dependencies,
            pausedAll: pauses.first { $0.provider == nil }.map { Scheduler.Pause(since: $0.clock, by: $0.by) },
            pausedProviders: Dictionary(pauses.compactMap { p in p.provider.map { ($0, Scheduler.Pause(since: p.clock, by: p.by)) } }, uniquingKeysWith: { a, _ in a }),
            memoryAvailable: options.minFreeMemory > 0 ? HostMemory.available() : nil, memoryFloor: options.minFreeMemory,
            dependencyTimeout: options.dependencyTimeout, freeSlots: options.concurrency)
        snapshot.resolved = resolved
        plan.decisions = refused.sorted { $0.key < $1.key }.map { .fail($0.key, class: FailureClass.specInvalid.rawValue, reason: $0.value) }
            + invalid + scheduler.decide(snapshot)
        plan.nextStart = scheduler.nextStart(snapshot)
        return plan
    }

    /// Judges each spec not judged yet: a duplicate of an earlier identical spec queued, running,
    /// or finished within `--dedup-window` of its arrival is refused, naming the original.
    private mutating func judgeDuplicates(_ list: [Entry], refused: inout [String: String], spool: Spool, options: WorkerOptions, settings: Settings, home: String, now: Double) {
        let unjudged = list.filter { $0.duplicateOf == nil }
        guard options.dedupWindow > 0 else { return }
        // A finished original counts while it ended less than the window ago; a queued or running one always.
        let since = now - options.dedupWindow
        if !unjudged.isEmpty { duplicates.refresh(spool, since: since, settings: settings, home: home) }
        for var e in unjudged {
            e.duplicateOf = ""
            if e.terms?.dedup == true, let print = e.fingerprint {
                let earlier = list.first { o in o.name != e.name && o.fingerprint == print && (o.arrived, o.name) < (e.arrived, e.name) }
                if let o = earlier {
                    e.duplicateOf = "it is identical (same repo, provider and prompt) to \(o.id), queued in inbox/"
                } else if let o = duplicates.original(of: print, arrived: e.arrived, finishedSince: since, except: e.id) {
                    e.duplicateOf = "it is identical (same repo, provider and prompt) to \(o)"
                }
            }
            entries[e.name] = e
        }
        for e in list where e.duplicateOf != "" {
            guard let d = entries[e.name]?.duplicateOf, !d.isEmpty else { continue }
            refused[e.name] = "duplicate spec: \(d); to run it again on purpose, submit it with `mtor submit --force` or add 'dedup: false' (window: --dedup-window \(DurationText.format(options.dedupWindow)))"
        }
    }
}
