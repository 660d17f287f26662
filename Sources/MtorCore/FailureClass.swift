/// The outcome class of one attempt or of a whole task (CONTRACT.md section 5).
public enum FailureClass: String, Codable, CaseIterable, Sendable {
    case ok
    case specInvalid = "spec_invalid"
    case workdirMissing = "workdir_missing"
    case harnessMissing = "harness_missing"
    case harnessUsage = "harness_usage"
    case authFailed = "auth_failed"
    case quotaExhausted = "quota_exhausted"
    case rateLimited = "rate_limited"
    case providerUnavailable = "provider_unavailable"
    case stalled
    case timedOut = "timed_out"
    case agentFailed = "agent_failed"
    case verifyFailed = "verify_failed"
    case cancelled
    case interrupted
    case unknown
    case internalError = "internal_error"
    /// The agent exited 0 but changed nothing (with `expect: changes`).
    case noChanges = "no_changes"
    /// The spec's `setup:` command (or the worktree it runs in) failed.
    case setupFailed = "setup_failed"
    /// The kernel's OOM killer killed a process of the attempt at its memory cap (`memory:`); never retried at the same cap.
    case outOfMemory = "out_of_memory"
    /// A task named in `depends_on` failed or was cancelled, so this one never ran.
    case dependencyFailed = "dependency_failed"
    /// An identical spec (same repo, provider and prompt) is queued or running, or succeeded within the dedup window.
    case duplicate
    /// The task crossed its `max_cost_usd:` or `max_turns:` and was stopped; never retried.
    case budgetExceeded = "budget_exceeded"

    /// Whether the provider itself is at fault, so the next fallback provider should take over.
    public var movesToFallback: Bool {
        switch self {
        case .authFailed, .quotaExhausted, .rateLimited, .providerUnavailable: return true
        default: return false
        }
    }

    /// Whether another attempt on the same provider may succeed.
    public var isTransient: Bool {
        switch self {
        case .rateLimited, .providerUnavailable, .stalled, .unknown, .interrupted, .noChanges: return true
        default: return false
        }
    }

    /// The most attempts of this class one task makes on one provider before giving up on it.
    public func attemptLimit(retries: Int) -> Int {
        switch self {
        case .rateLimited, .providerUnavailable, .interrupted: return 1 + retries
        case .stalled, .unknown, .noChanges: return min(2, 1 + retries)
        default: return 1
        }
    }
}
