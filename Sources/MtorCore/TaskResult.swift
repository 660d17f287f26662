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
        /// The spec's metadata keys (`title`, `tags`, `x-…`, …) and their values; empty when it has none.
        public var meta: [String: FrontmatterValue]
        public init(file: String, repo: String? = nil, provider: String? = nil, harness: String? = nil, model: String? = nil,
                    meta: [String: FrontmatterValue] = [:]) {
            self.file = file
            self.repo = repo
            self.provider = provider
            self.harness = harness
            self.model = model
            self.meta = meta
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
        /// What the harness reported using (null when it reports nothing, e.g. `sh`).
        public var usage: Usage?
        /// The attempt's highest memory use, all its processes together, from its memory cgroup; null when unknown.
        public var peakMemoryBytes: Int64?

        enum CodingKeys: String, CodingKey {
            case n, provider, harness, model, signal, reason, retryable, `class`
            case startedAt = "started_at", endedAt = "ended_at", durationS = "duration_s", exitCode = "exit_code"
            case stdoutBytes = "stdout_bytes", stderrTail = "stderr_tail", stoppedBy = "stopped_by", apiRetries = "api_retries", usage
            case peakMemoryBytes = "peak_memory_bytes"
        }

        public init(n: Int, provider: String?, harness: String?, model: String?, startedAt: String, endedAt: String,
                    durationS: Double, exitCode: Int32?, signal: Int32?, stdoutBytes: Int, stderrTail: String,
                    class cls: FailureClass, retryable: Bool, reason: String, stoppedBy: String? = nil,
                    apiRetries: [StreamScanner.APIRetry]? = nil, usage: Usage? = nil) {
            self.usage = usage
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

    /// Tokens, cost and turns as the harness reported them; a field it did not report is null.
    public struct Usage: Codable, Equatable, Sendable {
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var cacheReadTokens: Int?
        public var cacheWriteTokens: Int?
        public var costUSD: Double?
        public var numTurns: Int?
        public var apiDurationS: Double?
        public var sessionID: String?
        /// mtor's own figure: the tokens priced at the lockfile's `prices` for the model (null without a price).
        /// `costUSD` is the harness's own estimate (Claude Code's `total_cost_usd`), kept beside it.
        public var pricedCostUSD: Double? = nil

        enum CodingKeys: String, CodingKey {
            case inputTokens = "input_tokens", outputTokens = "output_tokens", cacheReadTokens = "cache_read_tokens"
            case cacheWriteTokens = "cache_write_tokens", costUSD = "cost_usd", numTurns = "num_turns"
            case apiDurationS = "api_duration_s", sessionID = "session_id", pricedCostUSD = "priced_cost_usd"
        }

        public init(inputTokens: Int?, outputTokens: Int?, cacheReadTokens: Int?, cacheWriteTokens: Int?, costUSD: Double?,
                    numTurns: Int?, apiDurationS: Double?, sessionID: String?) {
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
            self.cacheReadTokens = cacheReadTokens
            self.cacheWriteTokens = cacheWriteTokens
            self.costUSD = costUSD
            self.numTurns = numTurns
            self.apiDurationS = apiDurationS
            self.sessionID = sessionID
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(inputTokens, forKey: .inputTokens)
            try c.encode(outputTokens, forKey: .outputTokens)
            try c.encode(cacheReadTokens, forKey: .cacheReadTokens)
            try c.encode(cacheWriteTokens, forKey: .cacheWriteTokens)
            try c.encode(costUSD, forKey: .costUSD)
            try c.encode(numTurns, forKey: .numTurns)
            try c.encode(apiDurationS, forKey: .apiDurationS)
            try c.encode(sessionID, forKey: .sessionID)
            try c.encode(pricedCostUSD, forKey: .pricedCostUSD)
        }

        /// The sum of several attempts' use: a field is null only when no attempt reported it.
        public static func total(_ parts: [Usage]) -> Usage? {
            guard !parts.isEmpty else { return nil }
            func sum<T: AdditiveArithmetic>(_ key: KeyPath<Usage, T?>) -> T? {
                let known = parts.compactMap { $0[keyPath: key] }
                return known.isEmpty ? nil : known.reduce(.zero, +)
            }
            var total = Usage(inputTokens: sum(\.inputTokens), outputTokens: sum(\.outputTokens), cacheReadTokens: sum(\.cacheReadTokens),
                              cacheWriteTokens: sum(\.cacheWriteTokens), costUSD: sum(\.costUSD), numTurns: sum(\.numTurns),
                              apiDurationS: sum(\.apiDurationS), sessionID: nil)
            total.pricedCostUSD = sum(\.pricedCostUSD)
            return total
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
        /// The memory cap every attempt ran under, in bytes, when there was one.
        public var memoryCapBytes: Int64?
        /// How the cap was enforced: `cgroup2` (`memory.max`) or `cgroup1` (the v1 memory controller).
        public var memoryController: String?
        enum CodingKeys: String, CodingKey {
            case method, leftoversKilled = "leftovers_killed", memoryCapBytes = "memory_cap_bytes", memoryController = "memory_controller"
        }
        public init(method: String, leftoversKilled: Int, memoryCapBytes: Int64? = nil, memoryController: String? = nil) {
            self.method = method
            self.leftoversKilled = leftoversKilled
            self.memoryCapBytes = memoryCapBytes
            self.memoryController = memoryController
        }
    }

    /// What the agent could see and touch: `bwrap` (namespaces, a read-only filesystem but for
    /// `writable`, `hidden` behind empty ones) or `none` (`mtor worker --sandbox none`).
    public struct SandboxSummary: Codable, Equatable, Sendable {
        public var method: String
        public var writable: [String]?
        public var hidden: [String]?
        public init(method: String, writable: [String]? = nil, hidden: [String]? = nil) {
            self.method = method
            self.writable = writable
            self.hidden = hidden
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
    /// The agent's sandbox (absent in sidecars of tasks refused before anything ran).
    public var sandbox: SandboxSummary? = nil
    /// The sum of the attempts' usage (null when no attempt reported any).
    public var usage: Usage?
    public var claimedAt: String
    public var finishedAt: String
    /// The spec's `setup:` command and how it went (worktree tasks with `setup:`).
    public var setup: Verify? = nil
    public var review: Review? = nil
    /// The agent's final answer, capped at `answerCap` bytes.
    public var answer: String? = nil
    public static let answerCap = 64 << 10

    enum CodingKeys: String, CodingKey {
        case schema, id, status, `class`, reason, hint, spec, attempts, git, verify, log, worker, containment, sandbox, usage
        case claimedAt = "claimed_at", finishedAt = "finished_at"
        case setup, review, answer
    }

    public init(id: String, status: Status, class cls: FailureClass, reason: String, hint: String, spec: SpecSummary,
                attempts: [Attempt], git: Git?, verify: Verify?, log: String, worker: Worker, containment: Containment? = nil,
                claimedAt: String, finishedAt: String) {
        self.containment = containment
        self.usage = Usage.total(attempts.compactMap(\.usage))
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
    enum CodingKeys: String, CodingKey { case file, repo, provider, harness, model, meta }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(file: try c.decode(String.self, forKey: .file), repo: try c.decodeIfPresent(String.self, forKey: .repo),
                  provider: try c.decodeIfPresent(String.self, forKey: .provider), harness: try c.decodeIfPresent(String.self, forKey: .harness),
                  model: try c.decodeIfPresent(String.self, forKey: .model),
                  meta: try c.decodeIfPresent([String: FrontmatterValue].self, forKey: .meta) ?? [:])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(repo, forKey: .repo)
        try c.encode(provider, forKey: .provider)
        try c.encode(harness, forKey: .harness)
        try c.encode(model, forKey: .model)
        try c.encode(meta, forKey: .meta)
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
        try c.encode(usage, forKey: .usage)
        // Unknown is null, never a guess.
        try c.encode(peakMemoryBytes, forKey: .peakMemoryBytes)
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
        try c.encodeIfPresent(sandbox, forKey: .sandbox)
        try c.encode(usage, forKey: .usage)
        try c.encode(claimedAt, forKey: .claimedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
    }
}
