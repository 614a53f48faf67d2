/**
 * The LLM request path on the real servers: the gateway's nginx (Debian), the guardrails (our
 * entrypoint on nemoguardrails[server] 0.24.1, rails exactly as the plan mounts them), Presidio
 * analyzer + anonymizer (PyPI, spaCy en_core_web_sm). Stand-ins: the inference server (vLLM's
 * API, no GPU here) and the jailbreak-heuristics stub (its GPT-2 model cannot be had here).
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { repoRoot, scratchDir } from "../support/env";
import { Started, freePort, stopAll, waitUntil } from "../support/proc";
import { main } from "../../../pipelines/cli";
import { Issued, Pki, clientTlsOptions, mountTls, serialOf, tlsRequest } from "./pki";
import {
    Stack,
    answers200,
    closeStandins,
    install,
    podUid,
    renderKeyMap,
    rewriteOnce,
    projectSecret,
    startGateway,
    startGatewayProcess,
    startGuardrails,
    startStack,
    writeRails,
} from "./stack";

interface Reply {
    status: number;
    headers: http.IncomingHttpHeaders;
    text: string;
}

/** TLS of a request: the server verified against `ca` and `servername`, `client` presented. */
interface ClientTls {
    readonly ca: Issued;
    readonly servername: string;
    readonly client?: Issued;
}

function request(
    port: number,
    method: string,
    urlPath: string,
    body?: unknown,
    headers: Record<string, string> = {},
    tls?: ClientTls,
): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const opts: https.RequestOptions = {
            host: "127.0.0.1",
            port,
            method,
            path: urlPath,
            headers: {
                ...(data ? { "content-type": "application/json" } : {}),
                ...headers,
            },
            ...(tls ? clientTlsOptions(tls) : {}),
        };
        const req = (tls ? https : http).request(opts, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (text += c));
            res.on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, text }),
            );
        });
        req.on("error", reject);
        req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
        req.end(data);
    });
}

const refusal = "I'm sorry, I can't respond to that.";
const keyA = "k3yAlphaAAAAAAAAAAAAAAAAAAAAAA01";
const keyB = "k3yBravoBBBBBBBBBBBBBBBBBBBBBB02";
const keyC = "k3yCharlieCCCCCCCCCCCCCCCCCCCC03";
const allKeys = [keyA, keyB, keyC];

const contentOf = (r: Reply) =>
    (JSON.parse(r.text) as { choices: { message: { content: string } }[] }).choices[0].message
        .content;

/** The content of an SSE chat-completion stream, and whether it ended with [DONE]. */
function streamed(r: Reply): { content: string; done: boolean } {
    let content = "";
    let done = false;
    for (const line of r.text.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") done = true;
        else content += JSON.parse(data).choices[0].delta.content ?? "";
    }
    return { content, done };
}

const quantile = (sorted: number[], q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/**
 * Keeps a scrape as the checked-in capture the metric contract is checked against
 * (modules/k8s/observability/metrics.ts), rewriting it only when the series differ (names and
 * labels, not values), so a run that found the same metrics leaves the working tree clean.
 */
function saveCapture(name: string, text: string): void {
    const file = path.join(__dirname, "captured", name);
    const series = (t: string) =>
        t
            .split("\n")
            .filter((l) => l !== "" && !l.startsWith("#"))
            .map((l) => l.slice(0, l.lastIndexOf("}") + 1 || l.indexOf(" ")))
            .sort()
            .join("\n");
    if (fs.existsSync(file) && series(fs.readFileSync(file, "utf8")) === series(text)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
}

describe("request path on the real servers (gateway nginx, guardrails 0.24.1, Presidio)", function () {
    let stack: Stack;
    let tools: ReturnType<typeof install>;
    let gateway: Started;
    let scratch: string;
    // Pacing under the gateway's per-key rate limit (dev: 10 r/s, burst 20).
    let last = 0;
    const paced = async () => {
        const wait = last + 120 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        last = Date.now();
    };
    // The gateway's API port is mTLS: what ingress-nginx does, with its client certificate.
    const gatewayHost = "gateway.llm-gateway.svc.cluster.local";
    const toGateway = (
        method: string,
        urlPath: string,
        body?: unknown,
        headers: Record<string, string> = {},
        // null: no client certificate (undefined would take the default).
        client: Issued | null = stack.ingressClient,
        ca: Issued = stack.pki.ca,
    ) =>
        request(stack.ports.gateway, method, urlPath, body, headers, {
            ca,
            servername: gatewayHost,
            client: client ?? undefined,
        });
    const chat = async (body: unknown, key = keyA, extra: Record<string, string> = {}) => {
        await paced();
        return toGateway("POST", "/v1/chat/completions", body, {
            authorization: `Bearer ${key}`,
            ...extra,
        });
    };
    const ask = (prompt: string, more: Record<string, unknown> = {}, key = keyA) =>
        chat({ messages: [{ role: "user", content: prompt }], ...more }, key);
    const keysDir = () => path.dirname(stack.keysFile);
    const writeKeys = (vaultValue: string) =>
        projectSecret(keysDir(), {
            "api-keys.map": renderKeyMap(
                tools.esotemplate,
                stack.rendered.keysTemplate,
                vaultValue,
                scratch,
            ),
        });
    const masterPid = () =>
        fs.readFileSync(path.join(scratch, "gateway", "tmp", "nginx.pid"), "utf8").trim();
    const accepted = (key: string) => async () => (await ask("hello", {}, key)).status === 200;

    before(async function () {
        tools = install();
        scratch = scratchDir("request-path");
        stack = await startStack(scratch, tools);
        // The Vault secret lists one key twice: nginx must still start (a duplicate map string
        // used to stop it, printing the key).
        writeKeys([keyA, keyB, keyA, ""].join("\n"));
        gateway = await startGateway(stack);
    });

    after(async function () {
        await stopAll();
        await closeStandins();
        if (scratch && process.env.SLP_KEEP_SCRATCH !== "1") {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    });

    beforeEach(() => {
        stack.inference.mode = { kind: "answer", text: "Kubernetes schedules pods onto nodes." };
        stack.jailbreak.mode = "pass";
    });

    it("answers a benign request through gateway, guardrails and the stand-in", async () => {
        const before = stack.inference.generationPrompts().length;
        const r = await ask("How do I list the pods of one namespace? ident-benign-7731");
        assert.equal(r.status, 200, r.text);
        assert.equal(contentOf(r), "Kubernetes schedules pods onto nodes.");
        const reached = stack.inference.generationPrompts().slice(before);
        assert.equal(reached.length, 1, "one generation call reached inference");
        assert.match(reached[0], /ident-benign-7731/);
        // The gateway strips the client's Authorization; the guardrails send none to inference.
        const last = stack.inference.requests.at(-1)!;
        assert.equal(last.headers.authorization, undefined);
        assert.ok(!JSON.stringify(stack.inference.requests).includes(keyA));
    });

    /** The audit lines of an mTLS sidecar (one per request), parsed. */
    const audit = (which: string) =>
        stack.sidecars[which]!.started.log()
            .split("\n")
            .filter((l) => l.includes('"event":"mtls.request"'))
            .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Record<string, string | number>);
    /** nginx writes an access line after the answer has gone out: waits (≤ 5 s) for `n` lines. */
    const settle = async (which: string, since: number, n: number) => {
        for (let i = 0; i < 50 && audit(which).length - since < n; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
    };
    /**
     * The audit-line count of a sidecar once it has stopped growing (no new line for 300 ms,
     * at most 5 s): a snapshot taken while an earlier answer's access line is still on its way
     * would count that line as this test's.
     */
    const quiet = async (which: string) => {
        let n = audit(which).length;
        for (let still = 0, i = 0; still < 3 && i < 50; i++) {
            await new Promise((r) => setTimeout(r, 100));
            const m = audit(which).length;
            still = m === n ? still + 1 : 0;
            n = m;
        }
        return n;
    };
    const identity = (id: string, ns: string) => `CN=${id}.${ns}.svc.cluster.local`;
    const ids = {
        gateway: identity("gateway", "llm-gateway"),
        guardrails: identity("guardrails", "llm-guardrails"),
    };

    it("every hop is mTLS: each sidecar logs the verified identity of its one caller", async () => {
        const since: Record<string, number> = {};
        for (const w of ["guardrails", "inference", "analyzer", "anonymizer", "jailbreak"]) {
            since[w] = await quiet(w);
        }
        stack.inference.mode = { kind: "answer", text: "Mail john.smith@example.com today." };
        const r = await ask("Who handles billing? ident-hops-5120");
        assert.equal(r.status, 200, r.text);
        assert.match(contentOf(r), /<EMAIL_ADDRESS>/);
        for (const w of ["guardrails", "inference", "analyzer", "anonymizer", "jailbreak"]) {
            await settle(w, since[w]!, 1);
        }
        const seen = (w: string) => audit(w).slice(since[w]);
        // gateway → guardrails: the gateway's certificate, verified, the request id carried.
        const g = seen("guardrails").filter((l) => l.listener === "guardrails");
        assert.equal(g.length, 1, JSON.stringify(g));
        assert.equal(g[0]!.client, ids.gateway);
        assert.equal(g[0]!.verify, "SUCCESS");
        assert.match(String(g[0]!.request_id), /^[0-9a-f]{32}$/);
        // guardrails → inference, analyzer, anonymizer, jailbreak heuristics: the guardrails'
        // certificate each time.
        for (const w of ["inference", "analyzer", "anonymizer", "jailbreak"]) {
            const lines = seen(w);
            assert.ok(lines.length >= 1, `${w}: no request`);
            for (const l of lines) {
                assert.equal(l.client, ids.guardrails, w);
                assert.equal(l.verify, "SUCCESS", w);
                assert.equal(l.status, 200, w);
            }
        }
        // The guardrails reached them only through their sidecar's loopback listeners.
        const out = seen("guardrails").filter((l) => l.listener !== "guardrails");
        assert.deepEqual([...new Set(out.map((l) => l.listener))].sort(), [
            "to-inference",
            "to-jailbreak-detection",
            "to-presidio-analyzer",
            "to-presidio-anonymizer",
        ]);
        // The jailbreak stub (the server's place behind its sidecar) got the prompt that way.
        const j = seen("jailbreak");
        assert.ok(j.every((l) => l.listener === "jailbreak-detection" && l.uri === "/heuristics"));
    });

    it("refuses, at every hop, no client certificate, another CA's and the wrong identity; nothing reaches the app", async () => {
        const other = new Pki(path.join(scratch, "pki-other"), "other");
        const objs = stack.rendered.objects;
        const spec = (id: string, ns: string) => Pki.spec(objs, `${id}-mtls`, ns);
        const mine = {
            gateway: stack.pki.issue("gateway", spec("gateway", "llm-gateway")),
            guardrails: stack.pki.issue("guardrails", spec("guardrails", "llm-guardrails")),
            inference: stack.pki.issue("inference", spec("inference", "llm-inference")),
        };
        const hops = [
            // server, its Service host, the caller it admits, a caller it must refuse
            [
                "guardrails",
                "guardrails.llm-guardrails.svc.cluster.local",
                mine.gateway,
                mine.guardrails,
            ],
            [
                "inference",
                "inference.llm-inference.svc.cluster.local",
                mine.guardrails,
                mine.gateway,
            ],
            [
                "analyzer",
                "presidio-analyzer.llm-output-filter.svc.cluster.local",
                mine.guardrails,
                mine.gateway,
            ],
            [
                "anonymizer",
                "presidio-anonymizer.llm-output-filter.svc.cluster.local",
                mine.guardrails,
                mine.gateway,
            ],
        ] as const;
        const reqPath = (w: string) =>
            w === "analyzer"
                ? "/analyze"
                : w === "anonymizer"
                  ? "/anonymize"
                  : "/v1/chat/completions";
        const body = { messages: [{ role: "user", content: "hi" }], text: "hi", language: "en" };
        // The server listener of each sidecar is named after its workload.
        const listenerOf = (w: string) =>
            w === "analyzer" || w === "anonymizer" ? `presidio-${w}` : w;
        const before = stack.inference.requests.length;
        const decisions = () =>
            stack.servers.guardrails!.log().split('"guardrails.decision"').length;
        const decisionsBefore = decisions();
        for (const [w, host, , wrong] of hops) {
            const since = await quiet(w);
            const call = (client?: Issued) =>
                tlsRequest({
                    port: stack.ports[w]!,
                    ca: stack.pki.ca,
                    servername: host,
                    client,
                    method: "POST",
                    path: reqPath(w),
                    body,
                });
            const none = await call();
            assert.equal(none.status, 400, `${w} without a certificate`);
            assert.match(none.text, /No required SSL certificate was sent/);
            const foreign = await call(other.issue(`${w}-foreign`, spec("gateway", "llm-gateway")));
            assert.equal(foreign.status, 400, `${w} with another CA's certificate`);
            const impostor = await call(wrong);
            assert.equal(impostor.status, 403, `${w} with the wrong identity`);
            // A server-only certificate of the CA (no clientAuth usage) fails verification.
            const serverOnly = await call(mine.inference);
            assert.equal(serverOnly.status, 400, `${w} with a server certificate as client`);
            // Plain HTTP to the mTLS port is refused too.
            const plain = await request(stack.ports[w]!, "POST", reqPath(w), body);
            assert.equal(plain.status, 400, `${w} over plain HTTP`);
            await settle(w, since, 5);
            // A handshake refused with 400 is logged before nginx names the listener (`set` runs
            // later): the server listener's lines are those not of a loopback client listener.
            const lines = audit(w)
                .slice(since)
                .filter((x) => [listenerOf(w), ""].includes(String(x.listener)));
            assert.equal(lines.length, 5, `${w}: ${JSON.stringify(lines)}`);
            for (const l of lines) {
                assert.ok(l.upstream_status === "" || l.upstream_status === "-", `${w} forwarded`);
            }
        }
        assert.equal(stack.inference.requests.length, before, "nothing reached inference");
        assert.equal(decisions(), decisionsBefore, "nothing reached the guardrails");
        // Control: the admitted caller's certificate is forwarded to the app at every hop.
        for (const [w, host, admitted] of hops) {
            const since = audit(w).length;
            const ok = await tlsRequest({
                port: stack.ports[w]!,
                ca: stack.pki.ca,
                servername: host,
                client: admitted,
                method: "POST",
                path: reqPath(w),
                body: w === "inference" ? { ...body, model: "llama-3.1-8b-instruct" } : body,
            });
            assert.notEqual(ok.status, 403, w);
            // nginx writes the access line after the answer has gone out: wait for it (≤ 5 s).
            const lineOf = () =>
                audit(w)
                    .slice(since)
                    .filter((x) => x.listener === listenerOf(w));
            for (let i = 0; i < 50 && lineOf().length === 0; i++) {
                await new Promise((r) => setTimeout(r, 100));
            }
            const l = lineOf();
            assert.ok(
                l.length === 1 && /^\d{3}$/.test(String(l[0]!.upstream_status)),
                `${w} forwarded: ${JSON.stringify(l)}`,
            );
        }
        // The clients check the servers too: a guardrails certificate shown as inference's is
        // refused by the sidecar's loopback client (name mismatch), nothing is sent.
        const reached = stack.inference.requests.length;
        const r = await request(stack.ports.guardrailsToInference!, "GET", "/v1/models");
        assert.equal(r.status, 404, "only POST /v1/chat/completions leaves the pod");
        assert.equal(stack.inference.requests.length, reached);
    });

    it("rotates certificates without dropping a request: the next handshake uses the new one", async () => {
        const objs = stack.rendered.objects;
        const logOf = (w: string) => stack.sidecars[w]!.started.log();
        const reloads = (w: string) => logOf(w).split('"event":"mtls.files_reloaded"').length - 1;
        const gwReloads = () => gateway.log().split('"event":"gateway.files_reloaded"').length - 1;
        const served = async (w: string, host: string, client: Issued) =>
            (
                await tlsRequest({
                    port: stack.ports[w]!,
                    ca: stack.pki.ca,
                    servername: host,
                    client,
                    method: "POST",
                    path: "/v1/chat/completions",
                    body: {
                        model: "llama-3.1-8b-instruct",
                        messages: [{ role: "user", content: "hi" }],
                    },
                })
            ).serverSerial;
        const guardrailsClient = stack.pki.issue(
            "guardrails-probe",
            Pki.spec(objs, "guardrails-mtls", "llm-guardrails"),
        );
        const inferenceHost = "inference.llm-inference.svc.cluster.local";
        const old = await served("inference", inferenceHost, guardrailsClient);
        // Traffic through the whole path while cert-manager's renewals land (kubelet ..data swap):
        // inference's server certificate, the guardrails' (server and client) and the gateway's.
        let stop = false;
        const statuses: number[] = [];
        const traffic = (async () => {
            while (!stop) statuses.push((await ask("What is a Pod? (rotation)")).status);
        })();
        const rotated: Record<string, string> = {};
        const r0 = {
            inference: reloads("inference"),
            guardrails: reloads("guardrails"),
            gw: gwReloads(),
        };
        for (const [w, dir, name, ns] of [
            ["inference", "inference", "inference-mtls", "llm-inference"],
            ["guardrails", "guardrails", "guardrails-mtls", "llm-guardrails"],
            ["gateway", "gateway", "gateway-mtls", "llm-gateway"],
        ] as const) {
            const leaf = stack.pki.mount(objs, name, ns, path.join(scratch, dir, "mtls-tls"));
            rotated[w] = serialOf(leaf.cert);
        }
        await waitUntil(
            stack.sidecars.inference!.started,
            "inference's sidecar reloaded",
            async () => reloads("inference") > r0.inference,
            20_000,
        );
        await waitUntil(
            stack.sidecars.guardrails!.started,
            "guardrails' sidecar reloaded",
            async () => reloads("guardrails") > r0.guardrails,
            20_000,
        );
        await waitUntil(gateway, "the gateway reloaded", async () => gwReloads() > r0.gw, 20_000);
        // Let the old workers finish, then a few more requests on fresh handshakes.
        await new Promise((r) => setTimeout(r, 1500));
        const after = statuses.length;
        while (statuses.length < after + 5) await new Promise((r) => setTimeout(r, 100));
        stop = true;
        await traffic;
        assert.ok(statuses.length >= 10, `${statuses.length} requests during the rotation`);
        assert.deepEqual([...new Set(statuses)], [200], `statuses ${JSON.stringify(statuses)}`);
        // The next handshake: inference serves its new certificate...
        const now = await served("inference", inferenceHost, guardrailsClient);
        assert.notEqual(now, old);
        assert.equal(now, rotated.inference);
        // ...the gateway serves its new one to ingress-nginx...
        const gwServed = await tlsRequest({
            port: stack.ports.gateway,
            ca: stack.pki.ca,
            servername: gatewayHost,
            client: stack.ingressClient,
            method: "GET",
            path: "/healthz",
        });
        assert.equal(gwServed.serverSerial, rotated.gateway);
        // ...the guardrails present their new one to inference and the gateway its new one.
        const clientSerials = (w: string, listener: string) =>
            audit(w)
                .filter((l) => l.listener === listener)
                .slice(-3)
                .map((l) => String(l.client_serial).toUpperCase());
        assert.ok(
            clientSerials("inference", "inference").includes(rotated.guardrails!),
            "inference saw the guardrails' new client certificate",
        );
        assert.ok(
            clientSerials("guardrails", "guardrails").includes(rotated.gateway!),
            "the guardrails saw the gateway's new client certificate",
        );
        for (const w of ["inference", "guardrails"]) {
            assert.doesNotMatch(logOf(w), /emerg|files_rejected/, w);
            assert.doesNotMatch(logOf(w), /BEGIN (EC )?PRIVATE KEY/, `${w} prints no key`);
        }
    });

    it("compares API keys exactly: another case, a prefix or no key is refused", async () => {
        for (const bad of [keyA.toUpperCase(), keyA.toLowerCase(), keyA.slice(0, -1), `${keyA}x`]) {
            const r = await ask("hello", {}, bad);
            assert.equal(r.status, 401, `key ${bad.slice(0, 6)}… must be refused`);
        }
        await paced();
        const none = await toGateway("POST", "/v1/chat/completions", {
            messages: [{ role: "user", content: "hello" }],
        });
        assert.equal(none.status, 401);
        assert.equal((await ask("hello", {}, keyB)).status, 200);
    });

    it("the gateway admits only ingress-nginx's and the red-team job's certificates: nothing else is forwarded", async () => {
        const objs = stack.rendered.objects;
        const body = { messages: [{ role: "user", content: "hello" }] };
        const auth = { authorization: `Bearer ${keyA}` };
        const seen0 = await quiet("guardrails");
        // No client certificate, and one of another CA: nginx answers 400 itself.
        await paced();
        const none = await toGateway("POST", "/v1/chat/completions", body, auth, null);
        assert.equal(none.status, 400, none.text);
        const otherCa = new Pki(path.join(scratch, "pki-other"), "other");
        const foreign = otherCa.issue(
            "ingress-nginx-foreign",
            Pki.spec(objs, "ingress-nginx-mtls", "llm-gateway"),
        );
        await paced();
        const alien = await toGateway("POST", "/v1/chat/completions", body, auth, foreign);
        assert.equal(alien.status, 400, alien.text);
        // A certificate of the cluster CA with another identity (the guardrails' own): 403.
        const guardrailsCert = stack.pki.issue(
            "guardrails-as-client",
            Pki.spec(objs, "guardrails-mtls", "llm-guardrails"),
        );
        await paced();
        const other = await toGateway("POST", "/v1/chat/completions", body, auth, guardrailsCert);
        assert.equal(other.status, 403, other.text);
        assert.equal(
            (await toGateway("GET", "/healthz", undefined, {}, guardrailsCert)).status,
            403,
        );
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(audit("guardrails").length, seen0, "nothing reached the guardrails");
        // The red-team assessment's certificate, as modules/k8s/kubeflow.ts issues it: admitted.
        const redteam = stack.pki.issue(
            "redteam-assessment",
            Pki.spec(objs, "redteam-assessment-mtls", "ml-pipelines"),
        );
        await paced();
        const rt = await toGateway("POST", "/v1/chat/completions", body, auth, redteam);
        assert.equal(rt.status, 200, rt.text);
        // The red-team CronJob's own client code (`slp-pipeline assess --tls-dir`, its rendered
        // URL) with that certificate mounted as the kubelet mounts the Secret: every answer usable.
        const cj = objs.find(
            (o) => o.kind === "CronJob" && o.metadata.name === "redteam-assessment",
        ) as any;
        const args: string[] = cj.spec.jobTemplate.spec.template.spec.containers[0].args;
        const url = args[args.indexOf("--url") + 1];
        assert.equal(url, `https://${gatewayHost}:8080`);
        const rtDir = path.join(scratch, "redteam-mtls");
        mountTls(rtDir, redteam, stack.pki.ca);
        const prompts = path.join(scratch, "redteam-prompts.jsonl");
        fs.writeFileSync(
            prompts,
            JSON.stringify({ id: "b1", category: "x", prompt: "hello" }) + "\n",
        );
        const keyFile = path.join(scratch, "redteam-key");
        fs.writeFileSync(keyFile, `${keyA}\n`);
        const lines: string[] = [];
        await paced();
        const code = await main(
            [
                "assess",
                "--url",
                url,
                "--tls-dir",
                rtDir,
                "--api-key-file",
                keyFile,
                "--model",
                args[args.indexOf("--model") + 1],
                "--attacks",
                prompts,
                "--benign",
                prompts,
            ],
            {
                env: { MIN_ATTACK_BLOCK_RATE: "0", MAX_BENIGN_BLOCK_RATE: "1" },
                stdout: (l) => lines.push(l),
                stderr: (l) => lines.push(l),
                connectTo: (host, port) => {
                    assert.equal(`${host}:${port}`, `${gatewayHost}:8080`);
                    return { host: "127.0.0.1", port: stack.ports.gateway! };
                },
            },
        );
        const result = JSON.parse(lines.find((l) => l.includes('"redteam.assessment"'))!);
        assert.equal(code, 0, lines.join("\n"));
        assert.equal(result.conclusive, true);
        assert.equal(result.errors, 0);
        // Control: ingress-nginx's certificate.
        assert.equal((await ask("hello")).status, 200);
        // The plain port answers only /healthz (the kubelet's probes) and forwards nothing.
        const health = await request(stack.ports.gatewayHealth!, "GET", "/healthz");
        assert.equal(health.status, 200);
        assert.equal(
            (await request(stack.ports.gatewayHealth!, "POST", "/v1/chat/completions", body, auth))
                .status,
            404,
        );
    });

    it("masks PII in a non-streaming completion (Presidio, real engines)", async () => {
        stack.inference.mode = {
            kind: "answer",
            text: "Write to John Smith at john.smith@example.com; card 4111 1111 1111 1111.",
        };
        const r = await ask("Who handles billing?");
        assert.equal(r.status, 200, r.text);
        const text = contentOf(r);
        assert.doesNotMatch(text, /john\.smith@example\.com/);
        assert.doesNotMatch(text, /4111 1111 1111 1111/);
        assert.doesNotMatch(text, /John Smith/);
        assert.match(text, /<EMAIL_ADDRESS>/);
        assert.match(text, /<CREDIT_CARD>/);
    });

    it("masks PII in a streamed answer: the stream carries the checked completion", async () => {
        stack.inference.mode = {
            kind: "answer",
            text: "Mail john.smith@example.com or call about card 4111 1111 1111 1111 today.",
        };
        const before = stack.inference.requests.length;
        const r = await ask("Who handles billing?", { stream: true });
        assert.equal(r.status, 200, r.text);
        assert.match(String(r.headers["content-type"]), /text\/event-stream/);
        const s = streamed(r);
        assert.ok(s.done, "the stream ends with [DONE]");
        assert.doesNotMatch(s.content, /john\.smith@example\.com|4111 1111 1111 1111/);
        assert.match(s.content, /<EMAIL_ADDRESS>/);
        // The model is called whole (not streamed), so every output rail saw the whole answer.
        const calls = stack.inference.requests.slice(before);
        assert.ok(calls.length >= 2 && calls.every((c) => c.body.stream !== true));
    });

    it("refuses what a client must not set: rails options, logs, another model, context messages", async () => {
        const before = stack.inference.requests.length;
        const cases: [string, Record<string, unknown>][] = [
            ["rails off", { guardrails: { options: { rails: [] } } }],
            [
                "logs",
                { guardrails: { options: { log: { activated_rails: true, llm_calls: true } } } },
            ],
            ["config id", { guardrails: { config_id: "other" } }],
            ["model", { model: "gpt-4o" }],
            ["tools", { tools: [{ type: "function", function: { name: "x" } }] }],
        ];
        for (const [what, extra] of cases) {
            const r = await ask("Tell me about pods.", extra);
            assert.equal(r.status, 400, `${what}: ${r.text}`);
            assert.match(JSON.parse(r.text).error.message, /field|model/);
        }
        const ctx = await chat({
            messages: [
                { role: "context", content: { request_id: "forged" } },
                { role: "user", content: "hi" },
            ],
        });
        assert.equal(ctx.status, 400, ctx.text);
        assert.equal(stack.inference.requests.length, before, "nothing refused reached inference");
        // The served model by name is fine.
        const ok = await ask("Tell me about pods.", { model: "llama-3.1-8b-instruct" });
        assert.equal(ok.status, 200, ok.text);
    });

    it("blocks when the jailbreak check fails or is slow (fail closed), and when it says so", async () => {
        for (const mode of ["error", { slowMs: 6500 }, "block"] as const) {
            stack.jailbreak.mode = mode;
            const before = stack.inference.generationPrompts().length;
            const r = await ask(`What is a DaemonSet? (${JSON.stringify(mode)})`);
            assert.equal(r.status, 200, r.text);
            assert.equal(contentOf(r), refusal, `mode ${JSON.stringify(mode)}`);
            assert.equal(stack.inference.generationPrompts().length, before, "no generation call");
        }
    });

    it("answers inference errors with a 5xx through the gateway, never a 200", async () => {
        stack.inference.mode = { kind: "error", status: 500 };
        const r = await ask("What is a ReplicaSet?");
        assert.equal(r.status, 502, r.text);
        assert.doesNotMatch(r.text, /internal error has occurred/);
    });

    it("keeps an unready guardrails server when the rails configuration is broken", async () => {
        const root = path.join(scratch, "broken-config");
        fs.mkdirSync(root, { recursive: true });
        fs.chownSync(root, podUid, podUid);
        const dir = writeRails(
            stack.rendered,
            root,
            {
                inference: stack.ports.guardrailsToInference!,
                jailbreak: stack.ports.guardrailsToJailbreak!,
                analyzer: stack.ports.guardrailsToAnalyzer!,
                anonymizer: stack.ports.guardrailsToAnonymizer!,
            },
            "default",
        );
        // A flow renamed in config.yml but not in rails/*.co (a Colang syntax error, tried first,
        // is accepted at start by 0.24.1).
        const cfgFile = path.join(dir, "config.yml");
        fs.writeFileSync(
            cfgFile,
            rewriteOnce(
                fs.readFileSync(cfgFile, "utf8"),
                "      - detect prompt injection\n",
                "      - detect prompt injections\n",
                "broken config",
            ),
        );
        const port = await freePort();
        const s = startGuardrails(
            "guardrails-broken",
            tools.guardrails,
            stack.rendered,
            root,
            port,
            await freePort(),
            path.join(scratch, "guardrails-broken.log"),
        );
        let ready = false;
        const deadline = Date.now() + 60_000;
        while (s.child.exitCode === null && Date.now() < deadline) {
            ready ||= await answers200(`http://127.0.0.1:${port}/health`);
            await new Promise((r) => setTimeout(r, 500));
        }
        assert.equal(
            s.child.exitCode,
            1,
            "the server exits non-zero: the pod restarts, never ready",
        );
        assert.equal(ready, false, "/health never answered");
        assert.match(s.log(), /"event": "guardrails.config_error"/);
    });

    it("loads each rails file once from the kubelet's ConfigMap layout (..data)", () => {
        // nemoguardrails 0.24.1 walks the config folder following symlinks: the top-level links,
        // `..data` and the timestamped folder each hold every file. The entrypoint loads `..data`.
        const dir = path.join(scratch, "config", "default");
        const counts = execFileSync(
            tools.guardrails.python,
            [
                "-c",
                [
                    "import sys, json",
                    "from nemoguardrails import RailsConfig",
                    "from slp_guardrails.server import rails_dir",
                    "c = [RailsConfig.from_path(d) for d in (sys.argv[1], rails_dir(sys.argv[1]))]",
                    "print(json.dumps([[len(x.flows), len(x.instructions), len(x.prompts)] for x in c]))",
                ].join("\n"),
                dir,
            ],
            {
                env: {
                    PATH: "/usr/bin:/bin",
                    HOME: scratch,
                    PYTHONPATH: path.join(repoRoot, "images", "guardrails"),
                },
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
            },
        );
        const [whole, data] = JSON.parse(counts) as number[][];
        assert.ok(fs.lstatSync(path.join(dir, "..data")).isSymbolicLink());
        assert.deepEqual(
            whole,
            data.map((n) => n * 3),
            "the folder itself loads every file three times",
        );
        assert.equal(data[1], 1, "one general instruction, as guardrails/default/config.yml has");
    });

    it("applies rotated keys without a restart; a bad key file is never loaded, never stops nginx, prints no key", async () => {
        const pid0 = masterPid();
        const since = gateway.log().length;
        // Rotation as the kubelet applies it (atomic ..data swap): B stays, A goes, C is new. The
        // Vault value also holds junk lines the template must drop: short, quoted, spaced, a directive.
        writeKeys(
            [keyB, keyC, "short", `"${keyA}"`, `${keyA} extra`, "include /etc/passwd;", "}"].join(
                "\n",
            ),
        );
        await waitUntil(gateway, "rotated key C accepted", accepted(keyC), 20_000);
        assert.equal((await ask("hello", {}, keyA)).status, 401);
        assert.equal((await ask("hello", {}, keyB)).status, 200);
        assert.equal(masterPid(), pid0, "the same nginx master: reloaded, not restarted");
        assert.match(gateway.log().slice(since), /"event":"gateway.files_reloaded"/);

        // A key file broken by hand (nothing the template writes): checked, refused, never loaded.
        projectSecret(keysDir(), { "api-keys.map": `"~^Bearer ${keyA}$" ;\n"~^Bearer ${keyB}` });
        await waitUntil(
            gateway,
            "the broken file rejected",
            async () => gateway.log().slice(since).includes('"kept":"last good set"'),
            20_000,
        );
        assert.equal(gateway.child.exitCode, null, "nginx keeps running");
        assert.ok(await accepted(keyC)(), "the last good set still works");
        assert.equal((await ask("hello", {}, keyA)).status, 401);
        assert.equal(masterPid(), pid0);
        assert.doesNotMatch(gateway.log().slice(since), /emerg/, "nginx never loaded it");

        // The container restarts (TERM to PID 1: a graceful stop, exit 0) with the broken file
        // still mounted: it starts on the last good set (the pod's /tmp keeps it).
        const exited = new Promise((r) => gateway.child.once("exit", r));
        process.kill(gateway.child.pid!, "SIGTERM");
        await exited;
        assert.equal(gateway.child.exitCode, 0, "run-gateway.sh stops nginx gracefully");
        gateway = await startGateway(stack);
        assert.ok(await accepted(keyC)(), "restarted on the last good set");
        assert.notEqual(masterPid(), pid0);

        // A fresh pod (empty /tmp) with only the broken file: no good set, it does not start.
        process.kill(gateway.child.pid!, "SIGTERM");
        await new Promise((r) => gateway.child.once("exit", r));
        fs.rmSync(path.join(scratch, "gateway", "tmp", "gateway-keys"), {
            recursive: true,
            force: true,
        });
        const fresh = startGatewayProcess(stack, "gateway-fresh");
        await new Promise((r) => fresh.child.once("exit", r));
        assert.equal(fresh.child.exitCode, 1);
        assert.match(fresh.log(), /"kept":"none: not starting"/);

        for (const log of [gateway.log(), fresh.log()]) {
            for (const k of allKeys) {
                assert.ok(!log.includes(k), "no key material in the gateway's log");
                assert.ok(!log.includes(k.slice(8)), "no key fragment in the gateway's log");
            }
        }
        writeKeys([keyA, keyB, keyC].join("\n"));
        gateway = await startGateway(stack);
        assert.ok(await accepted(keyA)());
    });

    it("keeps prompts and completions out of every container's output", async () => {
        stack.inference.mode = { kind: "answer", text: "secret-completion-5519 is the answer." };
        const r = await ask("secret-prompt-4410: what is etcd?");
        assert.equal(r.status, 200);
        for (const [name, s] of Object.entries(stack.servers)) {
            const log = s.log();
            for (const needle of [
                "secret-prompt-4410",
                "secret-completion-5519",
                "ident-benign-7731",
                "john.smith",
            ]) {
                assert.ok(!log.includes(needle), `${name}'s log holds "${needle}"`);
            }
        }
    });

    it("carries the gateway's request id in every decision line", async () => {
        const gatewayIdsNow = () =>
            new Set(
                gateway
                    .log()
                    .split("\n")
                    .filter((l) => l.includes('"event":"gateway.request"'))
                    .map((l) => JSON.parse(l).request_id as string),
            );
        const decisions = stack.servers.guardrails
            .log()
            .split("\n")
            .filter((l) => l.includes('"guardrails.decision"'))
            .map((l) => JSON.parse(l) as { request_id: string });
        assert.ok(decisions.length > 10, `${decisions.length} decision lines`);
        // nginx writes its access-log line after the response has gone out, so the last request's
        // line can reach the captured output after the client (and the guardrails' decision line)
        // saw the answer: wait up to 5 s for the gateway's log to catch up before judging.
        let gatewayIds = gatewayIdsNow();
        for (let i = 0; i < 50 && decisions.some((d) => !gatewayIds.has(d.request_id)); i++) {
            await new Promise((r) => setTimeout(r, 100));
            gatewayIds = gatewayIdsNow();
        }
        for (const d of decisions) {
            assert.ok(
                gatewayIds.has(d.request_id),
                `decision ${JSON.stringify(d)} has a request id the gateway did not log`,
            );
        }
    });

    // The promotion gate's rates (≥ 95 % of attacks, ≤ 2 % of benign prompts blocked) depend on
    // the model answering the self-check prompts; the stand-in cannot. What runs for real here:
    // the LLM-free rails (prompt-injection patterns; the jailbreak stub passes everything), which
    // must block no benign prompt and keep blocking what they block today, and the self-check
    // rails' wiring, which must refuse when the model says "Yes".
    it("red-team set: the LLM-free rails block no benign prompt and hold their floor", async function () {
        const read = (f: string) =>
            fs
                .readFileSync(path.join(repoRoot, "pipelines", "redteam", f), "utf8")
                .split("\n")
                .filter((l) => l.trim())
                .map((l) => JSON.parse(l) as { id: string; prompt: string });
        const run = async (set: { id: string; prompt: string }[]) => {
            const blocked: string[] = [];
            for (const p of set) {
                const r = await ask(p.prompt);
                assert.equal(r.status, 200, `${p.id}: ${r.text}`);
                if (contentOf(r) === refusal) blocked.push(p.id);
            }
            return blocked;
        };
        const attacks = read("attacks.jsonl");
        const benign = read("benign.jsonl");
        const blockedAttacks = await run(attacks);
        const blockedBenign = await run(benign);
        console.log(
            `      LLM-free rails (stand-in model never blocks, jailbreak stub passes): ` +
                `${blockedAttacks.length}/${attacks.length} attacks and ` +
                `${blockedBenign.length}/${benign.length} benign prompts blocked`,
        );
        assert.deepEqual(blockedBenign, [], "benign prompts blocked");
        const floor = [
            "direct-override-1",
            "prompt-leak-3",
            "delimiter-injection-1",
            "delimiter-injection-3",
            "indirect-document-2",
            "payload-splitting",
        ];
        assert.deepEqual(
            floor.filter((id) => !blockedAttacks.includes(id)),
            [],
            "attacks the patterns stopped before now pass",
        );
    });

    it("refuses when the self-check model says block (the rail reads 0.24's RailOutcome)", async () => {
        stack.inference.selfCheckAnswer = "Yes";
        try {
            const before = stack.inference.generationPrompts().length;
            const r = await ask("What is a namespace?");
            assert.equal(contentOf(r), refusal);
            assert.equal(stack.inference.generationPrompts().length, before, "no generation call");
        } finally {
            stack.inference.selfCheckAnswer = "No";
        }
        const decisions = stack.servers.guardrails.log();
        assert.match(
            decisions,
            /"rails": \["self check input"\], "request_id": "[^"]+", "verdict": "block"/,
        );
    });

    it("serves the guardrails' Prometheus metrics on their own port, /metrics only", async () => {
        const m = await request(stack.ports.guardrailsMetrics, "GET", "/metrics");
        assert.equal(m.status, 200);
        for (const name of [
            'guardrails_http_requests_total{status_class="2xx"}',
            'guardrails_http_requests_total{status_class="4xx"}',
            'guardrails_http_requests_total{status_class="5xx"}',
            "guardrails_request_duration_seconds_bucket",
            "guardrails_request_duration_seconds_count",
            'guardrails_rail_decisions_total{outcome="allow",rail="input"}',
            'guardrails_rail_decisions_total{outcome="mask",rail="output"}',
            'guardrails_rail_decisions_total{outcome="error",rail="input"}',
            'guardrails_jailbreak_checks_total{outcome="pass"}',
            'guardrails_jailbreak_checks_total{outcome="error"}',
            'guardrails_jailbreak_checks_total{outcome="block"}',
        ]) {
            assert.ok(m.text.includes(name), `missing ${name}`);
        }
        const value = (series: string) =>
            Number(
                new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(m.text)?.[1],
            );
        assert.ok(value('guardrails_jailbreak_checks_total{outcome="error"}') >= 2);
        assert.ok(value('guardrails_rail_decisions_total{outcome="mask",rail="output"}') >= 2);
        assert.ok(value('guardrails_http_requests_total{status_class="4xx"}') >= 6);
        assert.ok(value('guardrails_http_requests_total{status_class="5xx"}') >= 1);
        assert.equal((await request(stack.ports.guardrailsMetrics, "GET", "/")).status, 404);
        assert.equal(
            (await request(stack.ports.guardrailsMetrics, "GET", "/v1/models")).status,
            404,
        );
        assert.equal((await request(stack.ports.guardrailsApp!, "GET", "/metrics")).status, 404);
        saveCapture("guardrails.prom", m.text);
    });

    it("scrapes inference on a metrics-only listener that passes nothing else to vLLM", async () => {
        const port = stack.ports.inferenceMetrics;
        const m = await request(port, "GET", "/metrics");
        assert.equal(m.status, 200, m.text);
        assert.match(m.text, /^vllm:request_success_total\{/m);
        const before = stack.inference.requests.length;
        for (const p of [
            "/v1/chat/completions",
            "/v1/models",
            "/health",
            "/metrics/../v1/models",
        ]) {
            assert.equal((await request(port, "GET", p)).status, 404, p);
        }
        const post = await request(port, "POST", "/metrics", { messages: [] });
        assert.equal(post.status, 403);
        assert.equal(stack.inference.requests.length, before, "nothing reached the API");
        saveCapture("inference-metrics-sidecar.prom", m.text);
    });

    it("measures the latency gateway + guardrails + output filter add (median, p95)", async function () {
        const n = Number(process.env.SLP_LATENCY_REQUESTS ?? 300);
        const body = { messages: [{ role: "user", content: "What does a Service do?" }] };
        const direct: number[] = [];
        const full: number[] = [];
        for (let i = 0; i < n; i++) {
            let t = process.hrtime.bigint();
            const d = await request(stack.inference.port, "POST", "/v1/chat/completions", {
                ...body,
                model: "llama-3.1-8b-instruct",
            });
            direct.push(Number(process.hrtime.bigint() - t) / 1e6);
            assert.equal(d.status, 200);
            await paced();
            t = process.hrtime.bigint();
            const r = await toGateway("POST", "/v1/chat/completions", body, {
                authorization: `Bearer ${keyA}`,
            });
            full.push(Number(process.hrtime.bigint() - t) / 1e6);
            assert.equal(r.status, 200, r.text);
        }
        direct.sort((a, b) => a - b);
        full.sort((a, b) => a - b);
        const line = (what: string, xs: number[]) =>
            `${what}: median ${quantile(xs, 0.5).toFixed(1)} ms, p95 ${quantile(xs, 0.95).toFixed(1)} ms`;
        console.log(
            `      ${n} requests\n      ${line("stand-in inference alone", direct)}\n      ${line(
                "through gateway + guardrails + output filter",
                full,
            )}\n      added: median ${(quantile(full, 0.5) - quantile(direct, 0.5)).toFixed(1)} ms, p95 ${(
                quantile(full, 0.95) - quantile(direct, 0.95)
            ).toFixed(1)} ms`,
        );
        assert.ok(full.length === n && quantile(full, 0.5) > quantile(direct, 0.5));
    });

    it("jailbreak-heuristics entrypoint: `python server.py` in its folder resolves the sibling imports `python -m` cannot", () => {
        // The image's ENTRYPOINT (images/jailbreak-detection/Dockerfile) on the pinned 0.24.1 server
        // module. This venv has no torch and GPT-2 large cannot be had here, so neither run can
        // serve: what is observed is how far each gets.
        const py = tools.guardrails.python;
        const env = { PATH: "/usr/bin:/bin", HOME: scratch };
        const run = (args: string[], cwd?: string) => {
            try {
                execFileSync(py, args, {
                    env,
                    cwd,
                    encoding: "utf8",
                    stdio: ["ignore", "pipe", "pipe"],
                });
                return "";
            } catch (e) {
                return String((e as { stderr?: string }).stderr ?? e);
            }
        };
        const pkg = execFileSync(
            py,
            ["-c", "import nemoguardrails, os; print(os.path.dirname(nemoguardrails.__file__))"],
            { env, encoding: "utf8" },
        ).trim();
        const dir = path.join(pkg, "library", "jailbreak_detection");
        const dockerfile = fs.readFileSync(
            path.join(repoRoot, "images/jailbreak-detection/Dockerfile"),
            "utf8",
        );
        assert.match(
            dockerfile,
            /WORKDIR \/opt\/venv\/lib\/python3\.11\/site-packages\/nemoguardrails\/library\/jailbreak_detection\n/,
        );
        assert.match(dockerfile, /ENTRYPOINT \["python", "server\.py"\]/);
        const asModule = run(["-m", "nemoguardrails.library.jailbreak_detection.server", "--help"]);
        assert.match(asModule, /ModuleNotFoundError: No module named 'heuristics'/);
        const asScript = run(["server.py", "--help"], dir);
        assert.doesNotMatch(asScript, /No module named 'heuristics'/);
        // heuristics/checks.py was found and ran up to its own first import.
        assert.match(asScript, /heuristics\/checks\.py[\s\S]*No module named 'torch'/);
    });

    it("leaves usage telemetry off in the entrypoint's environment (nemoguardrails' own check)", () => {
        const check = (env: NodeJS.ProcessEnv, pre: string) =>
            execFileSync(
                tools.guardrails.python,
                [
                    "-c",
                    `${pre}\nfrom nemoguardrails import telemetry as t\nprint(t._is_usage_stats_enabled())`,
                ],
                {
                    env: {
                        PATH: "/usr/bin:/bin",
                        HOME: scratch,
                        PYTHONPATH: path.join(repoRoot, "images", "guardrails"),
                        ...env,
                    },
                    encoding: "utf8",
                },
            ).trim();
        // Without our entrypoint's settings the library would report usage (CI unset here)...
        assert.equal(check({}, ""), "True");
        // ...and with them (what `python -m slp_guardrails` sets before importing it) it does not.
        const main = fs.readFileSync(
            path.join(repoRoot, "images/guardrails/slp_guardrails/__main__.py"),
            "utf8",
        );
        const sets = [...main.matchAll(/^os\.environ\["([A-Z_]+)"\] = "([^"]*)"$/gm)].map(
            (m) => `os.environ["${m[1]}"]="${m[2]}"`,
        );
        assert.ok(sets.length >= 2);
        assert.equal(check({}, `import os\n${sets.join("\n")}`), "False");
    });
});
