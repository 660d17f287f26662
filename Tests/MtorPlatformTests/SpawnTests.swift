import Foundation
import Testing
@testable import MtorPlatform

/// The spawn itself: on x86_64 Linux a child shares the worker's memory until it execs (no
/// copy-on-write), so what it reads must be its own copy, its dispositions the defaults, and its
/// gate must still hold it.
@Suite("Spawning without copying the worker's memory")
struct SpawnTests {
    let env = ["PATH": "/usr/bin:/bin"]

    @Test("spawned from 8 threads at once, every child gets exactly its own argv, environment and directory", .timeLimit(.minutes(15)))
    func concurrentSpawns() throws {
        let dir = TempDir("spawn")
        let root = dir.path.replacingOccurrences(of: "//", with: "/")  // as pwd prints it
        for t in 0..<8 { try FileSystem.makeDirectories("\(root)/d\(t)") }
        let failures = LockedList()
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<60 {
                let word = "t\(t)-i\(i)-" + String(repeating: "x", count: (t * 37 + i) % 300)
                let gated = i % 2 == 0
                do {
                    let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "printf '%s %s %s' \"$1\" \"$MTOR_WORD\" \"$(pwd)\"", "sh", word],
                                                 environment: env.merging(["MTOR_WORD": word + "-env"]) { $1 }, directory: "\(root)/d\(t)",
                                                 gated: gated)
                    if gated { try child.release() }
                    let r = child.capture(timeout: 600)
                    let got = String(decoding: r.stdout, as: UTF8.self)
                    let want = "\(word) \(word)-env \(root)/d\(t)"
                    if r.0 != .exited(0) || got != want { failures.append("\(t)/\(i): \(r.0) '\(got)' != '\(want)'") }
                } catch {
                    failures.append("\(t)/\(i): \(error)")
                }
            }
        }
        let failed = failures.items
        #expect(failed.count == 0, "\(failed.count) of 480 spawns went wrong, e.g. \(failed.prefix(3))")
    }

    @Test("a disposition the worker ignores and a handler it installed are both the default in the child", .timeLimit(.minutes(15)))
    func defaultDispositions() throws {
        let oldUSR1 = signal(SIGUSR1, SIG_IGN)
        let oldUSR2 = signal(SIGUSR2) { _ in }
        defer {
            signal(SIGUSR1, oldUSR1)
            signal(SIGUSR2, oldUSR2)
        }
        let r = try ChildProcess.run(["/bin/cat", "/proc/self/status"], environment: env)
        let status = String(decoding: r.stdout, as: UTF8.self)
        let field = { (name: String) in
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        #expect(field("SigIgn") == "0000000000000000", "the child ignores signals the worker ignored: \(field("SigIgn") ?? "?")")
        #expect(field("SigCgt") == "0000000000000000")
        #expect(field("SigBlk") == "0000000000000000")
        #expect(field("SigPnd") == "0000000000000000")
    }

    @Test("a gated child that is abandoned runs nothing and exits 125", .timeLimit(.minutes(15)))
    func abandoned() throws {
        let dir = TempDir("spawn-gate")
        let root = dir.path
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", ": > \(root)/ran"], environment: env, directory: nil, gated: true)
        Thread.sleep(forTimeInterval: 0.2)
        child.abandon()
        #expect(child.capture(timeout: 60).0 == .exited(125))
        #expect(!FileSystem.exists("\(root)/ran"))
    }

    @Test("an exec that fails is reported with its errno, and the child is reaped", .timeLimit(.minutes(15)))
    func failedExec() throws {
        let dir = TempDir("spawn-exec")
        let root = dir.path
        try FileSystem.writeAtomically(Array("not a program\n".utf8), to: "\(root)/plain", mode: 0o644, durable: false)
        for gated in [false, true] {
            do {
                let child = try ChildProcess(executable: "\(root)/plain", argv: ["plain"], environment: env, directory: nil, gated: gated)
                try child.release()
                Issue.record("spawning a file that is not executable succeeded (gated: \(gated))")
            } catch {
                #expect(error.errno == EACCES, "\(error)")
            }
        }
        do {
            _ = try ChildProcess(executable: "/bin/true", argv: ["true"], environment: env, directory: "\(root)/missing")
            Issue.record("spawning into a missing directory succeeded")
        } catch {
            #expect(error.errno == ENOENT, "\(error)")
        }
    }

    #if os(Linux) && arch(x86_64)
    @Test("a gated child shares the worker's memory until it execs: a write made after the spawn is what the child sees", .timeLimit(.minutes(15)))
    func sharesMemory() throws {
        let cell = UnsafeMutablePointer<UInt64>.allocate(capacity: 512)  // a page of its own, mostly
        defer { cell.deallocate() }
        cell.pointee = 0x1111_1111_1111_1111
        let child = try ChildProcess(executable: "/bin/true", argv: ["true"], environment: env, directory: nil, gated: true)
        cell.pointee = 0x2222_2222_2222_2222
        // The child's view of that address, through /proc (a copy-on-write fork would still hold the old value).
        let fd = open("/proc/\(child.pid)/mem", O_RDONLY | O_CLOEXEC)
        #expect(fd >= 0, "cannot open /proc/\(child.pid)/mem: errno \(errno)")
        var seen: UInt64 = 0
        if fd >= 0 {
            _ = pread(fd, &seen, 8, off_t(Int(bitPattern: UnsafeMutableRawPointer(cell))))
            close(fd)
        }
        try child.release()
        #expect(child.capture(timeout: 60).0 == .exited(0))
        #expect(seen == 0x2222_2222_2222_2222, "the child saw \(String(seen, radix: 16)): its memory was copied")
    }
    #endif
}

/// Strings appended from several threads.
final class LockedList: @unchecked Sendable {  // `lock` guards `list`
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ s: String) { lock.withLock { list.append(s) } }
    var items: [String] { lock.withLock { list } }
}
