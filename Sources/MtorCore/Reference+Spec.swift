// MARK: - What users write: spec frontmatter, the lockfile, the env file

extension Reference {
    public static var spec: ReferenceTopic {
        ReferenceTopic(
            name: "spec", title: "Spec keys",
            intro: """
                A spec is a Markdown file: optional frontmatter between `---` lines, then the prompt. The frontmatter is \
                stripped and the prompt reaches the agent on stdin (or in a file), never on its command line. Unknown keys, \
                wrong types, a missing or non-git `repo`, a `repo` outside the worker's `--allow-repos`, an unknown provider, \
                an empty body, more than 1 MiB or text that is not UTF-8 fail at once (`spec_invalid` or `workdir_missing`), \
                never retried. `mtor validate SPEC` runs these checks and says which it could not make.
                """,
            columns: ["key", "type", "default", "meaning"],
            rows: [
                ["repo", "path (`~`, `$HOME`, `${HOME}` expanded on the worker)", "required",
                 "the git work tree the agent works in; it must be under one of the worker's `--allow-repos` directories (default: the "
                     + "worker's HOME)"],
                ["provider", "name from the lockfile", "the lockfile's `default`", "which provider (API, key, harness, model) runs the task"],
                ["fallback", "list of provider names, or one name", "none",
                 "tried in order when the provider fails with `auth_failed`, `quota_exhausted`, `rate_limited` or `provider_unavailable`, or "
                     + "is unhealthy"],
                ["harness", "name from the lockfile", "the provider's harness (`sh` when no provider)",
                 "the program that runs the prompt; `sh` runs the prompt with /bin/sh and needs no provider"],
                ["model", "string", "the provider's `model`", "the model name put into the harness's `{model}`"],
                ["timeout", "duration (`90s`, `15m`, `2h`, or seconds)", DurationText.format(Spec.defaultTimeout),
                 "wall-clock limit of one attempt; reaching it is `timed_out`"],
                ["stall", "duration", DurationText.format(Spec.defaultStall),
                 "stop an attempt after this long without output or stream events; reaching it is `stalled`"],
                ["retries", "whole number 0–\(Spec.maxRetries)", "\(Spec.defaultRetries)",
                 "extra attempts for transient failures (see `mtor help classes`)"],
                ["verify", "shell command", "none",
                 "run in `repo` after the agent exits 0; it must exit 0 for the task to succeed (else `verify_failed`)"],
                ["priority", "whole number", "0",
                 "higher runs first; the same priority keeps arrival order (`priority: high` is refused: it is a number). A waiting spec "
                     + "gains one level per \(DurationText.format(Scheduler.agingStep)) waited, so none starves"],
                ["depends_on", "list of task ids or submitted file names (at most \(ScheduleRules.maxDependencies))", "none",
                 "tasks that must succeed first; the spec waits in inbox/. One that failed or was cancelled fails it at once "
                     + "(`dependency_failed`); one not in the spool is waited for until `--dependency-timeout`; a cycle is refused "
                     + "(`spec_invalid`). A name is read as every command reads it (`show`, `wait`, `logs`, `cancel`, `retry`, `merge`): "
                     + "the task with that id — a file dropped again under the same name, claimed as `hello-2`, never takes over `hello`; `show` and `wait` "
                     + "list the other tasks of that file name — else the newest task submitted from a file of that name"],
                ["not_before", "ISO-8601 time with zone, or duration", "none",
                 "the spec waits in inbox/ until then; a duration (`2h`) counts from the spec file's modification time (when it was "
                     + "submitted), so a worker restart keeps it"],
                ["dedup", "`true` or `false`", "true",
                 "an identical spec (same repo, provider and prompt) queued, running, or succeeded within the worker's `--dedup-window` "
                     + "refuses this one (class `duplicate`, naming the original; `validate` and `submit` say so at once for a queued or "
                     + "running one); a failed or cancelled twin never counts; `false` (or `mtor submit --force`) runs it anyway"],
                ["workspace", "`worktree` or `in-place`", "worktree",
                 "worktree: the agent works in `spool/work/<id>` on its own branch, the checkout untouched; in-place: in the checkout (one "
                     + "such task per repo at a time)"],
                ["base", "branch, tag or commit, or `after`", "the repo's HEAD at claim",
                 "where the task's branch starts; `after`: the tip of the branch of the task's single `depends_on`, so a chain builds on "
                     + "its own work"],
                ["branch", "branch name (`<id>` is the task's id)", WorkSettings.defaultBranch,
                 "the task's branch; it stays after the task (retries continue on it)"],
                ["copy", "list of paths in the repo", "none", "untracked files copied from the checkout into the worktree (never committed by mtor)"],
                ["setup", "shell command", "none", "run in the fresh worktree before the agent; failing is `setup_failed`, never retried"],
                ["expect", "`changes`, `answer` or `nothing`", "changes",
                 "the evidence of success: a change on the branch (leftovers are committed and flagged `auto_committed`; none is "
                     + "`no_changes`), a final answer, or a plain exit 0"],
                ["integrate", "`branch`, `merge` or `push`", "branch",
                 "leave the branch for review; land it through the merge queue (`head_after` rebased onto the base as it is then, `verify:` "
                     + "run on the result, the base fast-forwarded only if it passes; what `mtor merge` does); or push the branch to `origin`"],
                ["on_conflict", "`branch` or `agent`", "branch",
                 "when the merge queue meets a conflict: record it (files in `done/<id>.merge.json` and `mtor show`) for `mtor merge "
                     + "--resolve ID`, or queue that follow-up task at once (same provider, from the current base, the original prompt and "
                     + "both sides of the conflict as context; a follow-up never queues another)"],
                ["paths", "list of paths in the repo", "anywhere", "the task's scope: changes elsewhere are flagged `touched_outside`"],
                ["memory", "size (`512M`, `4G`; K, M, G, T are powers of 1024)", "none (the worker's `--task-memory`)",
                 "memory cap of each attempt: the agent and every process it starts share it (a cgroup). The kernel's out-of-memory killer "
                     + "ends the attempt at the cap: `out_of_memory`, never retried at the same cap. Below 8 MiB, `0` or not a size is "
                     + "`spec_invalid`; a worker that cannot enforce a cap fails the spec rather than run it uncapped"],
                ["max_cost_usd", "dollars (`0.50`, `2`)", "none",
                 "the most the task may spend, all attempts together, priced by mtor from the stream's token counts as they arrive at the "
                     + "lockfile's `prices` for the model. Past it the agent is stopped at once (the whole task, as on timeout): "
                     + "`budget_exceeded`, never retried, spent and cap in `reason`. A harness without token counts (no `stream`) or a model "
                     + "without a price is refused before it starts (`spec_invalid`). Codex reports tokens only when a turn completes, so "
                     + "its cap is checked then"],
                ["max_turns", "whole number 1…100000", "none",
                 "the most model turns the task may take, all attempts together (Claude Code: assistant messages; Codex: completed turns; "
                     + "Aider: answers). The agent is stopped at once when it begins one more: `budget_exceeded`, never retried"],
                ["title, description, name, status, tags, created, created_at, revised, goal, type, owner, notes, x-…", "any YAML value", "none",
                 "metadata: accepted, ignored by the scheduler, kept in the sidecar as `spec.meta`"],
            ],
            outro: Frontmatter.reference
                + "\n\nExample:\n---\nrepo: ~/code/widget\nprovider: zhipu\nfallback: [infini]\ntimeout: 30m\nverify: swift test\n---\nAdd a "
                + "guard against spanned cells in the table handler.")
    }

    public static var lockfile: ReferenceTopic {
        ReferenceTopic(
            name: "lockfile", title: "Lockfile keys (etc/providers.json)",
            intro: """
                The worker reads the lockfile at start and on SIGHUP (`--providers FILE`, default `etc/providers.json`). \
                Each agent gets an environment built from scratch: PATH, HOME, USER, LANG, TMPDIR, the harness's and the \
                provider's `env`, the provider's `base_url` under the harness's `base_url_env`, and the secret read from \
                `secret_env` under exactly `auth_env`. `mtor lock check` checks that the lockfile, the env file and the \
                scripts in etc/ agree.
                """,
            columns: ["key", "where", "meaning"],
            rows: [
                ["schema", "top level", "`\(Lockfile.schemaName)`"],
                ["default", "top level", "the provider a spec without `provider:` uses"],
                ["harnesses", "top level", "name → how to run a program"],
                ["providers", "top level", "name → how to reach a model"],
                ["on_finish", "top level", "a command run after each task's sidecar is written (`mtor worker --on-finish` wins)"],
                ["on_attention", "top level", "a command run when a provider turns unhealthy or the success rate drops (`--on-attention` wins)"],
                ["budget_usd_per_day", "top level or provider",
                 "what tasks may spend per UTC day, in dollars: under a provider its tasks, at the top level the whole worker. Counted from "
                     + "the ledgers' `spent` lines (one per attempt, mtor's priced figure), across restarts and across hosts sharing the "
                     + "spool. Once spent, running attempts finish (or, with `mtor worker --budget-stop`, stop at once: `budget_exceeded`) "
                     + "and no new task starts on it until the next UTC day; queued specs wait in inbox/ with the reason (`status`, `show`, "
                     + "`submit --wait`). A task under a daily budget whose model has no price, or whose harness reports no token counts, is "
                     + "refused before it starts. For tests only, the worker takes \"now\" for daily budgets from the ISO-8601 time in the "
                     + "file named by `MTOR_TEST_NOW_FILE` (never set it in production)"],
                ["argv", "harness", "the command; may use `{model}`, `{base_url}`, `{repo}`, `{prompt_file}`"],
                ["prompt", "harness", "`stdin` (default) or `file` (the prompt goes to a private temp file named by `{prompt_file}`)"],
                ["stream", "harness", "the output format mtor reads evidence from: "
                    + "\(StreamScanner.formats.sorted().map { "`\($0)`" }.joined(separator: ", "))"],
                ["auth_headers", "harness",
                 "variable → header the harness sends it as (`bearer`, `x-api-key`); `doctor` calls the API the same way"],
                ["base_url_env", "harness", "the variable the harness reads its API address from"],
                ["env", "harness or provider", "extra variables for the agent"],
                ["version_argv", "harness", "how `doctor` asks the harness for its version"],
                ["preflight_prompt", "harness", "the trivial prompt of the preflight run"],
                ["tested", "harness or provider", "true when the test suite drives it for real"],
                ["notes", "harness or provider", "free text for people"],
                ["harness", "provider", "which harness runs this provider's tasks"],
                ["api", "provider", "`anthropic`, `openai` (Responses) or `openai-chat` (chat completions; a litellm `openai/` model prefix "
                    + "is dropped): how `doctor` makes its real call"],
                ["base_url", "provider", "the API address"],
                ["auth_env", "provider", "the variable the harness reads the key from (e.g. ANTHROPIC_AUTH_TOKEN)"],
                ["secret_env", "provider", "the variable the worker reads the key from (env file, else its own environment)"],
                ["model", "provider", "the default model"],
                ["models", "provider", "other models people may name in `model:`"],
                ["concurrency", "provider", "at most this many of its tasks at once (a task only recording its result, its processes gone, counts for none)"],
                ["prices", "provider",
                 "model → `{\"input\": 3.0, \"output\": 15.0, \"cache_read\": 0.3, \"cache_write\": 3.75}`: US dollars per million tokens. A "
                     + "missing `cache_read` or `cache_write` prices those tokens at the `input` rate. Codex's `input_tokens` include its "
                     + "`cached_input_tokens`: mtor prices the cached ones at `cache_read`. Claude Code's stream shows each message's output "
                     + "tokens as the message ends only with `--include-partial-messages` in the harness `argv` (the shipped lockfile has "
                     + "it); without it the running figure counts 1 output token per message until the final `result` corrects the attempt's "
                     + "figure. Aider's figure is its own `Tokens:` report"],
            ])
    }

    public static var env: ReferenceTopic {
        ReferenceTopic(
            name: "env", title: "Env-file syntax (etc/mtor.env)",
            intro: """
                The worker reads its env file itself (`--env-file FILE`, default `etc/mtor.env` next to the lockfile), so \
                systemd's `EnvironmentFile=` quirks cannot drop a key. A malformed line stops the worker (or a SIGHUP \
                reload) with its line number; it is never skipped. Every value is a secret: it is replaced by `***` in \
                sidecars, logs, the ledger and command output. Keep the file mode 600.
                """,
            columns: ["line", "meaning"],
            rows: [
                ["KEY=value", "sets KEY; unquoted values may not hold spaces, quotes, `$` or backticks"],
                ["KEY=\"value\"", "double quotes: `\\\"`, `\\\\`, `\\n` and `\\t` are unescaped"],
                ["KEY='value'", "single quotes: taken literally"],
                ["export KEY=value", "read like KEY=value (doctor warns: systemd's EnvironmentFile= would ignore it)"],
                ["KEY=", "an empty value: counts as not set, and doctor says so"],
                ["# comment", "ignored, as are blank lines and ` # comments` after an unquoted value"],
            ],
            outro: """
                Refused: a line without `=` (a bare `export KEY` included: write `KEY=value`), a name that is not \
                letters, digits and `_` (a byte-order mark at the start of the file is named as such), an unclosed quote. \
                `KEY = value` is read as KEY=value, with a warning, because shells read it differently.
                """)
    }
}
