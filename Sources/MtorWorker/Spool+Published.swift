import Foundation
import MtorCore
import MtorPlatform

/// What workers publish of themselves, as every reader (`status`, `show`, `doctor`, `wait`,
/// `validate`) finds it, whatever the layout.
///
/// One writer per file: on a local spool a single worker also keeps `state/worker.json` and
/// `state/providers.json` under the names CONTRACT.md gives them; on a spool on a network
/// filesystem, where several hosts share it, no file has two writers, so each worker publishes
/// only `state/workers/<host>-<pid>.json` (its heartbeat, live tasks and provider health) and the
/// readers merge those.
extension Spool {
    /// `state/worker.json`, as a single worker on a local spool writes it.
    public func singleWorkerState() -> WorkerState? {
        (try? FileSystem.read(state + "/worker.json", limit: 4 << 20)).flatMap { try? JSONDecoder().decode(WorkerState.self, from: Data($0)) }
    }

    /// `state/worker.json` and every `state/workers/*.json`, one per worker (host, pid), newest heartbeat first.
    public func publishedStates() -> [WorkerState] {
        Spool.merge(single: singleWorkerState(), perWorker: workerStates())
    }

    static func merge(single: WorkerState?, perWorker: [WorkerState]) -> [WorkerState] {
        var all = perWorker
        if let single, !all.contains(where: { $0.host == single.host && $0.pid == single.pid }) { all.append(single) }
        return all.sorted { $0.heartbeatAt > $1.heartbeatAt }
    }

    /// The worker that speaks for the spool: the live one of `state/worker.json`, else a live
    /// worker of this host, else the newest live one, else the newest that ever wrote.
    public func workerState() -> WorkerState? {
        Spool.speaker(single: singleWorkerState(), perWorker: workerStates())
    }

    static func speaker(single: WorkerState?, perWorker: [WorkerState], at date: Date = Date()) -> WorkerState? {
        if let single, isAlive(single, at: date) { return single }
        let alive = perWorker.filter { isAlive($0, at: date) }
        let host = FileSystem.hostName()
        return alive.first { $0.host == host } ?? alive.first ?? single ?? perWorker.first
    }

    /// Every live worker's state (the ones `status` counts alive).
    public func liveStates() -> [WorkerState] { publishedStates().filter { Spool.isAlive($0) } }

    /// Provider health as the workers hold it: merged from the live workers' state files (each
    /// provider's worst verdict; the host that holds it is named), else `state/providers.json`.
    public func providerHealth(live: [WorkerState]? = nil) -> [ProviderHealthEntry]? {
        let states = live ?? liveStates()
        let held = states.compactMap { s in s.providerHealth.map { (s.host, $0) } }
        guard !held.isEmpty else {
            return (try? FileSystem.read(state + "/providers.json")).flatMap { try? JSONDecoder().decode(ProviderHealthFile.self, from: Data($0)) }?.providers
        }
        var merged: [String: ProviderHealthEntry] = [:]
        let rank: [ProviderHealthEntry.State: Int] = [.unhealthy: 3, .probing: 2, .healthy: 1, .unknown: 0]
        for (host, entries) in held {
            for var e in entries {
                if held.count > 1 { e.host = host }
                guard let old = merged[e.provider] else { merged[e.provider] = e; continue }
                let (a, b) = (rank[e.state] ?? 0, rank[old.state] ?? 0)
                if a > b || (a == b && (e.checkedAt ?? "") > (old.checkedAt ?? "")) { merged[e.provider] = e }
            }
        }
        return merged.values.sorted { $0.provider < $1.provider }
    }
}
