"""Prometheus metrics of the guardrails tier, served on their own port at /metrics only.

The names are a contract with the platform's alert rules and dashboards; add, never rename.
The rails' actions (guardrails/<config-id>/actions.py) record their verdicts here.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

http_requests = Counter(
    "guardrails_http_requests",
    "Chat-completion requests answered, by HTTP status class.",
    ["status_class"],
)
request_duration = Histogram(
    "guardrails_request_duration_seconds",
    "Time from request to complete answer of a chat completion (all rails and the model call).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
rail_decisions = Counter(
    "guardrails_rail_decisions",
    "Verdicts of the audited rails.",
    ["rail", "outcome"],
)
jailbreak_checks = Counter(
    "guardrails_jailbreak_checks",
    "Calls of the jailbreak heuristics server; an error blocks the request (fail closed).",
    ["outcome"],
)

# Every label value exists from the start, so a rate() over a fresh pod is 0, not absent.
for _c in ("2xx", "4xx", "5xx"):
    http_requests.labels(status_class=_c)
for _r in ("input", "output"):
    for _o in ("allow", "block", "mask", "error"):
        rail_decisions.labels(rail=_r, outcome=_o)
for _o in ("pass", "block", "error"):
    jailbreak_checks.labels(outcome=_o)


def status_class(status: int) -> str:
    return "2xx" if status < 400 else "4xx" if status < 500 else "5xx"


def record_decision(direction: str, verdict: str, failed: bool = False) -> None:
    """Counts one audited verdict (`redact` is counted as `mask`, a failed check as `error`)."""
    if direction not in ("input", "output"):
        return
    outcome = "error" if failed else {"redact": "mask"}.get(verdict, verdict)
    if outcome in ("allow", "block", "mask", "error"):
        rail_decisions.labels(rail=direction, outcome=outcome).inc()


class _MetricsOnly(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404)
            return
        body = generate_latest(REGISTRY)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_metrics(host: str, port: int) -> ThreadingHTTPServer:
    """Serves /metrics (and nothing else) on host:port from a daemon thread."""
    server = ThreadingHTTPServer((host, port), _MetricsOnly)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
