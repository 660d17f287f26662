import Foundation
import MtorCore
import MtorPlatform

/// What the worker loop and a running task share: stop requests and live status.
public final class TaskControl: @unchecked Sendable {  // `lock` guards `_cancel`, `_shutdown` and `_live`
    private let lock = NSLock()
    private var _cancel = false
    private var _shutdown = false
    private var _live = LiveTask(id: "", startedAt: Stamp.iso())
    /// Wakes the worker's loop when the phase changes, so `status` shows it at once, not at the next heartbeat.
    private let wake: WakePipe?
    /// Phase changes since the loop last looked (`takePhaseChanged`).
    private var _phaseChanged = false

    public init(id: String, wake: WakePipe? = nil) {
        _live.id = id
        self.wake = wake
    }

    /// One running task as `state/worker.json` shows it.
    public struct LiveTask: Codable, Sendable {
        public var id: String
        public var provider: String?
        public var attempt: Int = 0
        public var startedAt: String
        public var attemptStartedAt: String?
        public var lastActivityAt: String?
        public var pid: Int32?
        public var phase: String = "starting"
        public var nextAttemptAt: String?
        /// When the provider last answered a direct check made because the agent was silent.
        public var providerAnsweredAt: String?
        /// What the task spent so far, priced at the lockfile's prices (all attempts); nil without a price.
        public var costUSD: Double?
        /// The running attempt's priced spend not yet in the ledger (for daily budgets; not published).
        public var attemptCostUSD: Double? = nil

        enum CodingKeys: String, CodingKey {
            case id, provider, attempt, pid, phase, providerAnsweredAt = "provider_answered_at", costUSD = "cost_usd"
            case startedAt = "started_at", attemptStartedAt = "attempt_started_at"
            case lastActivityAt = "last_activity_at", nextAttemptAt = "next_attempt_at"
        }
    }

    public var cancelRequested: Bool { lock.withLock { _cancel } }
    public var shutdownRequested: Bool { lock.withLock { _shutdown } }
    public func requestCancel() { lock.withLock { _cancel = true } }
    public func requestShutdown() { lock.withLock { _shutdown = true } }

    public var live: LiveTask { lock.withLock { _live } }
    func update(_ change: (inout LiveTask) -> Void) {
        let changed = lock.withLock {
            let before = (_live.phase, _live.attempt, _live.pid)
            change(&_live)
            let changed = before != (_live.phase, _live.attempt, _live.pid)
            if changed { _phaseChanged = true }
            return changed
        }
        if changed { wake?.wake() }
    }

    /// Whether the phase, attempt or agent changed since the last call.
    func takePhaseChanged() -> Bool {
        lock.withLock {
            defer { _phaseChanged = false }
            return _phaseChanged
        }
    }

    /// Sleeps up to `seconds`, waking early when the task is cancelled or the worker stops.
    func sleep(_ seconds: Double, cancelFile: String) -> Bool {
        let end = now() + seconds
        while now() < end {
            if cancelRequested || shutdownRequested || FileSystem.exists(cancelFile) { return false }
            Thread.sleep(forTimeInterval: min(0.2, max(0, end - now())))
        }
        return true
    }
}
