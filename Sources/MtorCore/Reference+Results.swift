// MARK: - What users read: sidecars, classes, the spool, exit codes

extension Reference {
    public static var sidecar: ReferenceTopic {
        ReferenceTopic(
            name: "sidecar", title: "Result sidecar fields (<id>.result.json)",
            intro: """
                Every finished task has `<id>.result.json` beside its spec in done/ or failed/ (`mtor show ID --json` \
                prints it). Times are UTC ISO-8601; secrets are replaced by `***`. A field that is unknown is `null`, \
                never left out, except where marked "when".
                """,
            columns: ["field", "meaning"],
            rows: [
                ["schema", "`\(TaskResult.schemaName)`"],
                ["id", "the task id: the spec's file name in inbox/ without `.md`"],
                ["status", "`succeeded`, `failed` or `cancelled`"],
                ["class", "why it ended (`mtor help classes`)"],
                ["reason", "one sentence a person can act on"],
                ["hint", "what to do next (may be empty)"],
                ["spec", "what the spec asked for, as written, even when it was refused or cancelled"],
                ["spec.file", "the spec's file name"],
                ["spec.repo", "`repo` after `~` expansion (as written when it could not be expanded)"],
                ["spec.provider", "`provider` as the spec named it (or the default it resolved to)"],
                ["spec.harness", "`harness` as named, or the provider's"],
                ["spec.model", "`model` as named, or the provider's"],
                ["spec.meta", "the spec's metadata keys (`title`, `tags`, `x-…`, …) and their values; `{}` when it has none"],
                ["attempts", "one entry per run of the agent, oldest first"],
                ["attempts[].n", "1, 2, …"],
                ["attempts[].provider", "the provider of this attempt (a fallback may differ from `spec.provider`)"],
                ["attempts[].harness", "the harness it ran"],
                ["attempts[].model", "the model it asked for"],
                ["attempts[].started_at", "when it started"],
                ["attempts[].ended_at", "when it ended"],
                ["attempts[].duration_s", "seconds"],
                ["attempts[].exit_code", "the agent's exit status (null when killed by a signal)"],
                ["attempts[].signal", "the signal that ended it, if any"],
                ["attempts[].stdout_bytes", "bytes the agent printed"],
                ["attempts[].stderr_tail", "the end of its stderr"],
                ["attempts[].class", "this attempt's class"],
                ["attempts[].retryable", "whether the policy allowed another attempt after it"],
                ["attempts[].reason", "why this attempt ended as it did"],
                ["attempts[].stopped_by", "when mtor stopped it: `timeout`, `stall`, `cancel`, `early_abort`, `shutdown`"],
                ["attempts[].api_retries", "when the harness reported provider failures: its `api_retry` events"],
                ["attempts[].api_retries[].attempt", "the harness's retry number"],
                ["attempts[].api_retries[].error_status", "the HTTP status the provider answered"],
                ["attempts[].api_retries[].error", "the harness's error word (e.g. `authentication_failed`)"],
                ["attempts[].api_retries[].retry_delay_ms", "how long the harness waited"],
["attempts[].usage", "what the harness reported for this attempt (fields as in `usage`; null where not reported)"],
                ["attempts[].usage.input_tokens", "input tokens"],
                ["attempts[].usage.output_tokens", "output tokens"],
                ["attempts[].usage.cache_read_tokens", "tokens read from the prompt cache"],
                ["attempts[].usage.cache_write_tokens", "tokens written to the prompt cache"],
                ["attempts[].usage.cost_usd",
                 "the harness's own cost figure (Claude Code's `total_cost_usd`, from its bundled price table), in US dollars; null when it "
                     + "reports none"],
                ["attempts[].usage.priced_cost_usd",
                 "mtor's own figure: the attempt's tokens priced at the lockfile's `prices` for its model, in US dollars (what caps and "
                     + "daily budgets count); null without a price"],
                ["attempts[].usage.num_turns", "model turns"],
                ["attempts[].usage.api_duration_s", "seconds spent waiting on the API"],
                ["attempts[].usage.session_id", "the harness's session id"],
                ["attempts[].peak_memory_bytes",
                 "the attempt's highest memory use, all its processes together, as its memory cgroup counted it (page cache included); null "
                     + "when unknown (no memory cgroup)"],
                ["git", "the task's branch against its base (in place: the repo's HEAD before and after), and the commits made"],
                ["git.head_before", "the base commit the task's branch started from (in place: HEAD when the task was claimed)"],
                ["git.head_after", "the branch tip when it ended (in place: HEAD)"],
                ["git.commits", "exactly this task's commits, oldest first"],
                ["git.commits[].sha", "commit id"],
                ["git.commits[].subject", "first line of its message"],
                ["git.branch", "the task's branch (`mtor/<id>` unless the spec names `branch:`); absent in place"],
                ["git.base", "what the branch started from: the spec's `base:`, else the branch the checkout was on"],
                ["git.diffstat", "the branch against its base:"],
                ["git.diffstat.files", "files changed"],
                ["git.diffstat.insertions", "lines added"],
                ["git.diffstat.deletions", "lines removed"],
                ["git.integrated", "`branch` (left for review), `merged` or `pushed`"],
                ["git.integrated_reason", "why `integrate:` did not merge or push"],
                ["review", "what a reviewer should look at first: flags from the branch's diff (they never change the status)"],
                ["review.flags", "`auto_committed`, `file_shrunk`, `pure_deletion`, `tests_deleted`, `large_diff`, `touched_outside`"],
                ["review.diffstat", "the same counts as `git.diffstat`:"],
                ["review.diffstat.files", "files changed"],
                ["review.diffstat.insertions", "lines added"],
                ["review.diffstat.deletions", "lines removed"],
                ["review.notes", "one sentence per flag naming what raised it"],
                ["setup", "when the spec has `setup:`: the command's outcome in the fresh worktree"],
                ["setup.command", "the command"],
                ["setup.exit_code", "its exit status (non-zero: `setup_failed`)"],
                ["setup.duration_s", "seconds"],
                ["setup.output_tail", "the end of its output"],
                ["answer", "the agent's final answer (Claude Code's result text, Codex's last message, sh's output tail), at most 64 KiB"],
                ["verify", "when the spec has `verify`: the command's outcome"],
                ["verify.command", "the command"],
                ["verify.exit_code", "its exit status"],
                ["verify.duration_s", "seconds"],
                ["verify.output_tail", "the end of its output"],
                ["log", "the agent's log, relative to the spool (`mtor logs ID`)"],
                ["worker", "who ran it"],
                ["worker.host", "host name"],
                ["worker.pid", "worker process id"],
                ["worker.version", "mtor version"],
                ["containment", "when the task ran: how its processes were kept together and ended"],
                ["containment.method", "`cgroup2`, `cgroup1` or `marker` (`mtor worker --containment`)"],
                ["containment.leftovers_killed",
                 "processes still running when an attempt or verify ended, killed by mtor (a sandboxed agent's leftovers end with its PID "
                     + "namespace as it exits, before mtor looks, and are not counted)"],
                ["containment.memory_cap_bytes", "when capped: the memory cap of every attempt (`memory:` or `--task-memory`), in bytes"],
                ["containment.memory_controller", "when capped: `cgroup2` (`memory.max`) or `cgroup1` (the v1 memory controller) enforced it"],
                ["sandbox", "when the task ran: what its agent, `setup:` and `verify:` could see and touch"],
                ["sandbox.method", "`bwrap` (own user, mount, PID, IPC and UTS namespaces; no capabilities) or `none` (`mtor worker "
                    + "--sandbox none`)"],
                ["sandbox.writable", "the only paths the agent could write: its task directory, its own HOME, any `--sandbox-writable` path"],
                ["sandbox.hidden", "paths the agent saw empty: the spool, the workspaces directory, the env file, the worker's HOME, /root, /home"],
["usage", "the sum over attempts (null when no attempt reported any): tokens, cost, turns"],
                ["usage.input_tokens", "input tokens, summed over attempts"],
                ["usage.output_tokens", "output tokens, summed over attempts"],
                ["usage.cache_read_tokens", "tokens read from the prompt cache, summed over attempts"],
                ["usage.cache_write_tokens", "tokens written to the prompt cache, summed over attempts"],
                ["usage.cost_usd", "the harness's own cost figure, in US dollars, summed over attempts"],
                ["usage.priced_cost_usd", "mtor's figure from the lockfile's `prices`, summed over attempts"],
                ["usage.num_turns", "model turns, summed over attempts"],
                ["usage.api_duration_s", "seconds spent waiting on the API, summed over attempts"],
                ["usage.session_id", "the harness's session id: set in each attempt's `usage`, null in the task's total (sessions are not summed)"],
                ["claimed_at", "when a worker claimed the spec"],
                ["finished_at", "when the sidecar was written"],
                ["merge", "not in the sidecar, which stays write-once: the task's merge state, in `done/<id>.merge.json` beside it, written "
                    + "by the one process holding the repository's integration lock (`mtor merge`, `integrate: merge`); `mtor show --json` "
                    + "adds it under this key"],
                ["merge.schema", "`mtor.merge/1`"],
                ["merge.id", "the task"],
                ["merge.state", "`landed` (the base contains the change), `conflict` (rebasing onto the base conflicted: `files`), "
                    + "`verify_failed` (verify failed on the rebased commit; the base did not move) or `skipped` (not tried: `reason`); "
                    + "`mtor merge --dry-run` prints `would_land` and writes nothing"],
                ["merge.at", "when this state was reached"],
                ["merge.commit", "when landed: the base branch's new tip"],
                ["merge.commits", "when landed: the commits now on the base, oldest first (the rebased `head_after`)"],
                ["merge.base", "the base branch"],
                ["merge.files", "when in conflict: the conflicting files"],
                ["merge.reason", "one sentence: what happened, or why it was skipped"],
                ["merge.verify", "the `verify:` run on the rebased commit: `command`, `exit_code`, `duration_s`, `output_tail`"],
                ["merge.verify.command", "the command"],
                ["merge.verify.exit_code", "its exit status"],
                ["merge.verify.duration_s", "seconds"],
                ["merge.verify.output_tail", "the end of its output"],
                ["merge.follow_up", "the follow-up task queued for a conflict (`mtor merge --resolve ID`, `on_conflict: agent`): it carries "
                    + "`x-mtor-origin: ID` in `spec.meta` and replaces this task in the queue"],
            ])
    }

    /// What to do about each class, by its raw value. A class missing here fails the completeness test.
    static let classAdvice: [String: (meaning: String, action: String)] = [
        "ok": ("the agent exited 0 (and `verify` passed)", "review the commits (`mtor show ID`)"),
        "spec_invalid": ("the spec cannot be parsed or breaks a rule; `reason` names the key",
                         "fix the spec (`mtor validate SPEC`) and submit it again"),
        "workdir_missing": ("`repo` does not exist, is not a directory or not a git work tree on the worker",
                            "create or clone the repo on the worker, or fix `repo`; check the worker's HOME if `repo` starts with `~`"),
        "harness_missing": ("the harness program is not found or not executable on the agents' PATH",
                            "install it on the worker or put its full path in the lockfile's `argv`; `mtor doctor`"),
        "harness_usage": ("the harness refused its own arguments (unknown option, usage error)",
                          "fix the harness's `argv` in the lockfile; `mtor doctor` prints its version"),
        "auth_failed": ("the provider refused the key (401/403)",
                        "fix the key in the env file, send SIGHUP; `mtor doctor --provider P` shows which header works"),
        "quota_exhausted": ("the plan or balance is used up (402, billing text)", "top up, or name a `fallback` provider"),
        "rate_limited": ("429 or a rate-limit message", "nothing, usually; lower the provider's `concurrency` if it persists"),
        "provider_unavailable": ("connection refused or reset, 5xx, overloaded, API timeout", "check `base_url` and the network; name a `fallback`"),
        "stalled": ("no output or stream events for `stall`", "raise `stall` for long silent steps, or look at the log for a hung tool"),
        "timed_out": ("the attempt reached `timeout`", "raise `timeout` or split the task"),
        "agent_failed": ("the model was reached and the agent exited non-zero",
                         "read `mtor logs ID`; rephrase the prompt or fix the repo, then `mtor retry ID`"),
        "verify_failed": ("the agent exited 0 but `verify` failed", "read `verify.output_tail`; `mtor retry ID` after fixing"),
        "cancelled": ("cancelled with `mtor cancel` (or cancel/<id>)", "`mtor retry ID` to run it again"),
        "interrupted": ("the worker stopped or died during the attempt", "nothing: the task is requeued; too many interruptions fail it"),
        "unknown": ("non-zero exit with nothing recognisable", "read `mtor logs ID`; report the harness output if it should be classified"),
        "internal_error": ("a fault in mtor itself", "report it with the sidecar and the worker's log"),
        "no_changes": ("the agent exited 0 but changed nothing (`expect: changes`)",
                       "make the prompt ask for a change the agent can make; use `expect: answer` for questions and reviews"),
        "out_of_memory": ("the kernel's out-of-memory killer killed a process of the attempt at its memory cap (`memory:` or "
            + "`--task-memory`); `reason` names the cap and the peak",
                          "raise `memory:` (or the worker's `--task-memory`) or make the task need less, then `mtor retry ID`"),
        "setup_failed": ("the spec's `setup:` command (or its worktree, or a `copy:` file) failed before the agent ran",
                         "read `setup.output_tail` and `reason`; fix the command or the files it needs, then `mtor retry ID`"),
        "budget_exceeded": ("the task's running cost or turns crossed `max_cost_usd:` or `max_turns:` (or a daily budget ran out under "
            + "`--budget-stop`) and the agent was stopped; `reason` gives spent and cap",
        "raise the cap if the task needs more, then `mtor retry ID`"),
        "dependency_failed": ("a task named in `depends_on` failed, was cancelled, or never appeared within `--dependency-timeout`; this "
            + "one never ran", "fix the dependency and `mtor retry` it, then `mtor retry ID` (or submit again)"),
        "duplicate": ("an identical spec (same repo, provider and prompt) is queued or running, or succeeded within `--dedup-window`; "
            + "`reason` names it. A failed or cancelled twin never counts",
        "nothing if it was submitted twice by accident; to run it again on purpose, `mtor submit --force SPEC` (or add `dedup: false`)"),
    ]

    public static var classes: ReferenceTopic {
        ReferenceTopic(
            name: "classes", title: "Failure classes",
            intro: """
                Every attempt and every task ends with one class, decided from the exit code and signal first and then only \
                from positive evidence (stream events, known error texts). "Retried" is what the worker does by itself.
                """,
            columns: ["class", "meaning", "retried?", "what to do"],
            rows: FailureClass.allCases.compactMap { c in
                classAdvice[c.rawValue].map { [c.rawValue, $0.meaning, retried(c), $0.action] }
            })
    }

    public static var spool: ReferenceTopic {
        ReferenceTopic(
            name: "spool", title: "Spool layout",
            intro: """
                The state of a task is the directory its spec is in; everything is visible with `ls`. All directories must \
                be on one filesystem (the worker refuses otherwise). `mtor worker` creates missing ones.
                """,
            columns: ["path", "holds"],
            rows: [
                ["inbox/", "specs waiting (`*.md`); names starting with `.` or ending in `.tmp`, `.part`, `~` are never touched; other files "
                    + "are listed by `status`"],
                ["tmp/", "staging on the same filesystem: write here, then rename into inbox/ (what `mtor submit` does)"],
                ["claimed/", "specs being run, each with `<id>.claim.json` (host, pid, attempt, started_at, next_attempt_at)"],
                ["done/", "`<id>.md` and `<id>.result.json` of tasks that succeeded, and `<id>.merge.json`: its merge state once the merge "
                    + "queue took it (`mtor help sidecar`, `merge`)"],
                ["failed/", "`<id>.md` and `<id>.result.json` of tasks that failed or were cancelled; `mtor retry` keeps old sidecars as "
                    + "`<id>.result.N.json`"],
                ["logs/", "`<id>.log`: the agent's output, capped (`--log-cap`), secrets replaced by `***`"],
                ["cancel/", "an empty file named `<id>` cancels that task"],
                ["state/", "`worker.json` (heartbeat, running tasks, warnings), `workers/<host>-<pid>.json` (the same, one per running worker, with its provider health as `provider_health`), `providers.json` (health), `ledger.jsonl` (one line per state change), `metrics.prom`. On a network filesystem no file has two writers: each worker writes only its `workers/<host>-<pid>.json` (no `worker.json`, no `providers.json`), each host appends to `ledgers/<host>.jsonl`, metrics stay on the host (`~/.local/state/mtor/metrics.prom`), and `status`, `show`, `wait` and `doctor` merge them; `attempts/`, `paused` and `paused-<provider>` (`mtor pause`: while one exists no worker starts a task there; it holds since/by as JSON)"],
                ["work/", "`<id>/`: the task's git worktree (or task clone) while it runs, its branch `mtor/<id>` kept in the repository after; the default place (`mtor worker --workspaces DIR` moves it). `.pool-<host>/`: the worker's ready clones per repository (`--worktree-pool N`): `<key>/ready-<n>` with a `ready-<n>.json` marker each, `work-<n>` and `fresh-<n>` while one is made or recycled; the lock `lock` is held by the worker using it"],
            ],
            outro: """
                Invariants: a spec is in exactly one of inbox/, claimed/, done/, failed/ once a crash is recovered; nothing \
                is silently deleted or overwritten. A spec in done/ or failed/ always has its sidecar, written and fsynced \
                before the spec moves. Claiming is a rename, so two workers never run the same spec. A spec left in \
                claimed/ by a dead worker goes back to inbox/ (the attempt counts) or, out of attempts, to failed/. A \
                task's id is its file name without `.md`: `[A-Za-z0-9._-]`, at most 100, not starting with `.`; \
                commands also accept the name of the file as it was dropped (`mtor show "my task (1)"`).
                """)
    }

    public static var exitCodes: ReferenceTopic {
        ReferenceTopic(
            name: "exit-codes", title: "Exit codes",
            intro: "Every command exits with one of these; the message on stderr names the problem and the fix.",
            columns: ["code", "meaning"],
            rows: [
                ["0", "success (`wait`, `submit --wait`: every task succeeded)"],
                ["1", "the thing checked or waited for failed (a task failed, a spec is invalid, lock check found problems)"],
                ["2", "usage: an unknown command or option, a missing or extra argument"],
                ["3", "environment: no spool, unreadable lockfile or env file, no usable HOME; `doctor` found a problem"],
                ["4", "not found: no such task or provider"],
            ])
    }
}
