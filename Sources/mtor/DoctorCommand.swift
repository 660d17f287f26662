import MtorWorker

/// `mtor doctor`: real checks of providers, harnesses, env file and spool.
enum DoctorCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        throw .environment("doctor: being written in this session")
    }
}
