import Foundation
import MtorCore

extension Worker {
    /// Everything the worker decides with, touched only on the loop thread (the thread in `run()`,
    /// and `init` before it). Task and preflight threads never see it: they hold their own copies of
    /// what they need (settings are values) and report back through `ended` and the wake pipe.
    struct LoopState {
        var settings: Settings
        /// The spool's filesystem and the inbox poll it needs (a network filesystem: inotify misses other hosts).
        var sharing: SpoolSharing
        /// Queued specs whose repo this host lacks: left for a host that has it.
        var repos = RepoPresence()
        /// inbox/ names offered by inotify or a rescan and not read yet.
        var queue = InboxQueue()
        /// What the scheduler knows of each queued spec, and when a `not_before` falls due.
        var book = QueueBook()
        /// Why specs wait in inbox/, by file name.
        var waiting: [String: String] = [:]
        var nextStartAt: Double?
        var nextStarts: [String: Double] = [:]
        var running = RunningTasks()
        /// inbox/ names handed to a refusal batch and not settled yet (never read into the book meanwhile).
        var refusing: Set<String> = []
        /// The last 50 warnings, stamped, for worker.json.
        var warnings: [String] = []
        var stopping = false
        /// Set just before the last write of worker.json, so `status` says "not running" at once.
        var exited = false
        var lastStateWrite = 0.0
        /// When this worker last started a task (monotonic): housekeeping (worker.json, dedup's
        /// listing) waits `Worker.settle` after it, so it never competes with a spawn in flight.
        var lastStart = -Double.infinity
        /// Seconds the last worker.json write took (it sets how often a changed one is written).
        var stateWriteCost = 0.0
        /// Something a reader of worker.json should see at once changed.
        var stateDirty = false
        /// Tasks ended so far, for `--once` summaries and tests.
        var finishedCount = 0

        init(settings: Settings, sharing: SpoolSharing) {
            self.settings = settings
            self.sharing = sharing
        }
    }

    /// The tasks this worker runs, with the provider each was placed on and the repo each in-place task holds.
    struct RunningTasks {
        private(set) var tasks: [String: TaskRun] = [:]
        private var providers: [String: String] = [:]
        /// Running in-place tasks: id → repo (one per repo at a time).
        private var inPlace: [String: String] = [:]
        /// Tasks whose agent and every process are gone and whose result is being recorded (sidecar
        /// written and fsynced, spec moved): they hold no slot of `--concurrency` nor of their
        /// provider, but keep their in-place repo and count as running until they end.
        private(set) var recording: Set<String> = []

        var count: Int { tasks.count }
        /// Tasks that hold a slot: running, less those only recording their result.
        var active: Int { tasks.count - recording.count }
        var isEmpty: Bool { tasks.isEmpty }
        subscript(id: String) -> TaskRun? { tasks[id] }

        mutating func add(_ run: TaskRun, id: String, provider: String?, inPlaceRepo: String?) {
            tasks[id] = run
            providers[id] = provider
            inPlace[id] = inPlaceRepo
        }

        mutating func remove(_ id: String) {
            tasks[id] = nil
            providers[id] = nil
            inPlace[id] = nil
            recording.remove(id)
        }

        /// `id`'s processes are gone; only its result is being recorded.
        mutating func recordingResult(_ id: String) {
            if tasks[id] != nil { recording.insert(id) }
        }

        /// How many tasks placed on `provider` hold a slot.
        func count(on provider: String) -> Int { providers.filter { $0.value == provider && !recording.contains($0.key) }.count }

        /// The in-place task running in `repo`, if any.
        func inPlaceTask(in repo: String) -> String? { inPlace.first { $0.value == repo }?.key }
    }
}
