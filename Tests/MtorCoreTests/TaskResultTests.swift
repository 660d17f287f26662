import Foundation
import Testing
@testable import MtorCore

@Suite("Result sidecar")
struct TaskResultTests {
    static func sample() -> TaskResult {
        TaskResult(
            id: "20261121T101500-table-guard-3f2a", status: .failed, class: .harnessUsage,
            reason: "the harness rejected its own arguments: error: unknown option '---'", hint: "fix the harness argv",
            spec: .init(file: "20261121T101500-table-guard-3f2a.md", repo: "/home/ci/code/widget", provider: "zhipu", harness: "claude", model: "glm-5.1"),
            attempts: [.init(n: 1, provider: "zhipu", harness: "claude", model: "glm-5.1", startedAt: "2026-11-21T10:15:02Z",
                             endedAt: "2026-11-21T10:15:03Z", durationS: 1.2, exitCode: 1, signal: nil, stdoutBytes: 0,
                             stderrTail: "error: unknown option '---'", class: .harnessUsage, retryable: false, reason: "usage",
                             apiRetries: [.init(attempt: 1, status: 401, error: "authentication_failed", delayMs: 575)])],
            git: .init(headBefore: "abc", headAfter: "abc", commits: []), verify: nil, log: "logs/20261121T101500-table-guard-3f2a.log",
            worker: .init(host: "build1", pid: 1234, version: "0.1"), claimedAt: "2026-11-21T10:15:01Z", finishedAt: "2026-11-21T10:15:04Z")
    }

    @Test("the sidecar uses the contract's key names and round-trips")
    func keys() throws {
        let data = try Stamp.encoder().encode(Self.sample())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["schema"] as? String == "mtor.result/1")
        #expect(object["class"] as? String == "harness_usage")
        #expect(object["status"] as? String == "failed")
        for key in ["id", "reason", "hint", "spec", "attempts", "git", "log", "worker", "claimed_at", "finished_at"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let attempt = try #require((object["attempts"] as? [[String: Any]])?.first)
        for key in ["n", "provider", "harness", "started_at", "ended_at", "duration_s", "exit_code", "stdout_bytes", "stderr_tail", "class", "retryable"] {
            #expect(attempt[key] != nil, "attempt is missing \(key)")
        }
        let retry = try #require((attempt["api_retries"] as? [[String: Any]])?.first)
        #expect(retry["error_status"] as? Int == 401)
        #expect(retry["retry_delay_ms"] as? Double == 575)
        let git = try #require(object["git"] as? [String: Any])
        #expect(git["head_before"] as? String == "abc")
        #expect(try JSONDecoder().decode(TaskResult.self, from: data) == Self.sample())
    }

    @Test("timestamps are UTC ISO-8601 and read back")
    func stamps() throws {
        let date = Date(timeIntervalSince1970: 1_795_256_040.25)
        let text = Stamp.iso(date)
        #expect(text == "2026-11-21T10:14:00.250Z")
        #expect(Stamp.date(text) == date)
        #expect(Stamp.date("2026-11-21T10:14:00Z") == Date(timeIntervalSince1970: 1_795_256_040))
        #expect(Stamp.date("yesterday") == nil)
    }
}

@Suite("Sidecar contract fields")
struct SidecarContractFieldTests {
    @Test("unknown values are written as null, never left out")
    func nullsArePresent() throws {
        let attempt = TaskResult.Attempt(n: 1, provider: nil, harness: "sh", model: nil, startedAt: "a", endedAt: "b", durationS: 0.1,
                                         exitCode: nil, signal: nil, stdoutBytes: 0, stderrTail: "", class: .harnessMissing, retryable: false, reason: "r")
        let r = TaskResult(id: "x", status: .failed, class: .harnessMissing, reason: "r", hint: "", spec: .init(file: "x.md"),
                           attempts: [attempt], git: nil, verify: nil, log: "logs/x.log",
                           worker: .init(host: "h", pid: 1, version: "v"), claimedAt: "a", finishedAt: "b")
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
        let first = try #require((object["attempts"] as? [[String: Any]])?.first)
        for key in ["exit_code", "signal", "provider"] { #expect(first[key] is NSNull, "attempt.\(key)") }
        #expect(object["git"] is NSNull)
        let spec = try #require(object["spec"] as? [String: Any])
        for key in ["repo", "provider", "harness", "model"] { #expect(spec[key] is NSNull, "spec.\(key)") }
        #expect(try JSONDecoder().decode(TaskResult.self, from: JSONEncoder().encode(r)) == r)
    }
}
