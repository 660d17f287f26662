import Foundation

// MARK: - What goes in and what comes out

extension TaskLifecycle {
    /// An outcome decided before any attempt runs.
    public enum Preset: Sendable, Equatable {
        /// `cancel/<id>` arrived while the spec was still queued.
        case cancelled
        /// The spec file is over the size limit; it was never read.
        case tooLarge(Int64)
        /// The worker died during every allowed attempt.
        case interruptedTooOften([TaskResult.Attempt])
        /// The scheduler refused it before it ran (a failed dependency, a cycle, a duplicate).
        case refused(FailureClass, reason: String, hint: String)
    }

    /// What the checked spec fixes for the task's whole life.
    public struct Plan: Sendable, Equatable {
        /// The providers to try, first the spec's and then its fallbacks (nil for a harness without one).
        public var chain: [String?]
        /// The spec's `retries:`.
        public var retries: Int
        /// Whether the spec has a `verify:` command.
        public var verifies: Bool
        /// Whether a succeeded task's branch is integrated (`integrate:` other than `branch`).
        public var integrates: Bool
        /// The provider the worker chose to start on (a healthy fallback when the first is not).
        public var startProvider: String?

        public init(chain: [String?], retries: Int, verifies: Bool = false, integrates: Bool = false, startProvider: String? = nil) {
            self.chain = chain.isEmpty ? [nil] : chain
            self.retries = retries
            self.verifies = verifies
            self.integrates = integrates
            self.startProvider = startProvider
        }
    }

    /// How the sidecar describes the spec.
    public enum SpecRecord: Sendable, Equatable {
        /// Only the file name: the spec was never read or never parsed.
        case fileName
        /// The bytes the worker was handed, as written.
        case asReceived
        /// The spec as it now lies in `claimed/`, as written.
        case asClaimed
        /// The summary of the checked spec (repo, provider, harness, model).
        case checked
    }

    /// Why the task goes back to `inbox/` instead of ending.
    public enum Requeue: Sendable, Equatable {
        /// The provider named a reset long enough to hold it; the attempt does not count.
        case rateLimitHold(provider: String, verdict: Verdict)
        /// The worker is stopping and the interrupted attempt leaves budget for another.
        case workerStopping
        /// The worker stopped while the task waited to retry.
        case shutdownDuringBackoff
        /// The next attempt's provider (or the worker) spent its daily budget: it waits for the next UTC day.
        case budgetHold(String)
    }

    /// The status a task ending with `cls` has.
    public static func status(_ cls: FailureClass) -> TaskResult.Status {
        switch cls {
        case .ok: .succeeded
        case .cancelled: .cancelled
        default: .failed
        }
    }

    /// The task's end as its sidecar records it.
    public struct Conclusion: Sendable, Equatable {
        public var status: TaskResult.Status
        public var verdict: Verdict
        public var attempts: [TaskResult.Attempt]
        public var spec: SpecRecord
        /// A line for the task log, written before the result.
        public var note: String?
        /// Why the branch was not integrated, when the rule decided it without trying.
        public var integratedReason: String?
    }

    /// The one step the executor performs next, then reports with the matching event.
    public enum Action: Sendable, Equatable {
        /// Check the spec and resolve its base; report `specChecked`, `specRefused` or `baseFailed`.
        case checkSpec
        /// Create the task's containment and cap its memory; report `contained` or `memoryCapFailed`.
        case contain
        /// Prepare the workspace; report `workspaceReady` or `workspaceFailed`.
        case prepareWorkspace
        /// Run attempt `n` on `chain[target]`; report `attemptEnded`.
        case runAttempt(n: Int, target: Int)
        /// Put the spec back in `inbox/` with these attempts; report `requeued` or `requeueFailed`.
        case requeue([TaskResult.Attempt], Requeue)
        /// Tell provider health how the attempt ended (`hung`: a direct check found it hung); report `healthReported`.
        case reportHealth(provider: String, verdict: Verdict, hung: Bool)
        /// Commit leftovers and look for the change the spec expects; report `evidenceSettled`.
        case settle
        /// Run the spec's `verify:` command; report `verifyFinished`.
        case verify
        /// Wait `after` seconds (under the retry budget), then the next attempt on `chain[target]`;
        /// report `backoffFinished`, `backoffCancelled` or `backoffShutdown`.
        case backoff(after: Double, target: Int)
        /// End the task's processes and review its branch; report `reviewed`.
        case review(TaskResult.Status)
        /// Integrate the branch as the spec asks; report `integrated`.
        case integrate
        /// Write the sidecar and move the spec; report `concluded`.
        case conclude(Conclusion)
        /// The task is over: concluded with this class, or requeued (nil).
        case end(FailureClass?)
    }
}
