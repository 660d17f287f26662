import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Evidence holds while git collects garbage")
struct GitGCTests {
    @Test("with gc.auto 1 in the repository (and in each task's clone), tasks of 30 commits each all succeed with their 30 commits; none is no_changes",
          .timeLimit(.minutes(10)))
    func gcAutoOne() throws {
        let s = try Sandbox("gc-auto")
        s.lockfile(Lockfiles.make([]))
        try s.git(["config", "gc.auto", "1"])
        try s.git(["config", "gc.autoPackLimit", "1"])
        try s.git(["commit", "-q", "--allow-empty", "-m", "seed"])
        let count = 10
        for n in 1...count {
            // An honest agent whose own git collects garbage after every commit (in the background).
            let body = "git config gc.auto 1\ngit config gc.autoPackLimit 1\nfor i in $(seq 1 30); do echo \"$i\" > g\(n)-$i.txt; git add g\(n)-$i.txt; git commit -q -m \"g\(n) $i\"; done"
            try s.submit("g\(n).md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 0\n---\n\(body)\n")
        }
        // Meanwhile the user keeps committing in the checkout: every plain git there starts a gc of the repository.
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "4"])
        defer { worker.stop() }
        var userCommits = 0, attempts = 0
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, !(1...count).allSatisfy({ s.exists("done/g\($0).result.json") || s.exists("failed/g\($0).result.json") }) {
            attempts += 1
            try "\(attempts)\n".write(toFile: s.repo + "/user.txt", atomically: true, encoding: .utf8)
            // The user's own git races the gc it started (a pruned objects/xx/ directory: "unable to create
            // temporary file"); that is git's race in the checkout, not the tasks' evidence: the user tries again.
            do {
                try s.git(["add", "user.txt"])
                try s.git(["commit", "-q", "-m", "user \(attempts)"])
                userCommits += 1
            } catch {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        #expect(userCommits > 1)
        for n in 1...count {
            let r = try s.result("g\(n)")
            #expect(r.status == .succeeded && r.class == .ok, "g\(n): \(r.class.rawValue) \(r.reason) / \(s.read("logs/g\(n).log").suffix(1500))")
            #expect(r.git?.commits.count == 30, "g\(n): \(r.git?.commits.count ?? 0) commits")
            #expect(r.git?.headAfter == (try? s.git(["rev-parse", "mtor/g\(n)"]).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }
}
