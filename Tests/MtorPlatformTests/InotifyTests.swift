import Foundation
import Testing
import MtorCore
@testable import MtorPlatform

@Suite("Inotify sees specs arrive complete")
struct InotifyTests {
    /// Collects the names that arrive in `dir` while `action` runs, minus temp names.
    func arrivals(in dir: String, _ action: () throws -> Void) throws -> [String] {
        let inotify = try Inotify()
        try inotify.watch(dir)
        try action()
        var names: [String] = []
        let deadline = now() + 5
        while now() < deadline {
            _ = Poll.readable([inotify.fd], timeout: 0.2)
            names += inotify.read().filter { !TaskID.isTemporary($0.name) }.map(\.name)
            if !names.isEmpty { _ = Poll.readable([inotify.fd], timeout: 0.2); names += inotify.read().filter { !TaskID.isTemporary($0.name) }.map(\.name); break }
        }
        return names
    }

    @Test("a file renamed in with mv is seen once, by name", .timeLimit(.minutes(10)))
    func moved() throws {
        let t = TempDir()
        try FileManager.default.createDirectory(atPath: t.path + "/inbox", withIntermediateDirectories: true)
        t.write("staged.md", "hello")
        let names = try arrivals(in: t.path + "/inbox") {
            #expect(rename(t.path + "/staged.md", t.path + "/inbox/a.md") == 0)
        }
        #expect(names == ["a.md"])
    }

    @Test("a file written directly is seen when it is closed", .timeLimit(.minutes(10)))
    func directWrite() throws {
        let t = TempDir()
        let names = try arrivals(in: t.path) {
            t.write("b.md", "written in place")
        }
        #expect(Set(names) == ["b.md"], "a direct write may close more than once; the worker dedupes")
    }

    @Test("rsync's temporary dot-file is skipped and the final rename is seen", .timeLimit(.minutes(10)),
          .enabled(if: which("rsync") != nil, "rsync is not installed (apt-get install rsync; .ci/run installs it)"))
    func rsync() throws {
        let rsync = try #require(which("rsync"))
        let t = TempDir()
        try FileManager.default.createDirectory(atPath: t.path + "/inbox", withIntermediateDirectories: true)
        t.write("c.md", String(repeating: "x", count: 200_000))
        let inotify = try Inotify()
        try inotify.watch(t.path + "/inbox")
        let r = try ChildProcess.run([rsync, t.path + "/c.md", t.path + "/inbox/c.md"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(r.0 == .exited(0))
        _ = Poll.readable([inotify.fd], timeout: 2)
        let events = inotify.read()
        // rsync writes ".c.md.XXXXXX" and renames it: the temp name is reported too, and skipped.
        #expect(events.contains { $0.name.hasPrefix(".c.md.") })
        #expect(events.filter { !TaskID.isTemporary($0.name) }.map(\.name) == ["c.md"])
    }

    @Test("dot-files and editor temp files are recognised as temporary")
    func temporaryNames() {
        #expect(TaskID.isTemporary(".d.md"))
        #expect(TaskID.isTemporary("d.md.tmp"))
        #expect(TaskID.isTemporary("d.md~"))
        #expect(!TaskID.isTemporary("d.md"))
    }
}
