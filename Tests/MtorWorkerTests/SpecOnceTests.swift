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
