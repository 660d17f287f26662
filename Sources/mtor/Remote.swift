import Foundation
import MtorPlatform
import MtorWorker

/// `[user@]host:SPOOL`: a spool on another machine.
struct RemoteSpool {
    /// What ssh is given: `user@host` (IPv6 without brackets).
    var login: String
    /// What scp and rsync are given before the `:`.
    var scpLogin: String
    /// SPOOL as written; `~/` means the remote home.
    var path: String

    init(_ text: String) throws(WorkerError) {
        var hostPart: Substring, rest: Substring
        if let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]"), open < close,
           text[close...].dropFirst().first == ":" {
            hostPart = text[..<text.index(after: close)]
            rest = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.firstIndex(of: ":") {
            hostPart = text[..<colon]
            rest = text[text.index(after: colon)...]
        } else {
            throw .usage("--to wants [user@]host:SPOOL, got '\(text)'")
        }
        guard !hostPart.isEmpty, !hostPart.hasPrefix("-"), !rest.isEmpty else {
            throw .usage("--to wants [user@]host:SPOOL (both parts), got '\(text)'")
        }
        scpLogin = String(hostPart)
        login = scpLogin.replacingOccurrences(of: "[", with: "").replacingOccurrences(of: "]", with: "")
        path = String(rest)
    }

    /// The spool path as one word of a remote shell command, with `~/` left for the remote shell.
    var shellWord: String {
        if path == "~" { return "\"$HOME\"" }
        if path.hasPrefix("~/") { return "\"$HOME\"/" + SSH.quote(String(path.dropFirst(2))) }
        return SSH.quote(path)
    }

    var display: String { "\(scpLogin):\(path)" }
}

/// The system `ssh`, `scp` and `rsync`, so the user's `~/.ssh/config` and agent apply.
struct SSH {
    /// `--ssh-config FILE` or `$MTOR_SSH_CONFIG`: passed as `-F` to every ssh.
    var config: String?
    /// `--remote-mtor PATH` or `$MTOR_REMOTE_MTOR`: the mtor binary on the other side.
    var remoteMtor: String

    init(_ args: Arguments) {
        let env = ProcessInfo.processInfo.environment
        config = args.values["--ssh-config"] ?? env["MTOR_SSH_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        remoteMtor = args.values["--remote-mtor"] ?? env["MTOR_REMOTE_MTOR"].flatMap { $0.isEmpty ? nil : $0 } ?? "mtor"
    }

    /// Options every ssh gets: the config file and no password prompts.
    var options: [String] { (config.map { ["-F", $0] } ?? []) + ["-o", "BatchMode=yes"] }

    /// `ssh OPTIONS -- host 'word' 'word' ...`: each word quoted for the remote shell unless marked raw.
    func command(_ remote: RemoteSpool, _ words: [String], raw: Set<Int> = []) -> [String] {
        ["ssh"] + options + ["--", remote.login,
                             words.enumerated().map { raw.contains($0.offset) ? $0.element : SSH.quote($0.element) }.joined(separator: " ")]
    }

    /// The `-e` value for rsync.
    var rsyncShell: String { (["ssh"] + options).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") }

    /// Quotes a word for a POSIX shell.
    static func quote(_ word: String) -> String {
        if !word.isEmpty, word.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_./=:@,+%".unicodeScalars.contains($0) }) {
            return word
        }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    // MARK: - Running

    /// Runs `argv` to completion and captures its output.
    static func run(_ argv: [String], timeout: Double = 120) throws(WorkerError) -> (code: Int32, out: String, err: String) {
        let (code, out, err) = try stream(argv, forwardStdout: false, forwardStderr: false, timeout: timeout)
        return (code, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Runs `argv`, passing its output through as it arrives (or capturing it), and returns its exit status.
    /// SIGINT/SIGTERM/SIGHUP to mtor stop the child's whole process group first.
    @discardableResult
    static func stream(_ argv: [String], forwardStdout: Bool = true, forwardStderr: Bool = true,
                       timeout: Double = .infinity) throws(WorkerError) -> (code: Int32, out: [UInt8], err: [UInt8]) {
        let environment = ProcessInfo.processInfo.environment
        guard let exe = ChildProcess.resolve(argv[0], searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw .environment("'\(argv[0])' is not installed (not found on PATH)")
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: exe, argv: argv, environment: environment, directory: nil)
        } catch {
            throw .environment("cannot run \(argv[0]): \(error)")
        }
        ChildGroup.enter(child.pid)
        defer { ChildGroup.leave() }
        var out: [UInt8] = [], err: [UInt8] = []
        let deadline = now() + timeout
        let t = child.drive(grace: 2, onOutput: { stream, bytes in
            if stream == .stdout {
                if forwardStdout { FileHandle.standardOutput.write(Data(bytes)) } else if out.count < 1 << 24 { out.append(contentsOf: bytes) }
            } else {
                if forwardStderr { FileHandle.standardError.write(Data(bytes)) } else if err.count < 1 << 20 { err.append(contentsOf: bytes) }
            }
        }, stop: { now() >= deadline })
        return (t.exitCode ?? 128 + (t.signal ?? 0), out, err)
    }

    /// Runs `mtor COMMAND ...` on the spool's machine and passes its output and exit code through.
    func forward(_ command: String, _ args: Arguments, remote: RemoteSpool) throws(WorkerError) -> Int32 {
        let localOnly: Set<String> = ["--to", "--via", "--spool", "--ssh-config", "--remote-mtor"]
        var words = [remoteMtor, command, "--spool", remote.shellWord]
        for (k, v) in args.values.sorted(by: { $0.key < $1.key }) where !localOnly.contains(k) { words += [k, v] }
        words += args.flags.sorted() + ["--"] + args.positional
        let argv = self.command(remote, words, raw: [3])
        return try check(SSH.stream(argv).code, remote: remote)
    }

    /// Maps what ssh and the remote shell say about themselves to mtor's exit codes.
    func check(_ code: Int32, remote: RemoteSpool, stderr: String = "") throws(WorkerError) -> Int32 {
        switch code {
        case 255: throw .environment("ssh to \(remote.login) failed\(stderr.isEmpty ? "" : ": \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))") (check the host, your key and ~/.ssh/config; mtor runs ssh with BatchMode=yes, so it never asks for a password)")
        case 126, 127: throw .environment("'\(remoteMtor)' cannot be run on \(remote.login); install mtor there or pass --remote-mtor PATH (non-interactive ssh often has a short PATH)")
        default: return code
        }
    }
}

/// The process group mtor is waiting on, so a signal to mtor stops it too (it runs in a group of its own).
/// The group lives in an atomic (`ProcessControl.forwardGroup`), which the signal handler may read at any moment.
enum ChildGroup {
    static func enter(_ pgid: Int32) {
        ProcessControl.forwardGroup = pgid
        for s in [SIGINT, SIGTERM, SIGHUP] { signal(s, forwardSignal) }
    }

    static func leave() { ProcessControl.forwardGroup = 0 }
}

private let forwardSignal: @convention(c) (Int32) -> Void = { sig in
    let group = ProcessControl.forwardGroup
    if group > 0 { ProcessControl.signalGroup(group, SIGTERM) }
    signal(sig, SIG_DFL)
    raise(sig)
}
