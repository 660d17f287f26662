import Foundation

extension Scheduler {
    /// Why a queued spec waits. Decisions are made on the case; `description` is the sentence
    /// `status`, `show` and `wait` print.
    public enum Hold: Sendable, Equatable, CustomStringConvertible {
        /// `depends_on` names tasks that have not succeeded yet, in the spec's order.
        case dependencies([DependencyWait])
        /// `not_before` is still ahead: when it falls due, and the turn's time.
        case notBefore(Double, now: Double)
        case spoolPaused(Pause)
        case providerPaused(String, Pause)
        /// The host's available memory is below `--min-free-memory`.
        case lowMemory(available: Int64, floor: Int64)

        public var description: String {
            switch self {
            case .dependencies(let waits):
                return waits.map(\.description).joined(separator: "; ")
            case .notBefore(let t, let now):
                return "not before \(Scheduler.clock(t)) (not_before), in \(Scheduler.span(t - now))"
            case .spoolPaused(let p):
                return "the spool is paused since \(p.since) by \(p.by) (`mtor resume` starts it again)"
            case .providerPaused(let provider, let p):
                return "provider \(provider) is paused since \(p.since) by \(p.by) "
                    + "(`mtor resume --provider \(provider)`)"
            case .lowMemory(let available, let floor):
                return "only \(ByteSize.format(available)) of memory is available, "
                    + "below --min-free-memory \(ByteSize.format(floor)); it starts when memory returns"
            }
        }
    }

    /// One dependency a spec waits for, named as `depends_on` wrote it (and the task it resolved to).
    public enum DependencyWait: Sendable, Equatable, CustomStringConvertible {
        /// Queued or running.
        case pending(String)
        /// Not in this spool (yet).
        case absent(String)

        public var description: String {
            switch self {
            case .pending(let dep): return "waiting for \(dep) to succeed"
            case .absent(let dep): return "waiting for \(dep), which is not in this spool"
            }
        }
    }

    /// Why a queued spec fails without running: its class, and the sentence for its sidecar.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        /// A dependency failed with this class.
        case dependencyFailed(String, class: FailureClass)
        case dependencyCancelled(String)
        /// A dependency never appeared in the spool within `--dependency-timeout`.
        case dependencyMissing(String, timeout: Double)
        /// `depends_on` closes a cycle among queued specs (or names the task itself).
        case dependencyCycle(Cycle)
        /// An identical spec is queued, running, or succeeded within `--dedup-window`: the original.
        case duplicate(of: Original, window: Double)

        public var failureClass: FailureClass {
            switch self {
            case .dependencyFailed, .dependencyCancelled, .dependencyMissing: return .dependencyFailed
            case .dependencyCycle: return .specInvalid
            case .duplicate: return .duplicate
            }
        }

        /// What to do about it, for the sidecar's `hint`.
        public var hint: String {
            switch self {
            case .dependencyFailed, .dependencyCancelled, .dependencyMissing:
                return "fix the dependency and `mtor retry` it, then `mtor retry` this task"
            case .dependencyCycle, .duplicate:
                return "fix the spec; `mtor validate` runs the same checks"
            }
        }

        /// A duplicate's sentence without the window (what `validate` and `submit` say); others as `description`.
        public var sentence: String {
            guard case .duplicate(let original, _) = self else { return description }
            return "duplicate spec: it is identical (same repo, provider and prompt) to \(original); "
                + "to run it again on purpose, submit it with `mtor submit --force` or add 'dedup: false'"
        }

        public var description: String {
            switch self {
            case .dependencyFailed(let dep, let cls):
                return "its dependency \(dep) failed (\(cls.rawValue)), so it was not run"
            case .dependencyCancelled(let dep):
                return "its dependency \(dep) was cancelled, so it was not run"
            case .dependencyMissing(let dep, let timeout):
                return "its dependency \(dep) never appeared in this spool within \(Scheduler.span(timeout))"
                    + " (--dependency-timeout)"
            case .dependencyCycle(let cycle) where cycle.isSelfDependency:
                return "'depends_on' names the task itself (\(cycle)); "
                    + "a task cannot wait for itself — remove it from 'depends_on'"
            case .dependencyCycle(let cycle):
                return "'depends_on' forms a cycle (\(cycle)), so none of these tasks could ever start; "
                    + "remove one of the dependencies and submit again"
            case .duplicate(_, let window):
                return sentence + " (window: --dedup-window \(DurationText.format(window)))"
            }
        }
    }

    /// A dependency cycle among queued specs, as the ids met walking it.
    public struct Cycle: Sendable, Equatable, CustomStringConvertible {
        /// The ids in order, the first repeated at the end: `["a", "b", "a"]`.
        public var path: [String]

        public init(_ path: [String]) { self.path = path }

        /// The task names itself in `depends_on`.
        public var isSelfDependency: Bool { path.count == 2 }

        /// `a → b → a`.
        public var description: String { path.joined(separator: " → ") }
    }
}
