import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 26, "a first week without surprises": what a newcomer met in the first days, each against the built binary.
@Suite("A first week without surprises")
struct FirstWeekTests {
    @Test("a spec that failed can be submitted again at once and runs; a twin of a queued one is refused by validate and submit naming --force, and by the worker as `duplicate`",
          .timeLimit(.minutes(10)))
    func resubmitAfterFailure() throws {
        let s = try Sandbox.scheduling("resubmit")
        let window = ["--dedup-window", "10m"]
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        writeFixture(dir + "/exit1.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\n---\necho failing >&2; exit 1\n".utf8))
        let lock = ["--spool", s.spool, "--providers", s.etc + "/providers.json"]
        let submit = { (extra: [String]) throws -> (code: Int32, out: String, err: String) in try s.mtor(["submit"] + lock + extra + [dir + "/exit1.md"]) }
        let idOf = { (out: String) throws -> String in try #require(out.split(separator: " ").dropFirst(3).first.map(String.init), "\(out)") }
        let first = try submit([])
        #expect(first.code == 0, "\(first.err)")
        #expect(try s.drain(window).code == 0)
        #expect(try s.result(try idOf(first.out)).class == .agentFailed)
        // Re-submitted within the window: accepted, and the worker runs it (it fails again, as the script does).
        let second = try submit([])
        #expect(second.code == 0, "\(second.out) \(second.err)")
        #expect(try s.drain(window).code == 0)
        let rerun = try s.result(try idOf(second.out))
        #expect(rerun.class == .agentFailed && rerun.attempts.count == 1, "a failed twin must not block a re-run: \(rerun.class.rawValue): \(rerun.reason)")
        // A twin of a queued spec: validate and submit say so at once, naming --force.
        let queued = try submit([])
        #expect(queued.code == 0, "\(queued.err)")
        let queuedID = try idOf(queued.out)
        let v = try s.mtor(["validate"] + lock + [dir + "/exit1.md"])
        #expect(v.code == 1 && v.out.contains("duplicate") && v.out.contains(queuedID) && v.out.contains("mtor submit --force"), "\(v.out)")
        let refused = try submit([])
        #expect(refused.code == 1 && refused.out.contains("duplicate") && refused.out.contains("mtor submit --force"), "\(refused.out) \(refused.err)")
        #expect(refused.err.contains("nothing was submitted"), "\(refused.err)")
        let forced = try submit(["--force"])
        #expect(forced.code == 0, "\(forced.err)")
        // Twins dropped by hand: the later one ends as `duplicate`, never `spec_invalid`, and is not retried.
        try s.submit("twin-a.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho twins\n")
        try s.submit("twin-b.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho twins\n")
        #expect(try s.drain(window).code == 0)
        let twin = try s.result("twin-b")
        #expect(twin.class == .duplicate && twin.attempts.isEmpty && twin.reason.contains("twin-a") && twin.reason.contains("mtor submit --force"), "\(twin.class.rawValue): \(twin.reason)")
        let forcedID = try idOf(forced.out)
        #expect(try s.result(forcedID).class == .agentFailed, "--force runs it")
        let help = try s.mtor(["help", "classes"])
        #expect(help.out.contains("duplicate") && help.out.contains("never"), "\(help.out)")
    }
}
