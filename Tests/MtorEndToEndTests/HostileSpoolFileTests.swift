import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

/// Issue 10, point 5: no spool file can hang or redirect the worker. A FIFO or symlink where the
/// worker expects its own file is moved aside to `<name>.bad-<time>` and reported in worker.json.
@Suite("A FIFO or symlink in the spool never hangs or redirects the worker", .serialized)
struct HostileSpoolFileTests {
    /// Makes the spool directories as the worker would, so entries can be planted before it starts.
    static func plantDirectories(_ s: Sandbox) throws {
        for dir in Spool.directories {
            try FileManager.default.createDirectory(atPath: "\(s.spool)/\(dir)", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    static func fifo(_ path: String) throws {
        guard mkfifo(path, 0o600) == 0 else { throw SandboxError("mkfifo \(path) failed: errno \(errno)") }
    }

    /// The entries moved aside from `relative` (`<name>.bad-…`), and what each is now.
    static func movedAside(_ s: Sandbox, _ relative: String) -> [FileSystem.Kind] {
        let dir = FileSystem.directory(of: "\(s.spool)/\(relative)"), name = FileSystem.basename(of: relative)
        let names = ((try? FileSystem.list(dir)) ?? []).filter { $0.hasPrefix(name + ".bad-") }
        return names.map { FileSystem.kind("\(dir)/\($0)") }
    }

    static func warnings(_ s: Sandbox) -> [String] {
        let data = Data(s.read("state/worker.json").utf8)
        return (try? JSONDecoder().decode(WorkerState.self, from: data))?.warnings ?? []
    }

    static func isRegular(_ path: String) -> Bool {
        if case .regular = FileSystem.kind(path) { return true } else { return false }
    }

    @Test("a FIFO at logs/<id>.log: the task still runs and finishes, cancel and SIGTERM still stop it, and the FIFO is moved aside and reported",
          .timeLimit(.minutes(10)))
    func fifoLog() throws {
        let s = try Sandbox("fifo-log")
        s.lockfile(Lockfiles.make([]))
        try Self.plantDirectories(s)
        for id in ["fifo-ok", "fifo-cancel", "fifo-term"] { try Self.fifo("\(s.spool)/logs/\(id).log") }
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { worker.stop() }
        try worker.waitUntilStarted()

        try s.submit("fifo-ok.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho finished fine\n")
        try worker.waitFor(timeout: 60) { s.exists("done/fifo-ok.result.json") || s.exists("failed/fifo-ok.result.json") }
        #expect(try s.result("fifo-ok").status == .succeeded)
        #expect(s.read("logs/fifo-ok.log").contains("finished fine"))
        #expect(Self.movedAside(s, "logs/fifo-ok.log") == [.fifo])

        try s.submit("fifo-cancel.md", "---\nrepo: ~/code/widget\n---\nsleep 60\n")
        try worker.waitFor(timeout: 60) { s.exists("claimed/fifo-cancel.claim.json") }
        let cancel = try s.mtor(["cancel", "fifo-cancel", "--spool", s.spool])
        #expect(cancel.code == 0, "\(cancel.err)")
        try worker.waitFor(timeout: 60) { s.exists("failed/fifo-cancel.result.json") }
        #expect(try s.result("fifo-cancel").status == .cancelled)
        #expect(Self.movedAside(s, "logs/fifo-cancel.log") == [.fifo])

        try s.submit("fifo-term.md", "---\nrepo: ~/code/widget\n---\nsleep 60\n")
        try worker.waitFor(timeout: 60) { s.exists("claimed/fifo-term.claim.json") }
        try worker.waitFor(timeout: 10) { Self.warnings(s).contains { $0.contains("fifo-term.log") } }
        let warned = Self.warnings(s)
        for id in ["fifo-ok", "fifo-cancel", "fifo-term"] {
            #expect(warned.contains { $0.contains("logs/\(id).log is a FIFO") && $0.contains("moved it aside") }, "\(warned)")
            #expect(Self.isRegular("\(s.spool)/logs/\(id).log"))
        }
        // Two SIGTERMs: the first stops new claims, the second interrupts the running task at once.
        worker.child.signal(SIGTERM, group: true)
        Thread.sleep(forTimeInterval: 0.5)
        worker.child.signal(SIGTERM, group: true)
        try worker.waitFor(timeout: 20) { worker.child.isReaped }
        #expect(s.exists("inbox/fifo-term.md") || s.exists("failed/fifo-term.result.json"), "\(s.listing())")
    }

    @Test("a FIFO at state/ledger.jsonl: the heartbeat goes on, tasks finish, SIGTERM stops the worker, and the FIFO is moved aside and reported",
          .timeLimit(.minutes(10)))
    func fifoLedger() throws {
        let s = try Sandbox("fifo-ledger")
        s.lockfile(Lockfiles.make([]))
        try Self.plantDirectories(s)
        try Self.fifo("\(s.spool)/state/ledger.jsonl")
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try s.submit("after-fifo.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho fine\n")
        try worker.waitFor(timeout: 60) { s.exists("done/after-fifo.result.json") }
        let beat = { (try? JSONDecoder().decode(WorkerState.self, from: Data(s.read("state/worker.json").utf8)))?.heartbeatAt }
        let first = beat()
        try worker.waitFor(timeout: 10) { beat() != first && beat() != nil }
        #expect(Self.isRegular(s.spool + "/state/ledger.jsonl"))
        #expect(s.ledger().contains { $0.id == "after-fifo" && $0.event == .succeeded }, "\(s.read("state/ledger.jsonl"))")
        #expect(Self.movedAside(s, "state/ledger.jsonl") == [.fifo])
        #expect(Self.warnings(s).contains { $0.contains("state/ledger.jsonl is a FIFO") }, "\(Self.warnings(s))")
        worker.child.signal(SIGTERM, group: true)
        try worker.waitFor(timeout: 20) { worker.child.isReaped }
        #expect(worker.stderr.contains("worker stopped"), "\(worker.stderr.suffix(2000))")
    }

    @Test("symlinks at state/ledger.jsonl and state/worker.json pointing outside the spool: the targets stay unchanged, the links are moved aside and reported",
          .timeLimit(.minutes(10)))
    func symlinkLedger() throws {
        let s = try Sandbox("link-ledger")
        s.lockfile(Lockfiles.make([]))
        try Self.plantDirectories(s)
        let outside = s.root + "/outside-ledger.txt", outsideState = s.root + "/outside-state.txt"
        let original = "precious content, not a ledger\n"
        for target in [outside, outsideState] { writeFixture(target, Data(original.utf8)) }
        try FileManager.default.createSymbolicLink(atPath: s.spool + "/state/ledger.jsonl", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: s.spool + "/state/worker.json", withDestinationPath: outsideState)
        try s.submit("linked.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho fine\n")
        let run = try s.drain(timeout: 60)
        #expect(run.code == 0, "\(run.err)")
        #expect(try s.result("linked").status == .succeeded)
        for target in [outside, outsideState] {
            #expect(String(decoding: try FileSystem.read(target), as: UTF8.self) == original, "\(target) was written through the link")
        }
        for file in ["state/ledger.jsonl", "state/worker.json"] {
            #expect(Self.isRegular("\(s.spool)/\(file)"), "\(file)")
            #expect(Self.movedAside(s, file) == [.symlink], "\(file): \(s.listing())")
            #expect(Self.warnings(s).contains { $0.contains("\(file) is a symlink") }, "\(Self.warnings(s))")
        }
        #expect(s.ledger().contains { $0.id == "linked" && $0.event == .succeeded })
        #expect(run.err.contains("state/ledger.jsonl is a symlink"), "\(run.err)")
    }

    @Test("a spool directory replaced by a symlink: the worker refuses to start and says which one, and writes nothing through it")
    func symlinkedDirectory() throws {
        let s = try Sandbox("link-dir")
        s.lockfile(Lockfiles.make([]))
        try Self.plantDirectories(s)
        let elsewhere = s.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: s.spool + "/logs")
        try FileManager.default.createSymbolicLink(atPath: s.spool + "/logs", withDestinationPath: elsewhere)
        try s.submit("never.md", "---\nrepo: ~/code/widget\n---\necho never\n")
        let run = try s.drain(timeout: 60)
        #expect(run.code == 3, "\(run.code): \(run.err)")
        #expect(run.err.contains("\(s.spool)/logs is a symlink, not a directory"), "\(run.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        #expect(s.exists("inbox/never.md"))
    }
}
