import Foundation
import MtorCore
import MtorPlatform

/// Daily budgets: a provider (or the whole worker) whose day's spend reached its budget starts no new task until the next UTC day.
extension Worker {
    /// Dollars this worker's running attempts spent and the ledger does not hold yet, on `provider` (nil: all).
    func runningSpend(_ provider: String?) -> Double {
        loop.running.tasks.values.reduce(0) { sum, run in
            let live = run.control.live
            guard provider == nil || live.provider == provider else { return sum }
            return sum + (live.attemptCostUSD ?? 0)
        }
    }

    /// Why a spec on `provider` must wait for the next UTC day, or nil.
    func budgetHold(_ provider: String?) -> String? {
        guard loop.settings.lock.budgetUSDPerDay != nil
            || provider.flatMap({ loop.settings.lock.providers[$0]?.budgetUSDPerDay }) != nil else { return nil }
        spend.refresh(spool)
        return spend.hold(loop.settings.lock, provider: provider, running: runningSpend)
    }

    /// Every daily budget with today's spend, for `status` and the metrics.
    func budgetUses() -> [Budget.DailyUse] {
        let lock = loop.settings.lock
        guard lock.budgetUSDPerDay != nil || lock.providers.values.contains(where: { $0.budgetUSDPerDay != nil }) else { return [] }
        spend.refresh(spool)
        let t = SpendBook.now()
        let perProvider = lock.providers.keys.sorted().flatMap { p in spend.uses(lock, provider: p, running: runningSpend,
                                                                                 now: t).filter { $0.provider != nil } }
        return perProvider + spend.uses(lock, provider: nil, running: runningSpend, now: t)
    }
}

extension TaskContext {
    /// Whether a daily budget covers `target`'s provider (its own or the worker's).
    func dailyBudget(_ target: Settings.Target) -> Bool {
        settings.lock.budgetUSDPerDay != nil || target.provider?.budgetUSDPerDay != nil
    }

    /// Why the next attempt on `target` may not start today (its daily budget is spent), or nil.
    func budgetHold(_ target: Settings.Target) -> String? {
        guard let spend, target.harness.needsProvider, dailyBudget(target) else { return nil }
        spend.refresh(spool, interval: 0)
        return spend.hold(settings.lock, provider: target.providerName, running: { _ in 0 })
    }

    /// With `--budget-stop`: why a running attempt on `target` that spent `attempt` dollars so far must stop now.
    func dailyStop(_ target: Settings.Target, attempt: Double) -> String? {
        guard options.budgetStop, let spend, dailyBudget(target) else { return nil }
        spend.refresh(spool)
        return spend.hold(settings.lock, provider: target.providerName, running: { _ in attempt })
            .map { "a daily budget ran out while the agent ran (--budget-stop): " + $0 }
    }
}
