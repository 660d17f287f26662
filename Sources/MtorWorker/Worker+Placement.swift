import Foundation
import MtorCore
import MtorPlatform

/// Where a candidate starts: the evidence `Scheduler.place` decides on (repo presence, the in-place
/// task in its repo, each provider's readiness, budget and load), and the preflights it asks for.
extension Worker {
    /// The provider `name` can start on now, or why it waits (launching the preflight it waits for).
    func place(_ name: String, _ spec: Spec) -> Scheduler.Placement {
        let repo = loop.repos.evidence(name, spec: spec, spool: spool, host: options.host, pid: ProcessControl.pid)
        let chain = (try? loop.settings.targets(for: spec))?.map(Scheduler.Link.init)
        let readiness: (String) -> Scheduler.Readiness = { provider in
            // A spent daily budget holds its provider (or, the worker's, every provider) until the next UTC day.
            if let why = self.budgetHold(provider) { return .waiting(.budgetSpent(provider, reason: why)) }
            return self.health.readiness(provider)
        }
        let placement = Scheduler.place(repo: repo, chain: chain, inPlaceBusy: inPlaceBusy(spec),
                                        readiness: readiness, load: load)
        if case .probe(let provider, _) = placement { launchProbe(provider) }
        return placement
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
                let hint = verdict.hint.isEmpty ? "" : " (hint: \(verdict.hint))"
                logger.warn("preflight of provider \(provider): \(verdict.failureClass.rawValue) — \(verdict.reason)\(hint)")
            }
            wake.wake()
        }
        thread.start()
    }

    private func load(_ provider: String) -> Scheduler.Load {
        Scheduler.Load(running: loop.running.count(on: provider), limit: loop.settings.lock.providers[provider]?.concurrency)
    }

    /// The in-place task running in an in-place spec's repo, if any.
    private func inPlaceBusy(_ spec: Spec) -> (task: String, repo: String)? {
        guard spec.work.mode == .inPlace else { return nil }
        let repo = repoKey(spec)
        return loop.running.inPlaceTask(in: repo).map { ($0, repo) }
    }

    func repoKey(_ spec: Spec) -> String {
        let repo = Spec.expandHome(spec.repoAsWritten, home: loop.settings.home)
        return FileSystem.realPath(repo) ?? repo
    }
}

extension Scheduler.Link {
    init(_ target: Settings.Target) { self.init(provider: target.providerName, needsProvider: target.harness.needsProvider) }
}
