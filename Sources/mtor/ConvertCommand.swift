import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor convert SPEC... [--write]`: another tool's spec keys rewritten into mtor's.
///
/// The converted spec goes to stdout (or back into the file with `--write`); every mapping and
/// every dropped key is printed (to stderr without `--write`, so stdout stays a clean spec).
enum ConvertCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        guard !args.positional.isEmpty else { throw .usage("convert needs at least one spec file") }
        let write = args.flags.contains("--write")
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/"
        var allValid = true
        for file in args.positional {
            func say(_ line: String) { write ? print("\(file): \(line)") : Output.error("\(file): \(line)") }
            do {
                guard let source = String(validating: try FileSystem.read(file, limit: Spec.maxBytes), as: UTF8.self) else {
                    throw SpecError.invalid(key: nil, "the spec is not valid UTF-8 text")
                }
                let result = try SpecConversion.convert(source, cwd: FileManager.default.currentDirectoryPath)
                result.notes.forEach(say)
                do throws(SpecError) { _ = try Spec.parse(result.text, home: home) } catch {
                    allValid = false
                    say("still not a valid mtor spec: \(error.description)\(write ? "; not written" : "")")
                    if write { continue }
                }
                if !write {
                    if args.positional.count > 1 { print("==> \(file) <==") }
                    print(result.text, terminator: "")
                } else if result.changed {
                    try FileSystem.writeAtomically(Array(result.text.utf8), to: file, mode: 0o644)
                    say("written")
                } else {
                    say("already in mtor's keys; unchanged")
                }
            } catch let error as SpecError {
                allValid = false
                say("\(error.failureClass.rawValue): \(error.description)")
            } catch {
                allValid = false
                say("\(error)")
            }
        }
        return allValid ? 0 : 1
    }
}
