import Foundation
import MtorPlatform

/// A real OpenSSH server on a loopback port, with host and client keys made for one test,
/// and a client config (`config`, for `-F` / `$MTOR_SSH_CONFIG`) naming two hosts:
/// `mtor-test` (direct) and `mtor-slow` (through a proxy that throttles the upload).
final class SSHServer {
    static let sshd = "/usr/sbin/sshd"

    /// Why the ssh tests cannot run here, or nil when sshd, ssh, scp, rsync and ssh-keygen are installed.
    static var unavailable: String? {
        let missing = [sshd, "/usr/bin/ssh", "/usr/bin/scp", "/usr/bin/ssh-keygen", "/usr/bin/rsync", "/usr/bin/python3"]
            .filter { !FileManager.default.isExecutableFile(atPath: $0) }
        return missing.isEmpty ? nil : "not installed: \(missing.joined(separator: ", ")) (.ci/run installs openssh-server, openssh-client and rsync)"
    }

    let dir: String
    let config: String
    private(set) var port = 0
    private var child: ChildProcess?
    private let sink = OutputSink()

    /// Starts sshd in `dir` (created) and waits until it listens.
    init(in dir: String, throttle bytesPerSecond: Int = 65536) throws {
        self.dir = dir
        config = dir + "/ssh_config"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // sshd's privilege separation directory; Debian creates it only when the service starts.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        for key in ["host_key", "client_key"] {
            try SSHServer.run(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mtor-test-\(key)", "-f", "\(dir)/\(key)"])
        }
        try FileManager.default.copyItem(atPath: "\(dir)/client_key.pub", toPath: "\(dir)/authorized_keys")
        let hostKey = try String(contentsOfFile: "\(dir)/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try "mtor-test-host \(hostKey)\n".write(toFile: "\(dir)/known_hosts", atomically: true, encoding: .utf8)
        try SSHServer.throttleScript.write(toFile: "\(dir)/throttle.py", atomically: true, encoding: .utf8)
        var lastError = ""
        for _ in 0..<8 {
            port = Int.random(in: 20000...60000)
            try serverConfig.write(toFile: "\(dir)/sshd_config", atomically: true, encoding: .utf8)
            try clientConfig(throttle: bytesPerSecond).write(toFile: config, atomically: true, encoding: .utf8)
            let started = try ChildProcess(executable: SSHServer.sshd, argv: [SSHServer.sshd, "-D", "-e", "-f", "\(dir)/sshd_config"],
                                           environment: ["PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C.UTF-8"], directory: dir)
            child = started
            let sink = self.sink
            Thread { _ = started.drive(onOutput: { _, bytes in sink.append(bytes) }, stop: { false }) }.start()
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, !sink.text.contains("Server listening"), ProcessControl.isAlive(started.pid) {
                Thread.sleep(forTimeInterval: 0.02)
            }
            if sink.text.contains("Server listening on 127.0.0.1 port \(port)") { return }
            lastError = sink.text
            stop()
        }
        throw SandboxError("sshd did not start: \(lastError)")
    }

    deinit { stop() }

    func stop() {
        guard let child else { return }
        child.signal(SIGTERM, group: true)
        self.child = nil
    }

    var log: String { sink.text }

    private var serverConfig: String {
        """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(dir)/host_key
        PidFile \(dir)/sshd.pid
        AuthorizedKeysFile \(dir)/authorized_keys
        PermitRootLogin yes
        StrictModes no
        UsePAM no
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        MaxStartups 100
        MaxSessions 100
        Subsystem sftp internal-sftp
        LogLevel INFO

        """
    }

    private func clientConfig(throttle: Int) -> String {
        """
        Host mtor-test mtor-slow
          HostName 127.0.0.1
          Port \(port)
          User root
          IdentityFile \(dir)/client_key
          IdentitiesOnly yes
          HostKeyAlias mtor-test-host
          UserKnownHostsFile \(dir)/known_hosts
          GlobalKnownHostsFile /dev/null
          StrictHostKeyChecking yes
          ControlMaster no
          LogLevel ERROR
        Host mtor-slow
          ProxyCommand /usr/bin/python3 \(dir)/throttle.py %h %p \(throttle)

        """
    }

    /// A ProxyCommand that relays to sshd, sending at most N bytes a second upstream.
    private static let throttleScript = """
        import os, socket, sys, threading, time
        host, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        s = socket.create_connection((host, port))
        def up():
            while True:
                data = os.read(0, 4096)
                if not data:
                    s.shutdown(socket.SHUT_WR)
                    return
                s.sendall(data)
                time.sleep(len(data) / rate)
        threading.Thread(target=up, daemon=True).start()
        while True:
            data = s.recv(65536)
            if not data:
                os._exit(0)
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]

        """

    private static func run(_ argv: [String]) throws {
        let r = try ChildProcess.run(argv, environment: ["PATH": "/usr/bin:/bin"])
        guard r.0.succeeded else { throw SandboxError("\(argv.joined(separator: " ")) failed: \(String(decoding: r.stderr, as: UTF8.self))") }
    }
}
