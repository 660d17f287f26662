import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor validate SPEC...`: the worker's spec checks, locally.
enum ValidateCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        guard !args.positional.isEmpty else { throw .usage("validate needs at least one spec file") }
        let settings = FileSystem.exists(args.providers) ? try Settings.load(providers: args.providers, envPath: args.values["--env-file"]) : nil
        let report = SpecReport.check(args.positional, settings: settings, checkRepo: !args.flags.contains("--no-repo-check"))
        report.print(json: args.json)
        return report.allValid ? 0 : 1
    }
}

/// The verdict on a list of spec files, shared by `validate` and `submit`.
struct SpecReport: Encodable {
    struct Entry: Encodable {
        var file: String
        var valid: Bool
        var `class`: String?
        var error: String?
        var repo: String?
        var provider: String?
    }

    var entries: [Entry]
    var allValid: Bool { entries.allSatisfy(\.valid) }

    static func check(_ files: [String], settings: Settings?, checkRepo: Bool) -> SpecReport {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/"
        return SpecReport(entries: files.map { entry(for: $0, home: home, settings: settings, checkRepo: checkRepo) })
    }

    static func entry(for file: String, home: String, settings: Settings?, checkRepo: Bool) -> Entry {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(file, limit: Spec.maxBytes)
        } catch {
            let why = error.errno == EFBIG ? "the spec is larger than 1 MiB" : "\(error)"
            return Entry(file: file, valid: false, class: FailureClass.specInvalid.rawValue, error: why)
        }
        do {
            let (spec, targets) = try SpecCheck.check(bytes, home: home, settings: settings, checkRepo: checkRepo)
            return Entry(file: file, valid: true, repo: spec.repo, provider: targets.first?.providerName ?? spec.provider)
        } catch {
            return Entry(file: file, valid: false, class: error.failureClass.rawValue, error: error.description)
        }
    }

    func print(json: Bool) {
        if json { return Output.json(self) }
        for e in entries {
            if e.valid { Swift.print("ok      \(e.file) (repo \(e.repo ?? "?"), provider \(e.provider ?? "default"))") }
            else { Swift.print("invalid \(e.file): \(e.class ?? ""): \(e.error ?? "")") }
        }
    }
}
