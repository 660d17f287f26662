import Foundation
import Testing
@testable import MtorCore

@Suite("Sidecar and claim JSON written by hand")
struct PrettyJSONTests {
    static let awkward = "claude-\\sonnet\u{1}\u{1f}\t\n\r\u{8}\u{c}\u{7f}\u{2028}/\"é漢字🙂"

    /// Every optional of the sidecar set, every list non-empty, the metadata holding each kind of value.
    static func full() -> TaskResult {
        var usage = TaskResult.Usage(inputTokens: 1_234_567, outputTokens: 0, cacheReadTokens: 12, cacheWriteTokens: 3, costUSD: 0.1 + 0.2,
                                     numTurns: 7, apiDurationS: 1e-7, sessionID: awkward)
        usage.pricedCostUSD = 1e21
        var attempt = TaskResult.Attempt(n: 2, provider: "zhipu", harness: "claude", model: awkward, startedAt: "2026-11-21T10:15:02.001Z",
                                         endedAt: "2026-11-21T10:15:03Z", durationS: 1.25, exitCode: -1, signal: 9, stdoutBytes: 1 << 40,
                                         stderrTail: awkward, class: .rateLimited, retryable: true, reason: "429 \"slow down\"", stoppedBy: "stall",
                                         apiRetries: [.init(attempt: 1, status: 401, error: "authentication_failed", delayMs: 575.5)],
                                         usage: usage)
        attempt.peakMemoryBytes = Int64.max
        let meta: [String: FrontmatterValue] = [
            "title": .string(awkward), "tags": .list([.string("a"), .integer(-3), .float(2.5), .boolean(false), .null, .list([])]),
            "x-Z": .map([.init(key: "b", value: .float(.nan)), .init(key: "a_1", value: .float(-.infinity)), .init(key: "A", value: .map([]))]),
            "x-a": .float(-0.0), "é": .integer(Int.min), "X_": .boolean(true), "x-10": .null, "x-2": .float(123456789012345678.0),
        ]
        var result = TaskResult(
            id: "20261121T101500-table-guard-3f2a", status: .succeeded, class: .ok, reason: awkward, hint: "fix the harness argv",
            spec: .init(file: "x.md", repo: "/home/ci/code/widget", provider: "zhipu", harness: "claude", model: "glm-5.1", meta: meta),
            attempts: [attempt, attempt], git: .init(headBefore: "abc", headAfter: "def", commits: [.init(sha: "def", subject: awkward)]),
            verify: .init(command: "swift test", exitCode: 0, durationS: 12, outputTail: awkward), log: "logs/x.log",
            worker: .init(host: "build1", pid: Int32.max, version: "0.1.0"),
            containment: .init(method: "cgroup2", leftoversKilled: 2, memoryCapBytes: 1 << 33, memoryController: "cgroup2"),
            claimedAt: "2026-11-21T10:15:01Z", finishedAt: "2026-11-21T10:15:04Z")
        result.git?.branch = "mtor/x"
        result.git?.base = "main"
        result.git?.diffstat = .init(files: 3, insertions: 10, deletions: 2)
        result.git?.integrated = "branch"
        result.git?.integratedReason = awkward
        result.sandbox = .init(method: "bwrap", writable: ["/w", awkward], hidden: ["/root/.ssh"])
        result.setup = .init(command: "make deps", exitCode: 2, durationS: 0.5, outputTail: "")
        result.review = Review(flags: Review.Flag.allCases, diffstat: .init(files: 1, insertions: 0, deletions: 9), notes: [awkward, "b"])
        result.answer = awkward
        result.usage?.sessionID = "total"
        return result
    }

    /// The least a sidecar holds.
    static func bare() -> TaskResult {
        TaskResult(id: "x", status: .failed, class: .specInvalid, reason: "", hint: "", spec: .init(file: "x.md"), attempts: [], git: nil,
                   verify: nil, log: "logs/x.log", worker: .init(host: "h", pid: 1, version: "v"), claimedAt: "a", finishedAt: "b")
    }

    static func expectSameBytes<T: PrettyJSONWritable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = String(decoding: try Stamp.encoder().encode(value), as: UTF8.self)
        let written = try #require(value.prettyJSON, sourceLocation: sourceLocation)
        #expect(String(decoding: written, as: UTF8.self) == expected, sourceLocation: sourceLocation)
    }

    @Test("a sidecar with every field set, and one with none, are byte for byte what JSONEncoder writes")
    func sidecarBytes() throws {
        try Self.expectSameBytes(Self.full())
        try Self.expectSameBytes(Self.bare())
        // The fixture covers every field: a field added later and not set here fails this, not production.
        #expect(Self.unsetOptionals(Self.full()).isEmpty, "set these in full(): \(Self.unsetOptionals(Self.full()))")
    }

    @Test("each optional part left out in turn, 300 random sidecars: the same bytes as JSONEncoder")
    func sidecarCombinations() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var r = Self.full()
            func coin() -> Bool { Bool.random(using: &rng) }
            if coin() { r.answer = nil }
            if coin() { r.git = nil } else if coin() { r.git = .init(headBefore: nil, headAfter: nil, commits: []) }
            if coin() { r.verify = nil }
            if coin() { r.setup = nil } else if coin() { r.setup?.exitCode = nil }
            if coin() { r.review = nil } else if coin() { r.review = Review(flags: [], diffstat: .init(), notes: []) }
            if coin() { r.containment = nil } else if coin() { r.containment = .init(method: "marker", leftoversKilled: 0) }
            if coin() { r.sandbox = nil } else if coin() { r.sandbox = .init(method: "none") }
            if coin() { r.usage = nil }
            if coin() { r.attempts = [] }
            if coin(), !r.attempts.isEmpty {
                r.attempts[0].usage = nil
                r.attempts[0].apiRetries = coin() ? nil : coin() ? [] : [.init(attempt: nil, status: 503, error: nil, delayMs: nil)]
                r.attempts[0].stoppedBy = nil
                r.attempts[0].exitCode = nil
                r.attempts[0].peakMemoryBytes = nil
            }
            if coin() { r.spec = .init(file: "y.md") }
            try Self.expectSameBytes(r)
        }
    }

    @Test("claims with and without their optional fields are byte for byte what JSONEncoder writes")
    func claimBytes() throws {
        var claim = ClaimRecord(id: "t1", host: "vm", pid: 42, attempt: 1, startedAt: "2026-12-05T02:37:25.058Z", nextAttemptAt: "later",
                                provider: Self.awkward, file: "t1.md")
        claim.agentPgid = 43
        claim.agentStart = UInt64.max
        claim.bootID = "8f2c"
        claim.containment = "cgroup2"
        claim.cgroup = "/sys/fs/cgroup/mtor/w42-t1"
        claim.marker = "w42-t1"
        claim.memoryCapBytes = 1 << 30
        claim.memoryCgroup = "/sys/fs/cgroup/memory/mtor/w42-t1"
        #expect(Self.unsetOptionals(claim).isEmpty, "set these here: \(Self.unsetOptionals(claim))")
        try Self.expectSameBytes(claim)
        try Self.expectSameBytes(ClaimRecord(id: "t2", host: "", pid: 0, attempt: 0, startedAt: "", file: ""))
    }

    @Test("a number JSON cannot hold, or a mapping with a key twice, is left to JSONEncoder")
    func fallsBack() throws {
        var r = Self.bare()
        r.attempts = Self.full().attempts
        r.attempts[0].durationS = .nan
        #expect(r.prettyJSON == nil)
        r = Self.bare()
        r.spec.meta = ["m": .map([.init(key: "k", value: .integer(1)), .init(key: "k", value: .integer(2))])]
        #expect(r.prettyJSON == nil)
    }

    /// Paths of optionals left nil in `value`, its nested structs, arrays and optionals included.
    static func unsetOptionals(_ value: Any, path: String = "") -> [String] {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let inner = mirror.children.first?.value else { return [path] }
            return unsetOptionals(inner, path: path)
        }
        if mirror.displayStyle == .collection { return mirror.children.flatMap { unsetOptionals($0.value, path: path + "[]") } }
        guard mirror.displayStyle == .struct else { return [] }
        return mirror.children.flatMap { unsetOptionals($0.value, path: path + "." + ($0.label ?? "?")) }
    }
}
