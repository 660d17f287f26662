import Foundation
import Testing
import MtorPlatform

/// Conditions for tests that drive real programs: a test whose program is missing is reported as
/// skipped, with the reason, in Swift Testing's own summary (never as a pass that checked nothing).
extension Trait where Self == ConditionTrait {
    static var requiresClaude: Self {
        .enabled(if: claudeBinary != nil, "the real Claude Code CLI is not installed; .ci/run installs it from the claude-agent-sdk wheel")
    }

    static var requiresCodex: Self {
        .enabled(if: codexBinary != nil, "the real Codex CLI is not installed; .ci/run installs it from the openai-codex-cli-bin wheel")
    }

    static var requiresSSH: Self {
        .enabled(if: SSHServer.unavailable == nil, Comment(rawValue: SSHServer.unavailable ?? "sshd is installed"))
    }

    /// A program at one of `paths`.
    static func requires(_ what: String, at paths: [String], install: String) -> Self {
        .enabled(if: paths.contains { FileManager.default.isExecutableFile(atPath: $0) }, Comment(rawValue: "\(what) is not installed (\(install); .ci/run installs it)"))
    }

    /// A program .ci/run installs, at one of `paths`: skipped with the reason on a machine without it,
    /// but run under .ci/run (`MTOR_CI=1`), where its absence fails the test (`requiredProgram`).
    static func requiresInCI(_ what: String, at paths: [String], install: String) -> Self {
        .enabled(if: paths.contains { FileManager.default.isExecutableFile(atPath: $0) } || ProcessInfo.processInfo.environment["MTOR_CI"] == "1",
                 Comment(rawValue: "\(what) is not installed (\(install); .ci/run installs it, and there this test fails without it)"))
    }

    /// Mounting (tmpfs, bind mounts): root in CI; elsewhere these tests are skipped.
    static var requiresMounts: Self {
        .enabled(if: canMount, "cannot mount here (needs root, as CI runs)")
    }
}

/// Whether this process may mount a tmpfs (probed once).
let canMount: Bool = {
    let sbin = ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"]
    let probe = try? ChildProcess.run(["sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs $d && umount $d; r=$?; rmdir $d; exit $r"], environment: sbin)
    return probe?.0.succeeded == true
}()

/// `systemd-analyze`, when installed.
let systemdAnalyze: String? = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Writes a test fixture file; a failure to write is an issue of the test, not silence.
func writeFixture(_ path: String, _ data: Data, sourceLocation: SourceLocation = #_sourceLocation) {
    if !FileManager.default.createFile(atPath: path, contents: data) {
        Issue.record("cannot write \(path)", sourceLocation: sourceLocation)
    }
}

/// The first of `paths` that is an executable program; under .ci/run a missing one is an issue of the test.
func requiredProgram(_ what: String, at paths: [String], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    if let found = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
    Issue.record("\(what) is required here (MTOR_CI=1) but not installed at \(paths.joined(separator: " or ")); add it to APT_PACKAGES in .ci/run", sourceLocation: sourceLocation)
    return nil
}
