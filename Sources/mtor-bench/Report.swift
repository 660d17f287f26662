import Foundation

/// One row of the table: a figure for mtor and each baseline, the ratio, and the target.
struct Figure: Codable {
    enum Better: String, Codable { case lower, higher }

    struct Baseline: Codable {
        var name: String
        var value: Double?
    }

    var figure: String
    var unit: String
    var better: Better
    var mtor: Double?
    var baselines: [Baseline]
    /// How many times better mtor is than the best baseline (> 1: mtor wins).
    var ratio: Double?
    var target: Double?
    var met: Bool?
    /// Samples behind the figure (specs, runs).
    var samples: Int?
    var note: String?

    init(_ figure: String, unit: String, better: Better, mtor: Double?, baselines: [ContenderKind: Double] = [:],
         target: Double? = nil, samples: Int? = nil, note: String? = nil) {
        self.figure = figure
        self.unit = unit
        self.better = better
        self.mtor = mtor
        self.baselines = ContenderKind.baselines.map { Baseline(name: $0.rawValue, value: baselines[$0]) }
        self.target = target
        self.samples = samples
        self.note = note
        let values = self.baselines.compactMap(\.value)
        if let mtor, let best = better == .lower ? values.min() : values.max(), mtor > 0, best > 0 {
            ratio = better == .lower ? best / mtor : mtor / best
        }
        if let mtor, let target { met = better == .lower ? mtor <= target : mtor >= target }
    }
}

/// The whole run: the rows, what was skipped and why, and the machine it ran on.
struct Report: Codable {
    var schema = "mtor.bench/1"
    var mode: String
    var startedAt: String
    var durationS: Double = 0
    var machine: [String: String]
    var command: String
    var figures: [Figure] = []
    var notes: [String] = []
    var skipped: [String] = []

    enum CodingKeys: String, CodingKey {
        case schema, mode, machine, command, figures, notes, skipped
        case startedAt = "started_at", durationS = "duration_s"
    }

    // MARK: - Table

    /// The table as Markdown, ready for the README's Performance section.
    var table: String {
        var lines = ["| figure | mtor | " + ContenderKind.baselines.map(\.rawValue).joined(separator: " | ") + " | ratio | target |",
                     "|---|---:|" + String(repeating: "---:|", count: ContenderKind.baselines.count) + "---:|---|"]
        for f in figures {
            let cells = [f.figure + " (\(f.unit))", Report.format(f.mtor, unit: f.unit)]
                + f.baselines.map { Report.format($0.value, unit: f.unit) }
                + [f.ratio.map { Report.ratio($0) } ?? "—", Report.target(f)]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ value: Double?, unit: String) -> String {
        guard let value else { return "—" }
        switch unit {
        case "ms": return value < 10 ? String(format: "%.2f", value) : value < 100 ? String(format: "%.1f", value) : String(format: "%.0f", value)
        case "%": return String(format: "%.3f", value)
        case "MB": return String(format: "%.1f", value)
        case "specs/s": return String(format: "%.0f", value)
        default: return String(format: "%g", value)
        }
    }

    static func ratio(_ r: Double) -> String {
        r >= 100 ? String(format: "%.0f×", r) : r >= 10 ? String(format: "%.0f×", r) : String(format: "%.1f×", r)
    }

    static func target(_ f: Figure) -> String {
        guard let t = f.target else { return "" }
        let bound = (f.better == .lower ? "≤ " : "≥ ") + format(t, unit: f.unit)
        return bound + (f.met == true ? " ✓" : f.met == false ? " ✗ missed" : "")
    }

    func write(json path: String) throws(BenchError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(self).write(to: URL(fileURLWithPath: path))
        } catch {
            throw .workload("cannot write \(path): \(error)")
        }
    }
}
