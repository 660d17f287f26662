import Foundation
import Testing
import MtorCore
@testable import MtorWorker

/// A spool in a fresh temporary directory and settings from a small lockfile (providers `zhipu` and
/// `kimi` on the claude harness, and the `sh` harness), removed afterwards. No process is started.
final class SpoolFixture {
    let root: String
    let spool: Spool
    let settings: Settings
    var options: WorkerOptions

    init() throws {
        root = NSTemporaryDirectory() + "mtor-worker-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        spool = Spool(root: root + "/spool")
        try spool.prepare()
        let lockPath = root + "/providers.json"
        let lock = try Lockfile.parse(Data(Self.lockfile.utf8), file: lockPath)
        settings = Settings(lock: lock, lockPath: lockPath, envFile: EnvFile(assignments: []), envPath: nil, processEnvironment: ["HOME": root])
        options = WorkerOptions(spool: spool.root, providers: lockPath, envFile: nil)
        options.minFreeMemory = 0  // the host's memory is not what these tests are about
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes inbox/`name` with `front` as its frontmatter, arrived (mtime) at `arrived`; returns its size.
    @discardableResult
    func submit(_ name: String, _ front: String = "", body: String = "Go.", arrived: Double) throws -> Int64 {
        let path = "\(spool.inbox)/\(name)"
        let text = "---\nrepo: \(root)\n\(front)\n---\n\(body)\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: arrived)], ofItemAtPath: path)
        return Int64(text.utf8.count)
    }

    /// Reads inbox/`name` into `book`.
    func load(_ name: String, into book: inout QueueBook) {
        let path = "\(spool.inbox)/\(name)"
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
        #expect(book.load(name: name, path: path, size: size, settings: settings, home: root) != nil, "\(name) could not be read")
    }

    static let lockfile = """
        {
          "schema": "mtor.providers/1",
          "default": "zhipu",
          "harnesses": {
            "claude": {"argv": ["claude", "-p", "--model", "{model}"], "prompt": "stdin", "stream": "claude-stream-json",
                       "auth_headers": {"ANTHROPIC_AUTH_TOKEN": "bearer"}, "base_url_env": "ANTHROPIC_BASE_URL"},
            "sh": {"argv": ["/bin/sh", "-s"], "prompt": "stdin"}
          },
          "providers": {
            "zhipu": {"harness": "claude", "api": "anthropic", "base_url": "https://open.bigmodel.cn/api/anthropic",
                      "auth_env": "ANTHROPIC_AUTH_TOKEN", "secret_env": "ZHIPU_API_KEY", "model": "glm-5.1", "concurrency": 3},
            "kimi": {"harness": "claude", "api": "anthropic", "base_url": "https://api.moonshot.ai/anthropic",
                     "auth_env": "ANTHROPIC_AUTH_TOKEN", "secret_env": "KIMI_API_KEY", "model": "kimi-k2"}
          }
        }
        """
}
