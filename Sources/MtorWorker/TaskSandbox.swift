import Foundation
import MtorCore
import MtorPlatform

/// One task's sandbox and the HOME its agent gets: `<workspaces>/<id>.home`, holding only a git
/// identity and whatever the harness writes there (its config directory), removed when the task ends.
struct TaskSandbox: Sendable {
    let box: Sandbox
    /// The agent's HOME (also where a prompt file is staged: the spool is hidden from the agent).
    let home: String

    /// The agent's HOME and TMPDIR replace the worker's.
    func adjust(_ environment: inout [String: String]) {
        environment["HOME"] = home
        environment["TMPDIR"] = "/tmp"
    }

    /// The sidecar's record of it.
    var summary: TaskResult.SandboxSummary {
        TaskResult.SandboxSummary(method: Sandbox.Method.bwrap.rawValue, writable: box.writable, hidden: box.hidden + box.private_ + box.hiddenFiles)
    }

    static func homePath(root: String, id: String) -> String { "\(root)/\(id).home" }

    /// The sandbox for task `id` working in `directory`; nil under `--sandbox none`.
    static func make(id: String, spec: Spec, directory: String, workspaces: String, spool: Spool, settings: Settings,
                     options: WorkerOptions, programs: [String]) throws(WorkerError) -> TaskSandbox? {
        guard let bwrap = options.bwrap else { return nil }
        let home = homePath(root: workspaces, id: id)
        do {
            try FileSystem.makeDirectories(home)
            _ = chmod(home, 0o700)
            func quoted(_ v: String) -> String {
                "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }
            let identity = "[user]\n" + [("name", gitIdentity.name), ("email", gitIdentity.email)].compactMap { key, value in
                value.map { "\t\(key) = \(quoted($0))\n" }
            }.joined()
            try FileSystem.writeAtomically(Array(identity.utf8), to: home + "/.gitconfig", durable: false)
        } catch {
            throw .environment("cannot make the agent's HOME \(home): \(error)")
        }
        let path = settings.baseEnvironment["PATH"] ?? ""
        let box = Sandbox.forTask(bwrap: bwrap, workerHome: settings.processEnvironment["HOME"], spool: spool.root, workspaces: workspaces,
                                  envFile: settings.envPath, taskDirectory: directory, home: home, repo: spec.repo,
                                  inPlace: spec.work.mode != .worktree, programs: programs.compactMap { ChildProcess.resolve($0, searchPath: path) },
                                  searchPath: path, extraWritable: options.sandboxWritable)
        return TaskSandbox(box: box, home: home)
    }

    /// Removes task `id`'s agent HOME (never following a symlink out of the workspaces directory).
    static func removeHome(root: String, id: String) {
        let home = homePath(root: root, id: id)
        guard FileSystem.kind(home) == .directory else { return }
        // In process (no rm to spawn per task); a symlink inside is removed, never followed.
        try? FileManager.default.removeItem(atPath: home)
    }

    /// The worker's git identity, read once: agents commit under it (their HOME holds a copy);
    /// without one, their commits fail as they would with the worker's HOME (`mtor doctor` says so).
    static let gitIdentity: (name: String?, email: String?) = {
        func read(_ key: String) -> String? {
            let environment = ProcessInfo.processInfo.environment.filter { ["HOME", "PATH", "XDG_CONFIG_HOME"].contains($0.key) }
            guard let r = try? ChildProcess.run(["git", "config", "--global", "--get", key], environment: environment, timeout: 10),
                  r.0.succeeded else { return nil }
            let v = String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return v.isEmpty || v.contains("\n") ? nil : v
        }
        return (read("user.name"), read("user.email"))
    }()
}
