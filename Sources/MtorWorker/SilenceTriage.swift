import Foundation
import MtorCore
import MtorPlatform

/// Tells a hung provider from a busy agent: when an attempt has been silent for
/// `--silence-probe`, the worker asks the attempt's provider directly, with the same real API
/// call as `mtor doctor` (base URL, variable, header) under a 15 s limit. At most one check
/// per provider is in flight; every silent task on that provider shares its answer.
final class SilenceTriage: @unchecked Sendable {  // `lock` guards `inFlight` and `last`; `probe` is immutable
    /// A finished direct check.
    struct Check: Sendable {
        var startedAt: Double
        var endedAt: Double
        var endedWall: Date
        var outcome: ProviderProbe.Outcome
    }

    /// What a silent attempt learns from a check.
    enum Finding: Equatable {
        /// The provider answered: the agent is working (a long generation, a long tool run).
        case answered(at: Date)
        /// The provider did not answer, or refused: the attempt ends with this verdict.
        case failed(Verdict)
    }

    static let limit: Double = 15

    private let lock = NSLock()
    private var inFlight: Set<String> = []
    private var last: [String: Check] = [:]
    private let probe: ProviderProbe

    init(probe: ProviderProbe = ProviderProbe(timeout: SilenceTriage.limit)) {
        self.probe = probe
    }

    /// The finding of the newest check of `provider` that started at or after `since` (the
    /// attempt's last activity) and ended less than `freshFor` seconds ago, for an attempt silent
    /// for `silentFor` seconds. Starts a check (in the background) when none qualifies and none
    /// is running; nil until one has finished.
    func finding(_ provider: String, settings: Settings, since: Double, freshFor: Double, silentFor: Double) -> Finding? {
        let check: Check? = lock.withLock {
            if let c = last[provider], c.startedAt >= since, now() - c.endedAt <= freshFor { return c }
            if inFlight.insert(provider).inserted { launch(provider, settings: settings) }
            return nil
        }
        guard let check else { return nil }
        let o = check.outcome
        let silent = "the agent was silent for \(DurationText.format(silentFor.rounded()))"
        switch o.verdict {
        case .ok:
            return .answered(at: check.endedWall)
        case .config:
            return nil  // the check itself could not be made (no mtor-probe, no secret): the stall limit decides
        case .connection:
            let what = o.status == nil ? "did not answer a direct request within \(Int(SilenceTriage.limit)) s" : "answered a direct request "
                + "with an error"
            return .failed(Verdict(.providerUnavailable, "\(silent) and provider \(provider) \(what) (\(o.detail))",
                                   hint: "check the provider's status and base_url; `mtor doctor --provider \(provider)` repeats the call"))
        case .auth:
            return .failed(Verdict(.authFailed, "\(silent) and provider \(provider) refused the key on a direct request (\(o.detail))",
                                   hint: "`mtor doctor --provider \(provider)` shows which variable and header the provider accepts"))
        case .quota:
            return .failed(Verdict(.quotaExhausted, "\(silent) and provider \(provider) reports its quota exhausted (\(o.detail))",
                                   hint: "top up the account or add a fallback provider"))
        case .rate:
            return .failed(Verdict(.rateLimited, "\(silent) and provider \(provider) is rate-limiting a direct request (\(o.detail))",
                                   hint: "lower the provider's concurrency or wait for its reset",
                                   retryAfter: RetryPolicy.resetDelay(in: o.detail)))
        }
    }

    private func launch(_ provider: String, settings current: Settings) {
        let probe = self.probe
        let thread = Thread { [weak self] in
            let started = now()
            let outcome = current.directCall(provider, probe: probe)
                ?? ProviderProbe.Outcome(verdict: .config, status: nil, latencyMs: 0, header: "", detail: "provider \(provider) has no API to call")
            guard let self else { return }
            self.lock.withLock {
                self.last[provider] = Check(startedAt: started, endedAt: now(), endedWall: Date(), outcome: outcome)
                self.inFlight.remove(provider)
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
