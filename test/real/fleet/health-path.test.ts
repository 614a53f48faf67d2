/**
 * The path OCI's health monitor probes on each region (docs/multi-region.md), on real nginx with
 * the gateway's nginx.conf exactly as the plan renders it for prod: `GET /healthz` answers 200
 * `ok` without an API key, never reaches the guardrails upstream, and opens nothing else (the API
 * still answers 401 without a key). Also what it does not say: it stays 200 with the guardrails
 * down. The Ingress that routes the monitor's request to this path is checked as rendered
 * (ingress-nginx does not run here).
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
import { Pki } from "../request-path/pki";

type Any = any;

const clientKey = "control-key-0123456789abcdef";

function get(
    port: number,
    p: string,
    headers: Record<string, string> = {},
    method = "GET",
): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path: p, method, headers }, (res) => {
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
    let upstreamHits = 0;
    let upstream: https.Server;

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
        conf = rewriteOnce(conf, "listen 8080;", `listen 127.0.0.1:${gatewayPort};`, "listen");
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
    });

    it("GET /healthz answers 200 ok without a key and never reaches the guardrails", async () => {
        const res = await get(gatewayPort, "/healthz");
        assert.deepEqual(res, { status: 200, body: "ok\n" });
        const withJunk = await get(gatewayPort, "/healthz", { Authorization: "Bearer nope" });
        assert.equal(withJunk.status, 200);
        assert.equal(upstreamHits, 0);
    });

    it("opens nothing else: the API without a key is 401, other paths 404, nothing forwarded", async () => {
        assert.equal((await get(gatewayPort, "/v1/models")).status, 401);
        assert.equal((await get(gatewayPort, "/v1/chat/completions", {}, "POST")).status, 401);
        assert.equal((await get(gatewayPort, "/healthz/../v1/models")).status, 401);
        assert.equal((await get(gatewayPort, "/healthzz")).status, 404);
        assert.equal(upstreamHits, 0);
    });

    it("control: a request with a client key does reach the guardrails upstream", async () => {
        const res = await get(gatewayPort, "/v1/models", { Authorization: `Bearer ${clientKey}` });
        assert.equal(res.status, 200);
        assert.equal(upstreamHits, 1);
    });

    it("says only that the gateway is up: still 200 with the guardrails gone", async () => {
        await new Promise((ok) => upstream.close(ok));
        assert.equal((await get(gatewayPort, "/healthz")).status, 200);
    });
});
