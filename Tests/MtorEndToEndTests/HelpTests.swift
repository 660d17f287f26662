import Foundation
import Testing
import MtorCore
import MtorPlatform
@testable import mtor

/// A directory of stand-ins for every program mtor may start (ssh, git, harnesses, mtor-probe): each
/// writes its name to `started` and exits, so a test can prove that nothing was started.
struct Tripwire {
    let bin: String
    let started: String

    init(in root: String) throws {
        bin = root + "/tripwire-bin"
        started = root + "/started"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["ssh", "scp", "rsync", "git", "claude", "codex", "goose", "gemini", "aider", "sh", "mtor-probe", "systemctl"] {
            let path = "\(bin)/\(name)"
            try "#!/bin/sh\necho \(name) \"$@\" >> '\(started)'\nexit 1\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
    }

    var environment: [String: String] { ["PATH": bin, "MTOR_PROBE": bin + "/mtor-probe"] }
    var whatStarted: String { (try? String(contentsOfFile: started, encoding: .utf8)) ?? "" }
}

@Suite("--help never acts, and the parser refuses what it does not know")
struct HelpTests {
    static let names = CLI.commands.map(\.name)

    @Test("every command with --help (or -h, or `mtor help CMD`): exit 0, its own usage listing every flag, no spool created, no process started", arguments: names)
    func helpNeverActs(_ name: String) throws {
        let s = try Sandbox("help-\(name)")
        let trip = try Tripwire(in: s.root)
        let fresh = s.root + "/must-stay-absent"
        let command = try #require(CLI.command(named: name))
        // Operands and flags that would make the command act, with help last or first: help still wins.
        let has = { (flag: String) in command.allFlags.contains { $0.name == flag } }
        var acting = ["some-task"]
        for flag in ["--once", "--wait", "--follow", "--all"] where has(flag) { acting.append(flag) }
        if has("--to") { acting += ["--to", "mtor-test:/srv/spool"] }
        for argv in [[name, "--spool", fresh] + acting + ["--help"], [name, "-h", "--spool", fresh] + acting, ["help", name, "--spool", fresh]] {
            let r = try s.mtor(argv, extraEnv: trip.environment)
            #expect(r.code == 0, "mtor \(argv.joined(separator: " ")): \(r.err)")
            #expect(r.out.hasPrefix("usage: mtor \(name)"), "\(r.out)")
            for flag in command.allFlags { #expect(r.out.contains(flag.name), "usage of \(name) lacks \(flag.name): \(r.out)") }
            #expect(r.err.isEmpty, "\(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: fresh), "--help created the spool")
        #expect(!FileManager.default.fileExists(atPath: s.spool), "--help created the default spool")
        #expect(trip.whatStarted.isEmpty, "--help started: \(trip.whatStarted)")
    }

    @Test("`mtor help TOPIC` prints every entry of that reference topic", arguments: Reference.topics.map(\.name))
    func topics(_ name: String) throws {
        let s = try Sandbox("help-topic")
        let r = try s.mtor(["help", name])
        #expect(r.code == 0, "\(r.err)")
        for entry in Reference.topic(name)?.names ?? ["(no such topic)"] { #expect(r.out.contains(entry), "mtor help \(name) lacks \(entry)") }
    }

    @Test("unknown commands, flags and topics get a did-you-mean (exit 2); extra and missing operands are usage errors")
    func refusals() throws {
        let s = try Sandbox("help-refuse")
        let cases: [([String], String)] = [
            (["stauts"], "did you mean 'status'?"),
            (["status", "--jsno"], "did you mean '--json'?"),
            (["worker", "--concurency", "2"], "did you mean '--concurrency'?"),
            (["status", "extra-arg"], "unexpected argument 'extra-arg'"),
            (["show", "a", "b"], "unexpected argument 'b'"),
            (["show"], "show needs ID"),
            (["help", "clases"], "did you mean 'classes'?"),
            (["status", "--json=yes"], "--json takes no value"),
            (["wait", "--timeout"], "--timeout needs a value"),
            (["lock", "chek"], "one subcommand, check"),
        ]
        for (argv, says) in cases {
            let r = try s.mtor(argv + ["--spool", s.spool])
            #expect(r.code == 2, "mtor \(argv.joined(separator: " ")) exited \(r.code): \(r.err)")
            #expect(r.err.contains(says), "mtor \(argv.joined(separator: " ")) said: \(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.spool))
        let list = try s.mtor(["help"])
        #expect(list.code == 0 && HelpTests.names.allSatisfy { list.out.contains("  \($0) ") })
    }
}
