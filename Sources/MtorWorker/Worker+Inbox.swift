import Foundation
import MtorCore
import MtorPlatform

/// What reaches the worker through inbox/ and cancel/ besides a new spec: cancels, a lost watch,
/// undecodable names, and the rescan that catches what inotify missed.
extension Worker {
    /// Handles `cancel/<id>`: a queued task is failed as cancelled, a running one is stopped.
    func cancel(_ id: String) {
        guard TaskID.isValid(id) else { return }
        if let run = loop.running[id] {
            logger.info("\(id): cancel requested")
            run.control.requestCancel()
        } else if FileSystem.exists(spool.spec(in: spool.inbox, id)) {
            start(name: "\(id).md", bytes: [], preset: .cancelled)
        } else if spool.locate(id) == nil || spool.result(id) != nil {
            // Names no task (or a finished one): kept, it would cancel a future task of that name.
            FileSystem.remove("\(spool.cancel)/\(id)")
            warn("cancel/\(id) names no queued or running task in this spool; removed, so it cannot cancel a later task of that name")
        }
    }

    /// A watched spool directory was removed or renamed: recreate it and watch it again, so pickup
    /// never silently falls back to the rescan interval.
    func rewatch(_ inotify: Inotify, _ dir: String) {
        do {
            try FileSystem.makeDirectories(dir)
            let mask = dir == spool.cancel ? UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR)
                : UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR)
            try inotify.watch(dir, mask: mask)
            warn("\(dir) was removed or renamed while the worker watched it; it was recreated and is watched again")
        } catch {
            warn("\(dir) was removed or renamed and cannot be watched again (\(error)); new specs are seen only by the rescan every "
                + "\(DurationText.format(options.rescanInterval))")
        }
        rescan()
    }

    /// Gives an inbox file whose name is not valid UTF-8 a valid name, so it can be claimed.
    private func repairUndecodableNames() {
        for raw in FileSystem.undecodableNames(spool.inbox) {
            let shown = String(decoding: raw, as: UTF8.self)
            var fixed = String(String.UnicodeScalarView(shown.unicodeScalars.map { $0 == "\u{FFFD}" ? "_" : $0 }))
            if !fixed.hasSuffix(".md") && raw.suffix(3) == Array(".md".utf8) { fixed += ".md" }
            let name = fixed.hasSuffix(".md") ? String(fixed.dropLast(3)) + "-\(UInt16.random(in: 0...UInt16.max)).md" : fixed
            do {
                try FileSystem.renameRaw(in: spool.inbox, raw, to: name)
                warn("inbox/\(shown) had a name that is not valid UTF-8; renamed to inbox/\(name)")
            } catch {
                warnOnce(shown, "inbox/\(shown) has a name that is not valid UTF-8 and could not be renamed (\(error)); rename it by hand")
            }
        }
    }

    func rescan() {
        repairUndecodableNames()
        guard let names = try? FileSystem.list(spool.inbox) else { return }
        let listed = Set(names)
        loop.book.prune(keeping: listed)
        loop.waiting = loop.waiting.filter { listed.contains($0.key) }
        for name in names.sorted() { loop.queue.offer(name) }
        if let cancels = try? FileSystem.list(spool.cancel) {
            for id in cancels where !id.hasPrefix(".") { cancel(id) }
        }
    }
}
