import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker
@testable import mtor

/// What a newcomer meets first: validate agreeing with the worker, the worker's HOME, status after
/// the worker is gone, ids as the file was named, and sidecars of specs that never ran.
@Suite("A newcomer is never misled")
struct NewcomerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var frontmatter: String
        var body = "true"
        var testDescription: String { name }
    }

    static let table: [Case] = [
        Case(name: "fine", frontmatter: "repo: ~/code/widget\nharness: sh"),
        Case(name: "outside-allow-list", frontmatter: "repo: OUTSIDE\nharness: sh"),
        Case(name: "no-such-repo", frontmatter: "repo: ~/code/nothing-here\nharness: sh"),
        Case(name: "typo-key", frontmatter: "repo: ~/code/widget\nharnes: sh"),
        Case(name: "unknown-provider", frontmatter: "repo: ~/code/widget\nprovider: zhipuu"),
        Case(name: "empty-body", frontmatter: "repo: ~/code/widget\nharness: sh", body: ""),
        Case(name: "bad-retries", frontmatter: "repo: ~/code/widget\nharness: sh\nretries: 9"),
    ]

    @Test("validate agrees with the worker on every spec of a table, one of them outside the allow-list", .timeLimit(.minutes(10)))
    func validateAgreesWithWorker() throws {
        let s = try Sandbox("agree")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: "http://127.0.0.1:9")], default: "local"))
        let outside = s.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        _ = try ChildProcess.run(["git", "init", "-q", outside], environment: s.environment)
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for c in NewcomerTests.table {
            try "---\n\(c.frontmatter.replacingOccurrences(of: "OUTSIDE", with: outside))\n---\n\(c.body)\n".write(toFile: "\(dir)/\(c.name).md", atomically: true, encoding: .utf8)
        }
        let files = NewcomerTests.table.map { "\(dir)/\($0.name).md" }
        let v = try s.mtor(["validate", "--json", "--spool", s.spool, "--providers", s.etc + "/providers.json"] + files)
        #expect(v.code == 1, "\(v.out) \(v.err)")
        let report = try JSONDecoder().decode(SpecReport.self, from: Data(v.out.utf8))
        for c in NewcomerTests.table { try s.submit("\(c.name).md", try String(contentsOfFile: "\(dir)/\(c.name).md", encoding: .utf8)) }
        let w = try s.drain()
        #expect(w.code == 0, "\(w.err)")
        for (c, entry) in zip(NewcomerTests.table, report.entries) {
            let result = try s.result(c.name)
            let refused = result.class == .specInvalid || result.class == .workdirMissing
            #expect(entry.valid == !refused, "\(c.name): validate said \(entry.valid ? "ok" : entry.error ?? ""), the worker \(result.class.rawValue): \(result.reason)")
            if refused { #expect(entry.class == result.class.rawValue, "\(c.name): validate \(entry.class ?? "-"), worker \(result.class.rawValue)") }
        }
        #expect(report.entries.first { $0.file.hasSuffix("outside-allow-list.md") }?.error?.contains("--allow-repos") == true)
        // The allow-list refusal keeps what the spec said in its sidecar.
        let outsideResult = try s.result("outside-allow-list")
        #expect(outsideResult.spec.repo == outside && outsideResult.spec.harness == "sh", "\(outsideResult.spec)")
        let typo = try s.result("unknown-provider")
        #expect(typo.spec.provider == "zhipuu" && typo.spec.repo == s.repo, "\(typo.spec)")
        // With a worker.json there, validate uses the worker's allow-list: a wider one makes the outside repo fine.
        _ = try s.drain(["--allow-repos", s.root])
        let again = try s.mtor(["validate", "--spool", s.spool, "--providers", s.etc + "/providers.json", "\(dir)/outside-allow-list.md"])
        #expect(again.code == 0 && again.out.contains("from the settings of the worker"), "\(again.out) \(again.err)")
    }

    @Test("validate without a lockfile says which checks it could not make")
    func validateSaysWhatItSkipped() throws {
        let s = try Sandbox("skipped-checks")
        try "---\nrepo: ~/code/widget\nprovider: zhipuu\n---\ndo it\n".write(toFile: s.root + "/x.md", atomically: true, encoding: .utf8)
        let r = try s.mtor(["validate", "--spool", s.spool, "--providers", s.root + "/none.json", "--no-repo-check", s.root + "/x.md"])
        #expect(r.code == 0)
        #expect(r.out.contains("not checked: provider, fallback and harness names: no lockfile at"), "\(r.out)")
        #expect(r.out.contains("not checked: that repo exists"), "\(r.out)")
    }

    @Test("the worker refuses to start without a usable HOME, naming User= for systemd; nothing is created")
    func workerWithoutHome() throws {
        let s = try Sandbox("no-home")
        s.lockfile(Lockfiles.make([]))
        var env = s.environment
        env["HOME"] = nil
        let r = try ChildProcess.run([mtorBinary, "worker", "--once", "--spool", s.spool, "--providers", s.etc + "/providers.json"], environment: env, directory: s.root, timeout: 30)
        let err = String(decoding: r.stderr, as: UTF8.self)
        #expect(r.0 == .exited(3), "\(err)")
        #expect(err.contains("HOME is not set") && err.contains("User="), "\(err)")
        #expect(!FileManager.default.fileExists(atPath: s.spool))
        env["HOME"] = "/"
        let root = try ChildProcess.run([mtorBinary, "worker", "--once", "--spool", s.spool, "--providers", s.etc + "/providers.json"], environment: env, directory: s.root, timeout: 30)
        #expect(root.0 == .exited(3) && String(decoding: root.stderr, as: UTF8.self).contains("HOME is /"))
    }

    @Test("the shipped unit names User= and WorkingDirectory=")
    func unitHasUser() throws {
        let unit = try String(contentsOfFile: packageRoot + "/etc/mtor-worker.service", encoding: .utf8)
        let lines = unit.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("User=") })
        #expect(lines.contains { $0.hasPrefix("WorkingDirectory=") })
        #expect(!unit.contains("CONTRACT.md"))
    }

    @Test("status says the worker is not running once it exits (--once, SIGTERM), and shows a failed SIGHUP reload", .timeLimit(.minutes(10)))
    func statusAfterExit() throws {
        let s = try Sandbox("status-exit")
        s.lockfile(Lockfiles.make([]))
        #expect(try s.drain().code == 0)
        let once = try s.mtor(["status", "--spool", s.spool])
        #expect(once.out.contains("worker: not running"), "\(once.out)")
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        #expect(worker.stderr.contains("repos allowed under \(s.home)"), "\(worker.stderr)")
        let live = try s.mtor(["status", "--spool", s.spool])
        #expect(live.out.contains("worker: pid \(worker.child.pid)"), "\(live.out)")
        s.envFile("\u{FEFF}SCRIPTED_KEY=x\n")
        worker.child.signal(SIGHUP)
        try worker.waitFor { worker.stderr.contains("SIGHUP: kept the previous settings") }
        let warned = try s.mtor(["status", "--spool", s.spool])
        #expect(warned.out.contains("warning: worker:") && warned.out.contains("byte-order mark"), "\(warned.out)")
        worker.stop()
        let stopped = try s.mtor(["status", "--spool", s.spool])
        #expect(stopped.out.contains("worker: not running"), "\(stopped.out)")
        #expect(!stopped.out.contains("stopping"), "\(stopped.out)")
    }

    @Test("ids: the original file name is accepted wherever an id is; an id that is nowhere exits 4 at once", .timeLimit(.minutes(10)))
    func idsAndWait() throws {
        let s = try Sandbox("ids")
        s.lockfile(Lockfiles.make([]))
        try s.submit("my task (1).md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho hi\n")
        try s.submit("later.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho later\n")
        let queued = try s.mtor(["show", "my task (1)", "--spool", s.spool])
        #expect(queued.code == 0 && queued.out.contains("queued"), "\(queued.out) \(queued.err)")
        #expect(try s.drain().code == 0)
        for word in ["my task (1)", "my task (1).md", "my-task--1-"] {
            let r = try s.mtor(["show", word, "--spool", s.spool])
            #expect(r.code == 0 && r.out.contains("succeeded"), "show \(word): \(r.out) \(r.err)")
        }
        let logs = try s.mtor(["logs", "my task (1)", "--spool", s.spool])
        #expect(logs.out.contains("hi"), "\(logs.out) \(logs.err)")
        let start = Date()
        let nosuch = try s.mtor(["wait", "later", "nosuch", "--spool", s.spool])
        #expect(nosuch.code == 4, "\(nosuch.err)")
        #expect(Date().timeIntervalSince(start) < 5, "wait nosuch took \(Date().timeIntervalSince(start)) s")
        #expect(nosuch.err.contains("no task 'nosuch'"), "\(nosuch.err)")
        writeFixture(s.spool + "/inbox/notes.txt", Data("a note".utf8))
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("not .md specs and are never run: notes.txt"), "\(status.out)")
    }

    @Test("a SIGHUP re-probes only the providers whose entry, harness or key changed")
    func changedProviders() throws {
        let s = try Sandbox("changed")
        s.lockfile(Lockfiles.make([.init(name: "a", baseURL: "http://127.0.0.1:1", secretEnv: "A_KEY"), .init(name: "b", baseURL: "http://127.0.0.1:2", secretEnv: "B_KEY")]))
        s.envFile("A_KEY=1\nB_KEY=1\n")
        let before = try Settings.load(providers: s.etc + "/providers.json", envPath: nil, processEnvironment: [:])
        s.envFile("A_KEY=2\nB_KEY=1\n")
        let after = try Settings.load(providers: s.etc + "/providers.json", envPath: nil, processEnvironment: [:])
        #expect(after.changedProviders(since: before) == ["a"])
        #expect(after.changedProviders(since: after).isEmpty)
        s.lockfile(Lockfiles.make([.init(name: "a", baseURL: "http://127.0.0.1:1", secretEnv: "A_KEY"), .init(name: "b", baseURL: "http://127.0.0.1:3", secretEnv: "B_KEY")]))
        let moved = try Settings.load(providers: s.etc + "/providers.json", envPath: nil, processEnvironment: [:])
        #expect(moved.changedProviders(since: after) == ["b"])
    }

    @Test("a cancelled spec's sidecar keeps its provider, harness, model and repo as the spec said", .timeLimit(.minutes(10)))
    func cancelledKeepsSpec() throws {
        let s = try Sandbox("cancel-spec")
        s.lockfile(Lockfiles.make([]))
        try s.submit("c.md", "---\nrepo: ~/code/widget\nprovider: local\nmodel: m-1\n---\necho never\n")
        try FileManager.default.createDirectory(atPath: s.spool + "/cancel", withIntermediateDirectories: true)
        writeFixture(s.spool + "/cancel/c", Data())
        #expect(try s.drain().code == 0)
        let r = try s.result("c")
        #expect(r.status == .cancelled)
        #expect(r.spec.repo == s.repo && r.spec.harness == "sh" && r.spec.model == "m-1" && r.spec.provider == "local", "\(r.spec)")
    }
}
