import Foundation
import MtorCore
import MtorPlatform

/// What every task on this worker runs with: the spool, the settings and options, and the worker's shared services.
struct TaskContext {
    let spool: Spool
    let settings: Settings
    let options: WorkerOptions
    let logger: Logger
    /// The worker-wide bound on retries per minute.
    let retryGate: RetryGate
    /// Provider health, told how each attempt ended (nil: none is kept, so nothing is held).
    var health: ProviderHealth?
    /// Direct provider checks for silent attempts.
    var triage: SilenceTriage?
    /// Each UTC day's spend from the ledgers, for daily budgets.
    var spend: SpendBook?
    /// The worker loop's wake pipe: a task's phase change wakes it to publish the change.
    var wake: WakePipe?
    /// Ready clones per repository (nil: no pool).
    var pool: WorktreePool?
    /// Empty task cgroups kept between tasks.
    var cgroups: CgroupPool?

    /// The user's home, against which the spec's `~` is resolved.
    var home: String { settings.home }
    /// Where task worktrees live.
    var workspaces: String { Workspace.root(options, spool) }
}

extension Worker {
    /// The context a task claimed now runs with (the settings as last loaded).
    var taskContext: TaskContext {
        TaskContext(spool: spool, settings: loop.settings, options: options, logger: logger, retryGate: retryGate, health: health, triage: triage, spend: spend, wake: wake, pool: pool, cgroups: cgroups)
    }
}

extension Runner {
    /// A runner for one of a task's attempts: the worker's grace, triage and silence probe, the task's containment and claim lock.
    init(_ context: TaskContext, control: TaskControl, log: TaskLog, containment: Containment, holdFD: Int32?) {
        self.init(settings: context.settings, spool: context.spool, control: control, log: log, grace: context.options.grace)
        self.containment = containment
        self.holdFD = holdFD
        triage = context.triage
        silenceProbe = context.options.silenceProbe
        dailyBudget = context.dailyBudget
        dailyStop = { context.dailyStop($0, attempt: $1) }
    }
}
