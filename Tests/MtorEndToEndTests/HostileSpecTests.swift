import Foundation
import Testing
import MtorCore

/// Issue 10 point 7: specs built to make the parser slow or wrong, against the built worker.
@Suite("Hostile spec values")
struct HostileSpecTests {
    @Test("a million-character unknown key and a 400-digit timeout are refused with short sentences; a normal spec still runs",
          .timeLimit(.minutes(10)))
    func refusedQuickly() throws {
        let s = try Sandbox("hostile-spec")
        s.lockfile(Lockfiles.make([]))
        let filler = String(repeating: "k", count: 1_000_000)
        try s.submit("huge-key.md", "---\nrepo: ~/code/widget\nharness: sh\n\(filler): 1\n---\necho never\n")
        try s.submit("endless.md", "---\nrepo: ~/code/widget\nharness: sh\ntimeout: \(String(repeating: "9", count: 400))s\n---\necho never\n")
        try s.submit("normal.md", "---\nrepo: ~/code/widget\nharness: sh\ntitle: still runs\nexpect: nothing\n---\necho ok\n")
        let start = ContinuousClock.now
        let run = try s.drain()
        print("worker --once over a 1 MB hostile key, a 400-digit timeout and a normal spec: \(ContinuousClock.now - start)")
        #expect(run.code == 0, "\(run.err)")
        let huge = try s.result("huge-key")
        #expect(huge.class == .specInvalid)
        #expect(huge.attempts.isEmpty)
        #expect(huge.reason.contains("unknown key 'kkkk"), "\(huge.reason.prefix(300))")
        #expect(huge.reason.utf8.count < 1000)
        let endless = try s.result("endless")
        #expect(endless.class == .specInvalid)
        #expect(endless.reason.contains("far longer than 720h"), "\(endless.reason)")
        let normal = try s.result("normal")
        #expect(normal.status == .succeeded, "\(normal.reason)")
        #expect(normal.spec.meta["title"] == .string("still runs"))
    }
}
