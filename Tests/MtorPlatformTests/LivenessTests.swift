import Foundation
import Testing
import MtorPlatform

/// Recovery trusts `ProcessControl.isAlive` to say whether a claim's worker can still finish its task.
/// A worker restarted the instant its predecessor was SIGKILLed once found the old one "alive" (it was
/// still inside its exit) and left the task, its agent and its memory cgroup to nobody.
@Suite("Liveness: a dying process is not a live worker")
struct LivenessTests {
    @Test("running and stopped processes are alive; a zombie is not; a frozen process with SIGKILL pending is not", .timeLimit(.minutes(10)))
    func dyingIsGone() throws {
        let freezer = "/sys/fs/cgroup/freezer"
        try #require(FileManager.default.fileExists(atPath: freezer + "/freezer.state") || FileManager.default.fileExists(atPath: freezer + "/cgroup.procs"),
                     "the v1 freezer hierarchy is needed to hold a SIGKILL pending")
        let sleeper = try ChildProcess(executable: "/bin/sleep", argv: ["/bin/sleep", "60"], environment: [:], directory: nil)
        var reaped = false
        defer { if !reaped { kill(sleeper.pid, SIGKILL); _ = sleeper.capture(timeout: 10) } }
        #expect(ProcessControl.isAlive(sleeper.pid), "a sleeping process")
        kill(sleeper.pid, SIGSTOP)
        #expect(ProcessControl.isAlive(sleeper.pid), "a stopped process can be continued: it is alive")
        kill(sleeper.pid, SIGCONT)

        // Frozen, a process cannot act on the SIGKILL it was sent: it is dying but still in /proc as D.
        let group = "\(freezer)/mtor-liveness-\(getpid())"
        try FileManager.default.createDirectory(atPath: group, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: group) }
        try "\(sleeper.pid)\n".write(toFile: group + "/cgroup.procs", atomically: false, encoding: .utf8)
        try "FROZEN\n".write(toFile: group + "/freezer.state", atomically: false, encoding: .utf8)
        defer { try? "THAWED\n".write(toFile: group + "/freezer.state", atomically: false, encoding: .utf8) }
        for _ in 0..<200 where (try? String(contentsOfFile: group + "/freezer.state", encoding: .utf8))?.hasPrefix("FROZEN") != true {
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(ProcessControl.isAlive(sleeper.pid), "a frozen process with nothing pending is alive")
        kill(sleeper.pid, SIGKILL)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(kill(sleeper.pid, 0) == 0, "the frozen process is still there")
        #expect(!ProcessControl.isAlive(sleeper.pid), "a process with SIGKILL pending is dying: not alive")
        try "THAWED\n".write(toFile: group + "/freezer.state", atomically: false, encoding: .utf8)
        #expect(sleeper.capture(timeout: 10).0 == .signaled(SIGKILL))
        reaped = true

        // A zombie: exited, not yet reaped by its parent (this process).
        let quick = try ChildProcess(executable: "/bin/true", argv: ["/bin/true"], environment: [:], directory: nil)
        var zombie = false
        for _ in 0..<500 where !zombie {
            zombie = (try? String(contentsOfFile: "/proc/\(quick.pid)/stat", encoding: .utf8))?.contains(") Z ") == true
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(zombie, "/bin/true became a zombie")
        #expect(kill(quick.pid, 0) == 0 && !ProcessControl.isAlive(quick.pid), "a zombie is not alive")
        _ = quick.capture(timeout: 10)
    }
}
