import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("A task recording its result holds no slot")
struct RecordingSlotTests {
    @Test("--concurrency 1: the next task starts while the last one's result is still being written, but never more than twice the slots run in all",
          .timeLimit(.minutes(10)))
    func recordingFreesTheSlot() throws {
        let s = try Sandbox("recording")
        s.lockfile(Lockfiles.make([]))
        // Three in-place specs, each in a repo of its own (one repo holds one in-place task at a time).
        let marks = s.root + "/marks", held = s.root + "/held"
        for dir in [marks, held] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        for name in ["a", "b", "c"] {
            let repo = s.home + "/code/\(name)"
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            for args in [["init", "-q", "-b", "main"], ["-c", "user.name=t", "-c", "user.email=t@mtor.invalid", "commit", "-q", "--allow-empty", "-m", "i"]] {
                let r = try ChildProcess.run(["git"] + args, environment: ["PATH": "/usr/bin:/bin", "HOME": s.home], directory: repo)
                #expect(r.0.succeeded)
            }
            FileManager.default.createFile(atPath: "\(held)/\(name)", contents: Data())  // its result write waits until this goes
        }
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "1"], env: ["MTOR_TEST_HOLD_RESULT_DIR": held])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        func drop(_ name: String) throws { try s.submit("\(name).md", "---\nrepo: ~/code/\(name)\nexpect: nothing\n---\n: > \(marks)/\(name)\n") }
        let ran = { (name: String) in FileManager.default.fileExists(atPath: "\(marks)/\(name)") }
        let recorded = { (name: String) in s.exists("done/\(name).result.json") }
        try drop("a")
        try worker.waitFor { ran("a") }
        try drop("b")
        // a's agent is gone and only its result waits: b starts although the one slot's task has not ended.
        try worker.waitFor(timeout: 20) { ran("b") }
        #expect(!recorded("a"), "a's result was held, yet it is written")
        try drop("c")
        // a and b both record: two tasks running is twice --concurrency 1, so c waits.
        Thread.sleep(forTimeInterval: 2)
        #expect(!ran("c"), "c started while two tasks were running with --concurrency 1")
        try FileManager.default.removeItem(atPath: "\(held)/a")
        try worker.waitFor(timeout: 20) { recorded("a") && ran("c") }
        try FileManager.default.removeItem(atPath: "\(held)/b")
        try FileManager.default.removeItem(atPath: "\(held)/c")
        try worker.waitFor(timeout: 20) { recorded("b") && recorded("c") }
        for name in ["a", "b", "c"] {
            let r = try s.result(name)
            #expect(r.status == .succeeded, "\(name): \(r.class) \(r.reason)")
            #expect(s.exists("done/\(name).md"))
        }
    }
}
