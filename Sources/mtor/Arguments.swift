import Foundation
import MtorCore
import MtorWorker

/// One flag a command accepts: a switch (`value == nil`) or an option taking a value.
struct Flag: Sendable {
    /// The long name, e.g. `--spool`; parsed values are stored under it.
    var name: String
    /// A one-letter alias such as `-f`.
    var short: String? = nil
    /// The placeholder shown in usage (`DIR`), nil for a switch.
    var value: String? = nil
    var help: String

    var shown: String { ([short].compactMap { $0 } + [name]).joined(separator: ", ") + (value.map { " \($0)" } ?? "") }

    static let spool = Flag(name: "--spool", value: "DIR", help: "the spool (default ./spool, or $MTOR_SPOOL)")
    static let json = Flag(name: "--json", help: "print JSON instead of text")
    static let help = Flag(name: "--help", short: "-h", help: "print this usage and do nothing else")
    static let providers = Flag(name: "--providers", value: "FILE", help: "the providers lockfile (default etc/providers.json)")
    static let envFile = Flag(name: "--env-file", value: "FILE",
                              help: "the env file with secrets (default etc/mtor.env next to the lockfile, when it exists)")
    static let timeout = Flag(name: "--timeout", value: "D", help: "stop waiting after D (90s, 15m, 2h); the task goes on")
    /// Flags of commands that can run on the worker's machine over ssh.
    static let remote = [
        Flag(name: "--to", value: "[user@]host:SPOOL", help: "run this command on the spool's machine over ssh"),
        Flag(name: "--ssh-config", value: "FILE", help: "passed to ssh as -F (or $MTOR_SSH_CONFIG)"),
        Flag(name: "--remote-mtor", value: "PATH", help: "the mtor binary on the other machine (default mtor, or $MTOR_REMOTE_MTOR)"),
    ]
}

/// A command's words after parsing against the flags it declares.
struct Arguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var positional: [String] = []

    /// What the words ask for: run the command, or print its usage.
    enum Parsed { case run(Arguments), help }

    /// Parses `words` for `command`. `-h`/`--help` anywhere (before `--`) wins over every other word,
    /// so asking for help never acts; unknown flags and extra operands are usage errors.
    static func parse(_ words: [String], for command: Command) throws(WorkerError) -> Parsed {
        let beforeDashes = words.prefix { $0 != "--" }
        if beforeDashes.contains(where: { $0 == "--help" || $0 == "-h" }) { return .help }
        var args = Arguments()
        var i = 0
        while i < words.count {
            let w = words[i]
            if w == "--" {
                args.positional += words[(i + 1)...]
                break
            }
            if w.hasPrefix("-"), w.count > 1 {
                let (name, inline) = w.hasPrefix("--") && w.contains("=") ? (String(w[..<w.firstIndex(of: "=")!]),
                                                                             String(w[w.index(after: w.firstIndex(of: "=")!)...])) : (w, nil)
                guard let flag = command.allFlags.first(where: { $0.name == name || $0.short == name }) else {
                    throw .usage(command.unknownFlag(name))
                }
                if flag.value == nil {
                    guard inline == nil else { throw .usage("\(flag.name) takes no value (got '\(w)')") }
                    args.flags.insert(flag.name)
                } else if let inline {
                    args.values[flag.name] = inline
                } else {
                    let next = i + 1 < words.count ? words[i + 1] : nil
                    guard let next, !command.allFlags.contains(where: { $0.name == next || $0.short == next }) else {
                        throw .usage("\(flag.name) needs a value: \(flag.name) \(flag.value!)")
                    }
                    args.values[flag.name] = words[i + 1]
                    i += 1
                }
            } else {
                args.positional.append(w)
            }
            i += 1
        }
        try command.checkOperands(args.positional)
        return .run(args)
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

    /// `value` as JSON with more top-level keys (e.g. a sidecar with its merge record).
    static func json<T: Encodable, U: Encodable>(_ value: T, adding more: [String: U]) {
        guard !more.isEmpty, let data = try? JSONEncoder.mtor.encode(value),
              var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return json(value) }
        for (key, extra) in more {
            if let d = try? JSONEncoder.mtor.encode(extra), let o = try? JSONSerialization.jsonObject(with: d) { object[key] = o }
        }
        if let out = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: out, as: UTF8.self))
        }
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
