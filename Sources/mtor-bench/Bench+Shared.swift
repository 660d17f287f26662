import Foundation
import MtorPlatform

/// Pickup latency on a spool shared by several hosts (`--shared-spool DROP:WORKER`): two mounts
/// of one network filesystem (two GlusterFS clients, two NFS mounts). The worker runs on WORKER
/// and specs are dropped through DROP, so no inotify event ever reaches the worker: it sees them
/// by its poll (`--poll`, default 1 s on a network filesystem). Timed from just before the rename
/// into inbox/ through DROP to the harness's first command (a mark on local disk).
extension Bench {
    func sharedSpool() throws(BenchError) {
        guard let (drop, work) = options.sharedSpool else { return }
        let count = options.quick ? 10 : 100
        let name = "mtor-bench-shared-\(ProcessControl.pid)-\(UInt32.random(in: 0...UInt32.max))"
        let dropRoot = "\(drop)/\(name)/spool", workRoot = "\(work)/\(name)/spool"
        let marks = world.root + "/shared-marks"
        do {
            for dir in BenchSpool.directories { try FileSystem.makeDirectories("\(dropRoot)/\(dir)") }
            try FileSystem.makeDirectories(marks)
        } catch {
            throw .setup("cannot create a spool under \(drop): \(error)")
        }
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: "\(drop)/\(name)") } }
        let deadline = now() + 10
        while FileSystem.kind("\(workRoot)/inbox") != .directory {
            guard now() < deadline else { throw .setup("\(work)/\(name) does not appear through \(work) within 10 s: are \(drop) and \(work) "
                + "mounts of one filesystem?") }
            sleep(0.05)
        }
        let worker: ChildProcess
        do {
            worker = try ChildProcess(executable: options.mtor, argv: [options.mtor, "worker", "--spool", workRoot, "--providers", world.lockfile,
                                                                            "--sandbox-writable", marks],
                                      environment: world.environment, directory: world.root)
        } catch {
            throw .setup("cannot start \(options.mtor): \(error)")
        }
        let output = OutputBuffer()
        let thread = Thread { _ = worker.drive(onOutput: { _, bytes in output.append(bytes) }, stop: { output.stopRequested }) }
        thread.start()
        defer {
            output.requestStop()
            while !thread.isFinished { sleep(0.02) }
        }
        log("shared spool: \(count) sequential specs dropped through \(drop), worker on \(work)")
        var pickups: [Double] = []
        var missed = 0
        for i in 0..<(count + 2) {
            let id = String(format: "shared-%04d", i)
            let text = "---\nrepo: \(world.repo)\nharness: sh\nworkspace: in-place\nexpect: nothing\n---\n: > \(marks)/\(id)\n"
            do {
                try FileSystem.writeAtomically(Array(text.utf8), to: "\(dropRoot)/tmp/\(id).md", mode: 0o644, durable: false)
            } catch {
                throw .setup("cannot stage \(id): \(error)")
            }
            // A random phase against the worker's poll, so the samples cover it evenly.
            sleep(Double.random(in: 0...1))
            let t0 = now()
            do { try FileSystem.renameNoReplace("\(dropRoot)/tmp/\(id).md", "\(dropRoot)/inbox/\(id).md") } catch { throw .workload("cannot drop \(id): \(error)") }
            var started: Double?
            while now() - t0 < 15 {
                if FileSystem.exists("\(marks)/\(id)") { started = now(); break }
                Thread.sleep(forTimeInterval: 0.002)
            }
            guard let started else {
                missed += 1
                guard missed < 3 else { throw .workload("specs dropped through \(drop) never started; the worker "
                    + "printed:\n\(output.text.suffix(2000))") }
                continue
            }
            // The first two only prove the worker is polling.
            if i >= 2 { pickups.append(started - t0) }
            while now() - t0 < 30, !FileSystem.exists("\(dropRoot)/done/\(id).result.json"),
                  !FileSystem.exists("\(dropRoot)/failed/\(id).result.json") { sleep(0.02) }
        }
        let p = Percentiles(pickups)
        let note = "drop through \(drop), worker on \(work) "
            + "(\(output.text.contains("network filesystem") ? "polled: network filesystem detected" : "no network filesystem detected")); rename into inbox/ → the sh harness's first command"
        report.figures.append(Figure("shared spool pickup p50", unit: "ms", better: .lower, mtor: p.at(0.5).map { $0 * 1000 }, target: 600, samples: pickups.count, note: note))
        report.figures.append(Figure("shared spool pickup p99", unit: "ms", better: .lower, mtor: p.at(0.99).map { $0 * 1000 }, target: 1200, samples: pickups.count))
        report.notes.append("shared spool: \(note); \(missed) missed")
    }
}

/// A child's output collected by its driving thread, and the flag that stops it.
final class OutputBuffer: @unchecked Sendable {  // `lock` guards `bytes` and `stop`
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var stop = false

    func append(_ chunk: UnsafeRawBufferPointer) { lock.withLock { bytes.append(contentsOf: chunk.prefix(1 << 20)) } }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
    var stopRequested: Bool { lock.withLock { stop } }
    func requestStop() { lock.withLock { stop = true } }
}
