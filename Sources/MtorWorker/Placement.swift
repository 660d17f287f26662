import MtorCore

/// Which provider of a spec's chain takes it now, apart from the worker's state so tables can test it.
///
/// The first provider of the chain that has not failed preflight decides: it runs the spec, or the
/// spec waits for its preflight or its capacity. Only an unhealthy provider hands over to the next.
enum Placement {
    /// One link of a spec's chain: its provider (nil for none) and whether its harness needs one (`sh` does not).
    struct Link: Equatable {
        var provider: String?
        var needsProvider: Bool

        init(provider: String?, needsProvider: Bool = true) {
            self.provider = provider
            self.needsProvider = needsProvider
        }

        init(_ target: Settings.Target) { self.init(provider: target.providerName, needsProvider: target.harness.needsProvider) }
    }

    enum Choice: Equatable {
        /// Start on this provider (nil: a harness with none).
        case start(String?)
        /// Preflight this provider first; until it answers, the spec waits for the reason given.
        case probe(String, Hold)
        case hold(Hold)
    }

    /// Why a candidate the scheduler let through cannot start here now; `description` is the
    /// sentence `status` and `show` print.
    enum Hold: Equatable, CustomStringConvertible {
        /// Its repo is missing on this host and other live hosts may have it (RepoPresence's sentence).
        case repoElsewhere(String)
        /// Another in-place task runs in the same repo.
        case inPlaceBusy(task: String, repo: String)
        /// Its provider chain, in order: the unhealthy providers passed over, then the one it waits for.
        case providers([ProviderWait])

        var description: String {
            switch self {
            case .repoElsewhere(let why): return why
            case .inPlaceBusy(let task, let repo): return "in-place task \(task) is running in \(repo); in-place tasks on one repo run one at a time"
            case .providers(let waits): return waits.map(\.description).joined(separator: "; ")
            }
        }
    }

    /// One provider of a chain that cannot take the spec now.
    enum ProviderWait: Equatable, CustomStringConvertible {
        case health(ProviderHealth.Wait)
        case atCapacity(String)

        var description: String {
            switch self {
            case .health(let wait): return wait.description
            case .atCapacity(let provider): return "provider \(provider) is at its concurrency limit"
            }
        }
    }

    /// Walks `chain`: the first provider that is ready and has room takes the spec; one never probed (or
    /// idle too long) is preflighted first; an unhealthy one is passed over, its reason kept.
    static func choose(_ chain: [Link], readiness: (String) -> ProviderHealth.Readiness, atCapacity: (String) -> Bool) -> Choice {
        var passed: [ProviderWait] = []
        for link in chain {
            // Harnesses with no model behind them (sh) have nothing to preflight.
            guard let provider = link.provider, link.needsProvider else { return .start(link.provider) }
            switch readiness(provider) {
            case .ready:
                if !atCapacity(provider) { return .start(provider) }
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
}
