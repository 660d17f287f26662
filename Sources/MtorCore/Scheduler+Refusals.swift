import Foundation

/// The refusals decided before a spec is scheduled: a dependency cycle, and a duplicate of an
/// earlier identical spec (`dedup`). The worker gathers the evidence (the queued specs' graph, the
/// tasks sharing a spec's fingerprint); these functions decide.
extension Scheduler {
    /// Every spec on a dependency cycle among `specs` (id → the queued ids its `depends_on`
    /// names), refused with the cycle it lies on; a spec naming itself is refused as such.
    public static func cycleRefusals(_ specs: [String: [String]]) -> [String: Refusal] {
        guard !specs.isEmpty else { return [:] }
        return cycles(specs).mapValues { .dependencyCycle($0) }
    }

    /// The earlier identical spec a duplicate is refused for, described as `show` prints it.
    public enum Original: Sendable, Equatable, CustomStringConvertible {
        /// Waiting in inbox/.
        case queued(String)
        /// In claimed/.
        case running(String)
        /// In done/ with at least one attempt, its sidecar written at this time.
        case succeeded(String, at: Double)

        public var id: String {
            switch self {
            case .queued(let id), .running(let id), .succeeded(let id, _): return id
            }
        }

        public var description: String {
            switch self {
            case .queued(let id): return "\(id), queued in inbox/"
            case .running(let id): return "\(id), which is running"
            case .succeeded(let id, let at): return "\(id), which succeeded (done/) at \(Stamp.iso(Date(timeIntervalSince1970: at)).prefix(19))Z"
            }
        }
    }

    /// A task with the same fingerprint (repo, provider and prompt) as the spec being judged.
    public struct Twin: Sendable, Equatable {
        public enum State: Sendable, Equatable {
            case queued
            case running
            /// In done/: when its sidecar was written (nil: not yet), and whether it made an attempt.
            case succeeded(at: Double?, ran: Bool)
            /// In failed/ (failed or cancelled): never an original.
            case failed
        }

        public var id: String
        /// Its file name in inbox/ (the tie-breaker between queued twins that arrived together).
        public var name: String
        public var arrived: Double
        public var state: State

        public init(id: String, name: String? = nil, arrived: Double, state: State) {
            self.id = id
            self.name = name ?? id + ".md"
            self.arrived = arrived
            self.state = state
        }
    }

    /// The original a spec duplicates, or nil to let it run: the earliest queued twin that arrived
    /// before it, else a running one that did, else one that succeeded (after an attempt) at
    /// `finishedSince` or later. A failed or cancelled twin never blocks a re-submission.
    public static func original(of spec: Twin, among twins: [Twin], finishedSince: Double) -> Original? {
        let before = { (t: Twin) in (t.arrived, t.name) < (spec.arrived, spec.name) }
        let queued = twins.filter { $0.state == .queued && $0.name != spec.name && before($0) }
        if let first = queued.min(by: { ($0.arrived, $0.name) < ($1.arrived, $1.name) }) { return .queued(first.id) }
        let earlier = twins.filter { $0.id != spec.id && $0.arrived < spec.arrived }.sorted { $0.id < $1.id }
        if let running = earlier.first(where: { $0.state == .running }) { return .running(running.id) }
        for t in earlier {
            if case .succeeded(let at?, true) = t.state, at >= finishedSince { return .succeeded(t.id, at: at) }
        }
        return nil
    }
}
