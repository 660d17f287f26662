import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Where the package lives, found from this file's path.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// The built `mtor` binary next to the test bundle.
let mtorBinary: String = {
    let beside = (CommandLine.arguments.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? "") + "/mtor"
    if FileManager.default.isExecutableFile(atPath: beside) { return beside }
    for candidate in [".build/debug/mtor", ".build/release/mtor"] where FileManager.default.isExecutableFile(atPath: "\(packageRoot)/\(candidate)") {
        return "\(packageRoot)/\(candidate)"
    }
    return beside
}()

/// The real Claude Code CLI: `$MTOR_CLAUDE_BIN`, else `.cache/bin/claude` as `.ci/run` installs it.
let claudeBinary: String? = {
    let candidates = [ProcessInfo.processInfo.environment["MTOR_CLAUDE_BIN"], "\(packageRoot)/.cache/bin/claude"].compactMap { $0 }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// A temp world for one test: a HOME, a git repo inside it, a spool, and a lockfile.
final class Sandbox {
    let root: String
    let home: String
    let repo: String
    let spool: String
    let etc: String
    var extraPath: [String] = []

    init(_ label: String = "e2e") throws {
        root = NSTemporaryDirectory() + "mtor-\(label)-\(UUID().uuidString.prefix(8))"
        home = root + "/home"
        repo = home + "/code/widget"
        spool = root + "/spool"
        etc = root + "/etc"
        for dir in [home, repo, etc] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try git(["init", "-q", "-b", "main"])
        try git(["config", "user.name", "mtor test"])
        try git(["config", "user.email", "test@mtor.invalid"])
        try git(["commit", "-q", "--allow-empty", "-m", "initial"])
        if let claude = claudeBinary { extraPath.append(URL(fileURLWithPath: claude).deletingLastPathComponent().path) }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    @discardableResult
    func git(_ args: [String]) throws -> String {
        let r = try ChildProcess.run(["git"] + args, environment: ["PATH": "/usr/bin:/bin", "HOME": home], directory: repo)
        guard r.0.succeeded else { throw SandboxError("git \(args.joined(separator: " ")) failed: \(String(decoding: r.stderr, as: UTF8.self))") }
        return String(decoding: r.stdout, as: UTF8.self)
    }

    /// Writes `etc/providers.json`.
    func lockfile(_ json: String) {
        writeFixture(etc + "/providers.json", Data(json.utf8))
    }

    func envFile(_ text: String) {
        writeFixture(etc + "/mtor.env", Data(text.utf8))
    }

    /// Drops a spec into inbox/ the way users should: write in tmp/, rename in.
    func submit(_ name: String, _ text: String, via stage: String = "tmp") throws {
        for dir in ["inbox", stage] { try FileManager.default.createDirectory(atPath: "\(spool)/\(dir)", withIntermediateDirectories: true) }
        let staged = "\(spool)/\(stage)/.\(name).staged"
        writeFixture(staged, Data(text.utf8))
        try FileSystem.renameNoReplace(staged, "\(spool)/inbox/\(name)")
    }

    var environment: [String: String] {
        ["PATH": (extraPath + ["/usr/local/bin", "/usr/bin", "/bin"]).joined(separator: ":"), "HOME": home, "USER": "root", "LANG": "C.UTF-8", "TMPDIR": "/tmp"]
    }

    /// Runs `mtor ARGS` and returns its exit code, stdout and stderr.
    @discardableResult
    func mtor(_ args: [String], timeout: Double = 120, extraEnv: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
        var env = environment
        for (k, v) in extraEnv { env[k] = v }
        let r = try ChildProcess.run([mtorBinary] + args, environment: env, directory: root, timeout: timeout)
        return (r.0.exitCode ?? 128 + (r.0.signal ?? 0), String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    /// `mtor worker --once` on this sandbox's spool and lockfile.
    @discardableResult
    func drain(_ extra: [String] = [], timeout: Double = 120) throws -> (code: Int32, out: String, err: String) {
        try mtor(["worker", "--once", "--spool", spool, "--providers", etc + "/providers.json"] + Sandbox.testDefaults(extra, root: root), timeout: timeout)
    }

    /// Tests submit identical specs on purpose (50 poison specs, the same body twice), so the worker's
    /// duplicate refusal is off unless a test names `--dedup-window` itself (the dedup tests do).
    ///
    /// Agents are sandboxed: tests watch them through files (gates, run marks) beside the spool, so
    /// the test's root is named writable to them (`--sandbox-writable`), unless a test says how to
    /// sandbox itself. The spool, the env file and HOME under that root stay hidden: the most
    /// specific rule wins. What the sandbox itself guarantees is tested with nothing extra writable
    /// (AgentGuestTests).
    static func testDefaults(_ extra: [String], root: String? = nil) -> [String] {
        var out = extra.contains { $0.hasPrefix("--dedup-window") } ? extra : extra + ["--dedup-window", "0"]
        if let root, !extra.contains(where: { $0.hasPrefix("--sandbox") }) { out += ["--sandbox-writable", root] }
        return out
    }

    func result(_ id: String) throws -> TaskResult {
        for dir in ["done", "failed"] {
            let path = "\(spool)/\(dir)/\(id).result.json"
            if let data = FileManager.default.contents(atPath: path) {
                return try JSONDecoder().decode(TaskResult.self, from: data)
            }
        }
        throw SandboxError("no result for \(id); spool has: \(listing())")
    }

    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: "\(spool)/\(relative)") }

    func listing() -> String {
        Spool.directories.map { dir in "\(dir)/: " + ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(dir)"))?.sorted().joined(separator: " ") ?? "-") }.joined(separator: "; ")
    }

    /// `state/ledger.jsonl`, parsed; a line that does not parse is recorded as an issue.
    func ledger() -> [LedgerEntry] {
        read("state/ledger.jsonl").split(separator: "\n").compactMap { line in
            guard let e = try? JSONDecoder().decode(LedgerEntry.self, from: Data(line.utf8)) else {
                Issue.record("unparseable ledger line: \(line)")
                return nil
            }
            return e
        }
    }

    func read(_ relative: String) -> String {
        FileManager.default.contents(atPath: "\(spool)/\(relative)").map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

struct SandboxError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

import MtorWorker
