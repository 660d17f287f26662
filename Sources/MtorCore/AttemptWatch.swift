import Foundation

/// The stop rules of one running attempt as a value: fed what the runner sees, it says when and why to stop the agent.
///
/// The rules, first match wins: a deterministic provider failure already in the stream (early abort),
/// a spending cap crossed (budget), the timeout, the stall limit, a direct provider check that found the provider hung or refusing
/// (silence), a cancel, the worker's shutdown, and the cancel file. Once it has said stop it keeps
/// saying the same stop.
public struct AttemptWatch: Sendable {
    /// What the runner saw at one look, besides the clock.
    public struct Facts: Sendable, Equatable {
        /// The stream already proves a failure no waiting will cure.
        public var earlyAbort = false
        /// `mtor cancel` reached the worker.
        public var cancelRequested = false
        /// The worker is stopping.
        public var shutdownRequested = false
        /// `cancel/<id>` exists (looked for only when `cancelFileDue` said so).
        public var cancelFileSeen = false
        /// The verdict of a direct check that found the provider hung or refusing.
        public var providerFailed: Verdict?
        /// The running cost or turns crossed a cap (`Budget.TaskLimits.exceeded`), or a daily budget ran out with `--budget-stop`.
        public var budgetExceeded = false

        public init(earlyAbort: Bool = false, cancelRequested: Bool = false, shutdownRequested: Bool = false,
                    cancelFileSeen: Bool = false, providerFailed: Verdict? = nil) {
            self.earlyAbort = earlyAbort
            self.cancelRequested = cancelRequested
            self.shutdownRequested = shutdownRequested
            self.cancelFileSeen = cancelFileSeen
            self.providerFailed = providerFailed
        }
    }

    /// The shortest time between two looks at the cancel file, in seconds.
    public static let cancelFileInterval = 0.5
    /// The shortest time between two publications of the attempt's last activity, in seconds.
    public static let publishInterval = 1.0

    public let deadline: Double
    public let stall: Double
    /// Silence after which the provider is checked directly: well before the stall limit, so the check can answer first.
    public let probeAfter: Double
    /// When the agent last wrote anything (at first: when it started).
    public private(set) var lastActivity: Double
    /// The stop decided, once one is.
    public private(set) var stop: AttemptEvidence.Stop?
    /// The verdict of the provider check that stopped the attempt, when `stop` is `silence`.
    public private(set) var silenceVerdict: Verdict?
    private var lastCancelLook = -Double.infinity
    private var lastPublished = -Double.infinity

    /// A watch for an agent running since `start` that must end by `deadline`, with the spec's `stall` limit and the worker's `silenceProbe`.
    public init(deadline: Double, stall: Double, silenceProbe: Double, since start: Double) {
        self.deadline = deadline
        self.stall = stall
        probeAfter = min(silenceProbe, stall / 2)
        lastActivity = start
    }

    /// The agent wrote something at `t`; true when the activity is due to be published (at most once a second).
    public mutating func output(at t: Double) -> Bool {
        lastActivity = t
        guard t - lastPublished > Self.publishInterval else { return false }
        lastPublished = t
        return true
    }

    /// Seconds the agent has been silent at `t`.
    public func silence(at t: Double) -> Double { t - lastActivity }

    /// Whether a direct check of the provider is due at `t`: silent past `probeAfter`, before the timeout and the stall limit end it anyway.
    public func probeDue(at t: Double) -> Bool {
        stop == nil && t < deadline && silence(at: t) < stall && silence(at: t) >= probeAfter
    }

    /// Whether to look for the cancel file at `t`; true at most once every `cancelFileInterval`.
    public mutating func cancelFileDue(at t: Double) -> Bool {
        guard stop == nil, t - lastCancelLook > Self.cancelFileInterval else { return false }
        lastCancelLook = t
        return true
    }

    /// The stop at `t` given `facts`, or nil to let the agent go on.
    public mutating func check(now t: Double, _ facts: Facts) -> AttemptEvidence.Stop? {
        if let stop { return stop }
        if facts.earlyAbort { stop = .earlyAbort }
        else if facts.budgetExceeded { stop = .budget }
        else if t >= deadline { stop = .timeout }
        else if silence(at: t) >= stall { stop = .stall }
        else if let verdict = facts.providerFailed {
            stop = .silence
            silenceVerdict = verdict
        }
        else if facts.cancelRequested { stop = .cancel }
        else if facts.shutdownRequested { stop = .shutdown }
        else if facts.cancelFileSeen { stop = .cancel }
        return stop
    }
}
