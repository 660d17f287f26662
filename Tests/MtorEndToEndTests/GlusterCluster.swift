import Foundation
import Testing
import MtorPlatform

/// A real GlusterFS volume on loopback and "hosts" that share it: each host is a mount and UTS
/// namespace (`unshare --mount --uts`) with its own hostname and its own FUSE client of the volume,
/// mounted at the same path as the test's own client, so a spool path means the same everywhere.
/// One cluster serves a whole suite; `shutdown()` unmounts, deletes the volume and stops the
/// glusterd it started, whatever happened. A test may make a cluster of its own with another
/// layout (several bricks: DHT; `replica`: AFR): it uses the glusterd already running, and its
/// `shutdown()` deletes only its volume.
final class GlusterCluster: @unchecked Sendable {
    /// Why these tests cannot run here, or nil.
    static let unavailable: String? = {
        if getuid() != 0 { return "GlusterFS tests need root (glusterd, FUSE mounts, namespaces), as CI runs" }
        if !FileManager.default.fileExists(atPath: "/dev/fuse") { return "GlusterFS tests need /dev/fuse" }
        for tool in ["/usr/sbin/glusterd", "/usr/sbin/gluster", "/usr/sbin/glusterfs", "/usr/bin/unshare", "/usr/bin/nsenter"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (apt-get install glusterfs-server util-linux; .ci/run installs it)"
        }
        return nil
    }()

    static let sbin = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    let root: String
    let volume: String
    let server = FileSystem.hostName()
    /// The test's own client: where specs are dropped and results read.
    let mount: String
    private var startedGlusterd: Int32?
    private var hosts: [Host] = []

    /// A "host": the namespace holder process, its FUSE client, and its worker.
    final class Host {
        let name: String
        let holder: Driven
        let clientPidFile: String
        var worker: Driven?
        let logPath: String
        init(name: String, holder: Driven, clientPidFile: String, logPath: String) {
            self.name = name
            self.holder = holder
            self.clientPidFile = clientPidFile
            self.logPath = logPath
        }
        var clientPid: Int32? { (try? String(contentsOfFile: clientPidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    }

    /// The bricks' directories, in the order they were given to `volume create`.
    let bricks: [String]

    /// A volume of `bricks` bricks on this server: one brick, or distributed over several (DHT),
    /// or with `replica` copies of each file (AFR; `bricks` a multiple of it).
    init(bricks count: Int = 1, replica: Int? = nil) throws {
        let root = NSTemporaryDirectory() + "mtor-gluster-\(UUID().uuidString.prefix(8))"
        self.root = root
        // The creating process's pid in the name: a later run deletes volumes whose creator is gone.
        volume = "mtor\(getpid())x\(UUID().uuidString.prefix(8).lowercased())"
        mount = root + "/vol"
        bricks = count == 1 ? [root + "/brick"] : (0..<count).map { "\(root)/brick\($0)" }
        for dir in bricks + [mount, root + "/run"] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        do {
            try startGlusterd()
            removeAbandonedVolumes()
            let layout = replica.map { "replica \($0) " } ?? ""
            try sh("gluster --mode=script volume create \(volume) \(layout)\(bricks.map { "\(server):\($0)" }.joined(separator: " ")) force && gluster --mode=script volume start \(volume)")
            try mountClient(at: mount, pidFile: root + "/run/test-client.pid")
        } catch {
            shutdown()
            throw error
        }
    }

    /// The pid of each brick's server process (`glusterfsd`), by brick directory, from `volume status --xml`.
    func brickPids() throws -> [String: Int32] {
        let xml = try sh("gluster --mode=script volume status \(volume) --xml")
        var out: [String: Int32] = [:]
        for node in xml.components(separatedBy: "<node>").dropFirst() {
            func field(_ name: String) -> String? {
                guard let a = node.range(of: "<\(name)>"), let b = node.range(of: "</\(name)>", range: a.upperBound..<node.endIndex) else { return nil }
                return String(node[a.upperBound..<b.lowerBound])
            }
            if let path = field("path"), bricks.contains(path), let pid = field("pid").flatMap({ Int32($0) }), pid > 0 { out[path] = pid }
        }
        return out
    }

    /// Starts the bricks that are down again (`volume start force`).
    func restartBricks() throws { try sh("gluster --mode=script volume start \(volume) force") }

    /// Runs a shell command as root; throws with its output when it fails.
    @discardableResult
    func sh(_ command: String, timeout: Double = 120) throws -> String {
        let r = try ChildProcess.run(["/bin/sh", "-c", command], environment: GlusterCluster.sbin, timeout: timeout)
        let out = String(decoding: r.stdout + r.stderr, as: UTF8.self)
        guard r.0.succeeded else { throw SandboxError("`\(command)` failed: \(out)") }
        return out
    }

    private func startGlusterd() throws {
        // A glusterd already running (not ours) answers; then it is used and left running.
        if (try? sh("timeout 10 gluster --mode=script volume list", timeout: 15)) != nil { return }
        let pidFile = root + "/run/glusterd.pid"
        try sh("glusterd -p \(pidFile)")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? sh("timeout 10 gluster --mode=script volume list", timeout: 15)) != nil {
                startedGlusterd = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw SandboxError("glusterd did not answer within 30 s")
    }

    /// Deletes volumes an earlier test process made (`mtor<pid>x…`) and left behind when it died:
    /// its pid no longer exists. Volumes of live processes (another run on this machine) stay.
    private func removeAbandonedVolumes() {
        let names = ((try? sh("timeout 20 gluster --mode=script volume list", timeout: 25)) ?? "").split(whereSeparator: \.isNewline).map(String.init)
        for name in names where name.hasPrefix("mtor") {
            guard let x = name.dropFirst(4).firstIndex(of: "x"), let pid = Int32(name.dropFirst(4)[..<x]), !ProcessControl.isAlive(pid) else { continue }
            // Its root is where its bricks are (".../mtor-gluster-XXXX/brick…"); its mounts are under it.
            let info = (try? sh("timeout 20 gluster --mode=script volume info \(name)", timeout: 25)) ?? ""
            let brick = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("Brick1:") }.flatMap { $0.split(separator: ":").last }.map(String.init)
            let root = brick.map(FileSystem.directory(of:)).flatMap { $0.contains("/mtor-gluster-") ? $0 : nil }
            if let root { _ = try? sh("umount -l \(root)/vol 2>/dev/null; umount -l \(root)/vol2 2>/dev/null; true") }
            deleteVolume(name)
            if let root { try? FileManager.default.removeItem(atPath: root) }
        }
    }

    /// Stops and deletes a volume, again while glusterd says another transaction is in progress.
    private func deleteVolume(_ name: String) {
        let deadline = Date().addingTimeInterval(60)
        repeat {
            _ = try? sh("timeout 30 gluster --mode=script volume stop \(name) force", timeout: 35)
            if (try? sh("timeout 30 gluster --mode=script volume delete \(name)", timeout: 35)) != nil { return }
            if (try? sh("timeout 20 gluster --mode=script volume info \(name)", timeout: 25)) == nil { return }
            Thread.sleep(forTimeInterval: 1)
        } while Date() < deadline
    }

    /// The FUSE client command: what `mount -t glusterfs` runs, with a pid file to find it by.
    func clientCommand(at path: String, pidFile: String) -> String {
        "glusterfs --process-name fuse --volfile-server=\(server) --volfile-id=\(volume) -p \(pidFile) --log-file=\(root)/run/\(FileSystem.basename(of: pidFile)).log \(path)"
    }

    /// A second client of the volume in the test's own namespace (another "host's" mount).
    func secondMount() throws -> String {
        let path = root + "/vol2"
        if FileSystem.kind(path) == .missing {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try mountClient(at: path, pidFile: root + "/run/second-client.pid")
        }
        return path
    }

    private func mountClient(at path: String, pidFile: String) throws {
        try sh(clientCommand(at: path, pidFile: pidFile) + " && for i in $(seq 100); do grep -q ' \(path) fuse' /proc/self/mounts && exit 0; sleep 0.1; done; exit 1")
    }

    /// Starts host `name`: a namespace with that hostname whose only view of the volume is its own
    /// client; each `binds` pair (own, shared) shows this host's own directory at a shared path
    /// (its own HOME and repos, as on a real host).
    func addHost(_ name: String, binds: [(String, String)] = []) throws -> Host {
        let pidFile = "\(root)/run/\(name)-client.pid"
        let ready = "\(root)/run/\(name).ready"
        let script = """
            hostname \(name) && umount -l \(mount) && \(binds.map { "mount --bind \($0.0) \($0.1) && " }.joined())\(clientCommand(at: mount, pidFile: pidFile)) && \
            for i in $(seq 100); do grep -q ' \(mount) fuse' /proc/self/mounts && break; sleep 0.1; done && \
            touch \(ready) && exec sleep 100000
            """
        let holder = try Driven(ChildProcess(executable: "/usr/bin/unshare", argv: ["unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh", "-c", script],
                                             environment: GlusterCluster.sbin, directory: "/"))
        let host = Host(name: name, holder: holder, clientPidFile: pidFile, logPath: "\(root)/run/\(name)-worker.log")
        hosts.append(host)
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: ready) {
            guard Date() < deadline, holder.isRunning else { throw SandboxError("host \(name) did not come up") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return host
    }

    /// Starts `mtor worker ARGS` inside `host`'s namespaces (nsenter execs it: the pid is the worker's).
    func startWorker(on host: Host, _ args: [String], environment: [String: String]) throws {
        let argv = ["nsenter", "--target", String(host.holder.pid), "--mount", "--uts", "--", "/bin/sh", "-c",
                    "exec \"$0\" \"$@\" >>\(host.logPath) 2>&1", mtorBinary, "worker"] + Sandbox.testDefaults(args)
        host.worker = try Driven(ChildProcess(executable: "/usr/bin/nsenter", argv: argv, environment: environment, directory: "/"))
    }

    /// SIGKILLs the host's worker and reaps it.
    func killWorker(_ host: Host) {
        guard let w = host.worker else { return }
        w.child.signal(SIGKILL)
        w.waitGone()
        host.worker = nil
    }

    /// The whole host dies: its worker, its FUSE client and the namespace holder, all SIGKILLed.
    func killHost(_ host: Host) {
        killWorker(host)
        if let client = host.clientPid { kill(client, SIGKILL) }
        host.holder.child.signal(SIGKILL)
        host.holder.waitGone()
    }

    /// Stops everything this cluster started, in order; safe to call twice.
    func shutdown() {
        for host in hosts {
            if let w = host.worker { w.child.signal(SIGTERM) }
        }
        for host in hosts {
            if let w = host.worker {
                let deadline = Date().addingTimeInterval(10)
                while w.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
                w.child.signal(SIGKILL)
                w.waitGone()
                host.worker = nil
            }
            if let client = host.clientPid, ProcessControl.isAlive(client) { kill(client, SIGTERM) }
            if host.holder.isRunning { host.holder.child.signal(SIGKILL); host.holder.waitGone() }
        }
        hosts = []
        _ = try? sh("umount -l \(mount) 2>/dev/null; umount -l \(root)/vol2 2>/dev/null; true")
        for client in ["test-client", "second-client"] {
            if let pid = (try? String(contentsOfFile: "\(root)/run/\(client).pid", encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
               ProcessControl.isAlive(pid) { kill(pid, SIGTERM) }
        }
        deleteVolume(volume)
        if let pid = startedGlusterd {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while ProcessControl.isAlive(pid), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            startedGlusterd = nil
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    deinit { shutdown() }
}

/// A child whose output is drained (and whose exit is reaped) by a thread of its own.
final class Driven: @unchecked Sendable {
    let child: ChildProcess
    private let lock = NSLock()
    private var ended = false
    var pid: Int32 { child.pid }

    init(_ child: ChildProcess) {
        self.child = child
        let thread = Thread { [child] in
            _ = child.drive(onOutput: { _, _ in }, stop: { false })
            self.lock.withLock { self.ended = true }
        }
        thread.start()
    }

    var isRunning: Bool { lock.withLock { !ended } }

    /// Waits (up to 30 s) until it has exited and been reaped.
    func waitGone() {
        let deadline = Date().addingTimeInterval(30)
        while isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    }
}
