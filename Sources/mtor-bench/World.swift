import Foundation
import MtorPlatform

/// The temporary world a bench run lives in: a HOME holding git repositories, the `sh`-only
/// lockfile, and one fresh spool per measurement, all under one directory.
final class World {
    let root: String
    let home: String
    let repo: String
    /// In-place specs of one repo never run at once: specs spread over these (the first is `repo`).
    let repos: [String]
    static let repoCount = 16
    let lockfile: String
    /// What every contender starts with: the same minimal base the worker gives agents.
    let environment: [String: String]
    private var counter = 0

    static let lockfileText = """
    {"schema":"mtor.providers/1","harnesses":{"sh":{"argv":["/bin/sh","-s"],"prompt":"stdin"}},"providers":{"local":{"harness":"sh"}},"default":"local"}

    """

    init(parent: String) throws(BenchError) {
        root = "\(parent)/mtor-bench-\(ProcessControl.pid)-\(UInt32.random(in: 0...UInt32.max))"
        home = root + "/home"
        repo = home + "/repo"
        let home = self.home
        repos = [home + "/repo"] + (1..<World.repoCount).map { "\(home)/repo-\($0)" }
        lockfile = root + "/providers.json"
        environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "USER": ProcessInfo.processInfo.environment["USER"] ?? "root",
                       "LANG": "C.UTF-8", "TMPDIR": root]
        guard !root.contains(where: { $0 == " " || $0 == "'" || $0 == "\"" || $0 == "$" }) else {
            throw .setup("\(root) holds a space, quote or '$'; the shell scripts the bench runs name it literally — pass --dir with a plain path")
        }
        do {
            try FileSystem.makeDirectories(home)
            try FileSystem.writeAtomically(Array(World.lockfileText.utf8), to: lockfile, mode: 0o644, durable: false)
        } catch {
            throw .setup("\(error)")
        }
        for dir in repos { try World.gitRepo(dir, environment: environment) }
    }

    /// `git init` and one empty commit in `dir`.
    static func gitRepo(_ dir: String, environment: [String: String]) throws(BenchError) {
        do { try FileSystem.makeDirectories(dir) } catch { throw .setup("\(error)") }
        for args in [["init", "-q", "-b", "main"],
                     ["-c", "user.name=mtor-bench", "-c", "user.email=bench@mtor.invalid", "commit", "-q", "--allow-empty", "-m", "initial"]] {
            let r = try? ChildProcess.run(["git"] + args, environment: environment, directory: dir)
            guard let r, r.0.succeeded else {
                throw .setup("git \(args.joined(separator: " ")) failed in \(dir): "
                    + "\(r.map { String(decoding: $0.stderr, as: UTF8.self) } ?? "git not found")")
            }
        }
    }

    /// A fresh spool (every spool directory created) and a marks directory beside it.
    func spool(_ label: String) throws(BenchError) -> BenchSpool {
        counter += 1
        let spool = BenchSpool(base: "\(root)/\(counter)-\(label)", repos: repos)
        do {
            for dir in BenchSpool.directories { try FileSystem.makeDirectories("\(spool.root)/\(dir)") }
            try FileSystem.makeDirectories(spool.marks)
        } catch {
            throw .setup("\(error)")
        }
        return spool
    }

    /// Runs `sync` so a run does not pay for the previous run's (or the staging's) dirty pages.
    func sync() {
        _ = try? ChildProcess.run(["sync"], environment: environment, timeout: 120)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// One spool the bench fills and a contender drains, plus `marks/`, where each harness
/// script leaves a file the instant it starts.
struct BenchSpool {
    static let directories = ["inbox", "claimed", "done", "failed", "logs", "tmp", "cancel", "state"]

    let base: String
    let repos: [String]
    /// A worktree spec's repo; nil: in-place specs spread over `repos`.
    var worktreeRepo: String? = nil

    var repo: String { repos[0] }

    var root: String { base + "/spool" }
    var marks: String { base + "/marks" }
    var inbox: String { root + "/inbox" }
    var tmp: String { root + "/tmp" }
    var done: String { root + "/done" }
    var failed: String { root + "/failed" }
    var state: String { root + "/state" }

    /// The harness script: one builtin redirection, so `sh` starts, creates the mark, and exits.
    func markScript(_ id: String) -> String { ": > \(marks)/\(id)\n" }

    /// A spec for the `sh` harness; exactly six frontmatter lines (the shell baselines skip them with `read`).
    /// In place (the repo picked by the id's number, so concurrent specs rarely share one), or in
    /// a worktree of `worktreeRepo`.
    /// `frontmatter`: more keys (the shell baselines cannot run such a spec).
    func specText(_ id: String, script: String? = nil, frontmatter: String? = nil) -> String {
        let body = script ?? markScript(id)
        let more = frontmatter.map { $0 + "\n" } ?? ""
        if let worktreeRepo { return "---\nrepo: \(worktreeRepo)\nharness: sh\nworkspace: worktree\nexpect: nothing\n\(more)---\n\(body)" }
        let n = Int(String(id.reversed().prefix { $0.isNumber }.reversed())) ?? id.utf8.reduce(0) { $0 &+ Int($1) }
        return "---\nrepo: \(repos[n % repos.count])\nharness: sh\nworkspace: in-place\nexpect: nothing\n\(more)---\n\(body)"
    }

    /// Writes `tmp/<id>.md`, ready to be renamed in.
    func stage(_ id: String, script: String? = nil, frontmatter: String? = nil) throws(BenchError) {
        do {
            try FileSystem.writeAtomically(Array(specText(id, script: script, frontmatter: frontmatter).utf8), to: "\(tmp)/\(id).md",
                                           mode: 0o644, durable: false)
        } catch {
            throw .setup("\(error)")
        }
    }

    /// Renames `tmp/<id>.md` into `inbox/`; returns the monotonic instant just before the rename.
    @discardableResult
    func drop(_ id: String) throws(BenchError) -> Double {
        let t = now()
        do {
            try FileSystem.renameNoReplace("\(tmp)/\(id).md", "\(inbox)/\(id).md")
        } catch {
            throw .workload("cannot drop \(id): \(error)")
        }
        return t
    }
}
