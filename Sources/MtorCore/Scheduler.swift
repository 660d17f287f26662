import Foundation

/// Which queued specs start now, and why each other one waits.
///
/// A pure function of a snapshot the worker takes each turn: no filesystem, no clock of its own.
/// `status`, `show` and `wait` print the reasons it returns. The rules, in order:
///
/// 1. **Dependencies** (`depends_on`): a spec waits until every dependency has succeeded. A
///    dependency that failed or was cancelled fails the spec at once (`dependency_failed`); one
///    that is nowhere in the spool waits until it appears or `dependencyTimeout` passes.
/// 2. **Delayed starts** (`not_before`): a spec waits until its time.
/// 3. **Pause**: a paused spool (or provider) starts nothing new; running tasks go on.
/// 4. **Memory**: nothing starts while the host's available memory is below the floor.
/// 5. **Order**: the rest are taken by effective priority, highest first, then by arrival.
///    Effective priority is `priority` plus one for every `agingStep` seconds waited, so a
///    low-priority spec is never starved: after `agingStep × gap` it catches up with a spec
///    `gap` levels above it that arrived at the same time.
/// 6. **Capacity**: the worker's concurrency, then each provider's (checked by the caller's
///    `place` closure, which also knows provider health).
public struct Scheduler: Sendable {
    /// Seconds of waiting worth one level of priority.
    public static let agingStep: Double = 600

    /// One spec in inbox/.
    public struct Queued: Sendable, Equatable {
        public var name: String
        public var id: String
        /// When it arrived (its file's mtime): the tie-breaker, the base for `not_before: 2h` and aging.
        public var arrived: Double
        public var priority: Int
        public var notBefore: Double?
        public var dependsOn: [String]
        /// Its provider, for per-provider pause ("" for specs without one).
        public var provider: String

        public init(name: String, id: String, arrived: Double, priority: Int = 0, notBefore: Double? = nil, dependsOn: [String] = [], provider: String = "") {
            self.name = name
            self.id = id
            self.arrived = arrived
            self.priority = priority
            self.notBefore = notBefore
            self.dependsOn = dependsOn
            self.provider = provider
        }
    }

    /// Where a dependency is.
    public enum Dependency: Sendable, Equatable {
        case succeeded
        case failed(String)     // its class
        case cancelled
        case pending            // queued or running
        case absent             // not in this spool (yet)
    }

    /// A pause marker: since when, by whom.
    public struct Pause: Sendable, Equatable {
        public var since: String
        public var by: String
        public init(since: String, by: String) { self.since = since; self.by = by }
    }

    public struct Snapshot: Sendable {
        public var now: Double
        public var queued: [Queued]
        public var dependencies: [String: Dependency]
        public var pausedAll: Pause?
        public var pausedProviders: [String: Pause]
        public var memoryAvailable: Int64?
        public var memoryFloor: Int64
        public var dependencyTimeout: Double
        public var freeSlots: Int
        /// The task each `depends_on` name was found to be, when it is not the name itself (for reasons).
        public var resolved: [String: String] = [:]

        public init(now: Double, queued: [Queued], dependencies: [String: Dependency] = [:], pausedAll: Pause? = nil,
                    pausedProviders: [String: Pause] = [:], memoryAvailable: Int64? = nil, memoryFloor: Int64 = 0,
                    dependencyTimeout: Double = 86400, freeSlots: Int) {
            self.now = now
            self.queued = queued
            self.dependencies = dependencies
            self.pausedAll = pausedAll
            self.pausedProviders = pausedProviders
            self.memoryAvailable = memoryAvailable
            self.memoryFloor = memoryFloor
            self.dependencyTimeout = dependencyTimeout
            self.freeSlots = freeSlots
        }
    }

    public enum Decision: Sendable, Equatable {
        /// Offer it to the caller's placement (capacity, provider health), in this order.
        case candidate(String)
        case hold(String, reason: Hold)
        /// Fail it now without running (the refusal gives the class and the sentence for its sidecar).
        case fail(String, Refusal)
    }

    public init() {}

    /// The decisions for every queued spec: failures first, then candidates in start order, then holds.
    public func decide(_ s: Snapshot) -> [Decision] {
        var fails: [Decision] = [], holds: [Decision] = [], ready: [Queued] = []
        for q in s.queued {
            switch dependencyVerdict(q, s) {
            case .fail(let refusal)?:
                fails.append(.fail(q.name, refusal))
                continue
            case .wait(let waits)?:
                holds.append(.hold(q.name, reason: .dependencies(waits)))
                continue
            case nil:
                break
            }
            if let t = q.notBefore, t > s.now {
                holds.append(.hold(q.name, reason: .notBefore(t, now: s.now)))
                continue
            }
            if let p = s.pausedAll {
                holds.append(.hold(q.name, reason: .spoolPaused(p)))
                continue
            }
            if let p = s.pausedProviders[q.provider], !q.provider.isEmpty {
                holds.append(.hold(q.name, reason: .providerPaused(q.provider, p)))
                continue
            }
            if let available = s.memoryAvailable, available < s.memoryFloor {
                holds.append(.hold(q.name, reason: .lowMemory(available: available, floor: s.memoryFloor)))
                continue
            }
            ready.append(q)
        }
        // Keys computed once; the sort is stable and nearly linear on a queue that is mostly in arrival order.
        let keyed = ready.map { (key: effectivePriority($0, now: s.now), q: $0) }.sorted { a, b in
            if a.key != b.key { return a.key > b.key }
            return a.q.arrived != b.q.arrived ? a.q.arrived < b.q.arrived : a.q.name < b.q.name
        }
        return fails + keyed.map { .candidate($0.q.name) } + holds
    }

    /// `priority` plus one level per `agingStep` seconds waited.
    public func effectivePriority(_ q: Queued, now: Double) -> Double {
        Double(q.priority) + max(0, now - q.arrived) / Scheduler.agingStep
    }

    /// The earliest `not_before` still ahead among the queued specs: when the worker must look again.
    public func nextStart(_ s: Snapshot) -> Double? {
        s.queued.compactMap { $0.notBefore }.filter { $0 > s.now }.min()
    }

    private enum DependencyVerdict { case fail(Refusal), wait([DependencyWait]) }

    private func dependencyVerdict(_ q: Queued, _ s: Snapshot) -> DependencyVerdict? {
        var waits: [DependencyWait] = []
        for name in q.dependsOn {
            let dep = s.resolved[name].map { $0 == name ? name : "\(name) (\($0))" } ?? name
            switch s.dependencies[name] ?? .absent {
            case .succeeded:
                continue
            case .failed(let cls):
                return .fail(.dependencyFailed(dep, class: cls))
            case .cancelled:
                return .fail(.dependencyCancelled(dep))
            case .pending:
                waits.append(.pending(dep))
            case .absent:
                if s.now - q.arrived >= s.dependencyTimeout { return .fail(.dependencyMissing(dep, timeout: s.dependencyTimeout)) }
                waits.append(.absent(dep))
            }
        }
        return waits.isEmpty ? nil : .wait(waits)
    }

    /// Names of specs that form a dependency cycle among `specs` (id → depends_on), each with its cycle.
    public static func cycles(_ specs: [String: [String]]) -> [String: Cycle] {
        var out: [String: Cycle] = [:]
        for start in specs.keys.sorted() where out[start] == nil {
            // Depth-first from `start`, following only queued specs.
            var path: [String] = [start]
            var seen: Set<String> = [start]
            func walk(_ node: String) -> [String]? {
                for next in specs[node] ?? [] where specs[next] != nil {
                    if next == start { return path + [start] }
                    if seen.insert(next).inserted {
                        path.append(next)
                        if let cycle = walk(next) { return cycle }
                        path.removeLast()
                    }
                }
                return nil
            }
            if let path = walk(start) {
                for member in path { out[member] = Cycle(path) }
            }
        }
        return out
    }

    // MARK: - Text

    static func clock(_ t: Double) -> String {
        Stamp.iso(Date(timeIntervalSince1970: t)).prefix(19).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func span(_ seconds: Double) -> String { DurationText.format(max(0, seconds).rounded()) }
}
