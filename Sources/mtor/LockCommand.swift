import MtorWorker

/// `mtor lock check`: the lockfile, the env file and etc/ scripts agree.
enum LockCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        throw .environment("lock check: being written in this session")
    }
}
