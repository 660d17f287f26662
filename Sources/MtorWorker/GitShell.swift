import Foundation
import MtorCore
import MtorPlatform

/// Runs git and set-up commands for a task: inside the task's containment (when it has one),
/// with a fixed environment and a time limit.
struct GitShell {
    /// What a command did.
    struct Ran {
        var code: Int32?
        var out: [UInt8]
        var err: [UInt8]
        var timedOut = false
        var ok: Bool { code == 0 && !timedOut }
        /// stdout, trimmed.
        var text: String { String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        /// The last lines of stderr (or stdout when stderr is empty), for a reason sentence.
        var said: String {
            let text = String(decoding: err.isEmpty ? out : err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return String(text.split(separator: "\n").suffix(3).joined(separator: " ").suffix(400))
        }
    }

    let environment: [String: String]
    /// The minimal environment agents and `verify` get, for `setup:`.
    let base: [String: String]
    let containment: Containment?

    init(base: [String: String], containment: Containment?) {
        var env = base
        // Never wait for a password, never take optional locks in the user's checkout, stable messages.
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_OPTIONAL_LOCKS"] = "0"
        env["LC_ALL"] = "C"
        self.environment = env
        self.base = base
        self.containment = containment
    }

    /// `git -C dir ARGS`.
    @discardableResult
    func git(_ args: [String], in dir: String, timeout: Double = 300, stdin: [UInt8]? = nil) -> Ran {
        run(["git", "-C", dir] + args, in: dir, timeout: timeout, stdin: stdin)
    }

    /// `git worktree add`, `remove` and `prune` of one repo, one at a time: run side by side,
    /// one deletes `.git/worktrees` under another, or reads another's half-made entry. An add
    /// is kept short (`--no-checkout`; the files are checked out afterwards, in parallel).
    @discardableResult
    func worktreeAdmin(_ args: [String], repo: String) -> Ran {
        let lock = GitShell.adminLock(repo)
        lock.lock()
        defer { lock.unlock() }
        var r = git(["worktree"] + args, in: repo)
        // Another process (a second worker) may still race us: try again, twice.
        var tries = 0
        while !r.ok, args.first == "add", tries < 2, ["could not create", "could not open", "failed to read", "No such file"].contains(where: r.said.contains) {
            tries += 1
            Thread.sleep(forTimeInterval: 0.05 * Double(tries))
            git(["worktree", "prune"], in: repo)
            r = git(["worktree"] + args, in: repo)
        }
        return r
    }

    private static let registry = NSLock()
    nonisolated(unsafe) private static var locks: [String: NSLock] = [:]

    /// The lock of `repo` (after symlinks).
    private static func adminLock(_ repo: String) -> NSLock {
        let key = FileSystem.realPath(repo) ?? repo
        return registry.withLock {
            if let l = locks[key] { return l }
            let l = NSLock()
            locks[key] = l
            return l
        }
    }

    /// `git -C dir ARGS` when it succeeds, its stdout trimmed; nil otherwise.
    func value(_ args: [String], in dir: String) -> String? {
        let r = git(args, in: dir, timeout: 60)
        return r.ok && !r.text.isEmpty ? r.text : nil
    }

    /// Runs `argv` in `dir` to completion (killed after `timeout`).
    func run(_ argv: [String], in dir: String, timeout: Double, stdin: [UInt8]? = nil, environment extra: [String: String]? = nil) -> Ran {
        let env = extra ?? environment
        guard let exe = ChildProcess.resolve(argv[0], searchPath: env["PATH"] ?? "/usr/bin:/bin") else {
            return Ran(code: nil, out: [], err: Array("\(argv[0]) was not found on PATH (\(env["PATH"] ?? ""))".utf8))
        }
        var inputFD: Int32? = nil
        if let stdin { inputFD = try? PrivateFile.readable(bytes: stdin) }
        defer { inputFD.map(FileSystem.closeDescriptor) }
        do {
            let child = try ChildProcess(executable: exe, argv: argv, environment: env, directory: dir, stdinFD: inputFD, containment: containment)
            let r = child.capture(timeout: timeout, limit: 16 << 20)
            return Ran(code: r.timedOut ? nil : (r.0.exitCode ?? 128 + (r.0.signal ?? 0)), out: r.stdout, err: r.stderr, timedOut: r.timedOut)
        } catch {
            return Ran(code: nil, out: [], err: Array("could not start \(argv[0]): \(error)".utf8))
        }
    }
}

