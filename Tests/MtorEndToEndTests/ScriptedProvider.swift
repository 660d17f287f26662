import Foundation
import MtorPlatform

/// The tests' own Anthropic-compatible provider (Tests/Fixtures/scripted_provider.py) on loopback.
final class ScriptedProvider {
    static let script = ProcessInfo.processInfo.environment["MTOR_SCRIPTED_PROVIDER"] ?? "\(packageRoot)/Tests/Fixtures/scripted_provider.py"

    let port: Int
    let logPath: String
    private let child: ChildProcess
    private let thread: Thread

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `passPreflight`: answer mtor's preflight with "ok" whatever the scenario, so the task meets it.
    init(scenario: String, key: String? = nil, count: Int? = nil, passPreflight: Bool = false, extra: [String] = []) throws {
        let dir = NSTemporaryDirectory() + "mtor-provider-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let portFile = dir + "/port"
        logPath = dir + "/requests.jsonl"
        var argv = ["python3", ScriptedProvider.script, "--scenario", scenario, "--port-file", portFile, "--log", logPath]
        if let key { argv += ["--key", key] }
        if let count { argv += ["--count", String(count)] }
        if passPreflight { argv.append("--pass-preflight") }
        argv += extra
        let exe = ChildProcess.resolve("python3", searchPath: "/usr/local/bin:/usr/bin:/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? ""))!
        child = try ChildProcess(executable: exe, argv: argv, environment: ["PATH": "/usr/bin:/bin", "HOME": dir], directory: dir)
        let running = child
        thread = Thread { _ = running.drive(onOutput: { _, _ in }, stop: { false }) }
        thread.start()
        let deadline = Date().addingTimeInterval(20)
        var port = 0
        while Date() < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let p = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                port = p
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard port > 0 else { throw SandboxError("the scripted provider did not start (\(argv.joined(separator: " ")))") }
        self.port = port
    }

    deinit { child.signal(SIGKILL, group: true) }

    /// The requests the provider saw, one JSON object each.
    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// A port with nothing listening on it.
func closedPort() -> Int {
    // Bind-and-close would race; 9 (discard) is never served on loopback in these sandboxes.
    return 9
}
