"""slp-sandbox-webhook: the mutating admission webhook that puts sandboxed pipeline steps in Kata.

KFP 2.16 cannot set ``runtimeClassName`` on a step's pod (modules/k8s/kubeflow/sandbox.ts). The API
server sends this webhook the creation of every Pod that carries the sandbox label in a pipeline
namespace (the MutatingWebhookConfiguration's namespaceSelector and objectSelector), and it:

- adds ``spec.runtimeClassName: <--runtime-class>`` when the pod names no class (one JSON Patch
  operation, nothing else of the pod is touched);
- admits unchanged a pod that already names that class;
- refuses (403) a pod that names any other class;
- admits unchanged a pod without the label (the selectors should never send one; never touched);
- refuses anything that is not the creation of a Pod (a misrouted request fails closed).

The AdmissionReview v1 contract (Kubernetes "Dynamic Admission Control"): the response echoes
``request.uid``; a patch is a base64-encoded JSON Patch with ``patchType: JSONPatch``.

Python standard library only. It logs one JSON line per decision with the request's uid, the pod's
namespace and name and the decision: never the pod's content. TLS comes from the mounted
cert-manager Secret (``--cert``/``--key``), reloaded when cert-manager rotates it. A plain-HTTP
``GET /healthz`` on ``--health-port`` (not in the Service, no NetworkPolicy admits it) answers the
kubelet's probes.
"""

import argparse
import base64
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

#: Largest AdmissionReview accepted: a Pod is bounded by etcd's 1.5 MiB request limit.
MAX_BODY = 3 * 1024 * 1024
#: Seconds a client may take for the TLS handshake or to send a request.
IO_TIMEOUT = 10


class BadReview(ValueError):
    """The body is not an AdmissionReview v1 request (answered with HTTP 400)."""


def _response(uid, allowed, message=None, patch=None):
    out = {"uid": uid, "allowed": allowed}
    if patch is not None:
        out["patchType"] = "JSONPatch"
        out["patch"] = base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode()
    if message is not None:
        out["status"] = {"code": 403, "reason": "Forbidden", "message": message}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": out}


def review(body, runtime_class, label_key):
    """The AdmissionReview response to ``body``, and a one-line summary for the log (no pod content).

    Pure: the server calls it for every request, the fast suite calls it directly.
    """
    if not isinstance(body, dict) or body.get("apiVersion") != "admission.k8s.io/v1" or body.get("kind") != "AdmissionReview":
        raise BadReview("expected an admission.k8s.io/v1 AdmissionReview")
    req = body.get("request")
    if not isinstance(req, dict) or not isinstance(req.get("uid"), str) or req["uid"] == "":
        raise BadReview("expected an AdmissionReview with request.uid")
    uid = req["uid"]
    kind = req.get("kind") if isinstance(req.get("kind"), dict) else {}
    what = (kind.get("group"), kind.get("version"), kind.get("kind"))
    if what != ("", "v1", "Pod") or req.get("operation") != "CREATE" or req.get("subResource"):
        message = (
            "the pipeline sandbox webhook admits only the creation of Pods; got "
            f"{req.get('operation')} {kind.get('group', '')}/{kind.get('version', '')} {kind.get('kind', '')}"
            + (f" ({req['subResource']})" if req.get("subResource") else "")
        )
        return _response(uid, False, message), "refused: not a Pod creation"
    pod = req.get("object")
    if not isinstance(pod, dict) or not isinstance(pod.get("spec"), dict):
        return _response(uid, False, "the pipeline sandbox webhook got a Pod without a spec"), "refused: no spec"
    meta = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    if label_key not in labels:
        return _response(uid, True), "untouched: no sandbox label"
    current = pod["spec"].get("runtimeClassName")
    if current is None or current == "":
        patch = [{"op": "add", "path": "/spec/runtimeClassName", "value": runtime_class}]
        return _response(uid, True, patch=patch), f"runtimeClassName set to {runtime_class}"
    if current == runtime_class:
        return _response(uid, True), f"already in {runtime_class}"
    message = (
        f"sandboxed pipeline steps (label {label_key}) run under RuntimeClass {runtime_class}; "
        f"this pod asks for RuntimeClass {current!r}: remove it and the webhook sets {runtime_class}"
    )
    return _response(uid, False, message), "refused: another RuntimeClass"


def _log(**fields):
    fields["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


class Tls:
    """The serving certificate, reloaded when the mounted files change (cert-manager rotation)."""

    def __init__(self, cert, key):
        self.cert, self.key = cert, key
        self.lock = threading.Lock()
        self.stamp = None
        self.ctx = None
        self.context()
        if self.ctx is None:
            raise SystemExit(f"cannot load the serving certificate {cert} / {key}")

    def _stamp(self):
        try:
            return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in (os.stat(self.cert), os.stat(self.key)))
        except OSError:
            return None

    def context(self):
        stamp = self._stamp()
        with self.lock:
            if stamp is not None and stamp != self.stamp:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_alpn_protocols(["http/1.1"])
                try:
                    ctx.load_cert_chain(self.cert, self.key)
                except (OSError, ssl.SSLError) as e:
                    # A rotation half-written: keep serving the previous pair, retry on the next request.
                    _log(event="tls.reload_failed", error=type(e).__name__)
                else:
                    if self.ctx is not None:
                        _log(event="tls.reloaded")
                    self.ctx, self.stamp = ctx, stamp
            return self.ctx


def make_handler(runtime_class, label_key):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "slp-sandbox-webhook"
        sys_version = ""
        timeout = IO_TIMEOUT

        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            pass  # the access log would carry request lines; decisions are logged by _decide

        def _send(self, code, payload):
            data = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if self.path.split("?", 1)[0] != "/mutate":
                self._send(404, {"error": "POST /mutate only"})
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(411, {"error": "Content-Length required"})
                return
            if length < 0 or length > MAX_BODY:
                self._send(413, {"error": f"body over {MAX_BODY} bytes"})
                self.close_connection = True
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
                answer, summary = review(body, runtime_class, label_key)
            except (ValueError, BadReview) as e:
                _log(event="admission.bad_request", error=str(e) if isinstance(e, BadReview) else "not JSON")
                self._send(400, {"error": str(e) if isinstance(e, BadReview) else "body is not JSON"})
                return
            req = body["request"]
            obj = req.get("object") if isinstance(req.get("object"), dict) else {}
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            _log(
                event="admission.decision",
                uid=req["uid"],
                namespace=req.get("namespace") or meta.get("namespace") or "",
                pod=meta.get("name") or meta.get("generateName") or req.get("name") or "",
                allowed=answer["response"]["allowed"],
                patched="patch" in answer["response"],
                decision=summary,
                dry_run=bool(req.get("dryRun")),
            )
            self._send(200, answer)

        def do_GET(self):
            self._send(404, {"error": "POST /mutate only"})

    return Handler


class TlsServer(http.server.ThreadingHTTPServer):
    """Accepts plain sockets and does each TLS handshake in the connection's own thread."""

    daemon_threads = True

    def __init__(self, address, handler, tls):
        self.tls = tls
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        request.settimeout(IO_TIMEOUT)
        try:
            conn = self.tls.context().wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            _log(event="tls.handshake_failed", peer=client_address[0], error=type(e).__name__)
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass  # the peer went away mid-request; nothing was admitted on this connection
        finally:
            try:
                conn.close()
            except OSError:
                pass


class HealthHandler(http.server.BaseHTTPRequestHandler):
    server_version = "slp-sandbox-webhook"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):
        ok = self.path == "/healthz" and self.server.tls.context() is not None
        data = b"ok\n" if ok else b"not found\n"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main(argv=None):
    p = argparse.ArgumentParser(prog="slp-sandbox-webhook", description=__doc__.splitlines()[0])
    p.add_argument("--runtime-class", required=True, help="RuntimeClass sandboxed pods get")
    p.add_argument("--label", required=True, help="label key that marks a sandboxed pod")
    p.add_argument("--cert", required=True, help="PEM serving certificate (chain)")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=8443, help="TLS port of POST /mutate (default 8443)")
    p.add_argument("--health-port", type=int, default=8081, help="plain GET /healthz port (default 8081)")
    a = p.parse_args(argv)
    tls = Tls(a.cert, a.key)
    server = TlsServer((a.bind, a.port), make_handler(a.runtime_class, a.label), tls)
    health = http.server.ThreadingHTTPServer((a.bind, a.health_port), HealthHandler)
    health.daemon_threads = True
    health.tls = tls
    threading.Thread(target=health.serve_forever, daemon=True).start()

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _log(event="started", port=server.server_address[1], health_port=health.server_address[1], runtime_class=a.runtime_class)
    server.serve_forever()
    health.shutdown()
    _log(event="stopped")


if __name__ == "__main__":
    main()
