#!/usr/bin/env python3
"""Scripted Anthropic-compatible (and OpenAI Responses) provider for mtor tests.

Runs on loopback only; python3 stdlib only. Verified against the real Claude Code
CLI and the real Codex CLI (see OBSERVED.md next to this file).

    python3 scripted_provider.py --scenario NAME [--key SECRET] [--port-file FILE]
                                 [--log FILE] [--count N] [--repo-file NAME]
                                 [--api anthropic|openai]

--scenario   ok | commit | 401 | 402 | 429-then-ok | 500 | hang | noauth |
             bearer-only | apikey-only | hang-midstream
             ("noauth": like "ok" but no auth check at all;
              "bearer-only"/"apikey-only": like "ok" but only that auth header is accepted;
              "500": every /v1/messages call answered 529 overloaded_error;
              "hang-midstream": streams message_start + one text delta, then never finishes)
--key        secret to require (Authorization: Bearer KEY or x-api-key: KEY).
             Without --key any non-empty credential is accepted.
--port-file  the bound port is written here atomically (temp file + rename) once the
             socket is listening; a test polls for the file to know the fixture is ready.
--log        append one JSON line per request (method, path, auth_header, x_api_key,
             stream, model, n_messages, status, time, plus kind/reply for diagnostics).
--count N    for 429-then-ok: how many /v1/messages requests get 429 first (default 1).
--repo-file  for commit: the file name the agent writes and commits (default hello.txt).
--no-retry   send `x-should-retry: false` with every error answer (401/402/429/529): the
             real CLI then gives up after ONE request and prints a synthetic assistant
             message + a result event with is_error true (fast auth/quota tests).
--api        anthropic (default) or openai. Both APIs are always served (POST /v1/messages
             and POST /v1/responses); "openai" only changes what is ambiguous: the
             "500" scenario answers a real HTTP 500 server_error (instead of 529
             overloaded_error) and auth failures outside /v1/responses get OpenAI's
             error shape.

Scenario "commit" is stateless: each step is chosen from the tool_use ids in the
conversation history the CLI sends back, so retries and restarts are harmless:
  1. main-loop request without our tool results -> tool_use Write {cwd}/hello.txt
  2. after the Write tool_result                -> tool_use Bash git add/commit
  3. after the Bash tool_result                 -> text "done", stop_reason end_turn
The cwd comes from the "Primary working directory: ..." line Claude Code puts in its
environment system-reminder; if it is missing, a Bash `pwd` step is used first.
Main-loop requests are those offering the Write/Bash tools; every other request
(title generation, quota probes, ...) is answered with plain text.

OpenAI Responses (POST /v1/responses, what the Codex CLI speaks): without "stream" the
old minimal JSON answer; with "stream": true server-sent events
(response.created, response.output_item.added, response.output_text.delta / 
response.function_call_arguments.delta, response.output_item.done, response.completed).
Scenario "commit" there is also stateless, keyed on the function_call_output items
Codex sends back:
  1. no output of ours yet          -> function_call exec_command {cmd: write + git add + git commit}
  2. after that call's output       -> text "done"
Codex runs the command in its working directory (-C / the cwd); the <cwd> from its
environment_context is passed as "workdir" when present.
"""

import argparse
import itertools
import json
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIOS = ("ok", "commit", "401", "402", "429-then-ok", "500", "hang", "noauth",
             "bearer-only", "apikey-only", "hang-midstream", "usage-limit", "turns")
# "turns": a main loop of --turns model turns, stateless: while fewer than TURNS-1 of our Read
# tool results are in the history, answer one more Read tool_use; then the text "done".
# "usage-limit": every call is refused 429 until --reset-in seconds after start, with the reset
# in the unified rate-limit headers and in the error text; after that, like "ok".
START = time.time()

ARGS = None
LOG_LOCK = threading.Lock()
COUNT_LOCK = threading.Lock()
MESSAGE_COUNTER = itertools.count()
ID_COUNTER = itertools.count(1)

ANTHROPIC_ERRORS = {
    401: ("authentication_error", "invalid x-api-key"),
    500: ("api_error", "Internal server error"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API. "
                           "Please go to Plans & Billing to upgrade or purchase credits."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    529: ("overloaded_error", "Overloaded"),
}

OPENAI_ERRORS = {
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    402: ("insufficient_quota", "insufficient_quota",
          "You exceeded your current quota, please check your plan and billing details."),
    429: ("rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached. Please try again in 1s."),
    529: ("server_error", "server_overloaded", "The server is overloaded."),
    500: ("server_error", "server_error", "The server had an error while processing your request. Sorry about that!"),
}


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def new_id(prefix):
    return "%s_%04d%s" % (prefix, next(ID_COUNTER), uuid.uuid4().hex[:16])


def write_log(entry):
    if not ARGS.log:
        return
    line = json.dumps(entry, sort_keys=False) + "\n"
    with LOG_LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


def iter_strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, list):
        for x in obj:
            yield from iter_strings(x)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from iter_strings(v)


CWD_PATTERNS = [
    re.compile(r"Primary working directory:\s*(/[^\n]*)"),
    re.compile(r"Working directory:\s*(/[^\n]*)"),
    re.compile(r"<cwd>\s*(/[^<\n]*)</cwd>"),
]


def find_cwd(req):
    for s in iter_strings([req.get("system"), req.get("messages")]):
        for pat in CWD_PATTERNS:
            m = pat.search(s)
            if m:
                return m.group(1).strip()
    return None


def tool_results(req):
    """Map tool_use_id -> (text, is_error) for every tool_result in the history."""
    out = {}
    for m in req.get("messages") or []:
        content = m.get("content")
        if m.get("role") != "user" or not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                text = "\n".join(iter_strings(block.get("content")))
                out[block.get("tool_use_id", "")] = (text, bool(block.get("is_error")))
    return out


PREFLIGHT_PROMPT = "Reply with the single word: ok"


def is_preflight(req):
    """mtor's preflight asks the harness this trivial question before real work."""
    return any(PREFLIGHT_PROMPT in text for text in iter_strings([req.get("messages", []), req.get("input", [])]))


def is_main_loop(req):
    names = {t.get("name") for t in (req.get("tools") or []) if isinstance(t, dict)}
    return "Write" in names or "Bash" in names


def text_reply(text):
    return {"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}


def tool_reply(name, tool_input, id_tag):
    return {"content": [{"type": "tool_use", "id": "toolu_mtor_%s_%s" % (id_tag, uuid.uuid4().hex[:12]),
                         "name": name, "input": tool_input}],
            "stop_reason": "tool_use"}


def commit_step(req):
    """Decide the next scripted reply for scenario "commit". Returns (reply, label)."""
    if not is_main_loop(req):
        return text_reply("ok"), "side:text"
    fname = ARGS.repo_file
    results = tool_results(req)

    def result_for(tag):
        for tid, r in results.items():
            if tid.startswith("toolu_mtor_%s_" % tag):
                return r
        return None

    commit_res = result_for("commit")
    if commit_res is not None:
        text = "done" if not commit_res[1] else "done (commit step failed: %s)" % commit_res[0].strip().split("\n")[0][:200]
        return text_reply(text), "main:text-done"
    write_res = result_for("write")
    if write_res is not None:
        cmd = 'git add %s && git commit -m "Add %s"' % (fname, fname)
        return tool_reply("Bash", {"command": cmd, "description": "Commit %s" % fname}, "commit"), "main:tool_use:Bash"
    cwd = find_cwd(req)
    if cwd is None:
        pwd_res = result_for("pwd")
        if pwd_res is not None and pwd_res[0].strip().startswith("/"):
            cwd = pwd_res[0].strip().splitlines()[0].strip()
        elif pwd_res is None:
            return tool_reply("Bash", {"command": "pwd", "description": "Print working directory"}, "pwd"), "main:tool_use:Bash-pwd"
        else:
            return text_reply("could not determine the working directory"), "main:text-nocwd"
    path = os.path.join(cwd, fname)
    content = "hello from the mtor scripted provider\n"
    return tool_reply("Write", {"file_path": path, "content": content}, "write"), "main:tool_use:Write"


def sse(event, data):
    return ("event: %s\ndata: %s\n\n" % (event, json.dumps(data))).encode("utf-8")


def reported_usage():
    """(input, output, cache_read, cache_write) each answer reports: --usage, else small defaults."""
    if ARGS is not None and ARGS.usage:
        return tuple(int(x) for x in ARGS.usage.split(","))
    return (10, 5, 0, 0)


def message_events(msg_id, model, reply):
    inp, out, cread, cwrite = reported_usage()
    start = {"id": msg_id, "type": "message", "role": "assistant", "model": model,
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": inp, "cache_creation_input_tokens": cwrite,
                       "cache_read_input_tokens": cread, "output_tokens": 1}}
    yield sse("message_start", {"type": "message_start", "message": start})
    for i, block in enumerate(reply["content"]):
        if block["type"] == "text":
            yield sse("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "text", "text": ""}})
            yield sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "text_delta", "text": block["text"]}})
        else:
            yield sse("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "tool_use", "id": block["id"],
                                                                "name": block["name"], "input": {}}})
            js = json.dumps(block["input"])
            half = len(js) // 2
            for part in (js[:half], js[half:]):
                yield sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "input_json_delta", "partial_json": part}})
        yield sse("content_block_stop", {"type": "content_block_stop", "index": i})
    yield sse("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": reply["stop_reason"], "stop_sequence": None},
                                "usage": {"output_tokens": out}})
    yield sse("message_stop", {"type": "message_stop"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mtor-scripted-provider/1"

    def log_message(self, fmt, *args):  # keep stderr quiet; the JSON log is the record
        pass

    # ---- helpers -------------------------------------------------------------
    def read_body(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            return raw, (json.loads(raw) if raw else {})
        except ValueError:
            return raw, {}

    def entry(self, req):
        return {"method": self.command, "path": self.path,
                "auth_header": self.headers.get("Authorization"),
                "x_api_key": self.headers.get("x-api-key"),
                "stream": bool(req.get("stream")) if isinstance(req, dict) else False,
                "model": req.get("model") if isinstance(req, dict) else None,
                "n_messages": len(req.get("messages") or []) if isinstance(req, dict) else 0,
                "status": None, "time": now_iso()}

    def send(self, status, body=b"", ctype="application/json", headers=None, log=None):
        if log is not None:
            log["status"] = status
            write_log(log)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", new_id("req"))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def auth_ok(self):
        if ARGS.scenario == "noauth":
            return True
        auth = self.headers.get("Authorization") or ""
        xkey = self.headers.get("x-api-key") or ""
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        allow_bearer = ARGS.scenario != "apikey-only"
        allow_xkey = ARGS.scenario != "bearer-only"
        if ARGS.key is None:
            return (allow_bearer and bool(bearer)) or (allow_xkey and bool(xkey))
        return (allow_bearer and bearer == ARGS.key) or (allow_xkey and xkey == ARGS.key)

    def refused(self, preflight, log, error):
        """The scenario's refusals, shared by both APIs: a wrong key (401), a hang, a scripted
        error status. Answers with `error(status, log)` and returns True when it refused."""
        if preflight and ARGS.pass_preflight:
            return False
        if not self.auth_ok():
            error(401, log)
            return True
        if ARGS.scenario == "hang":
            log["kind"] = "hang"
            write_log(log)  # status stays null: no answer is ever sent
            self.hang_forever()
        err = self.scripted_error()
        if err is not None:
            error(err, log)
            return True
        return False

    def hang_forever(self):
        while True:
            time.sleep(3600)

    def scripted_error(self):
        """Status forced by the scenario for an authenticated API call, or None."""
        sc = ARGS.scenario
        if sc == "401":
            return 401
        if sc == "402":
            return 402
        if sc == "500":
            return 500 if ARGS.api == "openai" else 529
        if sc == "usage-limit" and time.time() < START + ARGS.reset_in:
            return 429
        if sc == "429-then-ok":
            with COUNT_LOCK:
                n = next(MESSAGE_COUNTER)
            if n < ARGS.count:
                return 429
        return None

    def anthropic_error(self, status, log):
        etype, msg = ANTHROPIC_ERRORS[status]
        headers = {"retry-after": "1"} if status == 429 else {}
        if status == 429:
            headers["anthropic-ratelimit-requests-reset"] = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
        if status == 429 and ARGS.scenario == "usage-limit":
            reset = int(START + ARGS.reset_in)
            headers = {"retry-after": str(max(1, reset - int(time.time()))),
                       "anthropic-ratelimit-unified-status": "rejected",
                       "anthropic-ratelimit-unified-reset": str(reset),
                       "anthropic-ratelimit-unified-representative-claim": "five_hour",
                       "anthropic-ratelimit-unified-5h-status": "rejected",
                       "anthropic-ratelimit-unified-5h-reset": str(reset),
                       "anthropic-ratelimit-unified-5h-utilization": "1.0"}
            msg = "Usage limit reached for this account; resets at %s" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset))
            if ARGS.no_retry:
                headers["x-should-retry"] = "false"
            return self.send(status, {"type": "error", "error": {"type": "rate_limit_error", "message": msg},
                                      "request_id": new_id("req")}, headers=headers, log=log)
        if ARGS.no_retry:
            headers["x-should-retry"] = "false"
        self.send(status, {"type": "error", "error": {"type": etype, "message": msg},
                           "request_id": new_id("req")}, headers=headers, log=log)

    def openai_error(self, status, log):
        etype, code, msg = OPENAI_ERRORS[status]
        headers = {"retry-after": "1"} if status == 429 else {}
        if ARGS.no_retry:
            headers["x-should-retry"] = "false"
        self.send(status, {"error": {"message": msg, "type": etype, "param": None, "code": code}},
                  headers=headers, log=log)

    # ---- verbs ---------------------------------------------------------------
    def do_HEAD(self):
        self.send(200, b"", log=self.entry({}))

    def do_GET(self):
        log = self.entry({})
        path = self.path.split("?", 1)[0]
        if path.startswith("/v1/"):
            if not self.auth_ok():
                return self.openai_error(401, log) if ARGS.api == "openai" else self.anthropic_error(401, log)
            if path.rstrip("/") == "/v1/models":
                data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z",
                         "object": "model", "owned_by": "mtor"}
                        for m in ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "glm-5.1", "gpt-5")]
                return self.send(200, {"data": data, "object": "list", "has_more": False,
                                       "first_id": data[0]["id"], "last_id": data[-1]["id"]}, log=log)
        self.send(200, {}, log=log)

    def do_POST(self):
        raw, req = self.read_body()
        if not isinstance(req, dict):
            req = {}
        log = self.entry(req)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/messages":
            return self.messages(req, log)
        if path == "/v1/messages/count_tokens":
            if not self.auth_ok():
                return self.openai_error(401, log) if ARGS.api == "openai" else self.anthropic_error(401, log)
            return self.send(200, {"input_tokens": max(1, len(raw) // 4)}, log=log)
        if path in ("/v1/responses", "/responses"):
            return self.openai_responses(req, log)
        if path in ("/v1/chat/completions", "/chat/completions"):
            return self.chat_completions(req, log)
        self.send(200, {}, log=log)

    do_PUT = do_POST

    def do_DELETE(self):
        self.send(200, {}, log=self.entry({}))

    # ---- Anthropic Messages --------------------------------------------------
    def messages(self, req, log):
        preflight = is_preflight(req)
        if self.refused(preflight, log, self.anthropic_error):
            return

        if ARGS.delay_main and is_main_loop(req) and not preflight:
            time.sleep(ARGS.delay_main)  # a slow model: other requests (mtor's direct check) are answered at once
        if preflight:
            reply, label = text_reply("ok"), "preflight:text"
        elif ARGS.scenario == "commit":
            reply, label = commit_step(req)
        elif ARGS.scenario == "turns" and is_main_loop(req):
            done = sum(1 for tid in tool_results(req) if tid.startswith("toolu_mtor_turn_"))
            if done < ARGS.turns - 1:
                reply, label = tool_reply("Read", {"file_path": "/etc/hostname"}, "turn"), "main:tool_use:Read-%d" % (done + 1)
            else:
                reply, label = text_reply("done"), "main:text-done"
        else:
            reply, label = text_reply("ok"), ("main" if is_main_loop(req) else "side") + ":text"
        log["kind"], log["reply"] = label.split(":", 1)[0], label.split(":", 1)[1]
        model = req.get("model") or "claude-sonnet-4-5"
        msg_id = new_id("msg")

        if not req.get("stream"):
            body = {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                    "content": reply["content"], "stop_reason": reply["stop_reason"], "stop_sequence": None,
                    "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0, "output_tokens": 5}}
            return self.send(200, body, log=log)

        # hang-midstream stops after message_start, content_block_start and the first delta.
        gap = ARGS.start_gap if is_main_loop(req) and not preflight else 0
        self.stream_events(log, "request-id", list(message_events(msg_id, model, reply)), keep=3, gap_after_first=gap)

    # ---- OpenAI Responses ------------------------------------------------------
    def openai_responses(self, req, log):
        inp = req.get("input")
        log["n_messages"] = len(inp) if isinstance(inp, list) else (1 if inp else 0)
        preflight = is_preflight(req)
        if self.refused(preflight, log, self.openai_error):
            return
        model = req.get("model") or "gpt-5"
        if not req.get("stream"):
            # The minimal non-streaming answer (what `mtor doctor` asks for).
            body = {"id": new_id("resp"), "object": "response", "created_at": int(time.time()),
                    "status": "completed", "model": model,
                    "output": [{"type": "message", "id": new_id("msg"), "status": "completed", "role": "assistant",
                                "content": [{"type": "output_text", "text": "ok", "annotations": []}]}],
                    "output_text": "ok",
                    "usage": {"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}}
            return self.send(200, body, log=log)

        if preflight:
            items, label = [openai_text_item("ok")], "preflight:text"
        elif ARGS.scenario == "commit":
            items, label = openai_commit_step(req)
        else:
            items, label = [openai_text_item("ok")], "main:text"
        log["kind"], log["reply"] = label.split(":", 1)[0], label.split(":", 1)[1]
        # hang-midstream stops after created, in_progress, output_item.added and the first delta.
        self.stream_events(log, "x-request-id", list(response_events(new_id("resp"), model, items)), keep=4)

    # ---- OpenAI Chat Completions (what Aider speaks through litellm) ----------
    def chat_completions(self, req, log):
        preflight = is_preflight(req)
        if self.refused(preflight, log, self.openai_error):
            return
        if preflight:
            text, label = "ok", "preflight:text"
        elif ARGS.scenario == "commit":
            text, label = aider_commit_step(req)
        else:
            text, label = "ok", "main:text"
        log["kind"], log["reply"] = label.split(":", 1)[0], label.split(":", 1)[1]
        model = req.get("model") or "gpt-4o"
        cid, created = new_id("chatcmpl"), int(time.time())
        inp, out, cread, _ = reported_usage()
        usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
                 "prompt_tokens_details": {"cached_tokens": cread}}
        if not req.get("stream"):
            body = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": usage}
            return self.send(200, body, log=log)
        # hang-midstream stops after the role chunk and the first content chunk.
        self.stream_events(log, "x-request-id", list(chat_chunks(cid, created, model, text, usage, req)), keep=2)

    def stream_events(self, log, id_header, events, keep, gap_after_first=0):
        """Answers 200 with server-sent `events` (chunked); hang-midstream sends only the first
        `keep` of them and then never finishes. `gap_after_first` seconds pass between the first
        event and the rest (a model that streams slowly after its message_start)."""
        log["status"] = 200
        write_log(log)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header(id_header, new_id("req"))
        self.end_headers()
        if ARGS.scenario == "hang-midstream":
            events = events[:keep]
        for n, chunk in enumerate(events):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            if n == 0 and gap_after_first:
                time.sleep(gap_after_first)
        if ARGS.scenario == "hang-midstream":
            self.hang_forever()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


# ---- OpenAI Responses streaming helpers -------------------------------------------

def openai_text_item(text):
    return {"type": "message", "role": "assistant", "text": text}


def openai_call_item(name, arguments, id_tag):
    return {"type": "function_call", "name": name, "arguments": json.dumps(arguments),
            "call_id": "call_mtor_%s_%s" % (id_tag, uuid.uuid4().hex[:12])}


def openai_outputs(req):
    """Map call_id -> output text for every function_call_output in the input."""
    out = {}
    inp = req.get("input")
    for item in inp if isinstance(inp, list) else []:
        if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output"):
            out[item.get("call_id", "")] = "\n".join(iter_strings(item.get("output")))
    return out


def openai_commit_step(req):
    """Next scripted output for scenario "commit" on the Responses API: (items, label)."""
    names = {t.get("name") for t in (req.get("tools") or []) if isinstance(t, dict)}
    fname = ARGS.repo_file
    for call_id, text in openai_outputs(req).items():
        if call_id.startswith("call_mtor_commit_"):
            ok = re.search(r"exit(?:ed with)? code:? 0\b", text) is not None or "Exit code: 0" in text
            first = text.strip().split("\n")[0][:200] if text.strip() else ""
            return [openai_text_item("done" if ok else "done (commit step output: %s)" % first)], "main:text-done"
    cmd = ("printf 'hello from the mtor scripted provider\\n' > %s && git add %s && git commit -m \"Add %s\""
           % (fname, fname, fname))
    if "exec_command" in names or not names:
        args = {"cmd": cmd}
        cwd = None
        for s in iter_strings(req.get("input")):
            m = re.search(r"<cwd>\s*(/[^<\n]*)</cwd>", s)
            if m:
                cwd = m.group(1).strip()
        if cwd:
            args["workdir"] = cwd
        return [openai_call_item("exec_command", args, "commit")], "main:function_call:exec_command"
    # Older Codex builds offer a "shell" tool taking an argv list.
    return [openai_call_item("shell", {"command": ["bash", "-lc", cmd]}, "commit")], "main:function_call:shell"


def response_events(resp_id, model, items):
    seq = itertools.count()
    created = int(time.time())

    def ev(etype, **fields):
        data = {"type": etype, "sequence_number": next(seq)}
        data.update(fields)
        return sse(etype, data)

    def response(status, output):
        return {"id": resp_id, "object": "response", "created_at": created, "status": status,
                "model": model, "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
                "usage": None if status != "completed" else
                {"input_tokens": reported_usage()[0], "input_tokens_details": {"cached_tokens": reported_usage()[2]},
                 "output_tokens": reported_usage()[1], "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": reported_usage()[0] + reported_usage()[1]}}

    yield ev("response.created", response=response("in_progress", []))
    yield ev("response.in_progress", response=response("in_progress", []))
    done_items = []
    for i, item in enumerate(items):
        if item["type"] == "message":
            item_id = new_id("msg")
            part = {"type": "output_text", "text": item["text"], "annotations": []}
            final = {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
            yield ev("response.output_item.added", output_index=i,
                     item={"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []})
            yield ev("response.content_part.added", item_id=item_id, output_index=i, content_index=0,
                     part={"type": "output_text", "text": "", "annotations": []})
            yield ev("response.output_text.delta", item_id=item_id, output_index=i, content_index=0, delta=item["text"])
            yield ev("response.output_text.done", item_id=item_id, output_index=i, content_index=0, text=item["text"])
            yield ev("response.content_part.done", item_id=item_id, output_index=i, content_index=0, part=part)
        else:
            item_id = new_id("fc")
            final = {"id": item_id, "type": "function_call", "status": "completed", "name": item["name"],
                     "call_id": item["call_id"], "arguments": item["arguments"]}
            yield ev("response.output_item.added", output_index=i,
                     item=dict(final, status="in_progress", arguments=""))
            half = len(item["arguments"]) // 2
            for part in (item["arguments"][:half], item["arguments"][half:]):
                yield ev("response.function_call_arguments.delta", item_id=item_id, output_index=i, delta=part)
            yield ev("response.function_call_arguments.done", item_id=item_id, output_index=i,
                     arguments=item["arguments"])
        yield ev("response.output_item.done", output_index=i, item=final)
        done_items.append(final)
    yield ev("response.completed", response=response("completed", done_items))


# ---- OpenAI Chat Completions helpers (Aider) -------------------------------------

AIDER_CONTENT = "hello from the mtor scripted provider\n"


def chat_text(req):
    """Every string of the request's messages, joined (system prompt first)."""
    return "\n".join(iter_strings(req.get("messages")))


def aider_commit_step(req):
    """Scenario "commit" on the chat API, stateless: Aider's commit-message request gets a
    one-line message; its main request gets an edit in the format its system prompt asked for
    (SEARCH/REPLACE block creating --repo-file, else a whole-file listing). Returns (text, label)."""
    text = chat_text(req)
    fname = ARGS.repo_file
    if "Git commit messages" in text or "one-line commit message" in text:
        return "Add %s" % fname, "side:commit-message"
    if "SEARCH/REPLACE" in text:
        return ("I will create %s.\n\n%s\n```\n<<<<<<< SEARCH\n=======\n%s>>>>>>> REPLACE\n```\n"
                % (fname, fname, AIDER_CONTENT)), "main:edit-search-replace"
    fence = "```"
    m = re.search(r"path/to/filename\.js\n(\S+)\n", text)
    if m:
        fence = m.group(1)
    close = {"<source>": "</source>", "<code>": "</code>", "<pre>": "</pre>", "<codeblock>": "</codeblock>"}.get(fence, fence)
    return "I will create %s.\n\n%s\n%s\n%s%s\n" % (fname, fname, fence, AIDER_CONTENT, close), "main:edit-whole"


def chat_chunks(cid, created, model, text, usage, req):
    """A streamed chat completion: role chunk, content in two pieces, finish chunk, usage chunk
    (when stream_options.include_usage asked for it), then [DONE]."""
    def chunk(delta, finish=None, **extra):
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        data.update(extra)
        return ("data: %s\n\n" % json.dumps(data)).encode("utf-8")
    yield chunk({"role": "assistant", "content": ""})
    half = len(text) // 2
    for part in (text[:half], text[half:]):
        yield chunk({"content": part})
    yield chunk({}, "stop")
    if (req.get("stream_options") or {}).get("include_usage"):
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [], "usage": usage}
        yield ("data: %s\n\n" % json.dumps(data)).encode("utf-8")
    yield b"data: [DONE]\n\n"


def write_port_file(path, port):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port.", dir=d)
    with os.fdopen(fd, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    global ARGS
    p = argparse.ArgumentParser(description="Scripted Anthropic-compatible (and OpenAI Responses) provider for mtor tests")
    p.add_argument("--scenario", required=True, choices=SCENARIOS)
    p.add_argument("--key", default=None)
    p.add_argument("--port-file", default=None)
    p.add_argument("--log", default=None)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--pass-preflight", action="store_true",
                   help="answer mtor's preflight prompt with 'ok' whatever the scenario, so the task itself meets the scenario")
    p.add_argument("--repo-file", default="hello.txt")
    p.add_argument("--turns", type=int, default=5, help="turns: how many model turns the main loop takes")
    p.add_argument("--usage", default=None,
                   help="IN,OUT,CACHE_READ,CACHE_WRITE tokens each streamed answer reports (distinctive numbers for telemetry tests)")
    p.add_argument("--reset-in", type=float, default=60,
                   help="usage-limit: seconds from start until the limit resets")
    p.add_argument("--delay-main", type=float, default=0,
                   help="wait this many seconds before answering each main-loop request (a slow but alive model)")
    p.add_argument("--start-gap", type=float, default=0,
                   help="wait this many seconds after the message_start of each streamed main-loop answer "
                        "(a model that streams slowly: the turn has begun, its end has not come)")
    p.add_argument("--no-retry", action="store_true",
                   help="add `x-should-retry: false` to error answers: the CLI then fails at once "
                        "(result is_error true) instead of retrying 10 times")
    p.add_argument("--api", choices=("anthropic", "openai"), default="anthropic",
                   help="which API's conventions decide ambiguous answers: with 'openai' the '500' scenario "
                        "answers HTTP 500 (not 529) and auth errors use OpenAI's error shape; both APIs are always served")
    ARGS = p.parse_args()

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # bound and listening
    port = server.server_address[1]
    if ARGS.port_file:
        write_port_file(ARGS.port_file, port)
    sys.stdout.write("listening 127.0.0.1:%d\n" % port)
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
