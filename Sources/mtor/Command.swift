import MtorCore
import MtorWorker

/// One `mtor` command as it declares itself: its operands, every flag it accepts, its usage, and what it runs.
/// The parser reads this before anything runs, so `--help`, unknown flags and extra operands never reach `run`.
struct Command: Sendable {
    var name: String
    /// Operands as shown in usage, e.g. `SPEC...` or `ID`; empty when it takes none.
    var operands: String = ""
    /// How many operands it takes.
    var count: ClosedRange<Int> = 0...0
    /// One line: what it does.
    var summary: String
    /// The flags of this command, besides `--spool`, `--json` and `--help`, which every command takes.
    var flags: [Flag] = []
    /// Whether `--to host:SPOOL` runs it on the spool's machine over ssh (adds `--to`, `--ssh-config`, `--remote-mtor`).
    var remote = false
    /// More lines for its usage: defaults, signals, exit codes.
    var details: String = ""
    var run: @Sendable (Arguments) throws(WorkerError) -> Int32

    /// Every flag the parser accepts for this command, in the order its usage lists them.
    var allFlags: [Flag] {
        var out = flags
        if remote { out += Flag.remote.filter { f in !out.contains { $0.name == f.name } } }
        for common in [Flag.spool, Flag.json, Flag.help] where !out.contains(where: { $0.name == common.name }) { out.append(common) }
        return out
    }

    /// `mtor NAME [options] OPERANDS`.
    var synopsis: String { "mtor \(name) [options]\(operands.isEmpty ? "" : " \(operands)")" }

    /// The whole usage: synopsis, summary, details, and one line per flag.
    var usage: String {
        var lines = ["usage: \(synopsis)", "", summary]
        if !details.isEmpty { lines += ["", details] }
        lines += ["", "options:"]
        let flags = allFlags
        let width = min(34, (flags.map { $0.shown.count }.max() ?? 0) + 2)
        for f in flags {
            let left = "  " + f.shown
            lines.append(left.count >= width + 2 ? left + "\n" + String(repeating: " ", count: width + 2) + f.help
                                                 : left.padding(toLength: width + 2, withPad: " ", startingAt: 0) + f.help)
        }
        return lines.joined(separator: "\n")
    }

    /// The sentence for a flag this command does not take, with the nearest one it does.
    func unknownFlag(_ word: String) -> String {
        let names = allFlags.flatMap { [$0.name] + [$0.short].compactMap { $0 } }
        var sentence = "\(name) has no option '\(word)'"
        if let near = Spelling.closest(to: word, in: names) { sentence += "; did you mean '\(near)'?" }
        else if word.hasPrefix("-") && !word.hasPrefix("--") && word.count > 2, let near = Spelling.closest(to: "-" + word, in: names) {
            sentence += "; did you mean '\(near)'?"
        }
        else if word == "--to" { sentence += " (it runs on this machine only)" }
        return sentence + "\n(`mtor \(name) --help` lists its options)"
    }

    /// Refuses too few or too many operands, naming the first extra one.
    func checkOperands(_ words: [String]) throws(WorkerError) {
        if words.count < count.lowerBound {
            throw .usage("\(name) needs \(operands)\n(usage: \(synopsis); `mtor \(name) --help` says more)")
        }
        if words.count > count.upperBound {
            let extra = words[count.upperBound]
            let takes = count.upperBound == 0 ? "takes no operands" : "takes \(count.upperBound == 1 ? "one" : "at most \(count.upperBound)") (\(operands))"
            throw .usage("unexpected argument '\(extra)': \(name) \(takes)\n(usage: \(synopsis))")
        }
    }
}
