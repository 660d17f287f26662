/// Why the worker (or a command) cannot go on, with the exit code of CONTRACT.md section 7.
public enum WorkerError: Error, CustomStringConvertible, Sendable {
    /// The environment is wrong: spool, lockfile, env file. Exit 3.
    case environment(String)
    /// The user asked for something that does not make sense. Exit 2.
    case usage(String)
    /// The thing asked for does not exist. Exit 4.
    case notFound(String)
    /// The thing checked failed. Exit 1.
    case failed(String)

    public var description: String {
        switch self {
        case .environment(let s), .usage(let s), .notFound(let s), .failed(let s): return s
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .failed: return 1
        case .usage: return 2
        case .environment: return 3
        case .notFound: return 4
        }
    }
}
