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
/// 6. **Capacity**: the worker's concurrency, then where each candidate starts (`place`, in
///    Scheduler+Placement.swift): its repo on this host or another, the in-place task in its repo,
///    and the first provider of its chain that is healthy, within budget and below its concurrency.
///
/// Before these rules, a spec on a dependency cycle or identical to one queued, running or recently
/// succeeded is refused (`cycleRefusals`, `original`, in Scheduler+Refusals.swift). Every decision
/// carries a typed reason (`Hold`, `PlacementHold`, `Refusal`; `Wait` joins the first two), whose
/// `description` is the one sentence `status`, `show`, `wait` and `submit --wait` print; the worker
/// only gathers the evidence and acts.
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

        public init(name: String, id: String, arrived: Double, priority: Int = 0, notBefore: Double? = nil,
                    dependsOn: [String] = [], provider: String = "") {
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
        case failed(FailureClass)
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

        /// The inbox/ name decided about.
        public var name: String {
            switch self {
            case .candidate(let name), .hold(let name, _), .fail(let name, _): return name
            }
        }
    }

    public init() {}

    /// The decisions for every queued spec: failures first, then candidates in start order, then holds.
    public func decide(_ s: Snapshot) -> [Decision] {
        var fails: [Decision] = [], holds: [Decision] = [], ready: [Queued] = []
        let verdicts = dependencyVerdicts(s)
        for (i, q) in s.queued.enumerated() {
            switch verdicts[i] {
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
        return fails + startOrder(ready, now: s.now).map { .candidate($0.name) } + holds
    }

    /// `ready` in the order they start: effective priority, then arrival, then name.
    public func startOrder(_ ready: [Queued], now: Double) -> [Queued] {
        // Keys computed once; the sort is stable and nearly linear on a queue that is mostly in arrival order.
        ready.map { (key: effectivePriority($0, now: now), q: $0) }.sorted { a, b in
            if a.key != b.key { return a.key > b.key }
            return a.q.arrived != b.q.arrived ? a.q.arrived < b.q.arrived : a.q.name < b.q.name
        }.map(\.q)
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

    /// Each queued spec's dependency verdict. A dependency queued in this same snapshot that fails
    /// now fails its dependents now too, so a failure settles a whole chain in one turn; the specs are
    /// visited dependencies first, without recursion (chains may be 10 000 deep), each once.
    private func dependencyVerdicts(_ s: Snapshot) -> [DependencyVerdict?] {
        var verdicts = [DependencyVerdict?](repeating: nil, count: s.queued.count)
        var byID: [String: Int] = [:]
        for (i, q) in s.queued.enumerated() where !q.dependsOn.isEmpty { byID[q.id] = i }
        guard !byID.isEmpty else { return verdicts }
        // The queued dependent a `depends_on` name stands for, if any.
        let upstream = { (name: String) -> Int? in byID[s.resolved[name] ?? name] }
        var visit = [UInt8](repeating: 0, count: s.queued.count)  // 0 new, 1 on the path, 2 judged
        for root in byID.values where visit[root] == 0 {
            var path = [root]
            visit[root] = 1
            while let i = path.last {
                if let j = s.queued[i].dependsOn.lazy.compactMap(upstream).first(where: { visit[$0] == 0 }) {
                    visit[j] = 1
                    path.append(j)
                    continue
                }
                verdicts[i] = dependencyVerdict(s.queued[i], s) { name in
                    guard let j = upstream(name), visit[j] == 2, case .fail(let refusal)? = verdicts[j] else {
                        return nil
                    }
                    return refusal.failureClass
                }
                visit[i] = 2
                path.removeLast()
            }
        }
        return verdicts
    }

    /// `failing(name)`: the class a queued dependency fails with in this turn, if it does.
    private func dependencyVerdict(_ q: Queued, _ s: Snapshot, failing: (String) -> FailureClass?) -> DependencyVerdict? {
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
                if let cls = failing(name) { return .fail(.dependencyFailed(dep, class: cls)) }
                waits.append(.pending(dep))
            case .absent:
                if s.now - q.arrived >= s.dependencyTimeout {
                    return .fail(.dependencyMissing(dep, timeout: s.dependencyTimeout))
                }
                waits.append(.absent(dep))
            }
        }
        return waits.isEmpty ? nil : .wait(waits)
    }

    /// Names of specs that form a dependency cycle among `specs` (id → depends_on), each with a cycle
    /// it lies on. Linear in specs and edges (Tarjan's strongly connected components, without
    /// recursion: a chain 10 000 deep is an ordinary input); each cycle named is a shortest one
    /// from the smallest member not yet named.
    public static func cycles(_ specs: [String: [String]]) -> [String: Cycle] {
        let names = specs.keys.sorted()
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() { index[name] = i }
        let edges: [[Int]] = names.map { (specs[$0] ?? []).compactMap { index[$0] } }
        let components = stronglyConnected(edges)
        var out: [String: Cycle] = [:]
        for component in components {
            let members = Set(component)
            guard members.count > 1 || edges[component[0]].contains(component[0]) else { continue }
            for start in component.sorted() where out[names[start]] == nil {
                guard let path = shortestCycle(from: start, within: members, edges: edges) else { continue }
                let cycle = Cycle(path.map { names[$0] })
                for member in path where out[names[member]] == nil { out[names[member]] = cycle }
            }
        }
        return out
    }

    /// Tarjan's algorithm with an explicit stack: the components of the graph, each a list of nodes.
    static func stronglyConnected(_ edges: [[Int]]) -> [[Int]] {
        let n = edges.count
        var order = [Int](repeating: -1, count: n), low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n)
        var stack: [Int] = [], components: [[Int]] = [], counter = 0
        for root in 0..<n where order[root] < 0 {
            var frames: [(node: Int, next: Int)] = [(root, 0)]
            order[root] = counter; low[root] = counter; counter += 1
            stack.append(root); onStack[root] = true
            while let (node, next) = frames.last {
                if next < edges[node].count {
                    frames[frames.count - 1].next += 1
                    let to = edges[node][next]
                    if order[to] < 0 {
                        order[to] = counter; low[to] = counter; counter += 1
                        stack.append(to); onStack[to] = true
                        frames.append((to, 0))
                    } else if onStack[to] {
                        low[node] = min(low[node], order[to])
                    }
                    continue
                }
                frames.removeLast()
                if let parent = frames.last?.node { low[parent] = min(low[parent], low[node]) }
                if low[node] == order[node] {
                    var component: [Int] = []
                    while let top = stack.popLast() {
                        onStack[top] = false
                        component.append(top)
                        if top == node { break }
                    }
                    components.append(component)
                }
            }
        }
        return components
    }

    /// A shortest path from `start` back to itself inside `members` (breadth first), the start at both ends.
    private static func shortestCycle(from start: Int, within members: Set<Int>, edges: [[Int]]) -> [Int]? {
        var parent: [Int: Int] = [:]
        var frontier = [start]
        while !frontier.isEmpty {
            var next: [Int] = []
            for node in frontier {
                for to in edges[node] where members.contains(to) {
                    if to == start {
                        var back: [Int] = [], at = node
                        while at != start { back.append(at); at = parent[at]! }
                        return [start] + Array(back.reversed()) + [start]
                    }
                    if parent[to] == nil { parent[to] = node; next.append(to) }
                }
            }
            frontier = next
        }
        return nil
    }

    // MARK: - Text

    static func clock(_ t: Double) -> String {
        Stamp.iso(Date(timeIntervalSince1970: t)).prefix(19).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    static func span(_ seconds: Double) -> String { DurationText.format(max(0, seconds).rounded()) }
}
