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
