/// The sidecar and the claim as `Stamp.encoder()` writes them, by hand (see `PrettyJSON`). Keys in
/// UTF-8 order; a key written with `encodeIfPresent` in `encode(to:)` is left out when nil here too.
extension TaskResult: PrettyJSONWritable {
    public var prettyJSON: [UInt8]? {
        var w = PrettyJSON(capacity: 2048 + (answer?.utf8.count ?? 0))
        w.object { w in
            w.fieldIfPresent("answer", answer)
            w.key("attempts")
            w.array(attempts) { $0.write(to: &$1) }
            w.field("claimed_at", claimedAt)
            w.field("class", self.class.rawValue)
            w.fieldIfPresent("containment", containment) { $0.write(to: &$1) }
            w.field("finished_at", finishedAt)
            w.field("git", git) { $0.write(to: &$1) }
            w.field("hint", hint)
            w.field("id", id)
            w.field("log", log)
            w.field("reason", reason)
            w.fieldIfPresent("review", review) { $0.write(to: &$1) }
            w.fieldIfPresent("sandbox", sandbox) { $0.write(to: &$1) }
            w.field("schema", schema)
            w.fieldIfPresent("setup", setup) { $0.write(to: &$1) }
            w.key("spec")
            spec.write(to: &w)
            w.field("status", status.rawValue)
            w.field("usage", usage) { $0.write(to: &$1) }
            w.fieldIfPresent("verify", verify) { $0.write(to: &$1) }
            w.key("worker")
            w.object { w in
                w.field("host", worker.host)
                w.field("pid", worker.pid)
                w.field("version", worker.version)
            }
        }
        return w.failed ? nil : w.bytes
    }
}

extension TaskResult.Attempt {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.fieldIfPresent("api_retries", apiRetries) { retries, w in w.array(retries) { $0.write(to: &$1) } }
            w.field("class", self.class.rawValue)
            w.field("duration_s", durationS)
            w.field("ended_at", endedAt)
            w.field("exit_code", exitCode)
            w.field("harness", harness)
            w.field("model", model)
            w.field("n", n)
            w.field("peak_memory_bytes", peakMemoryBytes)
            w.field("provider", provider)
            w.field("reason", reason)
            w.field("retryable", retryable)
            w.field("signal", signal)
            w.field("started_at", startedAt)
            w.field("stderr_tail", stderrTail)
            w.field("stdout_bytes", stdoutBytes)
            w.fieldIfPresent("stopped_by", stoppedBy)
            w.field("usage", usage) { $0.write(to: &$1) }
        }
    }
}

extension StreamScanner.APIRetry {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.fieldIfPresent("attempt", attempt)
            w.fieldIfPresent("error", error)
            w.fieldIfPresent("error_status", status)
            w.fieldIfPresent("retry_delay_ms", delayMs)
        }
    }
}

extension TaskResult.Usage {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.field("api_duration_s", apiDurationS)
            w.field("cache_read_tokens", cacheReadTokens)
            w.field("cache_write_tokens", cacheWriteTokens)
            w.field("cost_usd", costUSD)
            w.field("input_tokens", inputTokens)
            w.field("num_turns", numTurns)
            w.field("output_tokens", outputTokens)
            w.field("priced_cost_usd", pricedCostUSD)
            w.field("session_id", sessionID)
        }
    }
}

extension TaskResult.SpecSummary {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.field("file", file)
            w.field("harness", harness)
            w.key("meta")
            FrontmatterValue.write(entries: meta.map { ($0.key, $0.value) }, to: &w)
            w.field("model", model)
            w.field("provider", provider)
            w.field("repo", repo)
        }
    }
}

extension FrontmatterValue {
    func write(to w: inout PrettyJSON) {
        switch self {
        case .null: w.null()
        case .boolean(let b): w.bool(b)
        case .integer(let n): w.integer(n)
        case .float(let d): if d.isFinite { w.double(d) } else { w.string(json) }
        case .string(let s): w.string(s)
        case .list(let items): w.array(items) { $0.write(to: &$1) }
        case .map(let entries): Self.write(entries: entries.map { ($0.key, $0.value) }, to: &w)
        }
    }

    /// A mapping with its keys in UTF-8 order; a key given twice is the encoder's to settle.
    static func write(entries: [(key: String, value: FrontmatterValue)], to w: inout PrettyJSON) {
        let sorted = entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.key == b.key { return w.fail() }
        w.object { w in
            for entry in sorted {
                w.key(entry.key)
                entry.value.write(to: &w)
            }
        }
    }
}

extension TaskResult.Git {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.fieldIfPresent("base", base)
            w.fieldIfPresent("branch", branch)
            w.key("commits")
            w.array(commits) { commit, w in
                w.object { w in
                    w.field("sha", commit.sha)
                    w.field("subject", commit.subject)
                }
            }
            w.fieldIfPresent("diffstat", diffstat) { $0.write(to: &$1) }
            w.field("head_after", headAfter)
            w.field("head_before", headBefore)
            w.fieldIfPresent("integrated", integrated)
            w.fieldIfPresent("integrated_reason", integratedReason)
        }
    }
}

extension Review.Diffstat {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.field("deletions", deletions)
            w.field("files", files)
            w.field("insertions", insertions)
        }
    }
}

extension Review {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.key("diffstat")
            diffstat.write(to: &w)
            w.field("flags", flags.map(\.rawValue))
            w.field("notes", notes)
        }
    }
}

extension TaskResult.Verify {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.field("command", command)
            w.field("duration_s", durationS)
            w.fieldIfPresent("exit_code", exitCode)
            w.field("output_tail", outputTail)
        }
    }
}

extension TaskResult.Containment {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.field("leftovers_killed", leftoversKilled)
            w.fieldIfPresent("memory_cap_bytes", memoryCapBytes)
            w.fieldIfPresent("memory_controller", memoryController)
            w.field("method", method)
        }
    }
}

extension TaskResult.SandboxSummary {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.fieldIfPresent("hidden", hidden)
            w.field("method", method)
            w.fieldIfPresent("writable", writable)
        }
    }
}

extension ClaimRecord: PrettyJSONWritable {
    public var prettyJSON: [UInt8]? {
        var w = PrettyJSON(capacity: 512)
        w.object { w in
            w.fieldIfPresent("agent_pgid", agentPgid)
            w.fieldIfPresent("agent_start", agentStart)
            w.field("attempt", attempt)
            w.fieldIfPresent("boot_id", bootID)
            w.fieldIfPresent("cgroup", cgroup)
            w.fieldIfPresent("containment", containment)
            w.field("file", file)
            w.field("host", host)
            w.field("id", id)
            w.fieldIfPresent("marker", marker)
            w.fieldIfPresent("memory_cap_bytes", memoryCapBytes)
            w.fieldIfPresent("memory_cgroup", memoryCgroup)
            w.fieldIfPresent("next_attempt_at", nextAttemptAt)
            w.field("pid", pid)
            w.fieldIfPresent("provider", provider)
            w.field("started_at", startedAt)
        }
        return w.failed ? nil : w.bytes
    }
}
