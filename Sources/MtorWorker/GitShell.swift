import Foundation
import MtorCore
import MtorPlatform

/// Runs git and set-up commands for a task: inside the task's containment (when it has one),
/// with a fixed environment and a time limit.
///
/// Two ways in, and nothing else runs a process for a task:
/// - `git(_:in:)` is git run by the worker (or the CLI) itself, in a user's repository. Nothing
///   from that repository runs: hooks are off and every configuration key that names a program
///   is overridden on the command line (`hardening`).
/// - `confined(_:in:timeout:)` is every process that runs in a task's clone once an agent may
///   have touched it, and `setup:`. It runs inside the task's containment (and, with a sandbox,
///   inside the agent's sandbox): what the agent left there can do no more than the agent could.
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

    /// The environment of every git the worker runs.
    let environment: [String: String]
    /// The minimal environment agents and `verify` get, for `setup:`.
    let base: [String: String]
    let containment: Containment?
    /// The task's sandbox: `confined` runs inside it (nil under `--sandbox none`, and for the worker's own git).
    var sandbox: TaskSandbox?

    init(base: [String: String], containment: Containment?, sandbox: TaskSandbox? = nil) {
        self.sandbox = sandbox
        var env = base
        // Never wait for a password, never take optional locks in the user's checkout, stable messages.
        env["GIT_TERMINAL_PROMPT"] = "0"
        env["GIT_OPTIONAL_LOCKS"] = "0"
        env["LC_ALL"] = "C"
        // No system-wide configuration, no program asked for a password, no external diff, no pager.
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_ASKPASS"] = ""
        env["SSH_ASKPASS"] = ""
        env["GIT_PAGER"] = "cat"
        env["GIT_PROXY_COMMAND"] = ""
        for name in ["GIT_EXTERNAL_DIFF", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "GIT_CONFIG_PARAMETERS",
                     "GIT_CONFIG_COUNT", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"] {
            env[name] = nil
        }
        self.environment = env
        self.base = base
        self.containment = containment
    }

    /// `git -C dir ARGS`, run by the worker with nothing from the repository running (`hardening`);
    /// `config` are more `-c` options of the caller's.
    @discardableResult
    func git(_ args: [String], in dir: String, timeout: Double = 300, stdin: [UInt8]? = nil, config: [String] = []) -> Ran {
        var found: [UInt8] = []
        if !Self.runsNoDriver.contains(args.first ?? "") {
            let r = run(["git", "-C", dir, "config", "--list", "--null", "--includes", "--show-scope"], in: dir, timeout: 60)
            if r.ok { found = r.out }
        }
        return run(["git", "-C", dir] + Self.hardening(config: found) + config + Self.quiet(args), in: dir, timeout: timeout, stdin: stdin)
    }

    /// Plumbing that never runs a filter, a diff or merge driver or a credential helper, so the
    /// fixed hardening is enough and the repository's configuration need not be read first
    /// (`cat-file` only as used here: `-e`, `-t` and `blob`, never `--filters` or `--textconv`).
    static let runsNoDriver: Set<String> = ["rev-parse", "update-ref", "show-ref", "merge-base", "symbolic-ref", "config", "for-each-ref",
                                            "cat-file", "commit-tree"]

    /// Runs `argv` in `dir` inside the task's containment: `setup:`, and every command that runs
    /// in a task's clone after its agent started (the agent owns that clone's `.git`, so its
    /// configuration and hooks are the agent's). The one place a sandbox wraps such a command.
    func confined(_ argv: [String], in dir: String, timeout: Double, environment: [String: String]? = nil) -> Ran {
        var env = environment ?? base
        sandbox?.adjust(&env)
        return run(argv, in: dir, timeout: timeout, environment: env, sandbox: sandbox?.box)
    }

    /// `git ARGS` in the task's clone at `dir`, through `confined`, with the same hardening as
    /// `git(_:in:)` (read from the clone's own configuration, also through `confined`). The clone
    /// is named explicitly (`--git-dir`, `--work-tree`): a `.git` file the agent left never
    /// points it elsewhere.
    func confinedGit(_ args: [String], in dir: String, timeout: Double = 300, config: [String] = []) -> Ran {
        let place = ["git", "--git-dir=\(dir)/.git", "--work-tree=\(dir)"]
        let found = confined(place + ["config", "--list", "--null", "--includes", "--show-scope"], in: dir, timeout: 60, environment: environment)
        return confined(place + Self.hardening(config: found.ok ? found.out : []) + config + Self.quiet(args), in: dir, timeout: timeout,
                        environment: environment)
    }

    // MARK: - Hardening

    /// The `-c` options that keep every program a repository's configuration names from running
    /// (git 2.39's `git help config`): hooks, fsmonitor, pagers, editors, ssh and proxy commands,
    /// credential helpers, ask-pass programs, signing programs, external diffs, the alternate
    /// refs command, the `ext::` transport, submodule recursion (a submodule has a configuration
    /// of its own) and automatic gc. `--no-pager` keeps `pager.<cmd>` off.
    static let fixedHardening: [String] = [
        "core.hooksPath=/dev/null", "core.fsmonitor=false", "core.pager=cat", "core.editor=true", "sequence.editor=true",
        // An empty core.sshCommand would run an empty command: plain `ssh` is git's own default.
        "core.sshCommand=ssh", "core.gitProxy=", "core.askPass=", "core.alternateRefsCommand=",
        "diff.external=", "credential.helper=", "gpg.program=", "gpg.openpgp.program=", "gpg.x509.program=", "gpg.ssh.program=",
        "gpg.ssh.defaultKeyCommand=", "commit.gpgSign=false", "tag.gpgSign=false", "push.gpgSign=false", "log.showSignature=false",
        "merge.verifySignatures=false", "protocol.ext.allow=never", "submodule.recurse=false", "fetch.recurseSubmodules=false",
        "push.recurseSubmodules=no", "gc.auto=0", "maintenance.auto=false", "uploadpack.packObjectsHook=",
    ].flatMap { ["-c", $0] }

    /// `fixedHardening`, plus an override of every key of the families a repository can name
    /// freely that run a program, found in `config` (the output of `git config --list --null
    /// --includes --show-scope`, which runs nothing): `filter.<x>.clean/smudge/process`,
    /// `diff.<x>.command/textconv`, `merge.<x>.driver`, `credential.<url>.helper`,
    /// `remote.<x>.uploadpack/receivepack`, `difftool/mergetool.<x>.cmd`,
    /// `trailer.<x>.command/cmd`. Keys from the worker user's own `~/.gitconfig` (scope `global`)
    /// are the worker's, like its binary, and stay (git-lfs keeps working in a task's clone);
    /// every other scope is the repository's (or what it includes).
    static func hardening(config: [UInt8]) -> [String] {
        var extra: [String] = [], seen: Set<String> = []
        let fields = config.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var i = 0
        while i + 1 < fields.count {
            let scope = fields[i], key = String(fields[i + 1].prefix { $0 != "\n" })
            i += 2
            guard scope != "global", let value = override(key), !seen.contains(key.lowercased()) else { continue }
            seen.insert(key.lowercased())
            extra += ["-c", "\(key)=\(value)"]
        }
        return ["--no-pager"] + fixedHardening + extra
    }

    /// What a key that runs a program is set to instead, or nil when the key runs nothing.
    static func override(_ key: String) -> String? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let section = parts.first?.lowercased(), let name = parts.last?.lowercased() else { return nil }
        switch (section, name) {
        case ("filter", "clean"), ("filter", "smudge"): return "cat"
        case ("filter", "process"): return ""
        case ("filter", "required"): return "false"
        case ("diff", "command"): return ""
        case ("diff", "textconv"): return "cat"
        case ("merge", "driver"): return ""
        case ("credential", "helper"): return ""
        case ("remote", "uploadpack"): return "git-upload-pack"
        case ("remote", "receivepack"): return "git-receive-pack"
        case ("difftool", "cmd"), ("mergetool", "cmd"), ("trailer", "command"), ("trailer", "cmd"): return "true"
        default: return nil
        }
    }

    /// `args` with `--no-ext-diff --no-textconv` after a diff, log or show subcommand.
    static func quiet(_ args: [String]) -> [String] {
        guard let first = args.first, ["diff", "log", "show"].contains(first) else { return args }
        return [first, "--no-ext-diff", "--no-textconv"] + args.dropFirst()
    }

    /// HEAD's commit: read from `.git` directly (no process to spawn), else from `git rev-parse`.
    func head(_ repo: String) -> String? {
        Git.readHead(repo) ?? value(["rev-parse", "--verify", "-q", "HEAD"], in: repo)
    }

    /// `git -C dir ARGS` when it succeeds, its stdout trimmed; nil otherwise.
    func value(_ args: [String], in dir: String) -> String? {
        let r = git(args, in: dir, timeout: 60)
        return r.ok && !r.text.isEmpty ? r.text : nil
    }

    /// Runs `argv` in `dir` to completion (killed after `timeout`).
    func run(_ argv: [String], in dir: String, timeout: Double, stdin: [UInt8]? = nil, environment extra: [String: String]? = nil,
             sandbox: Sandbox? = nil) -> Ran {
        let env = extra ?? environment
        guard let exe = ChildProcess.resolve(argv[0], searchPath: env["PATH"] ?? "/usr/bin:/bin") else {
            return Ran(code: nil, out: [], err: Array("\(argv[0]) was not found on PATH (\(env["PATH"] ?? ""))".utf8))
        }
        var inputFD: Int32? = nil
        if let stdin { inputFD = try? PrivateFile.readable(bytes: stdin) }
        defer { inputFD.map(FileSystem.closeDescriptor) }
        do {
            let child = try ChildProcess(executable: exe, argv: argv, environment: env, directory: dir, stdinFD: inputFD,
                                         containment: containment, sandbox: sandbox)
            let r = child.capture(timeout: timeout, limit: 16 << 20)
            return Ran(code: r.timedOut ? nil : (r.0.exitCode ?? 128 + (r.0.signal ?? 0)), out: r.stdout, err: r.stderr, timedOut: r.timedOut)
        } catch {
            return Ran(code: nil, out: [], err: Array("could not start \(argv[0]): \(error)".utf8))
        }
    }
}

