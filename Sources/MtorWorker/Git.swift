import MtorCore
import MtorPlatform

/// What the task did to its repository: HEAD before and after, and the new commits.
enum Git {
    static func head(_ repo: String, environment: [String: String]) -> String? {
        guard let r = try? ChildProcess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], environment: environment, directory: repo, timeout: 30),
              r.0.succeeded else { return nil }
        let sha = String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return sha.isEmpty ? nil : sha
    }

    /// Commits reachable from `after` but not from `before`, oldest first.
    static func commits(_ repo: String, from before: String?, to after: String?, environment: [String: String]) -> [TaskResult.Commit] {
        guard let after, after != before else { return [] }
        let range = before.map { "\($0)..\(after)" } ?? after
        guard let r = try? ChildProcess.run(["git", "log", "--reverse", "--format=%H%x09%s", "-n", "1000", range], environment: environment, directory: repo, timeout: 30),
              r.0.succeeded else { return [] }
        return String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard let sha = parts.first else { return nil }
            return TaskResult.Commit(sha: String(sha), subject: parts.count > 1 ? String(parts[1]) : "")
        }
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
