/// The user's reference: spec keys, sidecar fields, failure classes, the spool, the lockfile,
/// the env file and exit codes, as data. `mtor help TOPIC` prints it and README's Reference
/// section is generated from it (`mtor help --markdown`); a test fails when a spec key, class,
/// sidecar field, lockfile key or command exists in the code but not here.
public struct ReferenceTopic: Sendable {
    /// What `mtor help NAME` takes.
    public var name: String
    public var title: String
    /// A paragraph before the table.
    public var intro: String
    /// Column headings; every row has one cell per column.
    public var columns: [String]
    /// Rows: the first cell is the entry's name (a key, a class, a path, a code).
    public var rows: [[String]]
    /// A paragraph after the table.
    public var outro: String = ""

    /// The names in the first column, for completeness checks.
    public var names: [String] { rows.map { $0[0] } }

    /// The row named `name`, if any.
    public func row(_ name: String) -> [String]? { rows.first { $0[0] == name } }
}

public enum Reference {
    /// Every topic, in the order `mtor help` lists them.
    public static var topics: [ReferenceTopic] { [spec, sidecar, classes, spool, lockfile, env, exitCodes] }

    public static func topic(_ name: String) -> ReferenceTopic? {
        let aliases = ["keys": "spec", "specs": "spec", "result": "sidecar", "results": "sidecar", "class": "classes",
                       "failures": "classes", "providers": "lockfile", "lock": "lockfile", "env-file": "env",
                       "exit": "exit-codes", "codes": "exit-codes"]
        let wanted = aliases[name] ?? name
        return topics.first { $0.name == wanted }
    }

    // MARK: - Rendering

    /// For the terminal: the title, the intro, then each row as a block of `column: cell` lines.
    public static func text(_ t: ReferenceTopic) -> String {
        var lines = [t.title.uppercased(), ""] + wrap(t.intro, 78, indent: "") + [""]
        for row in t.rows {
            lines.append(row[0])
            for (heading, cell) in zip(t.columns.dropFirst(), row.dropFirst()) where !cell.isEmpty {
                lines += wrap("\(heading): \(cell)", 74, indent: "    ")
            }
        }
        if !t.outro.isEmpty { lines += [""] + wrap(t.outro, 78, indent: "") }
        return lines.joined(separator: "\n")
    }

    /// For README: a `###` heading, the intro, a Markdown table, the outro.
    public static func markdown(_ t: ReferenceTopic) -> String {
        var lines = ["### \(t.title) (`mtor help \(t.name)`)", "", t.intro, ""]
        lines.append("| " + t.columns.joined(separator: " | ") + " |")
        lines.append("|" + String(repeating: "---|", count: t.columns.count))
        for row in t.rows {
            let cells = row.enumerated().map { $0.offset == 0 ? "`\($0.element)`" : $0.element.replacingOccurrences(of: "|", with: "\\|") }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        if !t.outro.isEmpty { lines += ["", t.outro] }
        return lines.joined(separator: "\n")
    }

    /// Greedy word wrap at `width` columns, each line prefixed with `indent`.
    static func wrap(_ text: String, _ width: Int, indent: String) -> [String] {
        var out: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty, line.count + 1 + word.count > width {
                    out.append(indent + line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            out.append(indent + line)
        }
        return out
    }

    /// What the retry policy does with a class, derived from `FailureClass` itself so it cannot drift.
    public static func retried(_ c: FailureClass) -> String {
        if c == .ok { return "—" }
        if c == .interrupted { return "requeued when a worker starts; counts as an attempt (up to 1 + `retries`)" }
        let limit = c.attemptLimit(retries: Spec.defaultRetries)
        let maximum = c.attemptLimit(retries: Spec.maxRetries)
        var s: String
        if limit <= 1 { s = "never" }
        else if maximum == 2 { s = "once more" }
        else { s = "yes, up to `retries` more times (default \(Spec.defaultRetries)) with capped backoff" }
        if c.movesToFallback { s += limit <= 1 ? " on that provider; the next `fallback` "
            + "provider takes over" : ", then the next `fallback` provider" }
        return s
    }
}
