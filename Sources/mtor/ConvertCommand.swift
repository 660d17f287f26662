import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor convert SPEC... [--write]`: another tool's spec keys rewritten into mtor's; every change is
/// printed (to stderr without `--write`, so stdout stays a clean spec).
enum ConvertCommand {
    static let command = Command(
        name: "convert", operands: "SPEC...", count: 1...Int.max, summary: "rewrite another tool's spec keys into mtor's, printing each change",
        flags: [Flag(name: "--write", help: "rewrite each file in place (only when the result passes mtor's checks)")],
        details: """
            Maps claude-code-queue's working_directory, max_retries and priority (lower first) and the original mtor's
            tests.run, scope/files and priority words to mtor's keys; drops empty keys mtor has no use for and keeps the
            others as x-... metadata; leaves unknown keys in place and names them. Without --write the spec goes to stdout
            and the changes to stderr. Exit 1 when a result still fails mtor's checks.
            """,
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let write = args.flags.contains("--write")
        var allValid = true
        for file in args.positional {
            func say(_ line: String) { write ? print("\(file): \(line)") : Output.error("\(file): \(line)") }
            do throws(SpecError) {
                guard let source = String(validating: (try? FileSystem.read(file, limit: Spec.maxBytes)) ?? [0xFF], as: UTF8.self) else {
                    throw .invalid(key: nil, "cannot read it as UTF-8 text of at most 1 MiB")
                }
                let result = try SpecConversion.convert(source, cwd: FileManager.default.currentDirectoryPath)
                result.notes.forEach(say)
                _ = try Spec.parse(result.text, home: ProcessInfo.processInfo.environment["HOME"] ?? "/")
                if !write {
                    if args.positional.count > 1 { print("==> \(file) <==") }
                    print(result.text, terminator: "")
                } else if !result.changed {
                    say("already in mtor's keys; unchanged")
                } else if (try? FileSystem.writeAtomically(Array(result.text.utf8), to: file, mode: 0o644)) != nil {
                    say("written")
                } else {
                    throw .invalid(key: nil, "cannot write \(file)")
                }
            } catch {
                allValid = false
                say("still not a valid mtor spec: \(error.description)\(write ? "; not written" : "")")
            }
        }
        return allValid ? 0 : 1
    }
}
