import MtorCore

/// The review part of `mtor show`: flags first, then the branch and how it was integrated.
enum ReviewSummary {
    static func lines(_ r: TaskResult) -> [String] {
        var lines: [String] = []
        if let review = r.review, !review.flags.isEmpty {
            lines.append("  FLAGS:  " + review.flags.map(\.rawValue).joined(separator: ", "))
            lines += review.notes.map { "          \($0)" }
        }
        if let g = r.git, let branch = g.branch {
            let stat = g.diffstat.map { ", \($0.files) file(s) +\($0.insertions) -\($0.deletions)" } ?? ""
            let integrated = g.integrated.map { ", \($0)" } ?? ""
            lines.append("  branch: \(branch) from \(g.base ?? "?")\(stat)\(integrated)\(g.integratedReason.map { " (\($0))" } ?? "")")
        }
        if let answer = r.answer, !answer.isEmpty {
            let first = answer.split(separator: "\n").first.map(String.init) ?? ""
            lines.append("  answer: \(first.prefix(200))\(answer.count > first.count ? " …" : "")")
        }
        return lines
    }
}
