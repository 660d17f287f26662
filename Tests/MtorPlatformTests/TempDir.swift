import Foundation
import Testing

/// A fresh directory per test, removed afterwards.
final class TempDir {
    let path: String

    init(_ label: String = "mtor") {
        let base = NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) {
        if !FileManager.default.createFile(atPath: "\(path)/\(name)", contents: Data(text.utf8)) { Issue.record("cannot write \(path)/\(name)") }
    }
}

/// Whether a program is on PATH; tests that need it are skipped with a reason otherwise.
func which(_ program: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(program)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}
