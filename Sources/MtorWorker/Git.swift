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

    /// What is wrong with the repository's HEAD file, found without git: a FIFO, socket or device
    /// there makes every git command wait on it (a task slot held for minutes), and anything but a
    /// branch ref or a commit id makes git fail with a misleading sentence ("HEAD is unborn"). nil
    /// when it looks right, or when no `.git` is found (git says what is wrong then).
    static func headProblem(_ repo: String) -> String? {
        var dir = repo
        while !FileSystem.exists(dir + "/.git") {
            if dir == "/" || dir.isEmpty { return nil }
            dir = FileSystem.directory(of: dir)
        }
        var git = dir + "/.git"
        if case .regular = FileSystem.kind(git), let text = try? FileSystem.readText(git, limit: 4096), text.hasPrefix("gitdir: ") {
            let path = text.dropFirst(8).trimmingCharacters(in: .whitespacesAndNewlines)
            git = path.hasPrefix("/") ? path : dir + "/" + path
        }
        let head = git + "/HEAD"
        switch FileSystem.kind(head) {
        case .regular: break
        case .symlink: return nil  // an old-style symbolic HEAD: git follows it
        case .missing: return "\(head) is missing"
        case .fifo: return "\(head) is a FIFO, not a file: every git command in the repository would wait on it"
        case .socket, .device: return "\(head) is a socket or a device, not a file"
        case .directory: return "\(head) is a directory, not a file"
        }
        guard let text = try? FileSystem.readText(head, limit: 4096) else { return "\(head) cannot be read" }
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if (line.hasPrefix("ref: refs/") && !line.contains("\n")) || isSHA(line) { return nil }
        let shown = String(line.prefix(40).map { $0.isASCII && !$0.isNewline && ($0.asciiValue ?? 0) >= 0x20 ? $0 : "?" })
        return "\(head) holds neither a branch ref nor a commit id (it begins \"\(shown)\")"
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
              let head = (try? FileSystem.readText(git + "/HEAD", limit: 4096)).map(trimmed) else { return nil }
        guard head.hasPrefix("ref: ") else { return isSHA(head) ? head : nil }
        let ref = String(head.dropFirst(5))
        guard !ref.contains(".."), ref.hasPrefix("refs/") else { return nil }
        if let loose = (try? FileSystem.readText(git + "/" + ref, limit: 4096)).map(trimmed) {
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

    /// `s` without ASCII blanks and line ends around it (Foundation's trimming costs a bridge to NSString
    /// per call; this runs twice per task).
    private static func trimmed(_ s: String) -> String {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let utf8 = s.utf8
        guard let first = utf8.firstIndex(where: { !blank($0) }), let last = utf8.lastIndex(where: { !blank($0) }) else { return "" }
        return String(s[first...last])
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
