import Foundation
import MtorPlatform

/// A real queue a user would pick instead of mtor, fed the way its users feed it: one client
/// call per job (`tsp -n JOB`, `nq -c -q JOB`). Each job does what a shell loop does with a spec:
/// moves it to claimed/, pipes its body to `sh -s` with the output in logs/, and moves it to
/// done/ or failed/. The bench times from just before the client call.
final class FedQueue {
    let kind: ContenderKind
    let spool: BenchSpool
    private let environment: [String: String]

    /// The program each kind needs, to tell whether this machine can run it.
    static func program(_ kind: ContenderKind) -> String? {
        switch kind {
        case .tsp: return "tsp"
        case .nq: return "nq"
        default: return nil
        }
    }

    /// Starts the queue on `spool` with `slots` jobs at a time (nq runs one at a time).
    init(_ kind: ContenderKind, spool: BenchSpool, world: World, slots: Int) throws(BenchError) {
        self.kind = kind
        self.spool = spool
        var env = world.environment
        env["TS_SOCKET"] = spool.base + "/tsp.socket"
        env["TS_MAXFINISHED"] = "100"
        env["NQDIR"] = spool.base + "/nq"
        environment = env
        if kind == .nq {
            do { try FileSystem.makeDirectories(spool.base + "/nq") } catch { throw .setup("\(error)") }
        } else {
            // Its server is forked by the first client call; waited for until its socket exists.
            try client(["tsp", "-S", "\(slots)"])
            let deadline = now() + 10
            while FileSystem.kind(spool.base + "/tsp.socket") == .missing {
                guard now() < deadline else { throw .setup("task-spooler's server did not start within 10 s") }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    /// The job for spec `id`, staged in tmp/.
    private func job(_ id: String) -> [String] {
        ["/bin/sh", "-c", """
        cd \(spool.root) && f=\(id).md && mv tmp/$f claimed/$f || exit 1
        if { read -r _; read -r _; read -r _; read -r _; read -r _; read -r _; /bin/sh -s; } < claimed/$f > logs/\(id).log 2>&1
        then mv claimed/$f done/$f; else mv claimed/$f failed/$f; fi
        """]
    }

    /// Submits the staged spec `id`; returns the monotonic instant just before the client call.
    @discardableResult
    func submit(_ id: String) throws(BenchError) -> Double {
        let t = now()
        try client((kind == .tsp ? ["tsp", "-n"] : ["nq", "-c", "-q"]) + job(id))
        return t
    }

    /// Queues a job that holds the queue until `open()`: everything submitted after it waits.
    func hold() throws(BenchError) {
        try client((kind == .tsp ? ["tsp", "-n"] : ["nq", "-c", "-q"]) + ["/bin/sh", "-c", "while [ ! -e \(spool.base)/gate ]; do sleep 0.005; done"])
    }

    func open() throws(BenchError) {
        do { try FileSystem.writeAtomically([], to: spool.base + "/gate", mode: 0o644, durable: false) } catch { throw .setup("\(error)") }
    }

    /// Sets how many jobs task-spooler runs at once.
    func setSlots(_ n: Int) throws(BenchError) {
        if kind == .tsp { try client(["tsp", "-S", "\(n)"]) }
    }

    /// The queue's own listing (`tsp`; nq's job files), for an error message.
    var listing: String {
        let argv = kind == .tsp ? ["tsp"] : ["ls", "-la", spool.base + "/nq"]
        guard let (_, out, err, _) = try? ChildProcess.run(argv, environment: environment, directory: spool.root, timeout: 10) else { return "" }
        return String(decoding: (out + err).suffix(3000), as: UTF8.self)
    }

    /// Stops task-spooler's server (nq leaves nothing running once its jobs ended).
    func stop() {
        if kind == .tsp { try? client(["tsp", "-K"]) }
    }

    /// Runs a client call to its end, as a shell would: `fork`+`exec`, in a session of its own
    /// (task-spooler's client and nq fork the job's runner, which must outlive the call), output to /dev/null.
    private func client(_ argv: [String]) throws(BenchError) {
        guard let exe = ChildProcess.resolve(argv[0], searchPath: environment["PATH"] ?? "/usr/bin:/bin") else { throw .setup("\(argv[0]) is not installed") }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, 0x80)  // POSIX_SPAWN_SETSID (glibc 2.26), not exported to Swift
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let args = argv.map { strdup($0) } + [nil]
        let env = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (args + env).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attr, args, env)
        guard rc == 0 else { throw .setup("cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
        guard (exited && code == 0) || argv.contains("-K") else {
            throw .workload("\(argv.prefix(3).joined(separator: " ")) ended with status \(status)")
        }
    }
}
