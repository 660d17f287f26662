/// The sidecar and the claim as `Stamp.encoder()` writes them, by hand (see `PrettyJSON`). Keys in
/// UTF-8 order; a key written with `encodeIfPresent` in `encode(to:)` is left out when nil here too.
extension TaskResult: PrettyJSONWritable {
    public var prettyJSON: [UInt8]? {
        var w = PrettyJSON(capacity: 2048 + (answer?.utf8.count ?? 0))
        write(to: &w)
        return w.failed ? nil : w.bytes
    }

    func write(to w: inout PrettyJSON) {
        w.object { w in
            if let answer {
                w.key("answer")
                w.string(answer)
            }
            w.key("attempts")
            w.array { w in
                for attempt in attempts {
                    w.element()
                    attempt.write(to: &w)
                }
            }
            w.key("claimed_at")
            w.string(claimedAt)
            w.key("class")
            w.string(self.class.rawValue)
            if let containment {
                w.key("containment")
                containment.write(to: &w)
            }
            w.key("finished_at")
            w.string(finishedAt)
            w.key("git")
            if let git { git.write(to: &w) } else { w.null() }
            w.key("hint")
            w.string(hint)
            w.key("id")
            w.string(id)
            w.key("log")
            w.string(log)
            w.key("reason")
            w.string(reason)
            if let review {
                w.key("review")
                review.write(to: &w)
            }
            if let sandbox {
                w.key("sandbox")
                sandbox.write(to: &w)
            }
            w.key("schema")
            w.string(schema)
            if let setup {
                w.key("setup")
                setup.write(to: &w)
            }
            w.key("spec")
            spec.write(to: &w)
            w.key("status")
            w.string(status.rawValue)
            w.key("usage")
            Usage.write(usage, to: &w)
            if let verify {
                w.key("verify")
                verify.write(to: &w)
            }
            w.key("worker")
            w.object { w in
                w.key("host")
                w.string(worker.host)
                w.key("pid")
                w.integer(worker.pid)
                w.key("version")
                w.string(worker.version)
            }
        }
    }
}

extension TaskResult.Attempt {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            if let apiRetries {
                w.key("api_retries")
                w.array { w in
                    for retry in apiRetries {
                        w.element()
                        retry.write(to: &w)
                    }
                }
            }
            w.key("class")
            w.string(self.class.rawValue)
            w.key("duration_s")
            w.double(durationS)
            w.key("ended_at")
            w.string(endedAt)
            w.key("exit_code")
            w.integer(exitCode)
            w.key("harness")
            w.string(harness)
            w.key("model")
            w.string(model)
            w.key("n")
            w.integer(n)
            w.key("peak_memory_bytes")
            w.integer(peakMemoryBytes)
            w.key("provider")
            w.string(provider)
            w.key("reason")
            w.string(reason)
            w.key("retryable")
            w.bool(retryable)
            w.key("signal")
            w.integer(signal)
            w.key("started_at")
            w.string(startedAt)
            w.key("stderr_tail")
            w.string(stderrTail)
            w.key("stdout_bytes")
            w.integer(stdoutBytes)
            if let stoppedBy {
                w.key("stopped_by")
                w.string(stoppedBy)
            }
            w.key("usage")
            TaskResult.Usage.write(usage, to: &w)
        }
    }
}

extension StreamScanner.APIRetry {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            if let attempt {
                w.key("attempt")
                w.integer(attempt)
            }
            if let error {
                w.key("error")
                w.string(error)
            }
            if let status {
                w.key("error_status")
                w.integer(status)
            }
            if let delayMs {
                w.key("retry_delay_ms")
                w.double(delayMs)
            }
        }
    }
}

extension TaskResult.Usage {
    static func write(_ usage: Self?, to w: inout PrettyJSON) {
        guard let usage else { return w.null() }
        w.object { w in
            w.key("api_duration_s")
            w.double(usage.apiDurationS)
            w.key("cache_read_tokens")
            w.integer(usage.cacheReadTokens)
            w.key("cache_write_tokens")
            w.integer(usage.cacheWriteTokens)
            w.key("cost_usd")
            w.double(usage.costUSD)
            w.key("input_tokens")
            w.integer(usage.inputTokens)
            w.key("num_turns")
            w.integer(usage.numTurns)
            w.key("output_tokens")
            w.integer(usage.outputTokens)
            w.key("priced_cost_usd")
            w.double(usage.pricedCostUSD)
            w.key("session_id")
            w.string(usage.sessionID)
        }
    }
}

extension TaskResult.SpecSummary {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.key("file")
            w.string(file)
            w.key("harness")
            w.string(harness)
            w.key("meta")
            FrontmatterValue.write(entries: meta.map { ($0.key, $0.value) }, to: &w)
            w.key("model")
            w.string(model)
            w.key("provider")
            w.string(provider)
            w.key("repo")
            w.string(repo)
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
        case .list(let items):
            w.array { w in
                for item in items {
                    w.element()
                    item.write(to: &w)
                }
            }
        case .map(let entries):
            Self.write(entries: entries.map { ($0.key, $0.value) }, to: &w)
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
            if let base {
                w.key("base")
                w.string(base)
            }
            if let branch {
                w.key("branch")
                w.string(branch)
            }
            w.key("commits")
            w.array { w in
                for commit in commits {
                    w.element()
                    w.object { w in
                        w.key("sha")
                        w.string(commit.sha)
                        w.key("subject")
                        w.string(commit.subject)
                    }
                }
            }
            if let diffstat {
                w.key("diffstat")
                diffstat.write(to: &w)
            }
            w.key("head_after")
            w.string(headAfter)
            w.key("head_before")
            w.string(headBefore)
            if let integrated {
                w.key("integrated")
                w.string(integrated)
            }
            if let integratedReason {
                w.key("integrated_reason")
                w.string(integratedReason)
            }
        }
    }
}

extension Review.Diffstat {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.key("deletions")
            w.integer(deletions)
            w.key("files")
            w.integer(files)
            w.key("insertions")
            w.integer(insertions)
        }
    }
}

extension Review {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.key("diffstat")
            diffstat.write(to: &w)
            w.key("flags")
            w.strings(flags.map(\.rawValue))
            w.key("notes")
            w.strings(notes)
        }
    }
}

extension TaskResult.Verify {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.key("command")
            w.string(command)
            w.key("duration_s")
            w.double(durationS)
            if let exitCode {
                w.key("exit_code")
                w.integer(exitCode)
            }
            w.key("output_tail")
            w.string(outputTail)
        }
    }
}

extension TaskResult.Containment {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            w.key("leftovers_killed")
            w.integer(leftoversKilled)
            if let memoryCapBytes {
                w.key("memory_cap_bytes")
                w.integer(memoryCapBytes)
            }
            if let memoryController {
                w.key("memory_controller")
                w.string(memoryController)
            }
            w.key("method")
            w.string(method)
        }
    }
}

extension TaskResult.SandboxSummary {
    func write(to w: inout PrettyJSON) {
        w.object { w in
            if let hidden {
                w.key("hidden")
                w.strings(hidden)
            }
            w.key("method")
            w.string(method)
            if let writable {
                w.key("writable")
                w.strings(writable)
            }
        }
    }
}

extension ClaimRecord: PrettyJSONWritable {
    public var prettyJSON: [UInt8]? {
        var w = PrettyJSON(capacity: 512)
        w.object { w in
            if let agentPgid {
                w.key("agent_pgid")
                w.integer(agentPgid)
            }
            if let agentStart {
                w.key("agent_start")
                w.integer(agentStart)
            }
            w.key("attempt")
            w.integer(attempt)
            if let bootID {
                w.key("boot_id")
                w.string(bootID)
            }
            if let cgroup {
                w.key("cgroup")
                w.string(cgroup)
            }
            if let containment {
                w.key("containment")
                w.string(containment)
            }
            w.key("file")
            w.string(file)
            w.key("host")
            w.string(host)
            w.key("id")
            w.string(id)
            if let marker {
                w.key("marker")
                w.string(marker)
            }
            if let memoryCapBytes {
                w.key("memory_cap_bytes")
                w.integer(memoryCapBytes)
            }
            if let memoryCgroup {
                w.key("memory_cgroup")
                w.string(memoryCgroup)
            }
            if let nextAttemptAt {
                w.key("next_attempt_at")
                w.string(nextAttemptAt)
            }
            w.key("pid")
            w.integer(pid)
            if let provider {
                w.key("provider")
                w.string(provider)
            }
            w.key("started_at")
            w.string(startedAt)
        }
        return w.failed ? nil : w.bytes
    }
}
