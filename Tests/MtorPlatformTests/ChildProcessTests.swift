import Foundation
import Testing
@testable import MtorPlatform

@Suite("Child processes are spawned cleanly and always reaped")
struct ChildProcessTests {
    let env = ["PATH": "/usr/bin:/bin"]

    @Test("stdout, stderr and the exit code come back; a non-zero exit is a result", .timeLimit(.minutes(10)))
    func capture() throws {
        let r = try ChildProcess.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], environment: env)
        #expect(r.0 == .exited(3))
        #expect(String(decoding: r.stdout, as: UTF8.self) == "out\n")
        #expect(String(decoding: r.stderr, as: UTF8.self) == "err\n")
    }

    @Test("the prompt arrives on stdin, never on argv", .timeLimit(.minutes(10)))
    func stdin() throws {
        let prompt = "---\nrepo: x\n---\n-rf $HOME `rm`\n"
        let r = try ChildProcess.run(["/bin/sh", "-c", "cat; echo \"argc=$#\""], environment: env, stdin: Array(prompt.utf8))
        #expect(String(decoding: r.stdout, as: UTF8.self) == prompt + "argc=0\n")
    }

    @Test("the environment is exactly what was given: nothing inherited", .timeLimit(.minutes(10)))
    func environment() throws {
        setenv("MTOR_TEST_LEAK", "leaked", 1)
        let r = try ChildProcess.run(["/usr/bin/env"], environment: ["PATH": "/usr/bin:/bin", "ONLY": "1"])
        let lines = Set(String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").map(String.init))
        #expect(lines == ["PATH=/usr/bin:/bin", "ONLY=1"])
    }

    @Test("the child has its own process group, an empty signal mask and no stray descriptors", .timeLimit(.minutes(10)))
    func isolation() throws {
        let r = try ChildProcess.run(["/bin/sh", "-c", "ps -o pgid= -p $$; grep SigBlk /proc/self/status; ls /proc/self/fd | wc -l"], environment: env)
        let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count == 3)
        #expect(Int32(lines[0]) != getpgrp())
        #expect(lines[1].hasSuffix("0000000000000000"))
        // ls's own /proc/self/fd: 0, 1, 2 and the directory it is reading.
        #expect(lines[2] == "4")
    }

    @Test("a grandchild holding stdout open is killed and reaped on timeout: no hang, no zombie", .timeLimit(.minutes(10)))
    func grandchildTimeout() throws {
        ProcessControl.becomeSubreaper()
        let start = now()
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "sleep 300 & echo $!; wait"], environment: env, directory: nil)
        let r = child.capture(timeout: 1)
        let elapsed = now() - start
        #expect(r.timedOut)
        #expect(r.0 == .signaled(SIGTERM))
        #expect(elapsed < 10)
        let grandchild = Int32(String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(!ProcessControl.groupExists(child.pid))
        #expect(!ProcessControl.isAlive(grandchild), "the grandchild sleep \(grandchild) must be gone, not a zombie")
    }

    @Test("when the leader exits, a background grandchild keeping the pipe open does not hang the reader", .timeLimit(.minutes(10)))
    func leaderExitsFirst() throws {
        ProcessControl.becomeSubreaper()
        let start = now()
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "sleep 300 & echo started"], environment: env, directory: nil)
        let r = child.capture(timeout: 60)
        #expect(r.0 == .exited(0))
        #expect(!r.timedOut)
        #expect(now() - start < 10)
        #expect(!ProcessControl.groupExists(child.pid))
    }

    @Test("a child that closes its stdout and stderr is still killed at its timeout", .timeLimit(.minutes(10)))
    func closedPipes() throws {
        // As in the worker: orphans come to us to be reaped, not to an init that reaps lazily.
        ProcessControl.becomeSubreaper()
        let start = now()
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "exec >/dev/null 2>&1; sleep 300"], environment: env, directory: nil)
        let r = child.capture(timeout: 1)
        #expect(r.timedOut)
        #expect(now() - start < 10)
        #expect(!ProcessControl.groupExists(child.pid))
    }

    @Test("a missing program is reported by resolve, not spawned")
    func missing() {
        #expect(ChildProcess.resolve("definitely-not-a-program-mtor", searchPath: "/usr/bin:/bin") == nil)
        #expect(ChildProcess.resolve("sh", searchPath: "/usr/bin:/bin") != nil)
    }

    @Test("a signal reaches the child and its group until it is reaped, and never the process that takes its pid afterwards",
          .timeLimit(.minutes(10)))
    func signalNeverOutlivesTheChild() throws {
        let sleeper = try ChildProcess(executable: "/bin/sh", argv: ["sh", "-c", "sleep 60 & wait"], environment: env, directory: nil)
        #expect(sleeper.signal(SIGTERM, group: true))
        #expect(sleeper.capture(timeout: 20).0 == .signaled(SIGTERM))
        #expect(sleeper.isReaped)
        #expect(!sleeper.signal(SIGKILL), "a reaped child is never signalled")
        #expect(!sleeper.signal(SIGKILL, group: true))

        // Its pid given to another process (ns_last_pid makes the kernel hand it out next; other
        // tests spawn meanwhile, so a few tries), which a late signal must leave alone.
        let gone = sleeper.pid
        var bystander: ChildProcess?
        for _ in 0..<50 where bystander == nil {
            guard FileManager.default.isWritableFile(atPath: "/proc/sys/kernel/ns_last_pid") else { break }
            try "\(gone - 1)".write(toFile: "/proc/sys/kernel/ns_last_pid", atomically: false, encoding: .utf8)
            let candidate = try ChildProcess(executable: "/bin/sleep", argv: ["sleep", "60"], environment: env, directory: nil)
            if candidate.pid == gone { bystander = candidate } else { candidate.signal(SIGKILL); _ = candidate.capture(timeout: 10) }
        }
        let other = try #require(bystander, "no process took pid \(gone) again (this test needs root for ns_last_pid)")
        #expect(!sleeper.signal(SIGKILL) && !sleeper.signal(SIGKILL, group: true))
        Thread.sleep(forTimeInterval: 0.2)
        #expect(ProcessControl.isAlive(other.pid), "the process that took the pid was signalled")
        other.signal(SIGKILL)
        #expect(other.capture(timeout: 10).0 == .signaled(SIGKILL))
    }
}
