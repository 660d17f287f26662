import Foundation
import MtorPlatform

/// systemd's readiness and watchdog protocol, done by hand: one datagram per message to
/// `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Without the variable
/// every call does nothing, so the worker runs the same under systemd and outside it.
/// Used only on the worker's loop thread, so it is not `Sendable`.
final class SdNotify {
    private let socket: String?
    /// Half of `$WATCHDOG_USEC`, when systemd asked for watchdog pings from this process.
    let watchdogInterval: Double?
    private var lastPing = 0.0
    private var lastStatus = ""

    init(environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = ProcessControl.pid) {
        socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == pid }) ?? true {
            watchdogInterval = usec / 1_000_000 / 2
        } else {
            watchdogInterval = nil
        }
    }

    var enabled: Bool { socket != nil }
    /// `$NOTIFY_SOCKET`, for the spool-stall watch thread (which sends with `Datagram` itself).
    var socketAddress: String? { socket }

    func ready(_ status: String) { send("READY=1\nSTATUS=\(status)") ; lastStatus = status }
    func stopping() { send("STOPPING=1") }

    /// Sends `STATUS=` when the summary changed.
    func status(_ text: String) {
        guard text != lastStatus else { return }
        lastStatus = text
        send("STATUS=\(text)")
    }

    /// Called on every turn of the main loop: pings the watchdog at half its interval. A loop
    /// that stops turning stops pinging, and systemd restarts the worker.
    func loopTurned() {
        guard let interval = watchdogInterval else { return }
        let t = now()
        guard t - lastPing >= interval else { return }
        lastPing = t
        send("WATCHDOG=1")
    }

    private func send(_ message: String) {
        guard let socket else { return }
        Datagram.send(message, to: socket)
    }
}
