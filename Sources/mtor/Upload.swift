import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// Puts named specs into a spool's inbox atomically: written into tmp/ first, then renamed into
/// inbox/ under a name no task uses, so a worker never sees half a spec.
enum Upload {
    struct Item {
        var file: String
        /// The inbox name without `.md`.
        var name: String
        var bytes: [UInt8]
    }

    /// Where a spec went: its task id and the path of its inbox file.
    struct Placed: Codable {
        var file: String
        var id: String
        var path: String
    }

    enum Via: String { case rsync, scp }

    // MARK: - Local spool

    static func local(_ items: [Item], spool: Spool) throws(WorkerError) -> [Placed] {
        try spool.ensure(["tmp"])  // a spool no worker has run on yet may be only an inbox/
        var placed: [Placed] = []
        for item in items {
            let staged = "\(spool.tmp)/\(item.name).\(ProcessInfo.processInfo.processIdentifier).submit"
            let id: String?
            do {
                try FileSystem.writeAtomically(item.bytes, to: staged, tmpDir: spool.tmp, mode: 0o644)
                id = try rename(staged, as: item.name, in: spool)
            } catch {
                FileSystem.remove(staged)
                throw .environment("cannot submit \(item.file) to \(spool.root): \(error)")
            }
            guard let id else {
                FileSystem.remove(staged)
                throw .failed("no free name for \(item.name) in \(spool.root)")
            }
            placed.append(Placed(file: item.file, id: id, path: spool.spec(in: spool.inbox, id)))
        }
        return placed
    }

    /// Renames a staged spec into inbox/ under the first name no task uses; never replaces a file.
    private static func rename(_ staged: String, as name: String, in spool: Spool) throws(SystemError) -> String? {
        for n in 1...100 {
            let id = n == 1 ? name : "\(name)-\(n)"
            if [spool.claimed, spool.done,
                spool.failed].contains(where: { FileSystem.exists(spool.spec(in: $0, id)) || FileSystem.exists(spool.sidecar(in: $0, id)) }) { continue }
            do {
                try FileSystem.renameNoReplace(staged, spool.spec(in: spool.inbox, id))
            } catch where error.isExists {
                continue
            }
            try FileSystem.syncDirectory(spool.inbox)
            return id
        }
        return nil
    }

    // MARK: - Remote spool

    /// Checks the remote spool and answers its absolute path (`pwd -P`). A spool no worker has run on
    /// yet may be only its inbox/: tmp/ is made as the worker makes it (0700, 2770 on a setgid spool).
    static let probeScript = """
        d=$1; case $d in "~") d=$HOME;; "~/"*) d=$HOME/${d#"~/"};; esac
        cd -- "$d" 2>/dev/null || { echo "no directory $d" >&2; exit 3; }
        [ -d inbox ] || { echo "$PWD is not an mtor spool (no inbox/)" >&2; exit 3; }
        if [ ! -d tmp ]; then m=700; [ -g . ] && m=2770; mkdir -m $m tmp 2>/dev/null || [ -d tmp ] || { echo "cannot create $PWD/tmp to stage specs in" >&2; exit 3; }; fi
        pwd -P
        """

    /// Moves each uploaded `tmp/NAME.md` into inbox/ under the first name no task uses (`mv -n`
    /// is a rename that never replaces), and prints the ids it used.
    static let finishScript = """
        cd -- "$1" || exit 3; shift
        for f in "$@"; do
          s=${f%.md}; c=$s; n=1
          while :; do
            if [ ! -e "inbox/$c.md" ] && [ ! -e "claimed/$c.md" ] && [ ! -e "done/$c.md" ] && [ ! -e "failed/$c.md" ] \\
               && [ ! -e "done/$c.result.json" ] && [ ! -e "failed/$c.result.json" ]; then
              mv -n -- "tmp/$f" "inbox/$c.md" || exit 1
              [ -e "tmp/$f" ] || { echo "$c"; break; }
            fi
            n=$((n+1)); c=$s-$n
            [ $n -le 100 ] || { echo "no free name for $s in $PWD/inbox" >&2; exit 1; }
          done
        done
        """

    /// Uploads into the remote tmp/, lets `check` refuse them there (given the spool's absolute path and the
    /// staged paths), then moves them into inbox/; refused or failed, nothing is left in tmp/ or inbox/.
    static func remote(_ items: [Item], to remote: RemoteSpool, via requested: Via?, ssh: SSH,
                       check: (String, [String]) throws(WorkerError) -> Void = { _, _ in }) throws(WorkerError) -> [Placed] {
        let probe = try SSH.run(ssh.command(remote, ["sh", "-c", probeScript, "mtor-submit"] + [remote.shellWord], raw: [4]))
        guard probe.code == 0, let root = probe.out.split(separator: "\n").last.map(String.init), root.hasPrefix("/") else {
            _ = try ssh.check(probe.code, remote: remote, stderr: probe.err)
            throw .environment("\(remote.display) is not a usable spool: \(probe.err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let staging = NSTemporaryDirectory() + "mtor-submit-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            try FileSystem.makeDirectories(staging)
            for item in items { try FileSystem.writeAtomically(item.bytes, to: "\(staging)/\(item.name).md", mode: 0o644, durable: false) }
        } catch {
            throw .environment("cannot stage specs in \(staging): \(error)")
        }
        let files = items.map { "\(staging)/\($0.name).md" }
        let destination = "\(remote.scpLogin):\(root)/tmp/"
        var via = requested ?? (ChildProcess.resolve("rsync", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "") != nil ? .rsync : .scp)
        while true {
            let argv: [String]
            switch via {
            case .rsync: argv = ["rsync", "-e", ssh.rsyncShell, "--chmod=F644", "--"] + files + [destination]
            case .scp: argv = ["scp", "-q"] + ssh.options + ["--"] + files + [destination]
            }
            let sent = try SSH.run(argv, timeout: 1800)
            if sent.code == 0 { break }
            let names = items.map { "\($0.name).md" }
            _ = try? SSH.run(ssh.command(remote, ["cd", root, "&&", "rm", "-f", "--"] + names.map { "tmp/\($0)" }, raw: [2]))
            if via == .rsync, requested == nil, sent.err.contains("not found") {
                via = .scp // rsync is missing on the worker: scp still goes through tmp/
                continue
            }
            _ = try ssh.check(sent.code, remote: remote, stderr: sent.err)
            throw .environment("\(via.rawValue) to \(remote.display) failed (exit \(sent.code)): "
                + "\(sent.err.trimmingCharacters(in: .whitespacesAndNewlines)); nothing was put in inbox/")
        }
        do {
            try check(root, items.map { "\(root)/tmp/\($0.name).md" })
        } catch {
            _ = try? SSH.run(ssh.command(remote, ["cd", root, "&&", "rm", "-f", "--"] + items.map { "tmp/\($0.name).md" }, raw: [2]))
            throw error
        }
        let moved = try SSH.run(ssh.command(remote, ["sh", "-c", finishScript, "mtor-submit", root] + items.map { "\($0.name).md" }))
        let ids = moved.out.split(separator: "\n").map(String.init)
        guard moved.code == 0, ids.count == items.count else {
            _ = try ssh.check(moved.code, remote: remote, stderr: moved.err)
            throw .environment("could not move the uploaded specs into \(remote.display)/inbox: "
                + "\(moved.err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return zip(items, ids).map { Placed(file: $0.file, id: $1, path: "\(remote.scpLogin):\(root)/inbox/\($1).md") }
    }
}
