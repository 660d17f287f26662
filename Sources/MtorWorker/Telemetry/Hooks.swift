import Foundation
import MtorCore
import MtorPlatform

/// `--on-finish CMD` and `--on-attention CMD`: notifications, run off the main loop.
///
/// CMD runs under `/bin/sh -c` in a from-scratch environment (PATH, HOME, LANG and the
/// `MTOR_*` variables, never a secret), in its own process group and containment, with the
/// sidecar JSON (or the event as JSON) on stdin and a 30 s limit. A hook that fails or hangs
/// is logged and counted in `state/worker.json`; it never changes a result or blocks the worker.
final class Hooks: Sendable {
    static let limit: Double = 30

    /// Counts for `state/worker.json`.
    struct Counts: Codable, Sendable {
        var ran = 0
        var failed = 0
        var timedOut = 0
        var lastError: String?
        enum CodingKeys: String, CodingKey { case ran, failed, lastError = "last_error", timedOut = "timed_out" }
    }

    let onFinish: String?
    let onAttention: String?
    private let logger: Logger
    private let home: String
    /// The runs so far, and the number of the last one started (for its containment's name).
    private let runs = LockBox((counts: Counts(), sequence: 0))

    init(onFinish: String?, onAttention: String?, logger: Logger, home: String) {
        self.onFinish = onFinish
        self.onAttention = onAttention
        self.logger = logger
        self.home = home
    }

    var snapshot: Counts? {
        guard onFinish != nil || onAttention != nil else { return nil }
        return runs.withLock { $0.counts }
    }

    /// A task's sidecar was written.
    func finished(_ result: TaskResult, sidecar: [UInt8]) {
        guard let onFinish else { return }
        run(onFinish, what: "on-finish for \(result.id)", stdin: sidecar, variables: [
            "MTOR_EVENT": "finished", "MTOR_ID": result.id, "MTOR_STATUS": result.status.rawValue,
            "MTOR_CLASS": result.class.rawValue, "MTOR_REASON": result.reason,
        ])
    }

    /// Something needs a person: a provider turned unhealthy, or the success rate dropped.
    func attention(event: String, provider: String?, cls: FailureClass?, reason: String) {
        guard let onAttention else { return }
        var fields = ["event": event, "reason": reason]
        if let provider { fields["provider"] = provider }
        if let cls { fields["class"] = cls.rawValue }
        let json = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])).map(Array.init) ?? []
        run(onAttention, what: "on-attention (\(event))", stdin: json, variables: [
            "MTOR_EVENT": event, "MTOR_PROVIDER": provider ?? "", "MTOR_CLASS": cls?.rawValue ?? "", "MTOR_REASON": reason,
        ])
    }

    private func run(_ command: String, what: String, stdin: [UInt8], variables: [String: String]) {
        let runs = self.runs
        let n: Int = runs.withLock { $0.sequence += 1; return $0.sequence }
        let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"].merging(variables) { _, new in new }
        let logger = self.logger
        let thread = Thread {
            let box = Containment.create(name: "w\(ProcessControl.pid)-hook-\(n)")
            defer { box.dispose() }
            var outcome: (ok: Bool, timedOut: Bool, said: String)
            do {
                let r = try ChildProcess.run(["/bin/sh", "-c", command], environment: environment, stdin: stdin, timeout: Hooks.limit,
                                             containment: box)
                let said = String(decoding: (r.stderr + r.stdout).suffix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                let exit = "exit \(r.0.exitCode.map(String.init) ?? "signal \(r.0.signal ?? 0)")\(said.isEmpty ? "" : ": " + said)"
                outcome = (r.0.succeeded && !r.timedOut, r.timedOut, r.timedOut ? "killed after \(Int(Hooks.limit)) s" : exit)
            } catch {
                outcome = (false, false, "could not start /bin/sh: \(error)")
            }
            runs.withLock {
                $0.counts.ran += 1
                if !outcome.ok {
                    $0.counts.failed += 1
                    if outcome.timedOut { $0.counts.timedOut += 1 }
                    $0.counts.lastError = "\(Stamp.iso()) \(what): \(outcome.said)"
                }
            }
            if !outcome.ok { logger.warn("\(what) failed (\(outcome.said)); the task's result is unchanged") }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
