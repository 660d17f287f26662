import Foundation
import Testing
import MtorCore
import MtorPlatform
@testable import MtorWorker

/// Reading `state/workers/`: a worker whose heartbeat is being rewritten when `status` reads it
/// is still counted (on a FUSE mount a rename onto the file can fail its open for a moment).
struct WorkerStatesTests {
    static func state(host: String, pid: Int32, spool: Spool) -> WorkerState {
        WorkerState(host: host, pid: pid, version: "test", startedAt: Stamp.iso(), heartbeatAt: Stamp.iso(), spool: spool.root, concurrency: 2,
                    stopping: false, queued: 0, deferred: 0, running: [], waiting: [], warnings: [], providers: nil, envFile: nil,
                    allowedRepos: nil, home: nil, exitedAt: nil)
    }

    @Test("a state file listed but half written is read again until it is whole; one that stays torn costs only the patience")
    func tornStateIsReadAgain() throws {
        let f = try SpoolFixture()
        try FileManager.default.createDirectory(atPath: f.spool.workers, withIntermediateDirectories: true)
        for (host, pid) in [("hA", Int32(11)), ("hB", Int32(12))] {
            try f.spool.writeJSON(Self.state(host: host, pid: pid, spool: f.spool), to: f.spool.workerFile(host: host, pid: pid))
        }
        let whole = f.spool.encode(Self.state(host: "hC", pid: 13, spool: f.spool))
        let path = f.spool.workerFile(host: "hC", pid: 13)
        try FileSystem.writeAtomically(whole.prefix(whole.count / 2), to: path)
        let writer = Thread { Thread.sleep(forTimeInterval: 0.3); try? FileSystem.writeAtomically(whole, to: path) }
        writer.start()
        let states = f.spool.workerStates(patience: 30)
        #expect(Set(states.map(\.host)) == ["hA", "hB", "hC"], "\(states.map(\.host))")
        while !writer.isFinished { Thread.sleep(forTimeInterval: 0.01) }

        // A file that never becomes whole (garbage left by hand) does not hide the others.
        try FileSystem.writeAtomically(Array("{\"host\":".utf8), to: path)
        let began = Date()
        let rest = f.spool.workerStates(patience: 0.3)
        #expect(Set(rest.map(\.host)) == ["hA", "hB"], "\(rest.map(\.host))")
        #expect(Date().timeIntervalSince(began) < 20, "gave up after its patience")
    }
}
