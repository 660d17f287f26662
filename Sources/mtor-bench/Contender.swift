import Foundation
import MtorPlatform

/// What drains the spool: mtor, or one of the two shell loops a user would otherwise write.
enum ContenderKind: String, CaseIterable, Sendable {
    case mtor = "mtor"
    case inotifyLoop = "inotifywait loop"
    case pollLoop = "1 s poll loop"
    /// task-spooler and nq: real queues, fed one client call per job (`FedQueue`), not spool watchers.
    case tsp = "task-spooler"
    case nq = "nq"

    static let baselines: [ContenderKind] = [.inotifyLoop, .pollLoop, .tsp, .nq]

    /// Whether it drains a spool directory (mtor and the shell loops) rather than being fed by a client.
    var watchesSpool: Bool { self != .tsp && self != .nq }

    var slug: String {
        switch self {
        case .mtor: return "mtor"
        case .inotifyLoop: return "inotify"
        case .pollLoop: return "poll"
        case .tsp: return "tsp"
        case .nq: return "nq"
        }
    }

    /// Seconds between scans for a polling contender; its latency samples are spread over it.
    var pollInterval: Double? { self == .pollLoop ? 1 : nil }

    // MARK: - The baselines

    /// Claims by `mv`, skips the six frontmatter lines with `read`, pipes the body to `sh -s`,
    /// logs, and moves the spec to done/ or failed/ — no sidecar and no fsync.
    static let runFunction = """
    run() {
      case "$1" in .*|*.tmp|*.part|*~) return ;; *.md) ;; *) return ;; esac
      mv "inbox/$1" "claimed/$1" 2>/dev/null || return
      if { read -r _; read -r _; read -r _; read -r _; read -r _; read -r _; /bin/sh -s; } < "claimed/$1" > "logs/${1%.md}.log" 2>&1
      then mv "claimed/$1" "done/$1"
      else mv "claimed/$1" "failed/$1"
      fi
    }
    """

    var script: String? {
        switch self {
        case .mtor, .tsp, .nq:
            return nil
        case .inotifyLoop:
            // inbox/ is scanned once inotifywait says its watch is up (on stderr), so nothing renamed in
            // between the scan and the watch is missed.
            return """
            cd "$1" || exit 1
            \(ContenderKind.runFunction)
            inotifywait -m -e moved_to -e close_write --format '%f' inbox 2>&1 | {
              while read -r f; do [ "$f" = "Watches established." ] && break; done
              for p in inbox/*; do [ -e "$p" ] && run "${p#inbox/}"; done
              while read -r f; do run "$f"; done
            }
            """
        case .pollLoop:
            return """
            cd "$1" || exit 1
            \(ContenderKind.runFunction)
            while :; do
              for p in inbox/*; do [ -e "$p" ] && run "${p#inbox/}"; done
              sleep 1
            done
            """
        }
    }
}

/// A running contender: its own process group, output drained on a thread, stopped with SIGTERM.
final class Contender: Sendable {
    let kind: ContenderKind
    let child: ChildProcess
    private let output = OutputTail()
    private let stopFlag = Flag()
    private let ended = DispatchSemaphore(value: 0)

    var pid: Int32 { child.pid }

    /// mtor runs its agents sandboxed (they may write only `marks/` besides their own places) unless `sandboxed` is false.
    init(_ kind: ContenderKind, spool: BenchSpool, world: World, mtor: String, concurrency: Int = 1, sandboxed: Bool = true, extra: [String] = []) throws(BenchError) {
        self.kind = kind
        let argv: [String]
        if let script = kind.script {
            argv = ["/bin/sh", "-c", script, "baseline", spool.root]
        } else {
            argv = [mtor, "worker", "--spool", spool.root, "--providers", world.lockfile, "--concurrency", "\(concurrency)"]
                + (sandboxed ? ["--sandbox-writable", spool.marks] : ["--sandbox", "none"]) + extra
        }
        do {
            child = try ChildProcess(executable: argv[0], argv: argv, environment: world.environment, directory: world.root)
        } catch {
            throw .setup("cannot start \(kind.rawValue): \(error)")
        }
        let running = child, sink = output, flag = stopFlag, ended = self.ended
        let thread = Thread {
            _ = running.drive(grace: 10, onOutput: { _, bytes in sink.append(bytes) }, stop: { flag.isSet })
            ended.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Whether the contender has not exited (its pid, once reaped, may be another process's).
    var isRunning: Bool { !child.isReaped }

    /// The last few KiB the contender printed.
    var tail: String { output.text }

    /// SIGTERM to the group (SIGKILL after a grace period); waits until every member is reaped.
    func stop() {
        stopFlag.set()
        if ended.wait(timeout: .now() + 60) == .timedOut {
            child.signal(SIGKILL, group: true)
            _ = ended.wait(timeout: .now() + 10)
        }
    }
}

/// A flag set once from one thread and read from another.
final class Flag: @unchecked Sendable {  // `lock` guards `value`
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// The last 16 KiB a child printed.
final class OutputTail: @unchecked Sendable {  // `lock` guards `bytes`
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    func append(_ chunk: UnsafeRawBufferPointer) {
        lock.withLock {
            bytes.append(contentsOf: chunk)
            if bytes.count > 32768 { bytes.removeFirst(bytes.count - 16384) }
        }
    }

    var text: String { lock.withLock { String(decoding: bytes.suffix(16384), as: UTF8.self) } }
}
