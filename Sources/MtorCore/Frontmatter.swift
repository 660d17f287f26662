import Foundation

/// A spec file split into its frontmatter (read as YAML by `YAMLReader`) and its Markdown body.
public struct Frontmatter: Equatable, Sendable {
    /// One `key: value` pair of a mapping, with where it was written.
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: FrontmatterValue
        /// The spec file's line and column of the key (0 when not read from a file).
        public var line: Int
        public var column: Int
        /// A scalar value as written: the plain text before resolution (so `1.10` stays `1.10`
        /// and `~` stays `~`), or the content of a quoted or block scalar; nil for lists and mappings.
        public var text: String?

        public init(key: String, value: FrontmatterValue, line: Int = 0, column: Int = 0, text: String? = nil) {
            self.key = key
            self.value = value
            self.line = line
            self.column = column
            self.text = text
        }
    }

    /// The top-level pairs, in the order written.
    public var entries: [Entry]
    public var body: String
    /// The spec line holding the closing `---` or `...` (0 when there is no frontmatter).
    public var closingLine: Int

    public init(entries: [Entry], body: String, closingLine: Int = 0) {
        self.entries = entries
        self.body = body
        self.closingLine = closingLine
    }

    /// Splits `text` into frontmatter and body; the body never contains the frontmatter.
    ///
    /// A byte-order mark and CRLF line endings are accepted. Frontmatter exists only when
    /// the very first line is `---`; it ends at the next `---` or `...` line.
    public static func split(_ text: String) throws(SpecError) -> Frontmatter {
        let (lines, bytes) = normalizedLines(text)
        guard let first = lines.first, isMarker(bytes[first], "---") else {
            return Frontmatter(entries: [], body: String(decoding: bytes, as: UTF8.self))
        }
        guard let close = lines.indices.dropFirst().first(where: { isMarker(bytes[lines[$0]], "---") || isMarker(bytes[lines[$0]], "...") }) else {
            throw .invalid(key: nil, "the frontmatter opened by '---' on line 1 is never closed by a second '---' line")
        }
        let yaml = bytes[lines[1].lowerBound..<lines[close].lowerBound]
        let entries: [Entry]
        do {
            entries = try YAMLReader.read(Array(yaml), firstLine: 2)
        } catch {
            throw .invalid(key: error.key, "the frontmatter is not valid YAML here: \(error)")
        }
        let bodyStart = close + 1 < lines.count ? lines[close + 1].lowerBound : bytes.count
        return Frontmatter(entries: entries, body: String(decoding: bytes[bodyStart...], as: UTF8.self), closingLine: close + 1)
    }

    /// The UTF-8 of `text` without a byte-order mark and with CRLF turned into LF, and its lines' byte ranges.
    static func normalizedLines(_ text: String) -> ([Range<Int>], [UInt8]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for c in text.utf8 {
            if c == 0x0A, bytes.last == 0x0D { bytes[bytes.count - 1] = 0x0A } else { bytes.append(c) }
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var lines: [Range<Int>] = []
        var start = 0
        for (i, c) in bytes.enumerated() where c == 0x0A {
            lines.append(start..<i)
            start = i + 1
        }
        if start < bytes.count { lines.append(start..<bytes.count) }
        return (lines, bytes)
    }

    private static func isMarker(_ line: ArraySlice<UInt8>, _ marker: String) -> Bool {
        var end = line.endIndex
        while end > line.startIndex, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        return line[line.startIndex..<end].elementsEqual(marker.utf8)
    }
}

// MARK: - Reference (`mtor help spec` includes this)

extension Frontmatter {
    /// What YAML the frontmatter accepts and which keys are metadata, for the help text and README.
    public static let reference = """
    The frontmatter is YAML between a first line `---` and the next `---` (or `...`) line, read by mtor's own small reader. It accepts \
    the YAML people write by hand:
    - nested block mappings (`tests:` then an indented `run: pytest`) and block lists (`- item`);
    - flow lists and mappings (`[a, b]`, `{run: pytest}`), which may span lines;
    - literal `|` and folded `>` block scalars, with `-` (strip) or `+` (keep) chomping;
    - 'single' and "double" quoted strings (with \\n, \\t, \\", \\uXXXX escapes), over several lines;
    - null (`null`, `~`, nothing), true/false (also yes/no), integers and floats;
    - comments (`# ...` at a line's start or after a space), CRLF line ends and a byte-order mark.
    Refused, each with its line and column: anchors (`&a`), aliases (`*a`), tags (`!tag`), directives (`%YAML`), a second document, \
    complex keys (`? key`), tabs used for indentation, and a key written twice. A scalar where a string belongs is taken as written \
    (`model: 1.10` is "1.10"; `repo: ~` is your home).
    Metadata keys are accepted, ignored by the scheduler, and kept in the result sidecar as `spec.meta`: \
    \(Spec.metadataKeys.map { "`\($0)`" }.joined(separator: ", ")), and any key starting with `x-`. Every other key must be one of mtor's \
    (the table above). A key another tool uses for something mtor has (claude-code-queue's `working_directory`, the original mtor's \
    `tests.run`, ...) is refused with mtor's name for it, and `mtor convert SPEC... [--write]` rewrites such a spec into mtor's keys.
    """
}
