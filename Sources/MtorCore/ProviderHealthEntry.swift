import Foundation

/// One provider's health, as the worker keeps it and `state/providers.json` saves it; `Scheduler.readiness`
/// decides from it what the provider can do now.
public struct ProviderHealthEntry: Codable, Sendable {
    public enum State: String, Codable, Sendable { case unknown, probing, healthy, unhealthy }
    public var provider: String
    public var state: State = .unknown
    public var `class`: FailureClass?
    public var reason: String?
    public var checkedAt: String?
    public var nextProbeAt: String?
    public var failures = 0
    /// What to do about the last failure (the verdict's hint).
    public var hint: String?
    /// The provider itself named when its rate limit resets; it is held until then.
    public var heldByProvider: Bool? = nil
    /// The host whose worker holds this verdict, when several hosts' verdicts are merged.
    public var host: String? = nil
    /// When it last answered (the worker's monotonic clock); not saved.
    public var lastGoodAt: Double? = nil
    /// When its next preflight is due (the worker's monotonic clock); not saved.
    public var nextProbe: Double = 0

    public init(provider: String) { self.provider = provider }

    enum CodingKeys: String, CodingKey {
        case provider, state, `class`, reason, failures, hint
        case checkedAt = "checked_at", nextProbeAt = "next_probe_at", heldByProvider = "held_by_provider", host
    }
}
