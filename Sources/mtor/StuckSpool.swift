import Foundation
import MtorPlatform
import MtorWorker

/// A command that only reads the spool never hangs on it.
///
/// On a network filesystem a call can wait as long as a server does not answer (a GlusterFS
/// brick stopped, an NFS server gone), and a FUSE request the filesystem's client has taken
/// cannot be interrupted: not even the process's exit ends it. So `status` and `show` run in a
/// child process whose output this one relays, while a thread in the child watches its calls in
/// flight (`IOWatch`). When one has waited `limit` seconds, the child says which path, and this
/// process prints it and exits 3 (an environment problem) at once; the child, in a session of its
/// own, is SIGKILLed and goes when its call returns. A call that is slow but returning is never cut short: only one
/// call waiting past the limit counts.
enum StuckSpool {
    /// Commands that read the spool and write nothing to it.
    static let readers: Set<String> = ["status", "show"]

    /// Seconds one call may wait before the command gives up.
    static let limit = 5.0

    static func run(_ name: String, spool: String, json: Bool, _ body: () -> Int32) -> Int32 {
        #if os(Linux)
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0], control: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0, pipe(&control) == 0 else { return body() }
        fflush(nil)
        let pid = fork()
        if pid < 0 { return body() }
        if pid == 0 {
            // A session of its own: a stuck child left behind is no part of the caller's job
            // (a shell, or a supervisor that waits for the whole process group).
            setsid()
            let null = open("/dev/null", O_RDONLY)
            if null >= 0 { dup2(null, 0); close(null) }
            dup2(out[1], 1)
            dup2(err[1], 2)
            for fd in [out[0], out[1], err[0], err[1], control[0]] { close(fd) }
            watch(report: control[1])
            let code = body()
            fflush(nil)
            _exit(code)
        }
        for fd in [out[1], err[1], control[1]] { close(fd) }
        return relay(pid, out: out[0], err: err[0], control: control[0], name: name, spool: spool, json: json)
        #else
        return body()
        #endif
    }

    /// In the child: a thread that writes `SECONDS PATH` to `report` once a call has waited `limit`.
    private static func watch(report fd: Int32) {
        IOWatch.enable()
        let thread = Thread {
            while true {
                Thread.sleep(forTimeInterval: 0.25)
                if let (path, seconds) = IOWatch.oldest(over: limit) {
                    let line = Array("\(Int(seconds)) \(path)\n".utf8)
                    _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    return
                }
            }
        }
        thread.start()
    }

    /// In the parent: copies the child's output through until it ends, or reports it stuck.
    private static func relay(_ pid: pid_t, out: Int32, err: Int32, control: Int32, name: String, spool: String, json: Bool) -> Int32 {
        var open: [Int32: Int32] = [out: 1, err: 2]  // child's pipe → our descriptor
        var buffer = [UInt8](repeating: 0, count: 65536)
        var report: [UInt8] = []
        var watching = true
        while !open.isEmpty {
            let ready = Poll.readable(Array(open.keys) + (watching ? [control] : []), timeout: 1)
            for fd in ready {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if fd == control {
                    if n <= 0 { watching = false; continue }
                    report += buffer[0..<n]
                    guard report.last == UInt8(ascii: "\n") else { continue }
                    kill(pid, SIGKILL)
                    let text = String(decoding: report.dropLast(), as: UTF8.self)
                    let parts = text.split(separator: " ", maxSplits: 1)
                    return stuck(name, spool: spool, path: parts.count > 1 ? String(parts[1]) : spool, seconds: Int(parts.first ?? "") ?? Int(limit), json: json)
                }
                if n <= 0 { open[fd] = nil; continue }
                try? FileSystem.writeAll(open[fd]!, buffer[0..<n])
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private static func stuck(_ name: String, spool: String, path: String, seconds: Int, json: Bool) -> Int32 {
        let line = "spool I/O stuck for \(seconds) s on \(path): the filesystem's server is not answering "
            + "(a GlusterFS brick or an NFS server stopped or unreachable?); workers on it claim nothing until it returns"
        if json {
            Output.json(Stuck(spool: spool, stuck: .init(path: path, seconds: seconds, sentence: line)))
        } else {
            print("spool \(spool)")
            print(line)
        }
        Output.error("\(name): gave up after \(Int(limit)) s waiting on \(path)")
        return 3
    }
}

/// `--json` when stuck: `{"spool": …, "stuck": {"path": …, "seconds": …, "sentence": …}}`.
private struct Stuck: Encodable {
    struct Call: Encodable {
        var path: String
        var seconds: Int
        var sentence: String
    }
    var spool: String
    var stuck: Call
}
