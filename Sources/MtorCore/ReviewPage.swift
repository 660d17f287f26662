import Foundation

/// The morning page: a `NightReview` (and each task's diff) rendered as one self-contained HTML
/// page, with no script, no server and no external asset, readable from `file://`.
public enum ReviewPage {
    /// The whole page. `diffs` maps a task id to its diff (already capped by the caller).
    public static func html(_ review: NightReview, diffs: [String: String], title: String = "mtor review") -> String {
        var out = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(style)</style></head>
        <body>
        <h1>\(escape(title))</h1>
        <p class="window">\(review.rows.count) task\(review.rows.count == 1 ? "" : "s") finished between \(escape(review.since)) and \
        \(escape(review.until))</p>

        """
        out += summary(review)
        out += mergeSection(review)
        out += table(review)
        out += "<h2>Timeline per provider</h2>\n" + timeline(review) + "\n"
        out += costTable(review)
        out += "<h2>Diffs</h2>\n"
        for row in review.rows {
            let diff = diffs[row.id] ?? ""
            let stat = row.diffstat.map { " — \($0.files) file\($0.files == 1 ? "" : "s"), +\($0.insertions) −\($0.deletions)" } ?? ""
            out += "<details class=\"diff\" id=\"diff-\(escape(row.id))\"><summary>\(escape(row.id))\(stat)\(flagBadges(row.flags))</summary>\n"
            out += diff.isEmpty ? "<p class=\"none\">no diff</p>" : "<pre>\(colour(diff))</pre>"
            out += "</details>\n"
        }
        out += "</body></html>\n"
        return out
    }

    // MARK: - Parts

    static func summary(_ r: NightReview) -> String {
        var counts: [String: Int] = [:]
        for row in r.rows { counts[row.status, default: 0] += 1 }
        let flagged = r.rows.filter { !$0.flags.isEmpty }.count
        let parts = ["succeeded", "failed", "cancelled"].map { "\(counts[$0] ?? 0) \($0)" } + ["\(flagged) flagged for review",
                                                                                               "\(r.ready.count) ready to merge"]
        return "<p class=\"summary\">\(parts.joined(separator: " · "))</p>\n"
    }

    static func mergeSection(_ r: NightReview) -> String {
        guard let command = r.mergeCommand else { return "<h2>Ready to merge</h2>\n<p class=\"none\">nothing waits to land</p>\n" }
        return "<h2>Ready to merge</h2>\n<p>\(r.ready.count) task\(r.ready.count == 1 ? "" : "s"), in the order they finished:</p>\n<pre "
            + "class=\"command\" id=\"merge-command\">\(escape(command))</pre>\n"
    }

    static func table(_ r: NightReview) -> String {
        var out = "<h2>Tasks</h2>\n<table id=\"tasks\"><thead><tr><th>task</th><th>verdict</th><th>review "
            + "flags</th><th>diffstat</th><th>cost</th><th>duration</th><th>merge</th><th>provider</th><th>finished</th></tr></thead><tbody>\n"
        for row in r.rows {
            let verdict = "<span class=\"\(row.status)\">\(escape(row.status))</span> <code>\(escape(row.class))</code>"
            let stat = row.diffstat.map { "\($0.files) file\($0.files == 1 ? "" : "s") <span class=\"ins\">+\($0.insertions)</span> <span "
                + "class=\"del\">−\($0.deletions)</span>" } ?? "–"
            var merge = "<span class=\"merge-\(escape(row.merge))\">\(escape(row.merge))</span>"
            if let c = row.mergeCommit { merge += " <code>\(escape(String(c.prefix(10))))</code>" }
            if let f = row.followUp { merge += " → follow-up <a href=\"#task-\(escape(f))\">\(escape(f))</a>" }
            if let o = row.origin { merge += " (follow-up of <a href=\"#task-\(escape(o))\">\(escape(o))</a>)" }
            out += "<tr id=\"task-\(escape(row.id))\" "
                + "class=\"task\(row.flags.isEmpty ? "" : " flagged")\" data-id=\"\(escape(row.id))\"><td><a "
                + "href=\"#diff-\(escape(row.id))\">\(escape(row.id))</a><div class=\"reason\">\(escape(row.reason))</div></td>"
            out += "<td>\(verdict)</td><td>\(row.flags.isEmpty ? "–" : flagBadges(row.flags))</td><td>\(stat)</td>"
            out += "<td>\(row.costUSD.map { String(format: "$%.2f", $0) } ?? "–")</td><td>\(duration(row.durationS))</td><td>\(merge)</td>"
            let model = row.model.map { " <span class=\"model\">\(escape($0))</span>" } ?? ""
            out += "<td>\(escape(row.provider ?? "–"))\(model)</td><td>\(escape(row.finishedAt))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    static func costTable(_ r: NightReview) -> String {
        var out = "<h2>Cost per provider</h2>\n<table id=\"cost\"><thead><tr><th>provider</th><th>tasks</th><th>cost</th></tr></thead><tbody>\n"
        for c in r.costByProvider {
            let cost = c.cost.map { String(format: "$%.2f", $0) } ?? "not reported"
            out += "<tr><td>\(escape(c.provider))</td><td>\(c.tasks)</td><td>\(cost)</td></tr>\n"
        }
        let costs = r.rows.compactMap(\.costUSD)
        let total = costs.isEmpty ? "not reported" : String(format: "$%.2f", costs.reduce(0, +))
        return out + "<tr class=\"total\"><td>all</td><td>\(r.rows.count)</td><td>\(total)</td></tr></tbody></table>\n"
    }

    /// One lane per provider, one bar per attempt (green: ok, red: anything else), as inline SVG.
    static func timeline(_ r: NightReview) -> String {
        let spans = r.rows.flatMap { row in row.attempts.map { (row.id, $0) } }
        let times = spans.compactMap { (_, s) -> (Date, Date)? in
            guard let a = Stamp.date(s.startedAt), let b = Stamp.date(s.endedAt) else { return nil }
            return (a, max(a, b))
        }
        guard let start = times.map(\.0).min(), let end = times.map(\.1).max() else { return "<p class=\"none\">no attempts</p>" }
        var lanes: [String] = []
        for (_, s) in spans where !lanes.contains(s.provider) { lanes.append(s.provider) }
        let width = 960.0, left = 140.0, lane = 26.0, total = max(end.timeIntervalSince(start), 1)
        let height = Double(lanes.count) * lane + 24
        var svg = "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 "
            + "\(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"attempts per provider over time\">\n"
        for (i, p) in lanes.enumerated() {
            let y = Double(i) * lane
            svg += "<text x=\"4\" y=\"\(y + 17)\" class=\"lane\">\(escape(String(p.prefix(18))))</text><line x1=\"\(left)\" "
                + "x2=\"\(width - 4)\" y1=\"\(y + lane - 2)\" y2=\"\(y + lane - 2)\" class=\"grid\"/>\n"
        }
        for (id, s) in spans {
            guard let a = Stamp.date(s.startedAt), let b = Stamp.date(s.endedAt), let i = lanes.firstIndex(of: s.provider) else { continue }
            let x = left + a.timeIntervalSince(start) / total * (width - left - 8)
            let w = max(2, max(b.timeIntervalSince(a), 0) / total * (width - left - 8))
            svg += "<rect x=\"\(fmt(x))\" y=\"\(Double(i) * lane + 4)\" width=\"\(fmt(w))\" height=\"\(lane - 10)\" "
                + "class=\"\(s.class == "ok" ? "ok" : "bad")\"><title>\(escape(id)): \(escape(s.class)), \(escape(s.startedAt)) – "
                + "\(escape(s.endedAt))</title></rect>\n"
        }
        svg += "<text x=\"\(left)\" y=\"\(height - 4)\" class=\"axis\">\(escape(Stamp.iso(start)))</text><text x=\"\(width - 4)\" "
            + "y=\"\(height - 4)\" class=\"axis\" text-anchor=\"end\">\(escape(Stamp.iso(end))) (\(duration(total)))</text>\n"
        return svg + "</svg>"
    }

    // MARK: - Helpers

    static func flagBadges(_ flags: [String]) -> String {
        flags.map { " <span class=\"flag\">\(escape($0))</span>" }.joined()
    }

    /// A diff with added and removed lines marked.
    static func colour(_ diff: String) -> String {
        diff.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let text = escape(String(line))
            if line.hasPrefix("+++") || line.hasPrefix("---") || line.hasPrefix("diff ") { return "<b>\(text)</b>" }
            if line.hasPrefix("+") { return "<span class=\"ins\">\(text)</span>" }
            if line.hasPrefix("-") { return "<span class=\"del\">\(text)</span>" }
            if line.hasPrefix("@@") { return "<span class=\"hunk\">\(text)</span>" }
            return text
        }.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        s < 60 ? String(format: "%.1f s", s) : s < 3600 ? String(format: "%d min %02d s", Int(s) / 60,
                                                                 Int(s) % 60) : String(format: "%d h %02d min", Int(s) / 3600, Int(s) % 3600 / 60)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Text safe inside HTML elements and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static let style = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d1d1f;background:#fff}
    h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
    table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e3e3e8;padding:6px 8px;text-align:left;vertical-align:top}
    th{background:#f5f5f7;font-weight:600}tr.flagged{background:#fff8e1}
    .reason{color:#6e6e73;font-size:12px;max-width:420px}.model{color:#6e6e73;font-size:12px}
    .succeeded{color:#1b5e20;font-weight:600}.failed{color:#b71c1c;font-weight:600}.cancelled{color:#6e6e73;font-weight:600}
    .flag{display:inline-block;background:#ffb300;color:#000;border-radius:3px;padding:0 5px;margin:1px;font-size:12px;font-weight:600}
    .ins{color:#1b5e20}.del{color:#b71c1c}.hunk{color:#6a1b9a}
    .merge-landed{color:#1b5e20;font-weight:600}.merge-ready{color:#0d47a1;font-weight:600}\
    .merge-conflict,.merge-verify_failed{color:#b71c1c;font-weight:600}
    pre{background:#f5f5f7;padding:10px;overflow:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
    pre.command{background:#e3f2fd;font-size:13px}details{margin:6px 0}summary{cursor:pointer}
    .none,.window,.summary{color:#6e6e73}
    svg .ok{fill:#43a047}svg .bad{fill:#e53935}svg .grid{stroke:#e3e3e8}svg .lane,svg .axis{font:12px system-ui,sans-serif;fill:#444}
    """
}
