import Foundation

/// The threads tasks run on, kept between tasks: a thread made and torn down per task (its stack
/// mapped, its TLS set up, its stack given back with madvise and munmap) was two to three per cent
/// of the worker's time at a thousand tasks a second. A task is handed to an idle thread, or to a
/// new one when none is idle; at most `keepIdle` wait for the next, the rest end.
/// Only for task threads, which leave nothing of theirs behind (refusal batches lower their
/// priority, which a later task's agent would inherit: they keep threads of their own).
final class TaskThreads: @unchecked Sendable {  // `condition` guards `work` and `idle`
    private let condition = NSCondition()
    private var work: [@Sendable () -> Void] = []
    private var idle = 0
    private let keepIdle: Int

    init(keepIdle: Int) {
        self.keepIdle = keepIdle
    }

    /// Runs `body` on a thread of its own for as long as it takes.
    func run(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        work.append(body)
        let enoughIdle = work.count <= idle
        if enoughIdle { condition.signal() }
        condition.unlock()
        if !enoughIdle {
            let thread = Thread { [self] in serve() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func serve() {
        condition.lock()
        while true {
            while work.isEmpty {
                guard idle < keepIdle else {
                    condition.unlock()
                    return
                }
                idle += 1
                condition.wait()
                idle -= 1
            }
            let body = work.removeFirst()
            condition.unlock()
            body()
            condition.lock()
        }
    }
}
