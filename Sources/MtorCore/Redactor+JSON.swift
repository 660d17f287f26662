import Foundation

extension Redactor {
    /// Redacts encoded JSON: every string literal (keys included) is redacted by its decoded
    /// value, so a secret the encoder escaped (`"`, `\`, control characters) is hidden too, and
    /// the structure is never touched (a secret that looks like a number leaves numbers alone).
    public func redact(json: [UInt8]) -> [UInt8] {
        guard !patterns.isEmpty else { return json }
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var out: [UInt8] = []
        out.reserveCapacity(json.count)
        var i = 0
        while i < json.count {
            guard json[i] == quote else {
                out.append(json[i])
                i += 1
                continue
            }
            var j = i + 1
            var escaped = false
            while j < json.count && json[j] != quote {
                if json[j] == backslash { escaped = true; j += 1 }
                j += 1
            }
            let end = min(j, json.count)
            out.append(quote)
            out += redact(literal: json[(i + 1)..<end], escaped: escaped)
            if j < json.count { out.append(quote) }
            i = j + 1
        }
        return out
    }

    /// One string literal's content, without its quotes.
    private func redact(literal: ArraySlice<UInt8>, escaped: Bool) -> [UInt8] {
        // Without escapes, the bytes are the value (the encoder writes non-ASCII as UTF-8).
        guard escaped else { return redact(bytes: literal) }
        let quoted = Data([UInt8(ascii: "\"")] + literal + [UInt8(ascii: "\"")])
        guard let value = (try? JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed)) as? String else {
            return redact(bytes: literal)
        }
        let clean = redact(value)
        guard clean != value,
              let encoded = try? JSONSerialization.data(withJSONObject: clean, options: [.fragmentsAllowed, .withoutEscapingSlashes]),
              encoded.count >= 2 else { return Array(literal) }
        return Array(encoded.dropFirst().dropLast())
    }
}
