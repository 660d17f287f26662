import Foundation

/// Replaces every secret value with `***` before text reaches a sidecar, log or ledger.
public struct Redactor: Sendable {
    /// Values shorter than this are not treated as secrets (they would mask ordinary text).
    public static let minimumLength = 4
    public let secrets: [String]

    public init(secrets: some Sequence<String>) {
        self.secrets = Set(secrets.filter { $0.count >= Redactor.minimumLength }).sorted { $0.count > $1.count }
    }

    public func redact(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var out = text
        for secret in secrets where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: "***")
        }
        return out
    }

    public func redact(bytes: [UInt8]) -> [UInt8] {
        guard !secrets.isEmpty else { return bytes }
        let text = String(decoding: bytes, as: UTF8.self)
        guard secrets.contains(where: { text.contains($0) }) else { return bytes }
        return Array(redact(text).utf8)
    }
}
