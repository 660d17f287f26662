import Foundation

/// Where a candidate the scheduler let through starts: on this host or another (its repo), after
/// the in-place task in its repo, and on which provider of its chain (health, capacity).
///
/// The worker gathers the evidence (is the repo here, which live hosts lack it, which in-place task
/// runs in the repo, each provider's readiness and load) and acts on the decision: starting the
/// task, launching a preflight, or showing the hold's `description` in `status`, `show` and `wait`.
extension Scheduler {
    /// What a provider can do now.
    public enum Readiness: Sendable, Equatable { case ready, probeNeeded, waiting(ProviderHold) }

    /// Why a provider cannot take a task now.
    public enum ProviderHold: Sendable, Equatable, CustomStringConvertible {
        /// Its preflight is running.
        case probing(String)
        /// It named when its rate limit resets (an ISO stamp).
        case rateLimited(String, until: String?)
        /// It failed its last check; the next probe is due at `nextProbeAt`.
        case failedPreflight(String, class: FailureClass?, reason: String?, nextProbeAt: String?, hint: String?)
        /// Its daily budget (or the worker's) is spent until the next UTC day: the budget's sentence.
        case budgetSpent(String, reason: String)

        public var description: String {
            switch self {
            case .probing(let provider):
                return "provider \(provider) is being preflighted"
            case .rateLimited(let provider, let until):
                return "provider \(provider) is rate-limited until \(Scheduler.timeOfDay(until)) (from the provider)"
            case .budgetSpent(_, let reason):
                return reason
            case .failedPreflight(let provider, let cls, let reason, let next, let hint):
                let advice = hint.map { $0.isEmpty ? "" : " (hint: \($0))" } ?? ""
                return "provider \(provider) failed preflight (\(cls?.rawValue ?? "?")): \(reason ?? "") — next probe at \(next ?? "?")\(advice)"
            }
        }
    }

    /// What a provider can do now, from its health entry (nil: never seen), on the worker's monotonic
    /// clock: never probed → preflight it; probing → wait; healthy → ready, unless unused for longer
    /// than `idleLimit` (preflight again); unhealthy → wait until its next probe is due (held by a
    /// rate-limit reset the provider named, or by the failed preflight), then preflight it.
    public static func readiness(_ entry: ProviderHealthEntry?, provider: String, now: Double, idleLimit: Double) -> Readiness {
        let e = entry ?? ProviderHealthEntry(provider: provider)
        switch e.state {
        case .unknown:
            return .probeNeeded
        case .probing:
            return .waiting(.probing(provider))
        case .healthy:
            if let good = e.lastGoodAt, now - good > idleLimit { return .probeNeeded }
            return .ready
        case .unhealthy:
            if now >= e.nextProbe { return .probeNeeded }
            if e.class == .rateLimited, e.heldByProvider == true { return .waiting(.rateLimited(provider, until: e.nextProbeAt)) }
            return .waiting(.failedPreflight(provider, class: e.class, reason: e.reason, nextProbeAt: e.nextProbeAt, hint: e.hint))
        }
    }

    /// The time of day of an ISO stamp, `15:00:12 UTC` ("?" for none).
    public static func timeOfDay(_ iso: String?) -> String {
        guard let iso, let t = iso.firstIndex(of: "T") else { return iso ?? "?" }
        return String(iso[iso.index(after: t)...].prefix(8)) + " UTC"
    }

    /// One link of a spec's chain: its provider (nil for none) and whether its harness needs one (`sh` does not).
    public struct Link: Sendable, Equatable {
        public var provider: String?
        public var needsProvider: Bool

        public init(provider: String?, needsProvider: Bool = true) {
            self.provider = provider
            self.needsProvider = needsProvider
        }
    }

    /// Whether a spec's repo is on this host.
    public enum RepoEvidence: Sendable, Equatable {
        case here
        /// Missing on `host`; `able` are the other live hosts that do not say they lack it.
        case missing(repo: String, host: String, able: [String])
    }

    /// Where a candidate starts.
    public enum Placement: Sendable, Equatable {
        /// Start on this provider (nil: a harness with none).
        case start(String?)
        /// Preflight this provider first; until it answers, the spec waits for the reason given.
        case probe(String, PlacementHold)
        case hold(PlacementHold)
    }

    /// Why a candidate the scheduler let through cannot start here now.
    public enum PlacementHold: Sendable, Equatable, CustomStringConvertible {
        /// Its repo is missing on this host and other live hosts may have it.
        case repoElsewhere(repo: String, host: String, able: [String])
        /// Another in-place task runs in the same repo.
        case inPlaceBusy(task: String, repo: String)
        /// Its provider chain, in order: the unhealthy providers passed over, then the one it waits for.
        case providers([ProviderWait])

        public var description: String {
            switch self {
            case .repoElsewhere(let repo, let host, let able):
                return "repo \(repo) is missing on \(host); left for \(able.joined(separator: ", ")), which may have it"
            case .inPlaceBusy(let task, let repo):
                return "in-place task \(task) is running in \(repo); in-place tasks on one repo run one at a time"
            case .providers(let waits):
                return waits.map(\.description).joined(separator: "; ")
            }
        }
    }

    /// One provider of a chain that cannot take the spec now.
    public enum ProviderWait: Sendable, Equatable, CustomStringConvertible {
        case health(ProviderHold)
        case atCapacity(String)

        public var description: String {
            switch self {
            case .health(let wait): return wait.description
            case .atCapacity(let provider): return "provider \(provider) is at its concurrency limit"
            }
        }
    }

    /// A provider's tasks running on this worker, and its `concurrency` from the lockfile (nil: no limit).
    public struct Load: Sendable, Equatable {
        public var running: Int
        public var limit: Int?

        public init(running: Int, limit: Int?) {
            self.running = running
            self.limit = limit
        }

        /// No room for another task.
        public var full: Bool { limit.map { running >= $0 } ?? false }
    }

    /// Where a candidate starts. A repo missing here while another live host may have it leaves
    /// the spec to that host (missing everywhere: it starts and fails as `workdir_missing`); an
    /// in-place spec waits for the in-place task running in its repo; then `chain` is walked: the
    /// first provider that is ready and has room takes it, one never probed (or idle too long) is
    /// preflighted first, an unhealthy one is passed over with its reason kept. `readiness` and
    /// `load` are asked only of the providers the walk reaches. A nil `chain` (the spec names
    /// providers the lockfile lacks) starts it, to fail at once with the reason.
    public static func place(repo: RepoEvidence = .here, chain: [Link]?, inPlaceBusy: (task: String, repo: String)? = nil,
                             readiness: (String) -> Readiness, load: (String) -> Load) -> Placement {
        if case .missing(let path, let host, let able) = repo, !able.isEmpty {
            return .hold(.repoElsewhere(repo: path, host: host, able: able))
        }
        guard let chain else { return .start(nil) }
        if let busy = inPlaceBusy { return .hold(.inPlaceBusy(task: busy.task, repo: busy.repo)) }
        var passed: [ProviderWait] = []
        for link in chain {
            // Harnesses with no model behind them (sh) have nothing to preflight.
            guard let provider = link.provider, link.needsProvider else { return .start(link.provider) }
            switch readiness(provider) {
            case .ready:
                if !load(provider).full { return .start(provider) }
                return .hold(.providers(passed + [.atCapacity(provider)]))
            case .probeNeeded:
                return .probe(provider, .providers(passed + [.health(.probing(provider))]))
            case .waiting(let wait):
                passed.append(.health(wait))
                if case .probing = wait { return .hold(.providers(passed)) }
            }
        }
        return .hold(.providers(passed))
    }

    /// Why a queued spec waits in inbox/: a scheduling rule, or where it would start.
    public enum Wait: Sendable, Equatable, CustomStringConvertible {
        case scheduled(Hold)
        case placed(PlacementHold)

        public var description: String {
            switch self {
            case .scheduled(let hold): return hold.description
            case .placed(let hold): return hold.description
            }
        }
    }
}
