import Foundation

/// The `<id>.result.json` sidecar (CONTRACT.md section 5).
public struct TaskResult: Codable, Equatable, Sendable {
    public static let schemaName = "mtor.result/1"

    public enum Status: String, Codable, Sendable {
        case succeeded, failed, cancelled
    }

    public struct SpecSummary: Codable, Equatable, Sendable {
        public var file: String
        public var repo: String?
        public var provider: String?
        public var harness: String?
        public var model: String?
        public init(file: String, repo: String? = nil, provider: String? = nil, harness: String? = nil, model: String? = nil) {
            self.file = file
            self.repo = repo
            self.provider = provider
            self.harness = harness
            self.model = model
        }
    }

    public struct Attempt: Codable, Equatable, Sendable {
        public var n: Int
        public var provider: String?
        public var harness: String?
        public var model: String?
        public var startedAt: String
        public var endedAt: String
        public var durationS: Double
        public var exitCode: Int32?
        public var signal: Int32?
        public var stdoutBytes: Int
        public var stderrTail: String
        public var `class`: FailureClass
        public var retryable: Bool
        public var reason: String
        /// Why mtor stopped the process itself (`timeout`, `stall`, `cancel`, `early_abort`, `shutdown`).
        public var stoppedBy: String?
        /// The harness's own `api_retry` events: the provider failures it saw.
        public var apiRetries: [StreamScanner.APIRetry]?

        enum CodingKeys: String, CodingKey {
            case n, provider, harness, model, signal, reason, retryable, `class`
            case startedAt = "started_at", endedAt = "ended_at", durationS = "duration_s", exitCode = "exit_code"
            case stdoutBytes = "stdout_bytes", stderrTail = "stderr_tail", stoppedBy = "stopped_by", apiRetries = "api_retries"
        }

        public init(n: Int, provider: String?, harness: String?, model: String?, startedAt: String, endedAt: String,
                    durationS: Double, exitCode: Int32?, signal: Int32?, stdoutBytes: Int, stderrTail: String,
                    class cls: FailureClass, retryable: Bool, reason: String, stoppedBy: String? = nil,
                    apiRetries: [StreamScanner.APIRetry]? = nil) {
            self.n = n
            self.provider = provider
            self.harness = harness
            self.model = model
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.durationS = durationS
            self.exitCode = exitCode
            self.signal = signal
            self.stdoutBytes = stdoutBytes
            self.stderrTail = stderrTail
            self.class = cls
            self.retryable = retryable
            self.reason = reason
            self.stoppedBy = stoppedBy
            self.apiRetries = apiRetries
        }
    }

    public struct Commit: Codable, Equatable, Sendable {
        public var sha: String
        public var subject: String
        public init(sha: String, subject: String) {
            self.sha = sha
            self.subject = subject
        }
    }

    public struct Git: Codable, Equatable, Sendable {
        public var headBefore: String?
        public var headAfter: String?
        public var commits: [Commit]
        /// The task's branch and the base it started from (worktree tasks).
        public var branch: String? = nil
        public var base: String? = nil
        public var diffstat: Review.Diffstat? = nil
        /// `branch`, `merged` or `pushed`; `integratedReason` says why not when integration was asked for.
        public var integrated: String? = nil
        public var integratedReason: String? = nil
        enum CodingKeys: String, CodingKey {
            case headBefore = "head_before", headAfter = "head_after", commits
            case branch, base, diffstat, integrated, integratedReason = "integrated_reason"
        }
        public init(headBefore: String?, headAfter: String?, commits: [Commit]) {
            self.headBefore = headBefore
            self.headAfter = headAfter
            self.commits = commits
        }
    }

    public struct Verify: Codable, Equatable, Sendable {
        public var command: String
        public var exitCode: Int32?
        public var durationS: Double
        public var outputTail: String
        enum CodingKeys: String, CodingKey {
            case command, exitCode = "exit_code", durationS = "duration_s", outputTail = "output_tail"
        }
        public init(command: String, exitCode: Int32?, durationS: Double, outputTail: String) {
            self.command = command
            self.exitCode = exitCode
            self.durationS = durationS
            self.outputTail = outputTail
        }
    }

    /// How the task's processes were kept together and ended (`cgroup2`, `cgroup1`, `marker`), and
    /// how many were still running when an attempt or verify ended and had to be killed.
    public struct Containment: Codable, Equatable, Sendable {
        public var method: String
        public var leftoversKilled: Int
        enum CodingKeys: String, CodingKey { case method, leftoversKilled = "leftovers_killed" }
        public init(method: String, leftoversKilled: Int) {
            self.method = method
            self.leftoversKilled = leftoversKilled
        }
    }

    public struct Worker: Codable, Equatable, Sendable {
        public var host: String
        public var pid: Int32
        public var version: String
        public init(host: String, pid: Int32, version: String) {
            self.host = host
            self.pid = pid
            self.version = version
        }
    }

    public var schema = TaskResult.schemaName
    public var id: String
    public var status: Status
    public var `class`: FailureClass
    public var reason: String
    public var hint: String
    public var spec: SpecSummary
    public var attempts: [Attempt]
    public var git: Git?
    public var verify: Verify?
    public var log: String
    public var worker: Worker
    public var containment: Containment?
    public var claimedAt: String
    public var finishedAt: String
    /// The spec's `setup:` command and how it went (worktree tasks with `setup:`).
    public var setup: Verify? = nil
    public var review: Review? = nil
    /// The agent's final answer, capped at `answerCap` bytes.
    public var answer: String? = nil
    public static let answerCap = 64 << 10

    enum CodingKeys: String, CodingKey {
        case schema, id, status, `class`, reason, hint, spec, attempts, git, verify, log, worker, containment
        case claimedAt = "claimed_at", finishedAt = "finished_at"
        case setup, review, answer
    }

    public init(id: String, status: Status, class cls: FailureClass, reason: String, hint: String, spec: SpecSummary,
                attempts: [Attempt], git: Git?, verify: Verify?, log: String, worker: Worker, containment: Containment? = nil,
                claimedAt: String, finishedAt: String) {
        self.containment = containment
        self.id = id
        self.status = status
        self.class = cls
        self.reason = reason
        self.hint = hint
        self.spec = spec
        self.attempts = attempts
        self.git = git
        self.verify = verify
        self.log = log
        self.worker = worker
        self.claimedAt = claimedAt
        self.finishedAt = finishedAt
    }
}

// MARK: - Contract fields are always present (null when unknown)

extension TaskResult.SpecSummary {
    enum CodingKeys: String, CodingKey { case file, repo, provider, harness, model }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(repo, forKey: .repo)
        try c.encode(provider, forKey: .provider)
        try c.encode(harness, forKey: .harness)
        try c.encode(model, forKey: .model)
    }
}

extension TaskResult.Attempt {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(n, forKey: .n)
        try c.encode(provider, forKey: .provider)
        try c.encode(harness, forKey: .harness)
        try c.encode(model, forKey: .model)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(durationS, forKey: .durationS)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(stdoutBytes, forKey: .stdoutBytes)
        try c.encode(stderrTail, forKey: .stderrTail)
        try c.encode(self.class, forKey: .class)
        try c.encode(retryable, forKey: .retryable)
        try c.encode(reason, forKey: .reason)
        try c.encodeIfPresent(stoppedBy, forKey: .stoppedBy)
        try c.encodeIfPresent(apiRetries, forKey: .apiRetries)
    }
}

extension TaskResult.Git {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(headBefore, forKey: .headBefore)
        try c.encode(headAfter, forKey: .headAfter)
        try c.encode(commits, forKey: .commits)
        try c.encodeIfPresent(branch, forKey: .branch)
        try c.encodeIfPresent(base, forKey: .base)
        try c.encodeIfPresent(diffstat, forKey: .diffstat)
        try c.encodeIfPresent(integrated, forKey: .integrated)
        try c.encodeIfPresent(integratedReason, forKey: .integratedReason)
    }
}

extension TaskResult {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(id, forKey: .id)
        try c.encode(status, forKey: .status)
        try c.encode(self.class, forKey: .class)
        try c.encode(reason, forKey: .reason)
        try c.encode(hint, forKey: .hint)
        try c.encode(spec, forKey: .spec)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(git, forKey: .git)
        try c.encodeIfPresent(verify, forKey: .verify)
        try c.encodeIfPresent(setup, forKey: .setup)
        try c.encodeIfPresent(review, forKey: .review)
        try c.encodeIfPresent(answer, forKey: .answer)
        try c.encode(log, forKey: .log)
        try c.encode(worker, forKey: .worker)
        try c.encodeIfPresent(containment, forKey: .containment)
        try c.encode(claimedAt, forKey: .claimedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
    }
}
