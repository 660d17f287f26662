import Foundation
import MtorCore
import MtorPlatform

/// Which providers have proved they answer (preflight), persisted in `state/providers.json`.
final class ProviderHealth: Sendable {
    typealias Entry = ProviderHealthEntry

    /// What the dispatcher may do with a provider now (decided on by `Scheduler.place`).
    typealias Readiness = Scheduler.Readiness
    /// Why a provider cannot take a task now; `description` is the sentence `status` and `show` print.
    typealias Wait = Scheduler.ProviderHold

    /// A provider-named rate-limit reset at least this far off holds the provider (shorter ones are retried).
    static let holdThreshold: Double = 30

    /// A healthy provider unused for this long is preflighted again.
    let idleLimit: Double
    /// Each provider's entry, by name: read and written by the loop, probe and task threads.
    private let state = LockBox<[String: Entry]>([:])
    private let spool: Spool
    /// Told when a provider turns unhealthy (it was not before): provider, class, reason.
    private let onUnhealthy: (@Sendable (String, FailureClass?, String) -> Void)?

    init(spool: Spool, idleLimit: Double = 30 * 60, onUnhealthy: (@Sendable (String, FailureClass?, String) -> Void)? = nil) {
        self.idleLimit = idleLimit
        self.spool = spool
        self.onUnhealthy = onUnhealthy
    }

    func readiness(_ provider: String) -> Readiness {
        let entry = state.withLock { $0[provider] }
        return Scheduler.readiness(entry, provider: provider, now: now(), idleLimit: idleLimit)
    }

    /// Marks a probe as started; false when another probe of it is already running.
    func beginProbe(_ provider: String) -> Bool {
        let started: Bool = state.withLock { entries in
            var e = entries[provider] ?? Entry(provider: provider)
            guard e.state != .probing else { return false }
            e.state = .probing
            entries[provider] = e
            return true
        }
        if started { save() }
        return started
    }

    func record(_ provider: String, verdict: Verdict) {
        let turned: Bool = state.withLock { entries in
            var e = entries[provider] ?? Entry(provider: provider)
            let wasUnhealthy = e.state == .unhealthy
            e.checkedAt = Stamp.iso()
            e.class = verdict.failureClass
            e.reason = verdict.reason
            e.hint = verdict.hint
            if verdict.failureClass == .ok {
                e.state = .healthy
                e.failures = 0
                e.lastGoodAt = now()
                e.nextProbeAt = nil
            } else {
                e.state = .unhealthy
                e.failures += 1
                // A reset the provider named holds it until then; otherwise capped exponential backoff.
                e.heldByProvider = verdict.failureClass == .rateLimited && verdict.retryAfter != nil
                let wait = verdict.retryAfter.map { max($0, 1) } ?? min(30 * pow(2, Double(e.failures - 1)), 600)
                e.nextProbe = now() + wait
                e.nextProbeAt = Stamp.iso(Date().addingTimeInterval(wait))
            }
            entries[provider] = e
            return e.state == .unhealthy && !wasUnhealthy
        }
        save()
        if turned { onUnhealthy?(provider, verdict.failureClass, verdict.reason) }
    }

    /// Every provider's entry, for the metrics.
    func snapshot() -> [Entry] {
        state.withLock { entries in entries.values.sorted { $0.provider < $1.provider } }
    }

    /// A task just used the provider: it answered (`ok`) or failed in a way that blames it.
    func taskEnded(_ provider: String, _ cls: FailureClass) {
        state.withLock { entries in
            guard var e = entries[provider] else { return }
            if cls == .ok {
                e.lastGoodAt = now()
            } else if cls.movesToFallback {
                e.state = .unknown
                e.reason = "re-probe after a task failed with \(cls.rawValue)"
            }
            entries[provider] = e
        }
        save()
    }

    /// Forgets the verdicts of `providers` (after SIGHUP changed their settings), or of every provider.
    func reset(_ providers: Set<String>? = nil) {
        state.withLock { entries in
            for k in entries.keys where entries[k]?.state != .probing && providers?.contains(k) != false {
                entries[k]?.state = .unknown
                entries[k]?.nextProbe = 0
            }
        }
        save()
    }

    /// Providers that failed their last check, by name.
    func unhealthy() -> [Entry] {
        state.withLock { entries in entries.values.filter { $0.state == .unhealthy }.sorted { $0.provider < $1.provider } }
    }

    var probing: Bool { state.withLock { entries in entries.values.contains { $0.state == .probing } } }

    /// `state/providers.json` on a local spool; on a shared one each worker's verdicts travel in
    /// its own state file (`state/workers/<host>-<pid>.json`), so this file has no second writer.
    private func save() {
        guard !spool.networked else { return }
        let snapshot = state.withLock { entries in entries.values.sorted { $0.provider < $1.provider } }
        try? spool.writeJSON(ProviderHealthFile(providers: snapshot, updatedAt: Stamp.iso()), to: spool.state + "/providers.json",
                             tmpDir: spool.tmp, durable: false)
    }
}

/// Runs a provider's harness exactly as for a task, with a trivial prompt, and requires a real answer.
struct Preflight {
    static let prompt = "Reply with the single word: ok"
    static let budget: Double = 30

    let settings: Settings
    let spool: Spool
    let containment: Containment.Preference

    func probe(_ provider: String) -> Verdict {
        guard let p = settings.lock.providers[provider], let harness = settings.lock.harnesses[p.harness] else {
            return Verdict(.internalError, "provider \(provider) is not in the lockfile")
        }
        let target = Settings.Target(providerName: provider, provider: p, harnessName: p.harness, harness: harness, model: p.model)
        // On a shared spool each host probes in, and logs to, names of its own (one writer per file).
        let me = spool.networked ? "-" + SpoolSharing.fileName(FileSystem.hostName()) : ""
        let dir = spool.state + "/preflight" + (spool.networked ? "/" + String(me.dropFirst()) : "")
        try? FileSystem.makeDirectories(dir)
        let spec = Spec(repoAsWritten: dir, repo: dir, provider: provider, fallback: [], harness: nil, model: nil,
                        timeout: Preflight.budget, stall: Preflight.budget, retries: 0, verify: nil, prompt: Preflight.prompt)
        let id = ".preflight-\(provider)\(me)"
        FileSystem.remove(spool.log(id))
        let log = TaskLog(spool: spool, id: id, cap: 1 << 20, redactor: settings.redactor)
        var runner = Runner(settings: settings, spool: spool, control: TaskControl(id: id), log: log, grace: 2)
        let box = Containment.create(name: "w\(ProcessControl.pid)-preflight-\(provider)", preference: containment)
        defer { box.dispose() }
        runner.containment = box
        let outcome = runner.run(id: id, n: 1, spec: spec, target: target)
        var verdict = outcome.verdict
        if verdict.failureClass == .timedOut || verdict.failureClass == .stalled {
            // No spec is involved in a preflight: the provider did not answer within the budget.
            let printed = outcome.attempt.stdoutBytes > 0
                ? "the harness started and printed \(outcome.attempt.stdoutBytes) bytes, but no model reply came"
                : "the harness started and printed nothing"
            verdict = Verdict(.providerUnavailable, "no answer within \(Int(Preflight.budget)) s (\(printed))",
                              hint: "check base_url of \(provider) in \(settings.lockPath) and the provider's status; "
                                  + "`mtor doctor --provider \(provider)` makes one direct call")
        }
        if verdict.failureClass == .ok, outcome.answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            verdict = Verdict(.unknown, "the harness exited 0 but gave no answer to the preflight prompt",
                              hint: "run the harness by hand; see logs/\(id).log")
        }
        if verdict.failureClass != .ok { verdict.reason = "preflight: " + verdict.reason }
        return verdict
    }
}

/// `state/providers.json`: each provider's preflight verdict.
public struct ProviderHealthFile: Codable, Sendable {
    public var providers: [ProviderHealthEntry]
    public var updatedAt: String
    enum CodingKeys: String, CodingKey { case providers, updatedAt = "updated_at" }
}
