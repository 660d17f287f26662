import Foundation
import Testing
import MtorCore
import MtorPlatform

/// The systemd setup as shipped (etc/install-worker.sh, etc/mtor-worker.service), used by a real
/// non-root submitter in the `mtor` group: issue 26, "deploying under systemd leaves the user guessing".
@Suite("The systemd setup serves a submitter in the group", .serialized)
struct DeployTests {
    static let canRun = getuid() == 0 && ["/usr/bin/setpriv", "/usr/sbin/useradd", "/usr/sbin/groupadd"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `argv` as `user` (its uid, primary group and supplementary groups), with umask `umask`.
    static func asUser(_ user: String, group: String? = nil, umask: String = "0022", _ argv: [String]) -> [String] {
        ["/bin/sh", "-c", "umask \(umask) && exec \"$@\"", "sh", "/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(group ?? user)", "--init-groups"] + argv
    }

    static func run(_ argv: [String], env: [String: String], in dir: String = "/") throws -> (code: Int32, out: String, err: String) {
        let r = try ChildProcess.run(argv, environment: env, directory: dir, timeout: 120)
        return (r.0.exitCode ?? -1, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    @Test("install-worker.sh makes the account, the group and a setgid spool; a non-root submitter in the group submits, waits and reads the result and log; the env file and results stay closed to others",
          .timeLimit(.minutes(15)), .enabled(if: canRun, "needs root, setpriv and useradd (CI runs as root)"))
    func groupSubmitter() throws {
        let s = try Sandbox("deploy")
        #expect(chmod(s.root, 0o755) == 0)
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let (worker, group, submitter) = ("mtw\(tag)", "mtg\(tag)", "mts\(tag)")
        let place = s.root + "/sys"
        let base = ["PATH": "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
        defer {
            for argv in [["/usr/sbin/userdel", submitter], ["/usr/sbin/userdel", worker], ["/usr/sbin/groupdel", group]] { _ = try? Self.run(argv, env: base) }
        }
        let etc = place + "/etc"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        writeFixture(etc + "/providers.json", Data("""
            {"schema":"mtor.providers/1","default":"local","harnesses":{"sh":{"argv":["/bin/sh","-s"],"prompt":"stdin"}},
             "providers":{"local":{"harness":"sh","concurrency":2}}}
            """.utf8))
        var installEnv = base
        let workerHome = place + "/home/" + worker
        for (k, v) in ["MTOR_USER": worker, "MTOR_GROUP": group, "MTOR_HOME": workerHome, "MTOR_STATE": place + "/var", "MTOR_ETC": etc,
                       "MTOR_BIN": place + "/bin", "MTOR_DOC": place + "/doc", "MTOR_UNIT_DIR": place + "/systemd", "MTOR_NO_SYSTEMCTL": "1",
                       "MTOR_BUILD": URL(fileURLWithPath: mtorBinary).deletingLastPathComponent().path] { installEnv[k] = v }
        try FileManager.default.createDirectory(atPath: place + "/home", withIntermediateDirectories: true)
        let install = try Self.run(["/bin/sh", packageRoot + "/etc/install-worker.sh"], env: installEnv, in: packageRoot)
        #expect(install.code == 0, "\(install.out) \(install.err)")
        let again = try Self.run(["/bin/sh", packageRoot + "/etc/install-worker.sh"], env: installEnv, in: packageRoot)
        #expect(again.code == 0, "a second run: \(again.err)")
        // The unit as installed names the account, and its Documentation= exists.
        let unit = try String(contentsOfFile: place + "/systemd/mtor-worker.service", encoding: .utf8)
        #expect(unit.contains("\nUser=\(worker)\n") && unit.contains("\nGroup=\(group)\n") && unit.contains("\nUMask=0007\n"), "\(unit)")
        let doc = try #require(unit.split(separator: "\n").first { $0.hasPrefix("Documentation=file://") }).dropFirst("Documentation=file://".count)
        #expect(FileManager.default.fileExists(atPath: String(doc)), "Documentation= names \(doc), which is not installed")
        let spool = place + "/var/spool"
        let attrs = try FileManager.default.attributesOfItem(atPath: spool + "/done")
        #expect((attrs[.posixPermissions] as? Int) == 0o2770 || ((FileSystem.mode(spool + "/done") ?? 0) & 0o7777) == 0o2770, "\(String(FileSystem.mode(spool + "/done") ?? 0, radix: 8))")
        #expect(attrs[.groupOwnerAccountName] as? String == group && attrs[.ownerAccountName] as? String == worker)
        #expect(FileSystem.mode(etc + "/mtor.env") == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: etc + "/mtor.env")[.ownerAccountName] as? String == worker)

        // The worker's repo, as the worker's account.
        let workerEnv = base.merging(["HOME": workerHome, "USER": worker]) { _, b in b }
        let repo = workerHome + "/code/widget"
        for argv in [["git", "init", "-q", "-b", "main", repo], ["git", "-C", repo, "-c", "user.name=w", "-c", "user.email=w@x.invalid", "commit", "-q", "--allow-empty", "-m", "init"]] {
            let r = try Self.run(Self.asUser(worker, group: group, argv), env: workerEnv)
            #expect(r.code == 0, "\(argv): \(r.err)")
        }
        // A submitter: an ordinary account in the group, with nothing else.
        let subHome = place + "/home/" + submitter
        let add = try Self.run(["/usr/sbin/useradd", "--create-home", "--home-dir", subHome, "--groups", group, "--shell", "/bin/sh", submitter], env: base)
        #expect(add.code == 0, "\(add.err)")
        let subEnv = base.merging(["HOME": subHome, "USER": submitter]) { _, b in b }
        let spec = subHome + "/hello.md"
        writeFixture(spec, Data("---\nrepo: \(repo)\nharness: sh\nexpect: nothing\n---\necho hello from the worker\n".utf8))
        _ = try Self.run(["/bin/chown", submitter, spec], env: base)

        // The worker as systemd runs it: its account, umask 0007, the env file it alone reads.
        let mtor = place + "/bin/mtor"
        let background = try BackgroundWorker(s, argv: Self.asUser(worker, group: group, umask: "0007", [mtor, "worker", "--spool", spool, "--providers", etc + "/providers.json",
                                                                                             "--env-file", etc + "/mtor.env", "--sandbox", "none"]), env: workerEnv)
        defer { background.stop() }
        try background.waitUntilStarted()
        let submit = try Self.run(Self.asUser(submitter, [mtor, "submit", "--spool", spool, "--wait", "--timeout", "60", spec]), env: subEnv, in: subHome)
        #expect(submit.code == 0, "submit as \(submitter): \(submit.out) \(submit.err)\nworker: \(background.stderr)")
        let id = try #require(submit.out.split(separator: "\n").first { $0.hasPrefix("submitted ") }?.split(separator: " ")[3].description, "\(submit.out)")
        let show = try Self.run(Self.asUser(submitter, [mtor, "show", "--spool", spool, id]), env: subEnv, in: subHome)
        #expect(show.code == 0 && show.out.contains("succeeded"), "\(show.out) \(show.err)")
        let logs = try Self.run(Self.asUser(submitter, [mtor, "logs", "--spool", spool, id]), env: subEnv, in: subHome)
        #expect(logs.code == 0 && logs.out.contains("hello from the worker"), "\(logs.out) \(logs.err)")
        let status = try Self.run(Self.asUser(submitter, [mtor, "status", "--spool", spool]), env: subEnv, in: subHome)
        #expect(status.code == 0, "\(status.out) \(status.err)")
        #expect(!status.out.contains("group- or world-writable"), "the group-shared spool is no warning: \(status.out)")
        // The env file is the worker's alone; the results are closed to accounts outside the group.
        let secret = try Self.run(Self.asUser(submitter, ["/bin/cat", etc + "/mtor.env"]), env: subEnv)
        #expect(secret.code != 0, "a submitter read the env file")
        let outsider = try Self.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/cat", "\(spool)/done/\(id).result.json"], env: base)
        #expect(outsider.code != 0, "an account outside the group read a result")
    }
}
