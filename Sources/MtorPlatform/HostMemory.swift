#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host's memory as the kernel reports it in `/proc/meminfo`.
public enum HostMemory {
    /// `MemAvailable` in bytes: what new processes can use without swapping; nil where there is no
    /// `/proc/meminfo` (or it lacks the line, before Linux 3.14). `$MTOR_TEST_MEMINFO` names another
    /// file in its format, for tests.
    public static func available(meminfo: String = defaultPath) -> Int64? {
        guard let bytes = try? FileSystem.read(meminfo, limit: 64 << 10) else { return nil }
        return parse(bytes)
    }

    /// `MemAvailable:  1234 kB` from meminfo's bytes, read without building a string per line: the
    /// worker asks before every start.
    public static func parse(_ bytes: [UInt8]) -> Int64? {
        let key = Array("MemAvailable:".utf8)
        var i = 0
        while i + key.count <= bytes.count {
            if (i == 0 || bytes[i - 1] == UInt8(ascii: "\n")) && bytes[i..<i + key.count].elementsEqual(key) {
                var j = i + key.count
                while j < bytes.count, bytes[j] == UInt8(ascii: " ") || bytes[j] == UInt8(ascii: "\t") { j += 1 }
                var value: Int64 = 0, digits = 0
                while j < bytes.count, bytes[j] >= UInt8(ascii: "0"), bytes[j] <= UInt8(ascii: "9"), digits < 18 {
                    value = value * 10 + Int64(bytes[j] - UInt8(ascii: "0"))
                    j += 1
                    digits += 1
                }
                guard digits > 0, j == bytes.count || !(bytes[j] >= UInt8(ascii: "0") && bytes[j] <= UInt8(ascii: "9")) else { return nil }
                while j < bytes.count, bytes[j] == UInt8(ascii: " ") { j += 1 }
                let kB = j + 1 < bytes.count && bytes[j] == UInt8(ascii: "k") && bytes[j + 1] == UInt8(ascii: "B")
                return kB ? value * 1024 : value
            }
            i += 1
        }
        return nil
    }

    public static var defaultPath: String {
        if let test = getenv("MTOR_TEST_MEMINFO") { return String(cString: test) }
        return "/proc/meminfo"
    }
}
