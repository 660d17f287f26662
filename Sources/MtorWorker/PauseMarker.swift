import Foundation
import MtorCore
import MtorPlatform

/// A pause of the whole spool (`state/paused`) or of one provider (`state/paused-<provider>`):
/// while the file exists no worker on the spool starts a new task there; running tasks go on.
/// The file is the pause, so it survives restarts and shows with `ls`; its JSON says since when and by whom.
public struct PauseMarker: Codable, Sendable, Equatable {
    public static let schemaName = "mtor.pause/1"

    public var schema = PauseMarker.schemaName
    /// nil: the whole spool.
    public var provider: String?
    public var since: String
    public var by: String
    public var host: String?

    public init(provider: String?, since: String = Stamp.iso(), by: String = PauseMarker.currentUser(), host: String? = FileSystem.hostName()) {
        self.provider = provider
        self.since = since
        self.by = by
        self.host = host
    }

    /// `state/paused` or `state/paused-<provider>`.
    public static func path(_ spool: Spool, provider: String?) -> String {
        spool.state + "/paused" + (provider.map { "-" + $0 } ?? "")
    }

    /// Every pause on the spool. A marker that does not parse still pauses (the file is the pause):
    /// it is read as paused since its modification time, by an unknown user.
    public static func all(_ spool: Spool) -> [PauseMarker] {
        let names = ((try? FileSystem.list(spool.state)) ?? []).filter { $0 == "paused" || ($0.hasPrefix("paused-") && $0.count > 7) }
        return names.sorted().map { name in
            let provider = name == "paused" ? nil : String(name.dropFirst(7))
            let path = spool.state + "/" + name
            if let bytes = try? FileSystem.read(path, limit: 64 << 10), var m = try? JSONDecoder().decode(PauseMarker.self, from: Data(bytes)) {
                m.provider = provider  // the name decides what is paused
                m.by = printable(m.by)  // written by anyone who can write state/: never raw escapes on a terminal
                m.host = m.host.map(printable)
                return m
            }
            let since = FileSystem.modificationTime(path).map { Stamp.iso(Date(timeIntervalSince1970: $0)) } ?? Stamp.iso()
            return PauseMarker(provider: provider, since: since, by: "?", host: nil)
        }
    }

    /// Writes the marker (fsynced, then renamed), keeping an existing one's since/by.
    public static func pause(_ spool: Spool, provider: String?) throws(WorkerError) -> PauseMarker {
        if let existing = all(spool).first(where: { $0.provider == provider }) { return existing }
        let marker = PauseMarker(provider: provider)
        do {
            try FileSystem.makeDirectories(spool.state)  // a spool no worker has run on yet
            try spool.writeJSON(marker, to: path(spool, provider: provider), tmpDir: spool.state)
        } catch {
            throw .environment("cannot write \(path(spool, provider: provider)): \(error); check that the spool's state/ is writable by you")
        }
        return marker
    }

    /// Removes the marker; returns whether there was one.
    /// A marker that cannot be removed (a directory in its place, a read-only state/) is an error naming it:
    /// the pause would stay.
    @discardableResult
    public static func resume(_ spool: Spool, provider: String?) throws(WorkerError) -> Bool {
        let p = path(spool, provider: provider)
        guard FileSystem.exists(p) else { return false }
        if case .directory = FileSystem.kind(p), rmdir(p) != 0 {
            throw .environment("\(printable(p)) is a directory, not a pause marker, and it is not empty; it still pauses "
                + "\(provider.map { "provider \(printable($0))" } ?? "the spool"): remove it by hand (rm -r)")
        }
        FileSystem.remove(p)
        guard !FileSystem.exists(p) else {
            throw .environment("cannot remove \(printable(p)), so the pause stays; check that the spool's state/ is writable by you")
        }
        try? FileSystem.syncDirectory(spool.state)
        return true
    }

    /// `text` with control characters (escape sequences, line breaks) shown as `\u{…}`, for a terminal.
    public static func printable(_ text: String) -> String {
        String(text.unicodeScalars.map { u in
            u.value < 0x20 || (0x7F...0x9F).contains(u.value) ? "\\u{\(String(u.value, radix: 16))}" : String(u)
        }.joined())
    }

    /// `14:02` in this machine's local time, as `status` and hold reasons print it.
    public var clock: String {
        guard let date = Stamp.date(since) else { return since }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = Date().timeIntervalSince(date) > 20 * 3600 ? "yyyy-MM-dd HH:mm" : "HH:mm"
        return f.string(from: date)
    }

    /// "paused since 14:02 by root".
    public var sentence: String { "paused since \(clock) by \(by)" }

    /// Who runs this command: `$SUDO_USER`, `$USER`, `$LOGNAME`, else the password database's name
    /// for the uid (cron and systemd set none of those), else the uid.
    public static func currentUser(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for key in ["SUDO_USER", "USER", "LOGNAME"] { if let v = env[key], !v.isEmpty { return v } }
        var entry = passwd(), found: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(getuid(), &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.pw_name {
            let text = String(cString: name)
            if !text.isEmpty { return text }
        }
        return "uid \(getuid())"
    }
}
