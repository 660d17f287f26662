import Foundation
import Testing
@testable import MtorWorker

@Suite("HEAD read straight from .git agrees with git rev-parse")
struct GitHeadTests {
    @Test("loose ref, packed ref, detached HEAD, unborn branch, and a subdirectory of the work tree")
    func agrees() throws {
        let s = try Sandbox("githead")
        func revParse() throws -> String { try s.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(Git.readHead(s.repo) == (try revParse()))
        try s.git(["commit", "-q", "--allow-empty", "-m", "second"])
        try s.git(["pack-refs", "--all"])
        #expect(!FileManager.default.fileExists(atPath: s.repo + "/.git/refs/heads/main"))
        #expect(Git.readHead(s.repo) == (try revParse()))
        try FileManager.default.createDirectory(atPath: s.repo + "/sub/dir", withIntermediateDirectories: true)
        #expect(Git.readHead(s.repo + "/sub/dir") == (try revParse()))
        try s.git(["checkout", "-q", "--detach", "HEAD~1"])
        #expect(Git.readHead(s.repo) == (try revParse()))
        try s.git(["checkout", "-q", "--orphan", "empty"])
        #expect(Git.readHead(s.repo) == nil)
        #expect(Git.head(s.repo, environment: ["PATH": "/usr/bin:/bin"]) == nil)
    }
}

@Suite("A broken repository is refused at once, saying what is wrong")
struct BrokenHeadTests {
    @Test("HEAD a FIFO, a directory, or garbage: the task fails before any git command with the file and the fault named; nothing waits on the FIFO",
          .timeLimit(.minutes(15)))
    func brokenHead() throws {
        for (kind, breakIt, expected) in [
            ("fifo", { (head: String) in _ = mkfifo(head, 0o644) }, "is a FIFO, not a file"),
            ("dir", { (head: String) in try? FileManager.default.createDirectory(atPath: head, withIntermediateDirectories: false) }, "is a directory, not a file"),
            ("garbage", { (head: String) in FileManager.default.createFile(atPath: head, contents: Data("\u{1b}[2Jnot a ref at all\n".utf8)) }, "holds neither a branch ref nor a commit id"),
        ] as [(String, (String) -> Void, String)] {
            let s = try Sandbox("head-\(kind)")
            s.lockfile(Lockfiles.make([]))
            let head = s.repo + "/.git/HEAD"
            try FileManager.default.removeItem(atPath: head)
            breakIt(head)
            try s.submit("broken.md", "---\nrepo: ~/code/widget\nharness: sh\nworkspace: worktree\n---\necho ran\n")
            let began = Date()
            let run = try s.drain()
            #expect(run.code == 0, "\(run.err.suffix(1500))")
            let r = try s.result("broken")
            #expect(r.status == .failed && r.attempts.isEmpty, "\(kind): \(r.class.rawValue) \(r.attempts.count) attempts")
            #expect(r.reason.contains("is broken: \(head) \(expected)"), "\(kind): \(r.reason)")
            #expect(!r.reason.contains("\u{1b}"), "the garbage is shown escaped: \(r.reason.debugDescription)")
            // A hang would be minutes (git's own 300 s timeout); the drain's whole run is far below that.
            #expect(Date().timeIntervalSince(began) < 120, "\(kind): the refusal took \(Date().timeIntervalSince(began)) s")
        }
    }
}
