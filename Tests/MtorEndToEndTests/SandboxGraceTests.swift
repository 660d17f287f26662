import Foundation
import Testing
import MtorCore
import MtorPlatform

/// CONTRACT §6: on timeout, stall or cancel the agent gets SIGTERM and a grace period before
/// SIGKILL, sandboxed or not. bwrap itself dies on SIGTERM and takes the agent with it at once
/// (`--die-with-parent`), so the worker's TERM must reach the agent, not bwrap.
@Suite("a sandboxed agent gets SIGTERM and its grace period")
struct SandboxGraceTests {
    @Test("a timed-out agent traps SIGTERM and gets to clean up, in the sandbox and out of it", .timeLimit(.minutes(10)), arguments: ["bwrap", "none"])
    func timeoutGivesGrace(sandbox: String) throws {
        let s = try Sandbox("grace-\(sandbox)")
        s.lockfile(Lockfiles.make([]))
        let marks = s.root + "/marks"
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
        // The agent notes its start, then on SIGTERM takes a second to clean up and notes that it did.
        try s.submit("grace.md", """
            ---
            repo: ~/code/widget
            expect: nothing
            timeout: 2s
            ---
            trap 'sleep 1; echo cleaned > \(marks)/cleaned; exit 0' TERM
            touch \(marks)/started
            while :; do sleep 0.1; done
            """)
        let extra = sandbox == "none" ? ["--sandbox", "none"] : ["--sandbox-writable", s.root]
        try s.drain(extra)
        let r = try s.result("grace")
        #expect(r.class == .timedOut, "\(r.class): \(r.reason)")
        #expect(FileManager.default.fileExists(atPath: marks + "/started"), "the agent ran")
        #expect((try? String(contentsOfFile: marks + "/cleaned", encoding: .utf8)) == "cleaned\n",
                "the agent got SIGTERM and its grace period (sandbox \(sandbox)): \(r.attempts.map(\.reason))")
        if sandbox == "bwrap" { #expect(r.sandbox?.method == "bwrap") }
    }
}
