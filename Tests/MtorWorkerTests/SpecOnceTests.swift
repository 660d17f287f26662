import Foundation
import Testing
import MtorCore
@testable import MtorWorker

/// The dispatcher parses a spec to place it and hands the parsed spec to its task, which checks
/// that spec instead of parsing the file's bytes again. No process is started.
@Suite("A spec is parsed once on its way to running")
struct SpecOnceTests {
    @Test("the task checks the spec the dispatcher parsed; bytes it would refuse are not parsed again")
    func parsedOnce() throws {
        let f = try SpoolFixture()
        try FileManager.default.createDirectory(atPath: f.root + "/.git", withIntermediateDirectories: true)
        var options = f.options
        options.allowedRepos = [f.root]
        let context = TaskContext(spool: f.spool, settings: f.settings, options: options, logger: Logger(), retryGate: RetryGate(perMinute: 10))
        let spec = try Spec.parse(Array("---\nrepo: \(f.root)\nprovider: kimi\n---\nGo.\n".utf8), home: f.root)
        // Not a spec at all: a task that parsed these bytes would refuse them as spec_invalid.
        let garbage = Array("no frontmatter and no repo".utf8)

        let run = TaskRun(id: "t", file: "t.md", bytes: garbage, spec: spec, context: context)
        #expect(run.machine.start(nil) == .checkSpec)
        #expect(run.checkSpec() == .contain)
        #expect(run.spec.repo == f.root)
        #expect(run.targets.map(\.providerName) == ["kimi"])

        // Without a parsed spec the task parses its bytes, and these are refused: the first task never read them.
        let unparsed = TaskRun(id: "u", file: "u.md", bytes: garbage, context: context)
        #expect(unparsed.machine.start(nil) == .checkSpec)
        guard case .conclude(let conclusion) = unparsed.checkSpec() else {
            Issue.record("unparseable bytes were not refused")
            return
        }
        #expect(conclusion.verdict.failureClass == .specInvalid, "\(conclusion)")
    }

    @Test("a parsed spec is still checked: a repo that is no git work tree is refused as workdir_missing")
    func parsedIsChecked() throws {
        let f = try SpoolFixture()
        var options = f.options
        options.allowedRepos = [f.root]
        let context = TaskContext(spool: f.spool, settings: f.settings, options: options, logger: Logger(), retryGate: RetryGate(perMinute: 10))
        let spec = try Spec.parse(Array("---\nrepo: \(f.root)\n---\nGo.\n".utf8), home: f.root)
        let run = TaskRun(id: "t", file: "t.md", bytes: [], spec: spec, context: context)
        _ = run.machine.start(nil)
        guard case .conclude(let conclusion) = run.checkSpec() else {
            Issue.record("a repo with no .git was accepted")
            return
        }
        #expect(conclusion.verdict.failureClass == .workdirMissing, "\(conclusion)")
    }
}

/// What `validate` and `submit` compare a spec with before it is sent: the queued and running twins
/// in the spool, judged by `Scheduler.original` as the worker will judge them.
@Suite("ActiveSpecs: a spec's twins before it is sent")
struct ActiveSpecsTests {
    @Test("a queued twin is named before a running one; a failed one never counts; a spec with dedup: false is no twin")
    func twins() throws {
        let f = try SpoolFixture()
        try f.submit("queued-twin.md", body: "Same.", arrived: 2000)
        try f.submit("off.md", "dedup: false", body: "Off.", arrived: 2000)
        for (dir, id) in [(f.spool.claimed, "running-twin"), (f.spool.failed, "failed-twin"), (f.spool.failed, "failed-other")] {
            let text = "---\nrepo: \(f.root)\n\n---\n\(id == "failed-other" ? "Other" : "Same").\n"
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(id).md"))
        }
        let active = ActiveSpecs.twins(f.spool, settings: f.settings, home: f.root)
        let same = try #require(active.values.first { $0.contains { $0.id == "queued-twin" } })
        #expect(Set(same.map(\.id)) == ["queued-twin", "running-twin"], "failed/ is never read: \(same)")
        #expect(ActiveSpecs.original(among: same) == .queued("queued-twin"))
        #expect(ActiveSpecs.original(among: same.filter { $0.state == .running }) == .running("running-twin"))
        #expect(!active.values.contains { $0.contains { $0.id == "off" } })
    }
}
