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

    public init(id: String, host: String, pid: Int32, attempt: Int, startedAt: String, nextAttemptAt: String? = nil, provider: String? = nil,
                file: String) {
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
        /// What one attempt spent (`cost_usd`: priced at the lockfile's prices), on its provider and model: daily budgets add these up.
        case spent
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
    /// The model a `spent` line priced.
    public var model: String? = nil

    enum CodingKeys: String, CodingKey {
        case t, id, event, `class`, provider, attempt, pid, durationS = "duration_s", model
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

extension LedgerEntry {
    /// The entry as one compact JSON object with sorted keys, as `Stamp.encoder(pretty: false)` writes
    /// it, without going through `JSONEncoder` (three lines a task; the encoder's generic path cost
    /// more than the line's write). `LedgerLineTests` holds the two to the same bytes.
    public var jsonLine: [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(160)
        var first = true
        func key(_ k: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string(_ k: StaticString, _ v: String?) {
            guard let v else { return }
            key(k)
            JSONText.appendString(v, to: &out)
        }
        func number(_ k: StaticString, _ v: (some BinaryInteger)?) {
            guard let v else { return }
            key(k)
            out.append(contentsOf: String(v).utf8)
        }
        func double(_ k: StaticString, _ v: Double?) {
            guard let v, v.isFinite else { return }  // JSON has no infinity: left out
            key(k)
            JSONText.appendDouble(v, to: &out)
        }
        number("attempt", attempt)
        string("class", `class`?.rawValue)
        double("cost_usd", costUSD)
        double("duration_s", durationS)
        string("event", event.rawValue)
        string("flags", flags)
        string("id", id)
        number("input_tokens", inputTokens)
        string("model", model)
        number("output_tokens", outputTokens)
        number("pid", pid)
        string("provider", provider)
        string("t", t)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// JSON text written by hand where `JSONEncoder` costs too much per call, byte for byte as
/// `Stamp.encoder` writes it (`.withoutEscapingSlashes`).
public enum JSONText {
    /// A JSON string literal, quotes included: `"` and `\` escaped, control characters as
    /// `\b \f \n \r \t` or `\u00XX`, everything else (UTF-8 included) as it is.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A finite double as the encoder writes it: integral values without a fraction, others in
    /// Swift's shortest round-tripping form.
    public static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        var text = v.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
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
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))"
            + "T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    public static func date(_ text: String) -> Date? {
        if let d = utc(text) { return d }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        return ISO8601DateFormatter().date(from: text)
    }

    /// What `iso` writes (`2024-05-01T12:00:00.123Z`, fraction optional), read by hand: the worker
    /// reads these stamps after every task, and an `ISO8601DateFormatter` per call cost more than
    /// the rest of finishing it. Anything else (offsets, other shapes) is nil here.
    static func utc(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.count <= 30, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A,
              b.last == 0x5A else { return nil }
        func number(_ from: Int, _ count: Int) -> Int32? {
            var v: Int32 = 0
            for i in from..<from + count {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int32(b[i] - 0x30)
            }
            return v
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var fraction = 0.0
        if b.count > 20 {
            guard b[19] == 0x2E, b.count > 21, let digits = number(20, b.count - 21) else { return nil }
            fraction = Double(digits) / pow(10, Double(b.count - 21))
        } else if b[19] != 0x5A {
            return nil
        }
        var t = tm()
        t.tm_year = year - 1900
        t.tm_mon = month - 1
        t.tm_mday = day
        t.tm_hour = hour
        t.tm_min = minute
        t.tm_sec = second
        let seconds = timegm(&t)
        // timegm normalises 31 February into March: such a date is not one.
        guard t.tm_mday == day, t.tm_mon == month - 1 else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
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
