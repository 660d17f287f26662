import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 26: commands on a spool no worker has run on yet — only the inbox/ its user made — make the
/// directories they write in, with the worker's modes, instead of failing on a missing one.
@Suite("Commands on a spool no worker has run on", .serialized)
struct FreshSpoolTests {
    static let spec = "---\nrepo: ~/code/widget\nexpect: nothing\n---\n"

    /// The spool's directories, for messages.
    static func present(_ spool: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []).sorted() }

    @Test("on a spool that is only inbox/: submit makes tmp/, cancel makes cancel/ (0700 both) and the worker cancels the task; an unknown id is the usual 'no task' and creates nothing; retry, pause, resume and drain work", .timeLimit(.minutes(10)))
    func onlyAnInbox() throws {
        let s = try Sandbox.scheduling("fresh-spool")
        try FileManager.default.removeItem(atPath: s.spool + "/tmp")
        #expect(Self.present(s.spool) == ["inbox"])
        let at = ["--spool", s.spool]
        writeFixture(s.spool + "/inbox/victim.md", Data((Self.spec + "echo never\n").utf8))
        let unknown = try s.mtor(["cancel", "nosuch"] + at)
        #expect(unknown.code == 4 && unknown.err.contains("no task 'nosuch'"), "\(unknown.code) \(unknown.err)")
        #expect(Self.present(s.spool) == ["inbox"], "an unknown id created: \(Self.present(s.spool))")
        // submit stages in tmp/, which it makes.
        writeFixture(s.root + "/ok.md", Data((Self.spec + "echo submitted\n").utf8))
        let sub = try s.mtor(["submit", "--providers", s.etc + "/providers.json", s.root + "/ok.md"] + at)
        #expect(sub.code == 0, "\(sub.out) \(sub.err)")
        let submitted = try #require(sub.out.split(separator: " ").dropFirst(3).first.map(String.init), "\(sub.out)")
        #expect(FileSystem.mode(s.spool + "/tmp") == 0o700)
        // cancel writes cancel/<id> through tmp/: it makes cancel/.
        let cancel = try s.mtor(["cancel", "victim"] + at)
        #expect(cancel.code == 0 && cancel.out.contains("cancel requested for victim"), "\(cancel.code) \(cancel.out) \(cancel.err)")
        #expect(s.exists("cancel/victim") && FileSystem.mode(s.spool + "/cancel") == 0o700, "\(Self.present(s.spool))")
        // retry of a spec someone put in failed/ by hand: its ledger line needs state/, which it makes.
        try FileManager.default.createDirectory(atPath: s.spool + "/failed", withIntermediateDirectories: false)
        writeFixture(s.spool + "/failed/again.md", Data((Self.spec + "echo again\n").utf8))
        let retry = try s.mtor(["retry", "again"] + at)
        #expect(retry.code == 0 && s.exists("inbox/again.md") && s.read("state/ledger.jsonl").contains("\"retried\""), "\(retry.out) \(retry.err) \(Self.present(s.spool))")
        // The worker honours what the commands left.
        #expect(try s.drain().code == 0)
        #expect(try s.result("victim").status == .cancelled)
        #expect(try s.result(submitted).status == .succeeded)
        #expect(try s.result("again").status == .succeeded)

        // pause, resume and drain on another spool that is only inbox/.
        let other = s.root + "/other"
        try FileManager.default.createDirectory(atPath: other + "/inbox", withIntermediateDirectories: true)
        let on = ["--spool", other]
        for (argv, says) in [(["pause"], "paused"), (["pause", "--provider", "local"], "paused"), (["resume", "--provider", "local"], "resumed"),
                             (["resume"], "resumed"), (["drain"], "drained")] {
            let r = try s.mtor(argv + on)
            #expect(r.code == 0 && r.out.contains(says), "\(argv): \(r.code) \(r.out) \(r.err)")
        }
        #expect(FileSystem.mode(other + "/state") == 0o700)
    }

    @Test("submit --to and cancel --to over real ssh on a remote spool that is only inbox/ and state/: tmp/ and cancel/ are made there (0700), nothing refused", .timeLimit(.minutes(10)), .requiresSSH)
    func remoteOnlyAnInbox() throws {
        let world = try RemoteWorld("fresh-remote", worker: false)
        defer { withExtendedLifetime(world) {} }
        let (s, laptop) = (world.sandbox, world.laptop)
        // A worker ran once, so state/ says which HOME and allow-list the checks use; the rest is gone
        // (a spool copied or cleaned by hand): inbox/ and state/ only.
        #expect(try s.drain().code == 0)
        for dir in Self.present(s.spool) where dir != "inbox" && dir != "state" { try FileManager.default.removeItem(atPath: s.spool + "/" + dir) }
        try laptop.write("hi.md", LaptopTests.shSpec + "echo hi\n")
        let sub = try laptop.run(["submit", "hi.md", "--to", "mtor-test:\(s.spool)"])
        #expect(sub.code == 0, "\(sub.text)")
        let id = try #require(sub.text.firstMatch(of: #/submitted .* as (\d{8}T\d{6}-hi-[0-9a-f]{4})/#)?.1).description
        #expect(s.exists("inbox/\(id).md") && FileSystem.mode(s.spool + "/tmp") == 0o700, "\(Self.present(s.spool))")
        let cancel = try laptop.run(["cancel", id, "--to", "mtor-test:\(s.spool)"])
        #expect(cancel.code == 0 && s.exists("cancel/\(id)"), "\(cancel.text)")
    }

    @Test("a setgid spool that is only inbox/, used by a submitter in its group with umask 022: the tmp/ and cancel/ they make are 2770 and the group's, and the worker cancels the task",
          .timeLimit(.minutes(10)), .enabled(if: DeployTests.canRun, "needs root, setpriv and useradd (CI runs as root)"))
    func groupSharedFresh() throws {
        let s = try Sandbox.scheduling("fresh-group")
        #expect(chmod(s.root, 0o755) == 0)
        try FileManager.default.removeItem(atPath: s.spool + "/tmp")
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let (group, submitter) = ("mfg\(tag)", "mfs\(tag)")
        let base = ["PATH": "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
        defer {
            for argv in [["/usr/sbin/userdel", submitter], ["/usr/sbin/groupdel", group]] { _ = try? DeployTests.run(argv, env: base) }
        }
        let subHome = s.root + "/sub"
        #expect(try DeployTests.run(["/usr/sbin/groupadd", group], env: base).code == 0)
        let add = try DeployTests.run(["/usr/sbin/useradd", "--create-home", "--home-dir", subHome, "--groups", group, "--shell", "/bin/sh", submitter], env: base)
        #expect(add.code == 0, "\(add.err)")
        for dir in [s.spool, s.spool + "/inbox"] {
            #expect(try DeployTests.run(["/bin/chown", "root:\(group)", dir], env: base).code == 0)
            #expect(chmod(dir, 0o2770) == 0)
        }
        // The repo the spec names is the worker's (root's); the submitter names it and drops the spec.
        let spec = subHome + "/hello.md"
        writeFixture(spec, Data("---\nrepo: \(s.repo)\nexpect: nothing\n---\necho never\n".utf8))
        _ = try DeployTests.run(["/bin/chown", submitter, spec], env: base)
        let subEnv = base.merging(["HOME": subHome, "USER": submitter]) { _, b in b }
        let mtor = { (argv: [String]) throws in try DeployTests.run(DeployTests.asUser(submitter, umask: "0022", [mtorBinary] + argv), env: subEnv, in: subHome) }
        let sub = try mtor(["submit", "--spool", s.spool, "--providers", s.etc + "/providers.json", "--allow-repos", s.home, spec])
        #expect(sub.code == 0, "\(sub.out) \(sub.err)")
        let id = try #require(sub.out.split(separator: " ").dropFirst(3).first.map(String.init), "\(sub.out) \(sub.err)")
        let cancel = try mtor(["cancel", id, "--spool", s.spool])
        #expect(cancel.code == 0, "\(cancel.out) \(cancel.err)")
        for dir in ["tmp", "cancel"] {
            let path = s.spool + "/" + dir
            #expect(FileSystem.mode(path) == 0o2770, "\(dir)/ is \(String(FileSystem.mode(path) ?? 0, radix: 8)), not 2770: the worker of the group could not empty it")
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.groupOwnerAccountName] as? String == group)
        }
        #expect(try s.drain().code == 0)
        #expect(try s.result(id).status == .cancelled, "\(s.listing())")
        #expect(!s.exists("cancel/\(id)"), "the worker removed the marker")
    }
}
