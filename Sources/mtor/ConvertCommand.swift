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
            others as x-... metadata; leaves unknown keys in place and names them (with the spec's own line numbers).
            Without --write the converted spec always goes to stdout and the changes to stderr; exit 1 when it still
            fails mtor's checks (an unknown key, a repo that is no git work tree here). --write rewrites a file only
            when the result passes, keeping its mode and hard links.
            """,
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let write = args.flags.contains("--write")
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/"
        var allValid = true
        for file in args.positional {
            func say(_ line: String) { write ? print("\(file): \(line)") : Output.error("\(file): \(line)") }
            let result: SpecConversion
            do throws(SpecError) {
                guard let source = String(validating: (try? FileSystem.read(file, limit: Spec.maxBytes)) ?? [0xFF], as: UTF8.self) else {
                    throw .invalid(key: nil, "cannot read it as UTF-8 text of at most 1 MiB")
                }
                result = try SpecConversion.convert(source, cwd: FileManager.default.currentDirectoryPath)
            } catch {
                allValid = false
                say("cannot convert it: \(error.description)")
                continue
            }
            result.notes.forEach(say)
            var problems: [String] = []
            if let repo = repoProblem(result.text, home: home) { problems.append(repo) }
            do throws(SpecError) { _ = try Spec.parse(result.text, home: home) } catch { problems.append(error.description) }
            // Without --write the converted text always goes to stdout, unknown keys and all: the notes above name them.
            if !write {
                if args.positional.count > 1 { print("==> \(file) <==") }
                print(result.text, terminator: "")
            }
            guard problems.isEmpty else {
                allValid = false
                problems.forEach { say("not yet a valid mtor spec: \($0)\(write ? "; not written" : "")") }
                continue
            }
            guard write else { continue }
            if !result.changed { say("already in mtor's keys; unchanged"); continue }
            do throws(SystemError) {
                try rewrite(file, Array(result.text.utf8))
                say("written")
            } catch {
                allValid = false
                say("cannot write it: \(error)")
            }
        }
        return allValid ? 0 : 1
    }

    /// Why the converted spec's `repo` is no git work tree here, if it is not (nil when it is, or there is none).
    static func repoProblem(_ text: String, home: String) -> String? {
        guard let front = try? Frontmatter.split(text), let entry = front.entries.first(where: { $0.key == "repo" }), case .string = entry.value,
              let alone = try? Spec.parse("---\n\(SpecConversion.emit("repo", entry.value))\n---\nx\n", home: home) else { return nil }
        do throws(SpecError) { try SpecCheck.repo(alone) } catch { return "line \(entry.line): \(error.description)" }
        return nil
    }

    /// Writes the converted spec over `file` keeping its mode; a file with other hard links is rewritten
    /// on its own inode, so every name keeps seeing it.
    static func rewrite(_ file: String, _ bytes: [UInt8]) throws(SystemError) {
        if let id = FileIdentity.of(file), id.links > 1 {
            try FileSystem.replaceContent(bytes, of: file)
        } else {
            try FileSystem.writeAtomically(bytes, to: file, mode: mode_t(FileSystem.mode(file) ?? 0o644))
        }
    }
}
