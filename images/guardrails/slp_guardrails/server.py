"""The guardrails tier's HTTP server: one rails configuration, loaded once, every rail always on.

Replaces `nemoguardrails server`, whose defaults do not fit a security boundary: it builds its
rails verbose (prompts and completions in the container log), lets a client switch rails off or
ask for internal logs per request (`guardrails.options`), builds one cached rails instance per
client-chosen `model` string, answers errors with HTTP 200, and streams chunks past masking rails.
Here a client may send only the OpenAI chat-completion fields below; anything else is refused with
400 naming the field.
"""

import asyncio
import hashlib
import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any, Optional

from . import metrics

log = logging.getLogger("slp_guardrails")
# The audit stream: one JSON object per line on stdout, never prompt or completion text. The rails'
# actions (guardrails/<id>/actions.py) write their decision lines to it; this server ends every
# chat request with one `guardrails.response` line on it (request id and status), after the
# request's last decision line. The candidate tier (`--evaluation-audit`) also returns a request's
# decision lines with its answer (RequestDecisions), which the pipeline evaluation reads.
audit = logging.getLogger("guardrails.audit")

# Fields a client may set. `model` may be omitted or must name the served model.
ALLOWED_FIELDS = {
    "model",
    "messages",
    "stream",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "user",
}
ALLOWED_ROLES = {"system", "user", "assistant"}
MAX_MESSAGES = 64
# The answer nemoguardrails gives when an action (an LLM call, a check) raised.
INTERNAL_ERROR_TEXT = "I'm sorry, an internal error has occurred."
# The masking rail's answer when the output filter failed (guardrails/<id>/actions.py).
WITHHELD_TEXT = "[response withheld: the sensitive-data filter is unavailable]"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# The body field of a candidate tier's answers (`--evaluation-audit`; modules/constants/rollout.ts
# `evaluationAuditField`, which test/kubeflow checks against this).
EVALUATION_AUDIT_FIELD = "slp_evaluation"
# The decision-line fields the evaluation reads: verdicts, never text.
DECISION_FIELDS = ("direction", "rails", "verdict", "error")


class ClientError(Exception):
    def __init__(self, status: int, message: str, param: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def error_body(status: int, message: str, param: Optional[str] = None) -> dict:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def served_model(rails_config) -> str:
    for m in rails_config.models:
        if m.type == "main":
            return m.model or (m.parameters or {}).get("model") or ""
    return ""


def validate_request(body: Any, model_name: str, streaming: bool) -> dict:
    """The generation parameters of a valid request; ClientError otherwise. Pure."""
    if not isinstance(body, dict):
        raise ClientError(400, "the request body must be a JSON object")
    for key in body:
        if key not in ALLOWED_FIELDS:
            raise ClientError(
                400,
                f"field '{key}' is not accepted: rails, logging and model are set by the platform",
                key,
            )
    if "model" in body and body["model"] != model_name:
        raise ClientError(
            400, f"model must be '{model_name}' (the only model this endpoint serves) or omitted", "model"
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise ClientError(400, f"messages must be a list of 1 to {MAX_MESSAGES} messages", "messages")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) - {"role", "content", "name"}:
            raise ClientError(400, f"messages[{i}] must have only role and content", "messages")
        if m.get("role") not in ALLOWED_ROLES:
            raise ClientError(
                400, f"messages[{i}].role must be one of {', '.join(sorted(ALLOWED_ROLES))}", "messages"
            )
        if not isinstance(m.get("content"), str):
            raise ClientError(400, f"messages[{i}].content must be a string", "messages")
        clean.append({"role": m["role"], "content": m["content"]})
    if clean[-1]["role"] != "user":
        raise ClientError(400, "the last message must be the user's", "messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ClientError(400, "stream must be true or false", "stream")
    if stream and not streaming:
        raise ClientError(400, "streaming is not enabled on this endpoint; send stream: false", "stream")
    if body.get("n", 1) != 1:
        raise ClientError(400, "n must be 1", "n")
    params = {}
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if key in body:
            if not isinstance(body[key], (int, float)) or isinstance(body[key], bool):
                raise ClientError(400, f"{key} must be a number", key)
            params[key] = body[key]
    for key in ("max_tokens", "max_completion_tokens"):
        if key in body:
            if not isinstance(body[key], int) or isinstance(body[key], bool) or body[key] < 1:
                raise ClientError(400, f"{key} must be a positive integer", key)
            params["max_tokens"] = body[key]
    if "stop" in body:
        stop = body["stop"]
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop) or len(stop) > 4:
            raise ClientError(400, "stop must be a string or a list of up to 4 strings", "stop")
        params["stop"] = stop
    return {"messages": clean, "stream": stream, "llm_params": params}


def request_id_of(headers) -> str:
    rid = headers.get("x-request-id", "")
    return rid if REQUEST_ID.match(rid) else uuid.uuid4().hex


def completion(text: str, model_name: str, rid: str) -> dict:
    return {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_name,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def sse_chunks(text: str, model_name: str, rid: str):
    """The checked answer as an OpenAI chat-completion stream: it leaves only after every output
    rail ran on the whole of it (masking cannot rewrite chunks already sent)."""
    base = {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model_name}
    for delta, finish in (({"role": "assistant", "content": ""}, None), ({"content": text}, None), ({}, "stop")):
        yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"
    yield "data: [DONE]\n\n"


class _NoContent(logging.Filter):
    """Library log records lose their arguments and tracebacks: both can hold prompt text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("slp_guardrails"):
            exc = record.exc_info[1] if record.exc_info else None
            record.msg = f"{record.name}: {record.levelname.lower()}" + (
                f" ({type(exc).__name__})" if exc is not None else ""
            )
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_NoContent())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.setLevel(logging.INFO)
    # The same stream actions.py sets up when it finds none (it then keeps this one).
    if not audit.handlers:
        out = logging.StreamHandler(sys.stdout)
        out.setFormatter(logging.Formatter("%(message)s"))
        audit.addHandler(out)
    audit.setLevel(logging.INFO)
    audit.propagate = False


def rules_digest(directory: str) -> str:
    """SHA-256 of a rails directory as a rule set: pipelines/bundle.ts `bundleDigest` over the
    ConfigMap keys (nested paths joined with `__`, as `bundleFromDirectory` names them)."""
    files = {}
    for root, dirs, names in os.walk(directory, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith("..")]
        rel = os.path.relpath(root, directory)
        for name in names:
            if name.startswith(".."):
                continue
            key = name if rel == "." else "__".join(rel.split(os.sep) + [name])
            with open(os.path.join(root, name), "rb") as f:
                files[key] = f.read()
    h = hashlib.sha256()
    for key in sorted(files):
        h.update(key.encode("utf-8") + b"\0" + files[key] + b"\0")
    return h.hexdigest()


class RequestDecisions(logging.Handler):
    """The decision lines of the requests in flight, by request id (candidate tier only): the
    rails' actions write them to the audit stream while `generate_async` runs, so once it returned
    a request's list is complete."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.pending: dict = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.loads(record.getMessage())
        except (TypeError, ValueError):
            return
        if not isinstance(line, dict) or line.get("event") != "guardrails.decision":
            return
        decisions = self.pending.get(line.get("request_id") or "")
        if decisions is not None:
            decisions.append({k: line[k] for k in DECISION_FIELDS if k in line})


def rails_dir(config_dir: str) -> str:
    """The directory to load the rails from. A ConfigMap volume holds each file three ways (the
    key's symlink, `..data/<key>` and the timestamped `..<date>/<key>` the kubelet swaps in on
    update) and nemoguardrails 0.24.1 walks them all; `..data` holds each file exactly once."""
    data = os.path.join(config_dir, "..data")
    return data if os.path.isdir(data) else config_dir


def build_app(config_dir: str, streaming: bool, evaluation_audit: bool = False):
    """The ASGI app serving the rails of `config_dir`; raises when the configuration is broken.
    With `evaluation_audit` (the candidate tier) every JSON answer carries EVALUATION_AUDIT_FIELD:
    the digest of the rules loaded and the request's decision lines."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from nemoguardrails import LLMRails, RailsConfig

    # Before loading: the digest is of the bytes the rails are built from.
    digest = rules_digest(rails_dir(config_dir)) if evaluation_audit else ""
    rails_config = RailsConfig.from_path(rails_dir(config_dir))
    if rails_config.rails.output.streaming and rails_config.rails.output.streaming.enabled:
        raise ValueError(
            "rails.output.streaming.enabled must be false: masking output rails cannot rewrite "
            "chunks already sent; this server streams the checked answer itself"
        )
    rails = LLMRails(config=rails_config, verbose=False)
    model_name = served_model(rails_config)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    collector = RequestDecisions() if evaluation_audit else None
    if collector is not None:
        audit.addHandler(collector)

    def finished(rid: str, status: int, started: float) -> None:
        metrics.http_requests.labels(status_class=metrics.status_class(status)).inc()
        metrics.request_duration.observe(time.monotonic() - started)
        audit.info(json.dumps({"event": "guardrails.response", "request_id": rid, "status": status}))

    def answer(rid: str, status: int, started: float, body: Any) -> JSONResponse:
        finished(rid, status, started)
        if collector is not None:
            body = {
                **body,
                EVALUATION_AUDIT_FIELD: {"rules_sha256": digest, "decisions": collector.pending.pop(rid, [])},
            }
        return JSONResponse(status_code=status, content=body)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "platform"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        started = time.monotonic()
        rid = request_id_of(request.headers)
        if collector is not None:
            # A request id in flight is another request's: this one gets its own.
            if rid in collector.pending:
                rid = uuid.uuid4().hex
            collector.pending[rid] = []
        try:
            try:
                body = json.loads(await request.body())
            except ValueError:
                raise ClientError(400, "the request body is not JSON")
            req = validate_request(body, model_name, streaming)
        except ClientError as e:
            log.info(json.dumps({"event": "guardrails.refused", "request_id": rid, "status": e.status, "param": e.param}))
            return answer(rid, e.status, started, error_body(e.status, e.message, e.param))
        messages = [{"role": "context", "content": {"request_id": rid}}] + req["messages"]
        try:
            res = await rails.generate_async(messages=messages, options={"llm_params": req["llm_params"]})
            text = res.response[0]["content"] if isinstance(res.response, list) else str(res.response)
        except Exception as e:  # noqa: BLE001 - any failure is the server's, never a 200
            log.error(json.dumps({"event": "guardrails.error", "request_id": rid, "error": type(e).__name__}))
            return answer(rid, 502, started, error_body(502, "the request could not be completed", None))
        if text.strip() == INTERNAL_ERROR_TEXT:
            log.error(json.dumps({"event": "guardrails.error", "request_id": rid, "error": "ActionFailed"}))
            return answer(rid, 502, started, error_body(502, "the request could not be completed", None))
        if text.strip() == WITHHELD_TEXT:
            return answer(rid, 503, started, error_body(503, "the sensitive-data filter is unavailable", None))
        if req["stream"]:
            finished(rid, 200, started)
            if collector is not None:
                # The audit travels with JSON answers only; the evaluation never streams.
                collector.pending.pop(rid, None)
            return StreamingResponse(
                sse_chunks(text, model_name, rid),
                media_type="text/event-stream",
                headers={"x-request-id": rid},
            )
        response = answer(rid, 200, started, completion(text, model_name, rid))
        response.headers["x-request-id"] = rid
        return response

    return app


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="slp_guardrails")
    p.add_argument("--config-root", required=True)
    p.add_argument("--config-id", required=True)
    # The API behind the pod's mTLS sidecar binds 127.0.0.1; the metrics stay on the pod IP.
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--metrics-host", default=None, help="defaults to --host")
    p.add_argument("--metrics-port", type=int, required=True)
    p.add_argument("--streaming", choices=["buffered", "off"], required=True)
    # Only the candidate tier (modules/k8s/llm/index.ts): never on the tier behind the gateway.
    p.add_argument("--evaluation-audit", action="store_true")
    args = p.parse_args(argv)
    configure_logging()
    config_dir = os.path.join(args.config_root, args.config_id)
    try:
        app = build_app(config_dir, args.streaming == "buffered", args.evaluation_audit)
    except Exception as e:  # noqa: BLE001 - a broken configuration must keep the pod unready
        msg = str(e).splitlines()[0][:300] if str(e) else ""
        log.error(json.dumps({"event": "guardrails.config_error", "config_dir": config_dir, "error": type(e).__name__, "detail": msg}))
        return 1
    metrics.serve_metrics(args.metrics_host or args.host, args.metrics_port)
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning", log_config=None)
    return 0
