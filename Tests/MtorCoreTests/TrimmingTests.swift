import Foundation
import Testing
@testable import MtorCore

@Suite("Trimming without Foundation")
struct TrimmingTests {
    @Test("every scalar below U+3100, alone and around text, trims as Foundation's whitespaces and whitespacesAndNewlines do")
    func sameAsFoundation() {
        var mismatches: [String] = []
        for value in UInt32(0)..<0x3100 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let c = String(Character(scalar))
            for text in [c, c + "a" + c, "a" + c + "b", c + c + " x\u{301} " + c] {
                if text.trimmingBlanks() != text.trimmingCharacters(in: .whitespaces) { mismatches.append(String(format: "U+%04X blanks", value)) }
                if text.trimmingBlanksAndNewlines() != text.trimmingCharacters(in: .whitespacesAndNewlines) {
                    mismatches.append(String(format: "U+%04X newlines", value))
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20))")
        #expect("  \t".trimmingBlanks() == "")
        #expect(" a b \n".trimmingBlanks() == "a b \n")
        #expect("\u{2028} a b \n\u{85}".trimmingBlanksAndNewlines() == "a b")
        #expect("e\u{301} ".trimmingBlanks() == "e\u{301}")
    }
}
