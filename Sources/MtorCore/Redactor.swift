import Foundation

/// The one redaction gate: replaces every secret with `***` in bytes, before anything is cut
/// or written.
///
/// Matching is on each secret's UTF-8 bytes, so a combining mark after a secret, invalid UTF-8
/// around it or a chunk boundary inside it changes nothing. Every byte covered by an occurrence
/// of any secret is hidden (overlapping secrets included), and each run of hidden bytes becomes
/// one `***`. Not caught: encodings of a secret (base64, URL or hex encoding, `\u` escapes in
/// the agent's own output) and values under `minimumLength` bytes.
public struct Redactor: Sendable {
    /// Values shorter than this many bytes are not treated as secrets (they would mask ordinary text).
    public static let minimumLength = 4
    static let mask = Array("***".utf8)

    /// The secrets, longest first.
    public let secrets: [String]
    let patterns: [[UInt8]]
    /// Whether some secret starts with a byte: most positions are skipped with one lookup.
    let starts: [Bool]
    /// The longest secret's length in bytes: a stream holds back one byte less than this.
    let longest: Int

    public init(secrets: some Sequence<String>) {
        let kept = Set(secrets.filter { $0.utf8.count >= Redactor.minimumLength })
        self.secrets = kept.sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
        patterns = self.secrets.map { Array($0.utf8) }
        var starts = [Bool](repeating: false, count: 256)
        for p in patterns { starts[Int(p[0])] = true }
        self.starts = starts
        longest = patterns.first?.count ?? 0
    }

    public func redact(_ text: String) -> String {
        guard !patterns.isEmpty else { return text }
        return String(decoding: redact(bytes: Array(text.utf8)), as: UTF8.self)
    }

    public func redact(bytes: some Collection<UInt8>) -> [UInt8] {
        var stream = self.stream()
        return stream.feed(bytes) + stream.finish()
    }

    /// A streaming form for output that arrives in chunks: the result does not depend on where
    /// the chunks are cut.
    public func stream() -> Stream { Stream(redactor: self) }

    /// What is known at `q` of `buffer`: the longest secret found there, or (unless the stream
    /// has ended) that a secret may start there and runs past what has arrived.
    enum Match { case none, secret(Int), undecided }

    func match(_ buffer: [UInt8], at q: Int, final: Bool) -> Match {
        guard starts[Int(buffer[q])] else { return .none }
        for p in patterns {
            let available = min(p.count, buffer.count - q)
            var i = 0
            while i < available && buffer[q + i] == p[i] { i += 1 }
            guard i == available else { continue }
            if available == p.count { return .secret(p.count) }  // longest first: no longer one is pending
            if !final { return .undecided }
        }
        return .none
    }

    // MARK: - Stream

    /// Redacts a byte stream chunk by chunk. Bytes that may be the start of a secret (at most
    /// the longest secret's length − 1) are held back until the next chunk decides them.
    public struct Stream: Sendable {
        let redactor: Redactor
        private var carry: [UInt8] = []
        /// How far (from the start of `carry`) bytes are already known to belong to a secret.
        private var coverEnd = 0
        /// The output ends inside a hidden run: its `***` is already written.
        private var runOpen = false

        init(redactor: Redactor) { self.redactor = redactor }

        /// Returns the bytes that are final; the rest is held back.
        public mutating func feed(_ bytes: some Collection<UInt8>) -> [UInt8] {
            guard redactor.longest > 0 else { return Array(bytes) }
            var buffer = carry
            buffer.append(contentsOf: bytes)
            return emit(buffer, final: false)
        }

        /// Returns what was held back: the stream has ended.
        public mutating func finish() -> [UInt8] {
            guard redactor.longest > 0 else { return [] }
            let out = emit(carry, final: true)
            runOpen = false
            return out
        }

        /// Whether nothing is held back.
        public var isEmpty: Bool { carry.isEmpty }

        /// Decides each position in turn and stops at the first one that needs bytes not yet arrived.
        private mutating func emit(_ buffer: [UInt8], final: Bool) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(buffer.count)
            var q = 0
            scan: while q < buffer.count {
                switch redactor.match(buffer, at: q, final: final) {
                case .undecided: break scan
                case .secret(let length): coverEnd = max(coverEnd, q + length)
                case .none: break
                }
                if q < coverEnd {
                    if !runOpen { out += Redactor.mask }
                    runOpen = true
                } else {
                    runOpen = false
                    out.append(buffer[q])
                }
                q += 1
            }
            carry = Array(buffer[q...])
            coverEnd = max(0, coverEnd - q)
            return out
        }
    }
}
