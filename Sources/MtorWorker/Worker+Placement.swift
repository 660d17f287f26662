import Foundation
import MtorCore
import MtorPlatform

/// Where a candidate starts: its provider chain (`Placement`), preflight threads, provider capacity, in-place exclusivity.
extension Worker {
    enum Choice { case start(String?), hold(Placement.Hold) }

    /// The provider a spec can start on now (`Placement.choose`), launching the preflight it waits for.
    func choose(_ spec: Spec) -> Choice {
        guard let targets = try? loop.settings.targets(for: spec) else {
            return .start(nil)  // invalid: it fails at once with the reason
        }
        if let busy = inPlaceHold(spec) { return .hold(busy) }
        let readiness: (String) -> ProviderHealth.Readiness = { provider in
            // A spent daily budget holds its provider (or, the worker's, every provider) until the next UTC day.
            if let why = self.budgetHold(provider) { return .waiting(.budgetSpent(provider, reason: why)) }
            return self.health.readiness(provider)
        }
        switch Placement.choose(targets.map(Placement.Link.init), readiness: readiness, atCapacity: atCapacity) {
        case .start(let provider):
            return .start(provider)
        case .probe(let provider, let hold):
            launchProbe(provider)
            return .hold(hold)
        case .hold(let hold):
            return .hold(hold)
        }
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
    private func inPlaceHold(_ spec: Spec) -> Placement.Hold? {
        guard spec.work.mode == .inPlace else { return nil }
        let repo = repoKey(spec)
        guard let other = loop.running.inPlaceTask(in: repo) else { return nil }
        return .inPlaceBusy(task: other, repo: repo)
    }

    func repoKey(_ spec: Spec) -> String {
        let repo = Spec.expandHome(spec.repoAsWritten, home: loop.settings.baseEnvironment["HOME"] ?? "/")
        return FileSystem.realPath(repo) ?? repo
    }
}
