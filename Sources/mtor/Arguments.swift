import Foundation
import MtorCore
import MtorWorker

/// Parsed command-line flags: `--name value`, `--flag`, and positional words.
struct Arguments {
    static let valued: Set<String> = ["--spool", "--providers", "--env-file", "--concurrency", "--to", "--via", "--provider", "--timeout", "--grace", "--log-cap", "--allow-repos", "--ssh-config", "--remote-mtor", "--rescan", "--reprobe-idle", "--retries-per-minute", "--containment", "--silence-probe",
                                     "--workspaces", "--review-max-lines"]
    static let switches: Set<String> = ["--once", "--json", "--wait", "-f", "--follow", "--no-repo-check", "--help", "-h", "--keep-workspaces"]

    var values: [String: String] = [:]
    var flags: Set<String> = []
    var positional: [String] = []

    init(_ words: [String]) throws(WorkerError) {
        var i = 0
        while i < words.count {
            let w = words[i]
            if w == "--" {
                positional += words[(i + 1)...]
                break
            }
            if let eq = w.firstIndex(of: "="), w.hasPrefix("--"), Arguments.valued.contains(String(w[..<eq])) {
                values[String(w[..<eq])] = String(w[w.index(after: eq)...])
            } else if Arguments.valued.contains(w) {
                guard i + 1 < words.count else { throw .usage("\(w) needs a value") }
                values[w] = words[i + 1]
                i += 1
            } else if Arguments.switches.contains(w) {
                flags.insert(w)
            } else if w.hasPrefix("-") && w.count > 1 {
                throw .usage("unknown option '\(w)'")
            } else {
                positional.append(w)
            }
            i += 1
        }
    }

    var json: Bool { flags.contains("--json") }

    /// `--spool`, else `$MTOR_SPOOL`, else `./spool`.
    var spool: String { values["--spool"] ?? ProcessInfo.processInfo.environment["MTOR_SPOOL"] ?? "spool" }

    /// `--providers`, else `etc/providers.json`.
    var providers: String { values["--providers"] ?? "etc/providers.json" }

    func int(_ name: String, default value: Int) throws(WorkerError) -> Int {
        guard let text = values[name] else { return value }
        guard let n = Int(text) else { throw .usage("\(name) must be a whole number, got '\(text)'") }
        return n
    }

    /// A duration: plain seconds (`2.5`) or with a unit (`90s`, `15m`, `2h`); positive unless `zero` is allowed.
    func seconds(_ name: String, default value: Double, zero: Bool = false) throws(WorkerError) -> Double {
        guard let text = values[name] else { return value }
        guard let s = Double(text) ?? DurationText.parse(text), s.isFinite, s > 0 || (zero && s == 0) else {
            throw .usage("\(name) must be a \(zero ? "" : "positive ")duration such as 30, 90s, 15m or 2h; got '\(text)'")
        }
        return s
    }
}

/// Prints to stdout, as JSON when asked.
enum Output {
    static func json<T: Encodable>(_ value: T) {
        if let data = try? JSONEncoder.mtor.encode(value) { print(String(decoding: data, as: UTF8.self)) }
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("mtor: \(message)\n".utf8))
    }
}

extension JSONEncoder {
    static var mtor: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
