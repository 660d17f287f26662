import Foundation
import Testing
@testable import MtorCore

@Suite("MergePlan: which finished tasks the merge queue takes, in which order")
struct MergePlanTests {
    static func result(_ id: String, finished: String, status: TaskResult.Status = .succeeded, commits: Int = 1, repo: String = "/r",
                       branch: String? = "mtor/x", origin: String? = nil) -> TaskResult {
        var git = TaskResult.Git(headBefore: "a", headAfter: commits > 0 ? "b" : "a",
                                 commits: (0..<commits).map { TaskResult.Commit(sha: "c\($0)", subject: "s") })
        git.branch = branch
        git.base = "main"
        return TaskResult(id: id, status: status, class: status == .succeeded ? .ok : .agentFailed, reason: "", hint: "",
                          spec: .init(file: "\(id).md", repo: repo, meta: origin.map { [MergePlan.originKey: .string($0)] } ?? [:]),
                          attempts: [], git: git, verify: nil, log: "", worker: .init(host: "h", pid: 1, version: "v"),
                          containment: nil, claimedAt: finished, finishedAt: finished)
    }

    @Test("--all takes succeeded tasks with commits, not landed and not replaced by a follow-up, in finish order (ties by id), narrowed by repo")
    func pending() {
        let results = [
            Self.result("late", finished: "2026-12-01T03:00:00.000Z"),
            Self.result("early", finished: "2026-12-01T01:00:00.000Z"),
            Self.result("tie-b", finished: "2026-12-01T02:00:00.000Z"),
            Self.result("tie-a", finished: "2026-12-01T02:00:00.000Z"),
            Self.result("failed", finished: "2026-12-01T00:00:00.000Z", status: .failed),
            Self.result("empty", finished: "2026-12-01T00:00:00.000Z", commits: 0),
            Self.result("inplace", finished: "2026-12-01T00:00:00.000Z", branch: nil),
            Self.result("landed", finished: "2026-12-01T00:00:00.000Z"),
            Self.result("replaced", finished: "2026-12-01T00:00:00.000Z"),
            Self.result("conflicted", finished: "2026-12-01T00:30:00.000Z"),
            Self.result("elsewhere", finished: "2026-12-01T00:00:00.000Z", repo: "/other"),
        ]
        var replaced = MergeRecord(id: "replaced", state: .conflict, at: "t", reason: "r")
        replaced.followUp = "replaced-resolve"
        let records = ["landed": MergeRecord(id: "landed", state: .landed, at: "t", commit: "c", reason: "r"), "replaced": replaced,
                       "conflicted": MergeRecord(id: "conflicted", state: .conflict, at: "t", reason: "r")]
        #expect(MergePlan.pending(results, records: records, repo: "/r").map(\.id) == ["conflicted", "early", "tie-a", "tie-b", "late"])
        #expect(MergePlan.pending(results, records: records).map(\.id).contains("elsewhere"))
        #expect(MergePlan.refusal(results[4])?.contains("only a task that succeeded") == true)
        #expect(MergePlan.refusal(results[5])?.contains("no commit") == true)
        #expect(MergePlan.refusal(results[6])?.contains("in place") == true)
    }

    @Test("a follow-up names its origin in spec.meta")
    func origin() {
        #expect(MergePlan.origin(of: Self.result("f", finished: "t", origin: "b")) == "b")
        #expect(MergePlan.origin(of: Self.result("f", finished: "t")) == nil)
    }

    @Test("a follow-up's prompt is the original prompt, then the conflict as comment lines a shell ignores")
    func prompt() {
        let p = MergePlan.followUpPrompt(original: "echo beta > README.md", id: "b", base: "main", files: ["README.md"], sides: "-widget\n+alpha\n$(rm -rf /)")
        #expect(p.hasPrefix("echo beta > README.md\n\n# mtor: this task redoes task b"))
        let after = p.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).filter { !$0.isEmpty }
        #expect(after.allSatisfy { $0.hasPrefix("# ") }, "\(after)")
        #expect(p.contains("# Conflicting files: README.md") && p.contains("# $(rm -rf /)"))
    }
}
