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
        guard let text = try? FileSystem.readText(meminfo, limit: 64 << 10) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int64(fields[1]) else { return nil }
            return fields.count >= 3 && fields[2] == "kB" ? kib * 1024 : kib
        }
        return nil
    }

    public static var defaultPath: String {
        if let test = getenv("MTOR_TEST_MEMINFO") { return String(cString: test) }
        return "/proc/meminfo"
    }
}
