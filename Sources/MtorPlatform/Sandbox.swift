#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What an agent may see and touch: a value built before the task's first process starts and
/// applied at spawn by wrapping the command in bubblewrap (`bwrap`).
///
/// The agent gets new user, mount, PID, IPC, UTS and (where the kernel has it) cgroup
/// namespaces, no capabilities, `no_new_privs`, a fresh `/proc` (so no other process of the host
/// is visible, signalable or traceable), a fresh `/dev` and a private `/tmp`. The rest of the
/// filesystem is read-only; the worker's own places (the spool, the workspaces directory, the
/// env file, its HOME) are hidden behind empty filesystems; only the task's own directory and
/// its own HOME are writable. It dies with the worker.
public struct Sandbox: Sendable, Equatable {
    /// How a host confines agents, as the sidecar, `doctor` and `status` name it.
    public enum Method: String, Sendable, CaseIterable {
        case bwrap
        case none
    }

    /// What the operator asked for (`--sandbox`).
    public enum Preference: String, Sendable, CaseIterable {
        /// bubblewrap, and refuse to start agents where it does not work.
        case auto
        case bwrap
        /// No sandbox: agents run with the worker's view of the machine.
        case none
    }

    /// The `bwrap` executable.
    public var bwrap: String
    /// Directories hidden behind an empty tmpfs (the worker's HOME, /root, /home).
    public var hidden: [String] = []
    /// Directories shown read-only inside a hidden one (the task's repository, whose objects its
    /// clone borrows; the top directory of a program the agent runs).
    public var readable: [String] = []
    /// The worker's own places (the spool, the workspaces directory), hidden even inside a shown directory.
    public var private_: [String] = []
    /// Files replaced by an empty read-only file (the env file, other secrets).
    public var hiddenFiles: [String] = []
    /// What the agent may write: its task directory, its HOME, and any `--sandbox-writable` path.
    public var writable: [String] = []
    /// Read-only again inside a writable path (`.git/config`, `.git/hooks` and `.git/info` of an in-place checkout).
    public var protected: [String] = []
    /// The agent's working directory.
    public var directory: String?

    public init(bwrap: String) { self.bwrap = bwrap }

    /// The namespaces and limits every sandboxed process gets, before its mounts.
    static let confinement = [
        "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
    ]

    /// The argv that runs `argv` (whose program is `executable`) inside this sandbox.
    ///
    /// Mounts go shallowest path first, so the most specific rule for a path wins wherever
    /// they nest (a repository shown again under a hidden HOME, a spool hidden inside a shown
    /// directory, a task directory writable inside the hidden spool); at one path, writable
    /// beats readable beats hidden.
    public func wrap(executable: String, argv: [String]) -> [String] {
        var out = [bwrap] + Self.confinement + ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        var mounts: [(path: String, rank: Int, args: [String])] = []
        for dir in hidden + private_ { mounts.append((dir, 0, ["--tmpfs", dir])) }
        for dir in readable { mounts.append((dir, 1, ["--ro-bind", dir, dir])) }
        for file in hiddenFiles { mounts.append((file, 2, ["--ro-bind", "/dev/null", file])) }
        for dir in writable { mounts.append((dir, 3, ["--bind", dir, dir])) }
        for path in protected { mounts.append((path, 4, ["--ro-bind", path, path])) }
        func depth(_ p: String) -> Int { p.split(separator: "/").count }
        let ordered = mounts.enumerated().sorted { a, b in
            (depth(a.element.path), a.element.rank, a.offset) < (depth(b.element.path), b.element.rank, b.offset)
        }
        for m in ordered { out += m.element.args }
        // The empty filesystems over hidden places take no writes either (their mount points are made by now).
        for dir in hidden + private_ { out += ["--remount-ro", dir] }
        if let directory { out += ["--chdir", directory] }
        out += ["--", executable] + argv.dropFirst()
        return out
    }

    /// A sandboxed process's exit status as its command's: bwrap exits 128+N when the command
    /// died of signal N, which is reported as that signal (a command that itself exits 128+N
    /// looks the same from outside).
    public static func unwrap(_ t: Termination) -> Termination {
        if case .exited(let code) = t, code > 128, code <= 128 + 64 { return .signaled(code - 128) }
        return t
    }

    // MARK: - Building one

    /// The sandbox of one task, from the places the worker knows. Paths that do not exist are left
    /// out (bwrap cannot mount over nothing); every path is made absolute and real first.
    ///
    /// `/tmp`, the worker's HOME, `/root` and `/home` are hidden; what the agent needs from them
    /// comes back read-only: the repository, and the top directory (under a hidden one) of each
    /// program it runs and of each directory on its PATH (a harness installed under a HOME).
    public static func forTask(bwrap: String, workerHome: String?, spool: String, workspaces: String, envFile: String?,
                               taskDirectory: String, home: String, repo: String?, inPlace: Bool,
                               programs: [String], searchPath: String, extraWritable: [String] = []) -> Sandbox {
        var box = Sandbox(bwrap: bwrap)
        box.hidden = unique([workerHome, "/root", "/home", "/run/user", "/var/spool/cron", "/etc/ssh"].compactMap(real))
            .filter { $0 != "/" && $0 != "/tmp" && FileSystem.kind($0) == .directory }
        let repoPath = real(repo)
        let roots = ["/tmp"] + box.hidden
        var readable: [String] = repoPath.map { [$0] } ?? []
        let path = searchPath.split(separator: ":").map(String.init)
        let used = programs.compactMap(real).flatMap { [$0] + interpreters(of: $0, searchPath: path) } + path.compactMap(real)
        for path in used {
            guard let root = roots.first(where: { path.hasPrefix($0 + "/") }) else { continue }
            let first = path.dropFirst(root.count + 1).split(separator: "/").first.map(String.init) ?? ""
            if !first.isEmpty { readable.append("\(root)/\(first)") }
        }
        box.readable = unique(readable).filter { FileSystem.exists($0) }
        box.private_ = unique([spool, workspaces].compactMap(real)).filter { $0 != "/" && FileSystem.kind($0) == .directory }
        box.hiddenFiles = unique([envFile, "/etc/shadow", "/etc/gshadow", "/etc/sudoers"].compactMap(real))
            .filter { if case .regular = FileSystem.kind($0) { return true } else { return false } }
        // The task's directory may not exist yet (its clone is made next): its parent is real.
        let task = real(taskDirectory)
            ?? real(FileSystem.directory(of: taskDirectory)).map { $0 + "/" + (taskDirectory.split(separator: "/").last.map(String.init) ?? "") }
        var writable = [task, real(home)].compactMap { $0 }
        if inPlace, let repoPath {
            writable.append(repoPath)
            // The agent works in the user's checkout on purpose; what would run later stays read-only.
            box.protected = ["config", "hooks", "info", "modules"].map { "\(repoPath)/.git/\($0)" }.filter(FileSystem.exists)
        }
        box.writable = unique(writable + extraWritable.compactMap(real))
        box.directory = inPlace ? repoPath : task
        return box
    }

    /// The interpreter chain of a script (`#!/path/python`, `#!/usr/bin/env node`), made real:
    /// a harness installed in a virtualenv runs a Python that may live under a hidden HOME.
    static func interpreters(of program: String, searchPath: [String], depth: Int = 0) -> [String] {
        guard depth < 4, case .regular = FileSystem.kind(program), let file = FileHandle(forReadingAtPath: program) else { return [] }
        defer { try? file.close() }
        let head = [UInt8]((try? file.read(upToCount: 512)) ?? Data())
        guard head.starts(with: Array("#!".utf8)) else { return [] }
        let line = String(decoding: head.dropFirst(2).prefix { $0 != 10 }, as: UTF8.self)
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard var interpreter = words.first else { return [] }
        if FileSystem.basename(of: interpreter) == "env", let name = words.dropFirst().first(where: { !$0.hasPrefix("-") }) {
            guard let found = searchPath.lazy.map({ "\($0)/\(name)" }).first(where: FileSystem.exists) else { return [] }
            interpreter = found
        }
        guard let resolved = real(interpreter) else { return [] }
        return [resolved] + interpreters(of: resolved, searchPath: searchPath, depth: depth + 1)
    }

    private static func real(_ p: String?) -> String? {
        guard let p, !p.isEmpty else { return nil }
        return FileSystem.realPath(p) ?? (FileSystem.exists(p) ? p : nil)
    }

    private static func unique(_ paths: [String]) -> [String] {
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    // MARK: - Whether this host can

    /// Finds `bwrap` on `searchPath`.
    public static func findBwrap(searchPath: String = "/usr/local/bin:/usr/bin:/bin") -> String? {
        ChildProcess.resolve("bwrap", searchPath: searchPath)
    }

    /// Runs `/bin/true` in a sandbox of the kind tasks get; nil when it works, else why not and how to fix it.
    public static func probe(bwrap: String?) -> String? {
        guard let bwrap else {
            return "bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
        }
        var box = Sandbox(bwrap: bwrap)
        box.directory = "/"
        let argv = box.wrap(executable: "/bin/true", argv: ["/bin/true"])
        let r: (Termination, stdout: [UInt8], stderr: [UInt8], timedOut: Bool)
        do {
            r = try ChildProcess.run(argv, environment: ["PATH": "/usr/bin:/bin"], timeout: 20)
        } catch {
            return "\(bwrap) could not be started: \(error)"
        }
        if r.0 == .exited(0) { return nil }
        let said = String(decoding: r.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var why = "\(bwrap) cannot make a sandbox here: \(said.isEmpty ? "it exited \(r.0)" : said)"
        if said.contains("uid map") || said.contains("Permission denied") || said.contains("Operation not permitted")
            || said.contains("No permissions") {
            why += "; unprivileged user namespaces look disabled: allow them (sysctl kernel.apparmor_restrict_unprivileged_userns=0 on "
                + "Ubuntu 23.10+, or an AppArmor profile for bwrap; sysctl user.max_user_namespaces=15000; sysctl "
                + "kernel.unprivileged_userns_clone=1 on older Debian)"
        }
        return why
    }
}
