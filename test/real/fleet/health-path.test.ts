/**
 * The path OCI's health monitor probes on each region (docs/multi-region.md), on real nginx with
 * the gateway's nginx.conf exactly as the plan renders it for prod: `GET /healthz` answers 200
 * `ok` without an API key, never reaches the guardrails upstream, and opens nothing else (the API
 * still answers 401 without a key). Also what it does not say: it stays 200 with the guardrails
 * down. The gateway's port is mTLS: every request is sent as ingress-nginx sends it, with the
 * ingress-nginx client certificate issued from the rendered Certificate (a request without one
 * gets 400); the kubelet's probes have a plain /healthz-only port. The Ingress that routes the
 * monitor's request to this path and its backend-TLS annotations are checked as rendered
 * (ingress-nginx itself does not run here).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { ensureApt } from "../support/install";
import { freePort, portOpen, stopAll, waitUntil } from "../support/proc";
import {
    Rendered,
    podDir,
    podLog,
    rendered,
    rewriteOnce,
    startNginx,
    writeForPod,
} from "../request-path/stack";
import { Issued, Pki, clientTlsOptions } from "../request-path/pki";

type Any = any;

const clientKey = "control-key-0123456789abcdef";

/** ingress-nginx's side of the hop: its client certificate, the gateway's name and CA checked. */
interface ClientTls {
    readonly ca: Issued;
    readonly client?: Issued;
}

/** A request to the gateway: over mTLS as ingress-nginx sends it, or plain (the probe port). */
function get(
    port: number,
    p: string,
    headers: Record<string, string> = {},
    method = "GET",
    tls?: ClientTls,
): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const opts: https.RequestOptions = { host: "127.0.0.1", port, path: p, method, headers };
        const secure = tls
            ? {
                  ...opts,
                  ...clientTlsOptions({
                      ...tls,
                      servername: "gateway.llm-gateway.svc.cluster.local",
                  }),
              }
            : opts;
        const req = (tls ? https : http).request(secure, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
    });
}

describe("fleet: the gateway health path the steered entry's monitor probes (real nginx)", function () {
    this.timeout(600000);
    let r: Rendered;
    let scratch: string;
    let gatewayPort: number;
    let healthPort: number;
    let tls: ClientTls;
    let upstreamHits = 0;
    let upstream: https.Server;
    /** As ingress-nginx forwards the monitor's and clients' requests: over mTLS. */
    const gw = (p: string, headers: Record<string, string> = {}, method = "GET") =>
        get(gatewayPort, p, headers, method, tls);

    before(async () => {
        ensureApt(["nginx"]);
        r = rendered("prod");
        scratch = podDir(fs.mkdtempSync(path.join(os.tmpdir(), "slp-health-")));
        fs.chmodSync(scratch, 0o755);
        // The gateway reaches the guardrails over mTLS (modules/k8s/llm/mtls.ts): certificates
        // from the rendered Certificates, the gateway's mounted as the kubelet mounts it.
        const pki = new Pki(path.join(scratch, "pki"), "prod");
        const tlsDir = podDir(path.join(scratch, "mtls-tls"));
        pki.mount(r.objects, "gateway-mtls", "llm-gateway", tlsDir);
        // ingress-nginx's client certificate (the Ingress's proxy-ssl-secret), as rendered.
        tls = {
            ca: pki.ca,
            client: pki.issue(
                "ingress-nginx",
                Pki.spec(r.objects, "ingress-nginx-mtls", "llm-gateway"),
            ),
        };
        const server = pki.issue(
            "guardrails",
            Pki.spec(r.objects, "guardrails-mtls", "llm-guardrails"),
        );
        // A guardrails upstream (mTLS, like its sidecar) that counts every request it gets.
        upstream = https.createServer(
            {
                key: fs.readFileSync(server.key),
                cert: fs.readFileSync(server.cert),
                ca: fs.readFileSync(pki.ca.cert),
                requestCert: true,
                rejectUnauthorized: true,
            },
            (_, res) => {
                upstreamHits++;
                res.end("{}");
            },
        );
        await new Promise<void>((ok) => upstream.listen(0, "127.0.0.1", ok));
        const upstreamPort = (upstream.address() as AddressInfo).port;
        gatewayPort = await freePort();
        const tmp = podDir(path.join(scratch, "tmp"));
        // nginx includes the live key map run-gateway.sh copies into /tmp (here: tmp/) from the
        // mounted Secret; this test starts nginx itself, so it writes the live copy directly.
        const keysFile = path.join(podDir(path.join(tmp, "gateway-keys")), "api-keys.map");
        let conf = r.gatewayConf
            .replace(/\/tmp\//g, `${tmp}/`)
            .replace(/\/etc\/mtls\/tls\//g, `${tlsDir}/`);
        healthPort = await freePort();
        conf = rewriteOnce(
            conf,
            "listen 8080 ssl;",
            `listen 127.0.0.1:${gatewayPort} ssl;`,
            "listen",
        );
        conf = rewriteOnce(conf, "listen 8081;", `listen 127.0.0.1:${healthPort};`, "health");
        conf = rewriteOnce(
            conf,
            "server guardrails.llm-guardrails.svc.cluster.local:8000;",
            `server 127.0.0.1:${upstreamPort};`,
            "upstream",
        );
        conf = rewriteOnce(conf, `include ${keysFile};`, `include ${keysFile};`, "key map");
        // One client key, in the line format apiKeysMapTemplate renders (modules/k8s/llm/tiers.ts),
        // for the control request; the monitor has no key.
        writeForPod(keysFile, `"~^Bearer ${clientKey}$" "control";\n`);
        const confFile = path.join(scratch, "nginx.conf");
        writeForPod(confFile, conf);
        const log = path.join(scratch, "gateway.log");
        podLog(log);
        // The container runs run-gateway.sh, which starts nginx as below (and applies key
        // rotations, tested in the request-path suite); this test starts that nginx directly.
        const nginxLine = `nginx -e /dev/stderr -g 'daemon off;' -c "$conf" &`;
        assert.ok(r.gatewayScript.includes(nginxLine), "run-gateway.sh starts nginx as expected");
        const gw = startNginx("gateway", ["nginx", "-g", "daemon off;", "-c", ""], confFile, log);
        await waitUntil(gw, "the gateway port", () => portOpen(gatewayPort));
    });

    after(async () => {
        await stopAll();
        if (upstream.listening) {
            await new Promise((ok) => upstream.close(ok));
        }
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("the rendered prod Ingress routes Exact /healthz to the gateway for the region's and the steered name", () => {
        const ing = r.objects.find((o) => o.kind === "Ingress") as Any;
        const hosts = ing.spec.rules.map((x: Any) => x.host);
        // The region's own name (whichever prod cluster the plan lists first), then the steered one.
        assert.match(hosts[0], /^llm-(iad|fra)\.example\.com$/);
        assert.deepEqual(hosts.slice(1), ["llm.example.com"]);
        for (const rule of ing.spec.rules) {
            const health = rule.http.paths.find((p: Any) => p.path === "/healthz");
            assert.deepEqual(health, {
                path: "/healthz",
                pathType: "Exact",
                backend: { service: { name: "gateway", port: { name: "http" } } },
            });
        }
        assert.deepEqual(ing.spec.tls[0].hosts, hosts);
        // ingress-nginx reaches the gateway over mTLS with the Secret of a rendered Certificate
        // in the Ingress's own namespace (the client certificate this suite presents).
        const a = ing.metadata.annotations;
        assert.equal(a["nginx.ingress.kubernetes.io/backend-protocol"], "HTTPS");
        const [ns, secret] = a["nginx.ingress.kubernetes.io/proxy-ssl-secret"].split("/");
        assert.equal(ns, ing.metadata.namespace);
        assert.equal(Pki.spec(r.objects, secret, ns).secretName, secret);
        assert.equal(a["nginx.ingress.kubernetes.io/proxy-ssl-verify"], "on");
    });

    it("GET /healthz answers 200 ok without a key and never reaches the guardrails", async () => {
        const res = await gw("/healthz");
        assert.deepEqual(res, { status: 200, body: "ok\n" });
        const withJunk = await gw("/healthz", { Authorization: "Bearer nope" });
        assert.equal(withJunk.status, 200);
        assert.equal(upstreamHits, 0);
    });

    it("opens nothing else: the API without a key is 401, other paths 404, nothing forwarded", async () => {
        assert.equal((await gw("/v1/models")).status, 401);
        assert.equal((await gw("/v1/chat/completions", {}, "POST")).status, 401);
        assert.equal((await gw("/healthz/../v1/models")).status, 401);
        assert.equal((await gw("/healthzz")).status, 404);
        assert.equal(upstreamHits, 0);
    });

    it("control: a request with a client key does reach the guardrails upstream", async () => {
        const res = await gw("/v1/models", { Authorization: `Bearer ${clientKey}` });
        assert.equal(res.status, 200);
        assert.equal(upstreamHits, 1);
    });

    it("admits only ingress-nginx's certificate on the API port; the probe port answers /healthz only", async () => {
        const hits = upstreamHits;
        const key = { Authorization: `Bearer ${clientKey}` };
        // No client certificate: nginx answers 400 itself, the monitor's path included.
        const bare = { ca: tls.ca };
        assert.equal((await get(gatewayPort, "/healthz", {}, "GET", bare)).status, 400);
        assert.equal((await get(gatewayPort, "/v1/models", key, "GET", bare)).status, 400);
        // The plain API port is gone: a plain request to it is refused by TLS (400).
        assert.equal((await get(gatewayPort, "/v1/models", key)).status, 400);
        // The kubelet's probe port: /healthz, nothing else.
        assert.deepEqual(await get(healthPort, "/healthz"), { status: 200, body: "ok\n" });
        assert.equal((await get(healthPort, "/v1/models", key)).status, 404);
        assert.equal(upstreamHits, hits, "nothing forwarded");
    });

    it("says only that the gateway is up: still 200 with the guardrails gone", async () => {
        await new Promise((ok) => upstream.close(ok));
        assert.equal((await gw("/healthz")).status, 200);
    });
});
