import Foundation
import MtorPlatform

/// What `/proc` says about a process group: CPU time (own and reaped children's) and memory.
struct GroupSample {
    /// utime + stime + cutime + cstime over every member, in clock ticks (USER_HZ, 100 on Linux).
    var cpuTicks: Int
    /// VmRSS summed over every member, in KiB (shared library pages included).
    var rssKiB: Int
    /// RssAnon summed over every member, in KiB: memory no other process shares.
    var anonKiB: Int
    var members: Int

    static let ticksPerSecond = 100.0

    /// Reads every `/proc/<pid>/stat` whose process group is `pgid`.
    static func take(_ pgid: Int32) -> GroupSample {
        var sample = GroupSample(cpuTicks: 0, rssKiB: 0, anonKiB: 0, members: 0)
        for name in (try? FileSystem.list("/proc")) ?? [] {
            guard let pid = Int32(name), let fields = ProcStats.statFields(pid), fields.count > 14, Int32(fields[2]) == pgid else { continue }
            sample.members += 1
            sample.cpuTicks += fields[11...14].compactMap { Int($0) }.reduce(0, +)
            sample.rssKiB += ProcStats.statusValue(pid, "VmRSS") ?? 0
            sample.anonKiB += ProcStats.statusValue(pid, "RssAnon") ?? 0
        }
        return sample
    }
}

/// Single-process readings from `/proc`.
enum ProcStats {
    /// Fields of `/proc/<pid>/stat` after the command name: index 0 is field 3 (state).
    static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 1 << 16),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// A `kB` line of `/proc/<pid>/status`, such as `VmRSS` or `VmHWM`, in KiB.
    static func statusValue(_ pid: Int32, _ key: String) -> Int? {
        guard let text = try? FileSystem.readText("/proc/\(pid)/status", limit: 1 << 16) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// Voluntary context switches over all threads of `pid`: how often it woke up to do something.
    static func wakeups(_ pid: Int32) -> Int {
        var total = 0
        for tid in (try? FileSystem.list("/proc/\(pid)/task")) ?? [] {
            guard let text = try? FileSystem.readText("/proc/\(pid)/task/\(tid)/status", limit: 1 << 16) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
                total += Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
            }
        }
        return total
    }

    /// Threads of `pid`.
    static func threads(_ pid: Int32) -> Int {
        ((try? FileSystem.list("/proc/\(pid)/task")) ?? []).count
    }
}

/// Nearest-rank percentiles of a sample.
struct Percentiles {
    let sorted: [Double]

    init(_ values: [Double]) { sorted = values.sorted() }

    /// The value at quantile `q` (0...1), nearest rank.
    func at(_ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }

    var median: Double? { at(0.5) }
    var largest: Double? { sorted.last }
}
