import Foundation

/// `claimed/<id>.claim.json`: who runs a claimed spec, and since when.
public struct ClaimRecord: Codable, Equatable, Sendable {
    public var id: String
    public var host: String
    public var pid: Int32
    public var attempt: Int
    public var startedAt: String
    /// When the next attempt may start, while the task waits out a backoff.
    public var nextAttemptAt: String?
    public var provider: String?
    /// The name the spec had in inbox/.
    public var file: String
    /// The running agent's process group, so a new worker can kill what a dead one left.
    public var agentPgid: Int32?
    /// The agent's start time in clock ticks since boot: with `bootID`, proof that a live
    /// process with pid `agentPgid` is still that agent and not a reused pid.
    public var agentStart: UInt64?
    /// `/proc/sys/kernel/random/boot_id` of the claiming worker's host when it wrote this.
    public var bootID: String?
    /// How the task's processes are kept together: `cgroup2`, `cgroup1` or `marker`.
    public var containment: String?
    /// The task's cgroup directory (cgroup methods).
    public var cgroup: String?
    /// The value of `MTOR_TASK_MARKER` in every process of the task.
    public var marker: String?
    /// The task's memory cap in bytes, and the memory cgroup enforcing it, when it has one.
    public var memoryCapBytes: Int64?
    public var memoryCgroup: String?

    enum CodingKeys: String, CodingKey {
        case id, host, pid, attempt, provider, file, containment, cgroup, marker, agentPgid = "agent_pgid"
        case startedAt = "started_at", nextAttemptAt = "next_attempt_at", agentStart = "agent_start", bootID = "boot_id"
        case memoryCapBytes = "memory_cap_bytes", memoryCgroup = "memory_cgroup"
    }

    public init(id: String, host: String, pid: Int32, attempt: Int, startedAt: String, nextAttemptAt: String? = nil, provider: String? = nil, file: String) {
        self.id = id
        self.host = host
        self.pid = pid
        self.attempt = attempt
        self.startedAt = startedAt
        self.nextAttemptAt = nextAttemptAt
        self.provider = provider
        self.file = file
    }
}

/// One line of `state/ledger.jsonl`: a state change of one task.
public struct LedgerEntry: Codable, Equatable, Sendable {
    public enum Event: String, Codable, Sendable {
        case claimed, attempt, requeued, succeeded, failed, cancelled, retried, rejected
    }

    public var t: String
    public var id: String
    public var event: Event
    public var `class`: FailureClass?
    public var provider: String?
    public var attempt: Int?
    public var pid: Int32?
    /// Seconds from claim to result, on the line that ends a task.
    public var durationS: Double?
    /// Tokens and cost the task's harness reported (all attempts), on the line that ends a task.
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var costUSD: Double?
    /// A finished task's review flags, comma-separated (absent when none).
    public var flags: String? = nil

    enum CodingKeys: String, CodingKey {
        case t, id, event, `class`, provider, attempt, pid, durationS = "duration_s"
        case inputTokens = "input_tokens", outputTokens = "output_tokens", costUSD = "cost_usd", flags
    }

    public init(t: String, id: String, event: Event, class cls: FailureClass? = nil, provider: String? = nil, attempt: Int? = nil, pid: Int32? = nil,
                durationS: Double? = nil) {
        self.durationS = durationS
        self.t = t
        self.id = id
        self.event = event
        self.class = cls
        self.provider = provider
        self.attempt = attempt
        self.pid = pid
    }
}

/// UTC ISO-8601 timestamps and the JSON encoding every mtor file uses.
public enum Stamp {
    /// `2024-05-01T12:00:00.123Z`, written by hand: `Date.ISO8601FormatStyle` loads ICU time zone and
    /// calendar data (~5 MB resident in a process that otherwise never touches it).
    public static func iso(_ date: Date = Date()) -> String {
        let whole = date.timeIntervalSince1970.rounded(.down)
        var seconds = time_t(whole)
        let ms = min(999, Int((date.timeIntervalSince1970 - whole) * 1000))
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    public static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        return ISO8601DateFormatter().date(from: text)
    }

    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// What a task id may be: `[A-Za-z0-9._-]`, at most 100 characters, not starting with ".".
public enum TaskID {
    public static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 100 && !id.hasPrefix(".") && id.unicodeScalars.allSatisfy(allowed)
    }

    /// The id for an inbox file name: `.md` dropped, other characters replaced by `-`.
    public static func from(fileName: String) -> String {
        var stem = fileName.hasSuffix(".md") ? String(fileName.dropLast(3)) : fileName
        if isValid(stem) { return stem }
        stem = String(String.UnicodeScalarView(stem.unicodeScalars.map { allowed($0) ? $0 : "-" }))
        while stem.hasPrefix(".") || stem.hasPrefix("-") { stem.removeFirst() }
        if stem.isEmpty { stem = "spec" }
        return String(stem.prefix(90))
    }

    /// Whether the inbox should never touch this name (editor and rsync temp files).
    public static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".tmp") || name.hasSuffix(".part") || name.hasSuffix("~")
    }

    private static func allowed(_ s: Unicode.Scalar) -> Bool {
        (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "." || s == "_" || s == "-"
    }
}
