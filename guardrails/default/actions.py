"""Custom actions of the `default` rails configuration.

Imported by the NeMo Guardrails server at start-up (treat as code: the directory is mounted
read-only). Standard library only, so the image needs nothing beyond `nemoguardrails`; when the
platform's entrypoint (`slp_guardrails`, images/guardrails) runs them, verdicts are also counted in
its Prometheus metrics.

Audit contract (one JSON object per line on stdout, counted by the decision-metrics pipeline):
  {"event": "guardrails.decision", "request_id": ..., "config_id": ..., "direction": "input" |
   "output", "rails": [...], "verdict": "allow" | "block" | "redact", "entities": {type: count}}
A check that failed (no verdict: server down, timeout, bad answer) blocks and adds "error": <type>.
The output filter's line also carries "filter_seconds" (duration of the Presidio calls, seconds)
and "filter_outcome" ("ok" | "error"), from which the pipeline derives the output filter's latency
and error rate. Prompt and response text never appear in it. `request_id` is the gateway's
X-Request-Id, which the entrypoint puts into the conversation context.
"""

import asyncio
import json
import logging
import re
import sys
import time
import urllib.request
from typing import Optional

from nemoguardrails.actions import action

try:
    from slp_guardrails import metrics as _metrics
except ImportError:  # served by plain `nemoguardrails server` (pipeline evaluation)
    _metrics = None

_audit = logging.getLogger("guardrails.audit")
if not _audit.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _audit.addHandler(_handler)
    _audit.setLevel(logging.INFO)
    _audit.propagate = False

# Phrases of instruction-override and prompt-exfiltration attempts (OWASP LLM01). Heuristics
# only: the jailbreak server and the self-check rail catch what these miss.
_INJECTION_PATTERNS = [
    r"\bignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts|rules)\b",
    r"\bdisregard (all |any )?(the )?(previous|prior|above|system) (instructions|prompts|rules)\b",
    r"\bforget (all |everything|your) (previous |prior )?(instructions|rules|training)\b",
    r"\b(reveal|print|show|repeat|output) (me )?(your|the) (system|initial|hidden) (prompt|instructions)\b",
    r"\byou are now (in )?(developer|dan|jailbreak|unrestricted) mode\b",
    r"\bact as (an? )?(unfiltered|unrestricted|jailbroken)\b",
    r"<\|?(im_start|im_end|system|endoftext)\|?>",
    r"\[\s*(system|inst)\s*\]",
]
_INJECTION_RE = re.compile("|".join(_INJECTION_PATTERNS), re.IGNORECASE)

_WITHHELD = "[response withheld: the sensitive-data filter is unavailable]"


def _custom(config) -> dict:
    data = getattr(config, "custom_data", None) or {}
    return data if isinstance(data, dict) else {}


def _audit_line(context: Optional[dict], config, direction: str, rails: list, verdict: str, entities=None,
                extra: Optional[dict] = None):
    record = {
        "event": "guardrails.decision",
        "request_id": (context or {}).get("request_id") or "",
        "config_id": _custom(config).get("config_id", ""),
        "direction": direction,
        "rails": rails,
        "verdict": verdict,
    }
    if entities:
        record["entities"] = entities
    if extra:
        record.update(extra)
    _audit.info(json.dumps(record, sort_keys=True))
    if _metrics is not None:
        _metrics.record_decision(direction, verdict, failed=bool(extra and "error" in extra))


@action(name="log_decision")
async def log_decision(direction: str, rail: str, verdict: str, context: Optional[dict] = None, config=None):
    """Writes one audit line for a rail's verdict."""
    _audit_line(context, config, direction, [rail], verdict)
    return True


def is_prompt_injection(text: str) -> bool:
    """True when the text matches a known instruction-override pattern."""
    return bool(text) and _INJECTION_RE.search(text) is not None


@action(name="detect_prompt_injection")
async def detect_prompt_injection(text: Optional[str] = None, context: Optional[dict] = None):
    """Input rail: refuses known instruction-override and prompt-exfiltration phrasings."""
    if text is None:
        text = (context or {}).get("user_message") or ""
    return is_prompt_injection(text)


def _jailbreak_verdict(endpoint: str, prompt: str, settings) -> bool:
    """True when the heuristics server calls `prompt` a jailbreak; raises when it gives no verdict."""
    result = _post(
        endpoint,
        {
            "prompt": prompt,
            "lp_threshold": settings.length_per_perplexity_threshold,
            "ps_ppl_threshold": settings.prefix_suffix_perplexity_threshold,
        },
        _JAILBREAK_TIMEOUT_SECONDS,
    )
    verdict = result.get("jailbreak") if isinstance(result, dict) else None
    if not isinstance(verdict, bool):
        raise ValueError("the heuristics server answered without a boolean 'jailbreak'")
    return verdict


# The heuristics server takes about 2 s per prompt on CPU; beyond this the check counts as failed.
_JAILBREAK_TIMEOUT_SECONDS = 5.0


@action(name="jailbreak_heuristics_fail_closed", is_system_action=True)
async def jailbreak_heuristics_fail_closed(context: Optional[dict] = None, config=None):
    """Input rail: asks the jailbreak heuristics server; blocks when it says so, fails or is slow.

    The library action (`jailbreak_detection_heuristics`) lets a request through when the server
    does not answer, which turns an outage into a bypass.
    """
    prompt = (context or {}).get("user_message") or ""
    settings = config.rails.config.jailbreak_detection
    rail = ["jailbreak detection heuristics"]
    try:
        if not settings.server_endpoint:
            raise ValueError("rails.config.jailbreak_detection.server_endpoint is not set")
        is_jailbreak = await asyncio.to_thread(_jailbreak_verdict, settings.server_endpoint, prompt, settings)
    except Exception as exc:  # noqa: BLE001 - no verdict is a block
        if _metrics is not None:
            _metrics.jailbreak_checks.labels(outcome="error").inc()
        _audit_line(context, config, "input", rail, "block", extra={"error": type(exc).__name__})
        return True
    if _metrics is not None:
        _metrics.jailbreak_checks.labels(outcome="block" if is_jailbreak else "pass").inc()
    _audit_line(context, config, "input", rail, "block" if is_jailbreak else "allow")
    return is_jailbreak


def _post(url: str, body: dict, timeout: float):
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # nosec: in-cluster service URL from config
        return json.loads(resp.read().decode("utf-8"))


def _mask(text: str, settings: dict):
    timeout = float(settings.get("timeout_seconds", 5))
    findings = _post(
        settings["analyzer_url"].rstrip("/") + "/analyze",
        {
            "text": text,
            "language": settings.get("language", "en"),
            "entities": settings.get("entities") or None,
            "score_threshold": settings.get("score_threshold", 0.5),
        },
        timeout,
    )
    if not findings:
        return text, {}
    counts: dict = {}
    for f in findings:
        counts[f["entity_type"]] = counts.get(f["entity_type"], 0) + 1
    result = _post(
        settings["anonymizer_url"].rstrip("/") + "/anonymize",
        {
            "text": text,
            "anonymizers": {"DEFAULT": {"type": "replace"}},
            "analyzer_results": findings,
        },
        timeout,
    )
    return result["text"], counts


@action(name="mask_sensitive_data_presidio", is_system_action=True)
async def mask_sensitive_data_presidio(text: Optional[str] = None, context: Optional[dict] = None, config=None):
    """Output rail: masks the configured entities through the output-filter tier.

    Fails closed: when Presidio cannot be reached the response is withheld, never passed on unmasked.
    """
    if text is None:
        text = (context or {}).get("bot_message") or ""
    if not text:
        return text
    settings = _custom(config).get("presidio") or {}
    started = time.monotonic()
    try:
        masked, counts = await asyncio.to_thread(_mask, text, settings)
    except Exception as exc:  # noqa: BLE001 - any failure must withhold the response
        _audit_line(context, config, "output", ["mask sensitive data via presidio"], "block",
                    None, {"error": type(exc).__name__, **_filter_timing(started, "error")})
        return _WITHHELD
    verdict = "redact" if counts else "allow"
    _audit_line(context, config, "output", ["mask sensitive data via presidio"], verdict, counts,
                _filter_timing(started, "ok"))
    return masked


def _filter_timing(started: float, outcome: str) -> dict:
    """Duration (seconds, from a monotonic clock) and outcome of the output filter's Presidio calls."""
    return {"filter_seconds": round(time.monotonic() - started, 4), "filter_outcome": outcome}
