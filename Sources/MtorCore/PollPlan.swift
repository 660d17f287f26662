/// Whether and how often the worker lists inbox/ and cancel/ besides inotify.
///
/// inotify only sees what this kernel writes: on a spool shared through a network filesystem
/// (GlusterFS, NFS, CephFS, SMB) a spec another host drops raises no event here, so the worker
/// polls. `--poll D` asks for a poll on any filesystem; on a network filesystem the default is
/// `PollPlan.networkDefault`. A plain value: the run loop asks it for a timeout and whether a
/// poll is due, and `status` prints its `summary`.
public struct PollPlan: Equatable, Sendable {
    /// The poll interval on a network filesystem when `--poll` is not given.
    public static let networkDefault = 1.0

    /// Seconds between polls; nil when inotify alone is trusted (a local spool, no `--poll`).
    public let interval: Double?
    /// Why it polls (or not), for the start log line and `status`.
    public let summary: String
    private var next: Double

    /// - Parameters:
    ///   - requested: `--poll` in seconds, when given.
    ///   - filesystem: the spool's filesystem type as detected (`fuse.glusterfs`, `ext4`).
    ///   - network: whether other hosts can write the spool behind this kernel's back.
    ///   - now: the monotonic clock's reading at start.
    public init(requested: Double?, filesystem: String, network: Bool, now: Double) {
        let every = requested ?? (network ? PollPlan.networkDefault : nil)
        interval = every
        next = now + (every ?? 0)
        let where_ = network ? "spool on \(filesystem), a network filesystem" : "spool on \(filesystem)"
        switch (every, requested) {
        case (nil, _):
            summary = "\(where_): inotify only"
        case (let s?, nil):
            summary = "\(where_): inbox/ and cancel/ polled every \(DurationText.format(s)) besides inotify (inotify never sees what other "
                + "hosts write; --poll changes it)"
        case (let s?, _?):
            summary = "\(where_): inbox/ and cancel/ polled every \(DurationText.format(s)) besides inotify (--poll)"
        }
    }

    /// Seconds until the next poll is due (never negative); infinity when it never polls.
    public func wait(now: Double) -> Double {
        guard interval != nil else { return .infinity }
        return max(0, next - now)
    }

    /// Whether a poll is due at `now`; when it is, the next one is scheduled one interval later
    /// (from now, so a slow listing never makes polls pile up).
    public mutating func due(now: Double) -> Bool {
        guard let interval, now >= next else { return false }
        next = now + interval
        return true
    }
}
