import Foundation
import MtorPlatform

/// `mtor worker` running in the background on a sandbox, stopped with SIGTERM.
final class BackgroundWorker {
    let child: ChildProcess
    let sandbox: Sandbox
    private let thread: Thread
    private let sink = OutputSink()

    init(_ s: Sandbox, extra: [String] = [], env: [String: String] = [:]) throws {
        sandbox = s
        var environment = s.environment
        for (k, v) in env { environment[k] = v }
        child = try ChildProcess(executable: mtorBinary, argv: [mtorBinary, "worker", "--spool", s.spool, "--providers", s.etc + "/providers.json"] + Sandbox.testDefaults(extra, root: s.root),
                                 environment: environment, directory: s.root)
        let running = child, sink = self.sink
        thread = Thread { _ = running.drive(onOutput: { _, bytes in sink.append(bytes) }, stop: { false }) }
        thread.start()
    }

    /// Runs `argv` (a worker command line of the test's own, e.g. under setpriv) instead.
    init(_ s: Sandbox, argv: [String], env: [String: String]) throws {
        sandbox = s
        child = try ChildProcess(executable: argv[0], argv: argv, environment: env, directory: s.root)
        let running = child, sink = self.sink
        thread = Thread { _ = running.drive(onOutput: { _, bytes in sink.append(bytes) }, stop: { false }) }
        thread.start()
    }

    var stderr: String { sink.text }

    func waitUntilStarted() throws {
        try waitFor { self.stderr.contains("worker started") }
    }

    func waitFor(timeout: Double = 30, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw SandboxError("condition not met within \(timeout)s; worker said:\n\(stderr)\nspool: \(sandbox.listing())")
    }

    /// SIGTERM to the worker's group, SIGKILL after 40 s. Signals go through the child, never to a bare
    /// pid: a worker a test killed earlier is reaped, and its pid may be another test's process by now.
    func stop() {
        child.signal(SIGTERM, group: true)
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline && !child.isReaped { Thread.sleep(forTimeInterval: 0.05) }
        child.signal(SIGKILL, group: true)
    }
}

/// Collects a child's output from its reader thread.
final class OutputSink: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    func append(_ chunk: UnsafeRawBufferPointer) { lock.withLock { bytes.append(contentsOf: chunk) } }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
