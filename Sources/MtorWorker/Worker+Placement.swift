import Foundation
import MtorCore
import MtorPlatform

/// Which provider a candidate starts on: preflight (probe threads), provider capacity, in-place exclusivity.
extension Worker {
    enum Choice { case start(String?), hold(String) }

    /// The provider a spec can start on now: the first of its chain that passed preflight
    /// and has room. Providers never probed (or idle too long) are preflighted first.
    func choose(_ spec: Spec) -> Choice {
        guard let targets = try? loop.settings.targets(for: spec) else {
            return .start(nil)  // invalid: it fails at once with the reason
        }
        if let why = inPlaceHold(spec) { return .hold(why) }
        // The first provider of the chain that has not failed preflight decides: it runs the spec,
        // or the spec waits for its preflight or its capacity. Only an unhealthy provider hands over.
        var reasons: [String] = []
        for target in targets {
            // Harnesses with no model behind them (sh) have nothing to preflight.
            guard let provider = target.providerName, target.harness.needsProvider else { return .start(target.providerName) }
            switch health.readiness(provider) {
            case .ready:
                if !atCapacity(provider) { return .start(provider) }
                return .hold((reasons + ["provider \(provider) is at its concurrency limit"]).joined(separator: "; "))
            case .probeNeeded:
                launchProbe(provider)
                return .hold((reasons + ["provider \(provider) is being preflighted"]).joined(separator: "; "))
            case .waiting(let why):
                reasons.append(why)
                if why.hasSuffix("is being preflighted") { return .hold(reasons.joined(separator: "; ")) }
            }
        }
        return .hold(reasons.joined(separator: "; "))
    }

    private func launchProbe(_ provider: String) {
        guard health.beginProbe(provider) else { return }
        let preflight = Preflight(settings: loop.settings, spool: spool, containment: options.containment)
        let (health, logger, wake) = (self.health, self.logger, self.wake)
        logger.info("preflight of provider \(provider) started")
        let thread = Thread {
            let verdict = preflight.probe(provider)
            health.record(provider, verdict: verdict)
            if verdict.failureClass == .ok {
                logger.info("preflight of provider \(provider): healthy")
            } else {
                logger.warn("preflight of provider \(provider): \(verdict.failureClass.rawValue) — \(verdict.reason)\(verdict.hint.isEmpty ? "" : " (hint: \(verdict.hint))")")
            }
            wake.wake()
        }
        thread.start()
    }

    private func atCapacity(_ provider: String) -> Bool {
        guard let limit = loop.settings.lock.providers[provider]?.concurrency else { return false }
        return loop.running.count(on: provider) >= limit
    }

    /// Why an in-place spec must wait: another in-place task runs in the same repo.
    private func inPlaceHold(_ spec: Spec) -> String? {
        guard spec.work.mode == .inPlace else { return nil }
        let repo = repoKey(spec)
        guard let other = loop.running.inPlaceTask(in: repo) else { return nil }
        return "in-place task \(other) is running in \(repo); in-place tasks on one repo run one at a time"
    }

    func repoKey(_ spec: Spec) -> String {
        let repo = Spec.expandHome(spec.repoAsWritten, home: loop.settings.baseEnvironment["HOME"] ?? "/")
        return FileSystem.realPath(repo) ?? repo
    }
}
