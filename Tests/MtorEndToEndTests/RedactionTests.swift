import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

/// Issue 10, point 6: the five ways a secret reached the spool, replayed against the built binary.
/// The secret reaches the agent only through its auth variable, so no spec holds it; afterwards no
/// file of the spool and no line of the worker's stderr holds it, whole or any 8 bytes of it.
@Suite("One redaction gate: no secret reaches the spool by any of the five known paths")
struct RedactionTests {
    static let secret = "mtorE2E" + String(UInt64.random(in: 1 << 60 ..< UInt64.max), radix: 16) + "Zq"

    /// Answers the preflight prompt (as a plain or a claude-stream harness), else runs the prompt as a script.
    static let agent = """
        #!/bin/sh
        prompt=$(cat)
        if [ "$prompt" = "Reply with the single word: ok" ]; then
          if [ -n "$FAKE_STREAM" ]; then printf '{"type":"result","subtype":"success","is_error":false,"result":"ok"}\\n'; else echo ok; fi
          exit 0
        fi
        exec /bin/sh -c "$prompt"
        """

    /// The spec bodies: each puts the secret, read from $ANTHROPIC_AUTH_TOKEN, where it once leaked.
    static let specs: [(id: String, provider: String, body: String)] = [
        // 1. A commit subject, copied into git.commits.
        ("leak-commit", "keyed", """
            echo one > deploy.txt && git add deploy.txt && git commit -q -m "deploy with $ANTHROPIC_AUTH_TOKEN"
            echo committed
            """),
        // 2. An api_retry event whose error text echoes the key, copied into api_retries[].error and the reason.
        ("leak-retry", "keyedstream", """
            printf '{"type":"system","subtype":"init","session_id":"s1"}\\n'
            printf '{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":500,"error_status":401,"error":"invalid x-api-key %s"}\\n' "$ANTHROPIC_AUTH_TOKEN"
            sleep 20
            """),
        // 3. The secret followed by a combining mark (U+0301), on stdout and stderr.
        ("leak-mark", "keyed", """
            printf 'key %s\\314\\201 end\\n' "$ANTHROPIC_AUTH_TOKEN"
            printf 'key %s\\314\\201\\n' "$ANTHROPIC_AUTH_TOKEN" >&2
            echo m > mark.txt && git add mark.txt && git commit -q -m "mark $(printf '%s\\314\\201' "$ANTHROPIC_AUTH_TOKEN")"
            """),
        // 4. The secret split where the log used to flush (256 KiB without a newline), and straddling 256 KiB itself.
        ("leak-flush", "keyed", """
            T="$ANTHROPIC_AUTH_TOKEN"
            head -c 262140 /dev/zero | tr '\\0' a
            sleep 0.4
            printf '%s' "$T" | head -c 10
            sleep 0.4
            printf '%s' "$T" | tail -c +11
            head -c 262130 /dev/zero | tr '\\0' a
            printf '%s' "$T"
            head -c 1000 /dev/zero | tr '\\0' a
            echo f > flush.txt && git add flush.txt && git commit -q -m flush
            """),
        // 5. The 2 KiB tail cut landing inside the secret, on stderr (stderr_tail, reason) and stdout.
        ("leak-tail", "keyed", """
            T="$ANTHROPIC_AUTH_TOKEN"
            printf 'failing with %s' "$T" >&2
            head -c 2040 /dev/zero | tr '\\0' b >&2
            printf 'out %s' "$T"
            head -c 2040 /dev/zero | tr '\\0' c
            exit 3
            """),
        // 6. The verify step's output, once cut at 1 MiB before it was redacted (the secret read from a file the agent wrote).
        ("leak-verify", "keyed", """
            printf '%s' "$ANTHROPIC_AUTH_TOKEN" > .git/verify-key.txt
            echo v > verify.txt && git add verify.txt && git commit -q -m verify
            """),
    ]

    /// Frontmatter beyond repo, provider and retries, per spec.
    static let extraKeys = ["leak-verify": "workspace: in-place\nverify: head -c 1048566 /dev/zero | tr '\\0' v; cat .git/verify-key.txt; echo; echo verify done\n"]

    /// Every 8-byte piece of the secret found in `bytes`.
    static func leaks(in bytes: [UInt8]) -> [String] {
        let s = Array(secret.utf8)
        let data = Data(bytes)
        return (0...(s.count - 8)).compactMap { i in
            data.range(of: Data(s[i..<(i + 8)])) == nil ? nil : String(decoding: s[i..<(i + 8)], as: UTF8.self)
        }
    }

    @Test("commit subjects, api_retry errors, combining marks, the log's flush boundary, the 2 KiB tail cut and a cut verify output: 0 hits in the whole spool",
          .timeLimit(.minutes(10)))
    func fiveLeakPaths() throws {
        let s = try Sandbox("redact")
        let agentPath = s.root + "/agent.sh"
        writeFixture(agentPath, Data(Self.agent.utf8))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: agentPath)
        let harnesses = """
            "keysh": { "argv": ["\(agentPath)"], "prompt": "stdin", "base_url_env": "FAKE_BASE_URL" },
            "keystream": { "argv": ["\(agentPath)"], "prompt": "stdin", "stream": "claude-stream-json", "base_url_env": "FAKE_BASE_URL",
                           "env": { "FAKE_STREAM": "1" } }
            """
        s.lockfile(Lockfiles.make([.init(name: "keyed", baseURL: "http://127.0.0.1:9", harness: "keysh"),
                                   .init(name: "keyedstream", baseURL: "http://127.0.0.1:9", harness: "keystream")], extraHarnesses: harnesses))
        s.envFile("SCRIPTED_KEY=\(Self.secret)\n")
        for spec in Self.specs {
            try s.submit("\(spec.id).md", "---\nrepo: ~/code/widget\nprovider: \(spec.provider)\nretries: 0\n\(Self.extraKeys[spec.id] ?? "")---\n\(spec.body)\n")
        }
        let run = try s.drain(timeout: 240)
        #expect(run.code == 0, "\(run.err)")

        // Each path was really taken.
        let commit = try s.result("leak-commit")
        #expect(commit.git?.commits.map(\.subject) == ["deploy with ***"], "\(String(describing: commit.git))")
        let retry = try s.result("leak-retry")
        #expect(retry.class == .authFailed, "\(retry.class): \(retry.reason)")
        #expect(retry.attempts.first?.apiRetries?.first?.error == "invalid x-api-key ***", "\(String(describing: retry.attempts.first?.apiRetries))")
        #expect(retry.reason.contains("invalid x-api-key ***"), "\(retry.reason)")
        let mark = try s.result("leak-mark")
        #expect(mark.git?.commits.map(\.subject) == ["mark ***\u{0301}"])
        #expect(s.read("logs/leak-mark.log").contains("key ***\u{0301} end"))
        let flushLog = s.read("logs/leak-flush.log")
        #expect(flushLog.utf8.count > 2 * 262_144 && flushLog.components(separatedBy: "***").count == 3, "\(flushLog.utf8.count) bytes")
        let tail = try s.result("leak-tail")
        #expect(tail.class == .agentFailed && tail.reason.contains("stderr:"), "\(tail.class): \(tail.reason)")

        let verify = try s.result("leak-verify")
        #expect(verify.status == .succeeded && verify.verify?.outputTail.hasSuffix("***\nverify done\n") == true, "\(String(describing: verify.verify))")

        // Nothing anywhere holds the secret, whole or in part.
        let files = try FileManager.default.subpathsOfDirectory(atPath: s.spool).filter { FileSystem.kind("\(s.spool)/\($0)").regularSize != nil }
        #expect(files.contains("state/ledger.jsonl") && files.contains("state/worker.json") && files.contains("logs/leak-flush.log"), "\(files)")
        var hits: [String: [String]] = [:]
        for file in files {
            let found = Self.leaks(in: try FileSystem.read("\(s.spool)/\(file)"))
            if !found.isEmpty { hits[file] = found }
        }
        #expect(hits.isEmpty, "the secret leaked into \(hits)")
        #expect(Self.leaks(in: Array((run.out + run.err).utf8)).isEmpty, "the worker's own output holds the secret: \(run.err)")
        print("redaction: \(files.count) spool files searched, \(hits.count) with a piece of the secret")
    }
}

private extension FileSystem.Kind {
    var regularSize: Int64? { if case .regular(let size) = self { return size } else { return nil } }
}
