import Foundation
import Testing
import MtorCore
import MtorPlatform

extension Sandbox {
    /// The worker's pool directories under the default workspaces directory (`.pool-<host>`).
    func poolDirectories() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/work")) ?? []).filter { $0.hasPrefix(".pool-") }.map { spool + "/work/" + $0 }
    }

    /// Every name under the pool directories (relative to each), recursively one level: `<key>/<entry>`.
    func poolEntries() -> [String] {
        poolDirectories().flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0 != "lock" }.flatMap { key in
                ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + key)) ?? []).map { "\(dir)/\(key)/\($0)" }
            }
        }
    }

    /// Seeds the repository a hostile agent's leftovers are checked against.
    func seedPoolRepo() throws {
        try seed(["src/a.txt": "a\n", "src/b.txt": "b\n", "src/d.txt": "d\n", "src/e.txt": "e\n", "docs/readme.md": "read me\n",
                  "tool.sh": "#!/bin/sh\necho tool\n", ".gitignore": "*.log\nbuild/\n"])
        try git(["update-index", "--chmod=+x", "tool.sh"])
        try git(["commit", "-q", "-m", "tool is executable"])
    }
}

/// A `sh` agent that leaves junk everywhere a task's clone lets it, then fails (no auto-commit, so
/// every leftover stays as it made it). `hookMark` is the file its planted hook would create.
func hostileJunkBody(hookMark: String) -> String {
    """
    echo stashed >> src/e.txt && git stash -q
    echo junk > untracked.txt
    mkdir -p deep/er && echo x > deep/er/u.txt
    echo junk > debug.log
    mkdir -p build && echo o > build/out.o
    echo changed >> src/a.txt
    rm docs/readme.md
    chmod 000 src/b.txt
    chmod 644 tool.sh
    chmod 600 src/d.txt
    chmod 700 src
    ln -s /etc/passwd out-link
    ln -s / root-link
    ln -s /etc src/link-dir
    mkfifo pipe
    mkdir locked && echo s > locked/secret && chmod 000 locked
    mkdir ro && echo r > ro/file && chmod 555 ro
    echo n > nowrite.txt && chmod 000 nowrite.txt
    git init -q nested && echo n > nested/f
    mkdir sub2 && echo "gitdir: /etc" > sub2/.git
    mkdir -p sub3/.git && echo x > sub3/.git/HEAD
    ln src/e.txt hardlink
    python3 -c 'import os; os.setxattr("src/e.txt", "user.mark", b"1")' 2>/dev/null || true
    git config core.junk yes
    git config extensions.worktreeConfig true && git config --worktree core.wtjunk yes
    mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch \(hookMark)\\n' > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout
    cp .git/hooks/post-checkout .git/hooks/pre-commit
    mkdir -p .git/info && echo secret-pattern >> .git/info/exclude
    git branch junk-branch && git tag junk-tag
    echo junk > .git/junk-file
    exit 3
    """
}

/// A `sh` agent that fails unless its clone holds nothing of `junkID`'s: the tree, the modes, `.git`.
func cleanCheckBody(base: String) -> String {
    """
    fail=0
    left() { echo "LEFT: $1"; fail=1; }
    for p in untracked.txt deep debug.log build out-link root-link src/link-dir pipe locked ro nowrite.txt nested sub2 sub3 hardlink; do
      if [ -e "$p" ] || [ -L "$p" ]; then left "$p"; fi
    done
    [ "$(cat src/a.txt)" = "a" ] || left "src/a.txt content"
    [ "$(cat docs/readme.md 2>/dev/null)" = "read me" ] || left "docs/readme.md missing"
    want=$(stat -c %a .gitignore)
    for f in src/a.txt src/b.txt src/d.txt src/e.txt; do [ "$(stat -c %a $f)" = "$want" ] || left "mode of $f $(stat -c %a $f)"; done
    [ -x tool.sh ] || left "tool.sh lost its exec bit"
    [ "$(stat -c %a src)" = "$(stat -c %a docs)" ] || left "mode of src"
    [ "$(stat -c %h src/e.txt)" = "1" ] || left "src/e.txt is hard-linked"
    python3 -c 'import os,sys; sys.exit(1 if os.listxattr("src/e.txt") else 0)' 2>/dev/null || left "xattr on src/e.txt"
    [ -z "$(find . -path ./.git -prune -o ! -type f ! -type d -print)" ] || left "non-files: $(find . -path ./.git -prune -o ! -type f ! -type d -print)"
    [ -z "$(git status --porcelain --ignored)" ] || left "status: $(git status --porcelain --ignored)"
    [ "$(git rev-parse HEAD)" = "\(base)" ] || left "HEAD $(git rev-parse HEAD)"
    [ "$(git symbolic-ref HEAD)" = "refs/heads/mtor/b-check" ] || left "branch $(git symbolic-ref HEAD)"
    git config --get core.junk && left "config core.junk"
    git config --get extensions.worktreeConfig && left "config extensions.worktreeConfig"
    [ -e .git/config.worktree ] && left ".git/config.worktree"
    [ -e .git/hooks/post-checkout ] || [ -e .git/hooks/pre-commit ] && left "hooks"
    grep -q secret-pattern .git/info/exclude 2>/dev/null && left ".git/info/exclude"
    [ -e .git/junk-file ] && left ".git/junk-file"
    [ -z "$(git stash list)" ] || left "stash"
    git rev-parse -q --verify refs/heads/junk-branch && left "branch junk-branch"
    git rev-parse -q --verify refs/tags/junk-tag && left "tag junk-tag"
    git show-ref | grep -q junk && left "refs: $(git show-ref | grep junk)"
    exit $fail
    """
}

@Suite("Worktree pool: recycled clones carry nothing from one task into the next", .serialized)
struct WorktreePoolTests {
    @Test("a hostile task leaves junk everywhere (untracked, ignored, modes, links, fifo, nested repos, .git config/hooks/exclude/stash/refs); the next task gets its recycled clone and finds none of it",
          .timeLimit(.minutes(15)))
    func hostileJunkIsGone() throws {
        let s = try Sandbox("pool-junk")
        s.lockfile(Lockfiles.make([]))
        try s.seedPoolRepo()
        let base = try s.out(["rev-parse", "HEAD"])
        let hookMark = s.root + "/hook-ran"
        try s.submit("a-junk.md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 0\npriority: 5\n---\n\(hostileJunkBody(hookMark: hookMark))\n")
        try s.submit("b-check.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\n\(cleanCheckBody(base: base))\n")
        let run = try s.drain(["--concurrency", "1", "--worktree-pool", "1"], timeout: 240)
        #expect(run.code == 0, "\(run.err)")
        let junk = try s.result("a-junk")
        #expect(junk.status == .failed && junk.attempts.first?.exitCode == 3, "\(junk.reason) / \(s.read("logs/a-junk.log").suffix(2000))")
        let check = try s.result("b-check")
        let log = s.read("logs/b-check.log")
        #expect(log.contains("from the worktree pool (recycled after task a-junk)"), "b-check must start in a-junk's recycled clone: \(log.suffix(3000)) / \(run.err.suffix(3000))")
        #expect(check.status == .succeeded, "\(check.reason) / \(log.suffix(4000))")
        #expect(!FileManager.default.fileExists(atPath: hookMark), "no hook the agent planted ran")
        #expect(s.workLeftovers().isEmpty, "\(s.workLeftovers())")
        #expect(try s.out(["rev-parse", "HEAD"]) == base)
    }

    @Test("a worker SIGKILLed with trees in its pool: the next worker removes what was half made, proves the ready tree again (a file planted in it is gone) and a task still starts clean from the pool",
          .timeLimit(.minutes(15)))
    func killedWithPooledTrees() throws {
        let s = try Sandbox("pool-kill")
        s.lockfile(Lockfiles.make([]))
        try s.seedPoolRepo()
        let base = try s.out(["rev-parse", "HEAD"])
        try s.submit("first.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\ntrue\n")
        let first = try BackgroundWorker(s, extra: ["--worktree-pool", "2"])
        try first.waitFor(timeout: 120) { s.poolEntries().filter { $0.hasSuffix(".json") }.count == 2 }
        #expect(first.child.signal(SIGKILL))
        try first.waitFor { first.child.isReaped }
        first.stop()
        let ready = s.poolEntries().filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        #expect(ready.count == 2, "\(s.poolEntries())")
        // What a kill mid-recycle or mid-fill leaves, and a ready tree someone wrote into afterwards.
        for tree in ready { writeFixture(tree + "/planted.txt", Data("planted\n".utf8)) }
        let key = FileSystem.directory(of: ready[0])
        let half = key + "/work-1-1"
        try FileManager.default.createDirectory(atPath: half + "/locked", withIntermediateDirectories: true)
        chmod(half + "/locked", 0)
        writeFixture(key + "/ready-9-9.json", Data("{}".utf8))
        let second = try BackgroundWorker(s, extra: ["--worktree-pool", "2"])
        defer { second.stop() }
        // A restarted worker proves its predecessor's ready clones again, a few seconds after it starts, under new names
        // (tasks do not wait for that: they make their own meanwhile).
        try second.waitFor(timeout: 120) {
            let entries = s.poolEntries()
            return entries.filter { $0.hasSuffix(".json") }.count == 2 && entries.count == 4 && !FileSystem.exists(half) && !ready.contains(where: FileSystem.exists)
        }
        try s.submit("b-check.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\n[ ! -e planted.txt ] || { echo LEFT planted; exit 1; }\n\(cleanCheckBody(base: base))\n")
        try second.waitFor(timeout: 120) { s.exists("done/b-check.result.json") || s.exists("failed/b-check.result.json") }
        let check = try s.result("b-check")
        let log = s.read("logs/b-check.log")
        #expect(log.contains("from the worktree pool"), "\(log.suffix(3000))")
        #expect(check.status == .succeeded, "\(check.reason) / \(log.suffix(4000))")
        #expect(!FileSystem.exists(half) && !FileSystem.exists(key + "/ready-9-9.json"), "\(s.poolEntries())")
        for entry in s.poolEntries() where !entry.hasSuffix(".json") && !entry.contains("/work-") {
            #expect(!FileSystem.exists(entry + "/planted.txt"), "\(entry) still holds the planted file")
        }
    }

    @Test("the user commits (and changes their git identity) while a clone waits in the pool: the next task's pooled clone is at the new base, with the new file, the new refs and identity, and nothing else",
          .timeLimit(.minutes(15)))
    func baseMovesWhilePooled() throws {
        let s = try Sandbox("pool-base")
        s.lockfile(Lockfiles.make([]))
        try s.seedPoolRepo()
        try s.git(["branch", "gone"])
        try s.submit("first.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho scratch > scratch.txt\n")
        let worker = try BackgroundWorker(s, extra: ["--worktree-pool", "1"])
        defer { worker.stop() }
        try worker.waitFor(timeout: 120) { s.exists("done/first.result.json") && s.poolEntries().contains { $0.hasSuffix(".json") } }
        try s.seed(["src/new.txt": "new\n", "src/a.txt": "a2\n"])
        try s.git(["rm", "-q", "docs/readme.md"])
        try s.git(["commit", "-q", "-m", "the user moves on"])
        try s.git(["config", "user.email", "moved@mtor.invalid"])
        try s.git(["branch", "feature"])
        try s.git(["branch", "-D", "gone"])
        let base = try s.out(["rev-parse", "HEAD"])
        try s.submit("second.md", """
            ---
            repo: ~/code/widget
            harness: sh
            expect: nothing
            ---
            fail=0
            [ "$(cat src/new.txt)" = "new" ] && [ "$(cat src/a.txt)" = "a2" ] || { echo "LEFT: old files"; fail=1; }
            [ ! -e docs/readme.md ] && [ ! -e scratch.txt ] || { echo "LEFT: removed or earlier file"; fail=1; }
            [ "$(git rev-parse HEAD)" = "\(base)" ] || { echo "LEFT: HEAD $(git rev-parse HEAD)"; fail=1; }
            [ "$(git rev-parse refs/remotes/origin/main)" = "\(base)" ] || { echo "LEFT: origin/main stale"; fail=1; }
            [ "$(git rev-parse refs/heads/main)" = "\(base)" ] || { echo "LEFT: main stale"; fail=1; }
            git rev-parse -q --verify refs/remotes/origin/feature >/dev/null || { echo "LEFT: no origin/feature"; fail=1; }
            git rev-parse -q --verify refs/remotes/origin/gone >/dev/null && { echo "LEFT: origin/gone, deleted in the repo"; fail=1; }
            [ "$(git config user.email)" = "moved@mtor.invalid" ] || { echo "LEFT: identity $(git config user.email)"; fail=1; }
            [ -z "$(git status --porcelain --ignored)" ] || { echo "LEFT: status"; fail=1; }
            exit $fail
            """)
        try worker.waitFor(timeout: 120) { s.exists("done/second.result.json") || s.exists("failed/second.result.json") }
        let r = try s.result("second")
        let log = s.read("logs/second.log")
        #expect(log.contains("from the worktree pool (recycled after task first)"), "\(log.suffix(3000))")
        #expect(r.status == .succeeded, "\(r.reason) / \(log.suffix(4000))")
    }

    @Test("a clone that cannot be proven clean (a file name that is not UTF-8) is thrown away, and the next task gets a new clone from the pool instead",
          .timeLimit(.minutes(15)))
    func unprovableIsReplaced() throws {
        let s = try Sandbox("pool-unprovable")
        s.lockfile(Lockfiles.make([]))
        try s.seedPoolRepo()
        let base = try s.out(["rev-parse", "HEAD"])
        try s.submit("a-junk.md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 0\npriority: 5\n---\ntouch \"$(printf 'bad\\377name')\"\nexit 3\n")
        try s.submit("b-check.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\n[ -z \"$(ls | grep bad)\" ] || { echo LEFT bad name; exit 1; }\n\(cleanCheckBody(base: base))\n")
        let run = try s.drain(["--concurrency", "1", "--worktree-pool", "1"], timeout: 240)
        #expect(run.code == 0, "\(run.err)")
        #expect(run.err.contains("task a-junk's clone of \(s.repo) is not reused"), "\(run.err.suffix(3000))")
        let log = s.read("logs/b-check.log")
        #expect(log.contains("from the worktree pool (a new clone)"), "\(log.suffix(3000)) / \(run.err.suffix(3000))")
        #expect(try s.result("b-check").status == .succeeded, "\(log.suffix(4000))")
    }
}
