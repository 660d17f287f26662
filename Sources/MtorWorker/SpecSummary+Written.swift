import MtorCore

extension TaskResult.SpecSummary {
    /// What a spec asked for, for the sidecar of a task that never ran (refused, cancelled): from the
    /// parsed spec when it parses, else from its frontmatter lines as written, so `repo`, `provider`,
    /// `harness` and `model` are never lost because the spec was wrong elsewhere.
    static func asWritten(file: String, bytes: [UInt8], home: String, settings: Settings) -> TaskResult.SpecSummary {
        var summary = TaskResult.SpecSummary(file: file)
        guard !bytes.isEmpty else { return summary }
        if let spec = try? Spec.parse(bytes, home: home) {
            let first = (try? settings.targets(for: spec))?.first
            summary.repo = spec.repo
            summary.provider = spec.provider ?? first?.providerName
            summary.harness = spec.harness ?? first?.harnessName
            summary.model = spec.model ?? first?.model
            summary.meta = spec.meta
            return summary
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let written: [String: String]
        if let front = try? Frontmatter.split(text) {
            // Valid YAML refused for another reason: the reader's scalars as written, and the metadata.
            written = Dictionary(front.entries.compactMap { e in e.text.map { (e.key, $0) } }, uniquingKeysWith: { a, _ in a })
            summary.meta = Dictionary(front.entries.filter { Spec.isMetadata($0.key) }.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        } else {
            written = frontmatterScalars(String(decoding: bytes.prefix(64 << 10), as: UTF8.self))
        }
        summary.repo = written["repo"].map { Spec.expandHome($0, home: home) }
        summary.provider = written["provider"]
        summary.harness = written["harness"]
        summary.model = written["model"]
        return summary
    }

    /// Top-level `key: value` lines of a frontmatter block, comments and quotes removed; nothing else.
    static func frontmatterScalars(_ text: String) -> [String: String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == "---" else { return [:] }
        var out: [String: String] = [:]
        for line in lines.dropFirst() {
            if line == "---" || line == "..." { break }
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("#") else { continue }
            let key = String(line[..<colon])
            var value = String(line[line.index(after: colon)...])
            if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
            value = value.trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q { value = String(value.dropFirst().dropLast()) }
            if !value.isEmpty, out[key] == nil { out[key] = value }
        }
        return out
    }
}
