import MtorCore
import MtorPlatform

/// Reading a repository without a process: HEAD, its branch, whether a path is a work tree.
enum Git {
    /// HEAD's commit: read from `.git` directly (no process to spawn), else from `git rev-parse`.
    static func head(_ repo: String, environment: [String: String]) -> String? {
        if let sha = readHead(repo) { return sha }
        guard let r = try? ChildProcess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], environment: environment, directory: repo, timeout: 30),
              r.0.succeeded else { return nil }
        let sha = String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return sha.isEmpty ? nil : sha
    }

    /// Reads HEAD from a plain `.git` directory: a detached sha, or a branch ref that is loose
    /// or in `packed-refs`. Anything unusual (worktree files, an unborn branch) returns nil.
    static func readHead(_ repo: String) -> String? {
        var dir = repo
        while !FileSystem.exists(dir + "/.git") {
            if dir == "/" || dir.isEmpty { return nil }
            dir = FileSystem.directory(of: dir)
        }
        let git = dir + "/.git"
        guard case .directory = FileSystem.kind(git),
              let head = try? FileSystem.readText(git + "/HEAD", limit: 4096).trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        guard head.hasPrefix("ref: ") else { return isSHA(head) ? head : nil }
        let ref = String(head.dropFirst(5))
        guard !ref.contains(".."), ref.hasPrefix("refs/") else { return nil }
        if let loose = try? FileSystem.readText(git + "/" + ref, limit: 4096).trimmingCharacters(in: .whitespacesAndNewlines) {
            return isSHA(loose) ? loose : nil
        }
        guard let packed = try? FileSystem.readText(git + "/packed-refs", limit: 64 << 20) else { return nil }
        for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
            let sha = String(line.prefix { $0 != " " })
            return isSHA(sha) ? sha : nil
        }
        return nil
    }

    /// The branch a plain `.git` directory's HEAD names (`main` for `ref: refs/heads/main`); nil when
    /// detached or unusual.
    static func readHeadBranch(_ repo: String) -> String? {
        guard case .directory = FileSystem.kind(repo + "/.git"),
              let head = try? FileSystem.readText(repo + "/.git/HEAD", limit: 4096).trimmingCharacters(in: .whitespacesAndNewlines),
              head.hasPrefix("ref: refs/heads/") else { return nil }
        return String(head.dropFirst("ref: refs/heads/".count))
    }

    /// Whether `s` is a full commit id (SHA-1 or SHA-256), in lower or upper hex.
    static func isSHA(_ s: String) -> Bool {
        (s.count == 40 || s.count == 64) && s.allSatisfy { $0.isHexDigit }
    }

    /// Whether `path` is inside a git work tree (a `.git` directory or file here or above).
    static func isWorkTree(_ path: String) -> Bool {
        var dir = path
        while true {
            if FileSystem.exists(dir + "/.git") { return true }
            if dir == "/" || dir.isEmpty { return false }
            dir = FileSystem.directory(of: dir)
        }
    }
}

import Foundation
