/**
 * Remote inference over mTLS (issue 16) on the real servers, with the hybrid stack's files exactly
 * as the plan renders them: a request with onprem-fra's gateway certificate → onprem-fra's
 * guardrails mTLS sidecar (`guardrails-mtls-nginx`) → our guardrails entrypoint (nemoguardrails
 * 0.24.1, onprem-fra's rails, whose model base URL is the sidecar on loopback) → the sidecar's
 * uplink listener → TLS 1.3 with the pulled client certificate → the entry's nginx (cloud-fra's
 * `inference-entry-nginx`) → mTLS → inference's sidecar → the inference stand-in (vLLM's API; no
 * GPU here). Presidio runs behind its own sidecars for the output rails; the jailbreak-heuristics
 * server is the stub of stack.ts. Every nginx runs under its rendered run script.
 *
 * Certificates are made here with openssl from the rendered cert-manager Certificate objects
 * (names, addresses, usages), one CA per cluster: cert-manager itself and the delivery through OCI
 * Vault (PushSecret → ExternalSecret) do not run here. Rewrites are only what cannot exist on this
 * machine (stack.ts `forHost`): every listen and upstream address → 127.0.0.1:<free port>, mounted
 * paths and /tmp → the scratch folder. */
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { scratchDir } from "../support/env";
import { K8sObject, findObject, manifests } from "../support/plan";
import { Started, portOpen, stopAll, waitUntil } from "../support/proc";
import { Issued, Pki, issue, makeCa } from "./pki";
import {
    Sidecar,
    answers200,
    closeStandins,
    install,
    local,
    podDir,
    startGuardrails,
    startJailbreakStub,
    startPresidio,
    startSidecar,
    writeRails,
} from "./stack";
import { StandinInference, startStandinInference } from "./standin-inference";

type Any = any;

const stack = "hybrid";
const serving = "cloud-fra";
const calling = "onprem-fra";

interface Reply {
    readonly status: number;
    readonly text: string;
}

/** A request straight to the entry over TLS, presenting `client` (or no certificate). */
function toEntry(
    port: number,
    ca: Issued,
    servername: string,
    client: Issued | undefined,
    method: string,
    urlPath: string,
    body?: unknown,
): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request(
            {
                host: "127.0.0.1",
                port,
                method,
                path: urlPath,
                servername,
                ca: fs.readFileSync(ca.cert),
                ...(client
                    ? { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) }
                    : {}),
                headers: data ? { "content-type": "application/json" } : {},
                agent: false,
            },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
            },
        );
        req.on("error", reject);
        req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
        req.end(data);
    });
}

function post(port: number, urlPath: string, body: unknown): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = http.request(
            {
                host: "127.0.0.1",
                port,
                method: "POST",
                path: urlPath,
                headers: { "content-type": "application/json" },
            },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
            },
        );
        req.on("error", reject);
        req.setTimeout(120_000, () => req.destroy(new Error(`POST ${urlPath} timed out`)));
        req.end(data);
    });
}

const container = (d: K8sObject, name: string) =>
    ((d as Any).spec.template.spec.containers as Any[]).find((c) => c.name === name);

describe("remote inference over mTLS on the real servers (guardrails 0.24.1 → its mTLS sidecar → entry nginx → inference's sidecar)", function () {
    let scratch: string;
    let inference: StandinInference;
    let ca: Issued;
    let client: Issued;
    let gatewayCert: Issued;
    let siteCa: Issued;
    let a: Record<string, string>;
    let ports: Record<string, number>;
    let entry: Sidecar;
    let inferenceSidecar: Sidecar;
    let entryName: string;
    let model: string;
    let site: K8sObject[];
    const others: Record<string, Issued> = {};
    /** The guardrails sidecar's addresses, for a second copy dialling an impostor. */
    let siteAddresses: Record<string, string>;
    let siteMounts: Record<string, string>;

    before(async function () {
        const tools = install();
        scratch = scratchDir("mtls");
        podDir(scratch);
        fs.chmodSync(scratch, 0o755);
        const cloud = manifests(stack, serving);
        site = manifests(stack, calling);
        // Each cluster's CA, and every leaf from its rendered Certificates.
        const cloudPki = new Pki(path.join(scratch, "pki-cloud"), serving);
        const sitePki = new Pki(path.join(scratch, "pki-site"), calling);
        ca = cloudPki.ca;
        siteCa = sitePki.ca;
        const dir = (...p: string[]) => podDir(path.join(scratch, ...p));
        const entrySpec = Pki.spec(cloud, "inference-entry-server", "llm-inference");
        entryName = entrySpec.dnsNames[0];
        cloudPki.mount(cloud, "inference-entry-server", "llm-inference", dir("entry", "remote"));
        cloudPki.mount(cloud, "inference-entry-mtls", "llm-inference", dir("entry", "tls"));
        cloudPki.mount(cloud, "inference-mtls", "llm-inference", dir("inference", "tls"));
        // The bundle the PushSecret → ExternalSecret chain delivers to the calling cluster.
        client = cloudPki.mount(
            cloud,
            `guardrails-client-${calling}`,
            "llm-inference",
            dir("guardrails", "remote"),
        );
        sitePki.mount(site, "guardrails-mtls", "llm-guardrails", dir("guardrails", "tls"));
        for (const id of ["presidio-analyzer", "presidio-anonymizer"]) {
            sitePki.mount(site, `${id}-mtls`, "llm-output-filter", dir(id, "tls"));
        }
        sitePki.mount(site, "jailbreak-detection-mtls", "llm-guardrails", dir("jailbreak", "tls"));
        gatewayCert = sitePki.issue("gateway", Pki.spec(site, "gateway-mtls", "llm-gateway"));
        // Refusal material: another CA's client certificate with the right name, and one of the
        // serving CA for another name.
        const pki = dir("pki-other");
        const otherCa = makeCa(pki, "other-ca", "some other CA");
        const clientSpec = Pki.spec(cloud, `guardrails-client-${calling}`, "llm-inference");
        others.otherCa = issue(pki, "other-ca-client", otherCa, clientSpec);
        others.otherName = cloudPki.issue("other-name", {
            ...clientSpec,
            commonName: "guardrails.somewhere-else",
        });

        model = (
            container(findObject(cloud, "Deployment", "inference", "llm-inference"), "vllm")
                .args as string[]
        ).find((_, i, xs) => xs[i - 1] === "--served-model-name")!;
        inference = await startStandinInference(model);
        const jailbreak = await startJailbreakStub();
        a = {};
        for (const k of [
            "entry",
            "entryHealth",
            "inference",
            "inferenceHealth",
            "guardrails",
            "guardrailsApp",
            "guardrailsHealth",
            "uplink",
            "toAnalyzer",
            "toAnonymizer",
            "guardrailsMetrics",
            "analyzer",
            "analyzerApp",
            "analyzerHealth",
            "anonymizer",
            "anonymizerApp",
            "anonymizerHealth",
            "toJailbreak",
            "jailbreak",
            "jailbreakHealth",
        ]) {
            a[k] = await local();
        }
        ports = Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Number(v.split(":")[1])]));
        const log = (n: string) => path.join(scratch, `${n}.log`);
        const inferenceSvc = "inference.llm-inference.svc.cluster.local:8000";

        // cloud-fra: inference's sidecar in front of the stand-in, and the entry.
        inferenceSidecar = startSidecar({
            name: "inference-mtls",
            objects: cloud,
            namespace: "llm-inference",
            configMap: "inference-mtls-nginx",
            deployment: "inference",
            container: "mtls",
            root: path.join(scratch, "inference"),
            addresses: {
                "8000": a.inference!,
                "127.0.0.1:8010": `127.0.0.1:${inference.port}`,
                "8081": a.inferenceHealth!,
            },
            mounts: { "/etc/mtls/tls": path.join(scratch, "inference", "tls") },
        });
        entry = startSidecar({
            name: "inference-entry",
            objects: cloud,
            namespace: "llm-inference",
            configMap: "inference-entry-nginx",
            deployment: "inference-entry",
            container: "entry",
            root: path.join(scratch, "entry"),
            addresses: { "8443": a.entry!, "8081": a.entryHealth!, [inferenceSvc]: a.inference! },
            mounts: {
                "/etc/mtls/remote": path.join(scratch, "entry", "remote"),
                "/etc/mtls/tls": path.join(scratch, "entry", "tls"),
            },
        });

        // onprem-fra: Presidio behind its sidecars, the guardrails behind theirs.
        const servers: Record<string, Started> = {};
        for (const which of ["analyzer", "anonymizer"] as const) {
            servers[which] = startPresidio(which, {
                python: tools.presidio.python,
                objects: site,
                scratch,
                addresses: a,
                tlsDir: path.join(scratch, `presidio-${which}`, "tls"),
            }).server;
        }
        // The jailbreak heuristics stub behind the rendered jailbreak-detection sidecar.
        const jailbreakSidecar = startSidecar({
            name: "jailbreak-detection-mtls",
            objects: site,
            namespace: "llm-guardrails",
            configMap: "jailbreak-detection-mtls-nginx",
            deployment: "jailbreak-detection",
            container: "mtls",
            root: path.join(scratch, "jailbreak"),
            addresses: {
                "1337": a.jailbreak!,
                "127.0.0.1:8010": `127.0.0.1:${jailbreak.port}`,
                "8081": a.jailbreakHealth!,
            },
            mounts: { "/etc/mtls/tls": path.join(scratch, "jailbreak", "tls") },
        });
        servers.jailbreak = jailbreakSidecar.started;
        const guardrails = findObject(site, "Deployment", "guardrails", "llm-guardrails");
        const railsMap = findObject(site, "ConfigMap", "guardrails-rails", "llm-guardrails");
        const configId = (container(guardrails, "guardrails").args as string[])
            .find((x) => x.startsWith("--config-id="))!
            .slice("--config-id=".length);
        const configRoot = podDir(path.join(scratch, "config"));
        writeRails(
            { guardrails, railsConfigMap: railsMap },
            configRoot,
            {
                inference: ports.uplink!,
                jailbreak: ports.toJailbreak!,
                analyzer: ports.toAnalyzer!,
                anonymizer: ports.toAnonymizer!,
            },
            configId,
        );
        servers.guardrails = startGuardrails(
            "guardrails",
            tools.guardrails,
            { guardrails } as Any,
            configRoot,
            ports.guardrailsApp!,
            ports.guardrailsMetrics!,
            log("guardrails"),
        );
        siteAddresses = {
            "8000": a.guardrails!,
            "127.0.0.1:8010": a.guardrailsApp!,
            "8081": a.guardrailsHealth!,
            "127.0.0.1:8001": a.uplink!,
            "127.0.0.1:8003": a.toAnalyzer!,
            "127.0.0.1:8004": a.toAnonymizer!,
            "127.0.0.1:8005": a.toJailbreak!,
            "jailbreak-detection.llm-guardrails.svc.cluster.local:1337": a.jailbreak!,
            "10.40.4.20:8443": a.entry!,
            "presidio-analyzer.llm-output-filter.svc.cluster.local:3000": a.analyzer!,
            "presidio-anonymizer.llm-output-filter.svc.cluster.local:3000": a.anonymizer!,
        };
        siteMounts = {
            "/etc/mtls/tls": path.join(scratch, "guardrails", "tls"),
            "/etc/mtls/remote": path.join(scratch, "guardrails", "remote"),
        };
        const sidecar = startSidecar({
            name: "guardrails-mtls",
            objects: site,
            namespace: "llm-guardrails",
            configMap: "guardrails-mtls-nginx",
            deployment: "guardrails",
            container: "mtls",
            root: path.join(scratch, "guardrails"),
            addresses: siteAddresses,
            mounts: siteMounts,
        });
        await waitUntil(entry.started, "the entry's TLS listener", () => portOpen(ports.entry!));
        await waitUntil(inferenceSidecar.started, "inference's /health", () =>
            answers200(`http://127.0.0.1:${ports.inferenceHealth}/health`),
        );
        await waitUntil(sidecar.started, "the uplink's listener", () => portOpen(ports.uplink!));
        for (const which of ["analyzer", "anonymizer"]) {
            await waitUntil(
                servers[which]!,
                "/health",
                () => answers200(`http://127.0.0.1:${ports[`${which}Health`]}/health`),
                120_000,
            );
        }
        await waitUntil(
            servers.guardrails,
            "/health",
            () => answers200(`http://127.0.0.1:${ports.guardrailsHealth}/health`),
            180_000,
        );
        // Close the stubs with the suite.
        after(() => jailbreak.close());
    });

    after(async function () {
        await stopAll();
        await inference?.close();
        await closeStandins();
        if (scratch && process.env.SLP_KEEP_SCRATCH !== "1") {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    });

    beforeEach(() => {
        inference.mode = { kind: "answer", text: "Pods are scheduled by the kube-scheduler." };
    });

    it("answers a request through the guardrails, the uplink and the mTLS entry", async () => {
        const before = inference.generationPrompts().length;
        const seen = inference.requests.length;
        // As the gateway calls it: its certificate to the guardrails' mTLS listener.
        const r = await toEntry(
            ports.guardrails!,
            siteCa,
            "guardrails.llm-guardrails.svc.cluster.local",
            gatewayCert,
            "POST",
            "/v1/chat/completions",
            {
                messages: [
                    { role: "user", content: "Which component schedules pods? ident-mtls-4410" },
                ],
            },
        );
        assert.equal(r.status, 200, r.text);
        assert.equal(
            JSON.parse(r.text).choices[0].message.content,
            "Pods are scheduled by the kube-scheduler.",
        );
        const reached = inference.generationPrompts().slice(before);
        assert.equal(reached.length, 1, "one generation call reached inference");
        assert.match(reached[0]!, /ident-mtls-4410/);
        // Every model call of the rails (self-checks included) went through the entry, verified.
        const calls = inference.requests.length - seen;
        const audit = (s: Sidecar) =>
            s.started
                .log()
                .split("\n")
                .filter((l) => l.includes('"event":"mtls.request"'))
                .map((l) => JSON.parse(l.slice(l.indexOf("{"))));
        const lines = audit(entry).filter((l) => l.listener === "inference-entry");
        const verified = lines.filter(
            (l) =>
                l.verify === "SUCCESS" &&
                l.client === `CN=guardrails.${calling}` &&
                l.status === 200,
        );
        assert.ok(
            calls >= 1 && verified.length >= calls,
            `${calls} call(s), ${verified.length} verified line(s)`,
        );
        // ...and on to inference's sidecar with the entry's own identity.
        const atInference = audit(inferenceSidecar).filter(
            (l) =>
                l.verify === "SUCCESS" &&
                l.client === "CN=inference-entry.llm-inference.svc.cluster.local" &&
                l.status === 200,
        );
        assert.ok(atInference.length >= calls, `${atInference.length} line(s) at inference`);
    });

    it("refuses a connection without a client certificate (nothing reaches inference)", async () => {
        const seen = inference.requests.length;
        const r = await toEntry(
            ports.entry,
            ca,
            entryName,
            undefined,
            "POST",
            "/v1/chat/completions",
            {
                messages: [{ role: "user", content: "hi" }],
            },
        );
        assert.equal(r.status, 400);
        assert.match(r.text, /No required SSL certificate was sent/);
        assert.equal(inference.requests.length, seen);
    });

    it("refuses a client certificate from another CA, even with the right name", async () => {
        const seen = inference.requests.length;
        const r = await toEntry(
            ports.entry,
            ca,
            entryName,
            others.otherCa,
            "POST",
            "/v1/chat/completions",
            {
                messages: [{ role: "user", content: "hi" }],
            },
        );
        assert.equal(r.status, 400);
        assert.match(r.text, /The SSL certificate error/);
        assert.equal(inference.requests.length, seen);
    });

    it("refuses a certificate of the platform's CA issued to another name", async () => {
        const seen = inference.requests.length;
        const r = await toEntry(
            ports.entry,
            ca,
            entryName,
            others.otherName,
            "POST",
            "/v1/chat/completions",
            {
                messages: [{ role: "user", content: "hi" }],
            },
        );
        assert.equal(r.status, 403);
        assert.equal(inference.requests.length, seen);
    });

    it("with the right certificate, refuses every path and method but POST /v1/chat/completions", async () => {
        const seen = inference.requests.length;
        for (const [method, p, status] of [
            ["GET", "/v1/models", 404],
            ["POST", "/v1/completions", 404],
            ["GET", "/metrics", 404],
            ["POST", "/v1/chat/completions/../../metrics", 404],
            ["GET", "/v1/chat/completions", 403],
        ] as const) {
            const r = await toEntry(
                ports.entry,
                ca,
                entryName,
                client,
                method,
                p,
                method === "POST" ? {} : undefined,
            );
            assert.equal(r.status, status, `${method} ${p}`);
        }
        assert.equal(inference.requests.length, seen, "nothing reached inference");
        // The same certificate on the one forwarded path does reach it.
        const ok = await toEntry(
            ports.entry,
            ca,
            entryName,
            client,
            "POST",
            "/v1/chat/completions",
            {
                model,
                messages: [{ role: "user", content: "hi" }],
            },
        );
        assert.equal(ok.status, 200, ok.text);
        assert.equal(inference.requests.length, seen + 1);
    });

    it("the uplink forwards only chat completions and is the guardrails' only way to the entry", async () => {
        const seen = inference.requests.length;
        const r = await post(ports.uplink, "/v1/completions", { prompt: "hi" });
        assert.equal(r.status, 404);
        assert.equal(inference.requests.length, seen);
    });

    it("the uplink refuses an entry whose certificate is not from the platform's CA", async () => {
        // An impostor at the entry's address, with the right name from another CA.
        const pki = path.join(scratch, "pki-other");
        const impostorCert = issue(pki, "impostor", makeCa(pki, "impostor-ca", "impostor CA"), {
            commonName: entryName,
            dnsNames: [entryName],
            usages: ["server auth"],
        });
        let reached = 0;
        const impostor = https.createServer(
            { key: fs.readFileSync(impostorCert.key), cert: fs.readFileSync(impostorCert.cert) },
            (_req, res) => {
                reached++;
                res.writeHead(200, { "content-type": "application/json" }).end("{}");
            },
        );
        await new Promise<void>((r) => impostor.listen(0, "127.0.0.1", r));
        const impostorPort = (impostor.address() as { port: number }).port;
        // A second copy of onprem-fra's guardrails sidecar, the entry's address at the impostor.
        const addresses: Record<string, string> = {};
        for (const k of Object.keys(siteAddresses)) addresses[k] = await local();
        addresses["10.40.4.20:8443"] = `127.0.0.1:${impostorPort}`;
        const port = Number(addresses["127.0.0.1:8001"]!.split(":")[1]);
        const copy = startSidecar({
            name: "uplink-to-impostor",
            objects: site,
            namespace: "llm-guardrails",
            configMap: "guardrails-mtls-nginx",
            deployment: "guardrails",
            container: "mtls",
            root: path.join(scratch, "guardrails-impostor"),
            addresses,
            mounts: siteMounts,
        });
        const s2 = copy.started;
        try {
            await waitUntil(s2, "the uplink's listener", () => portOpen(port));
            const r = await post(port, "/v1/chat/completions", {
                messages: [{ role: "user", content: "hi" }],
            });
            assert.equal(r.status, 502, r.text);
            assert.equal(reached, 0, "no request reached the impostor");
            assert.match(s2.log(), /upstream SSL certificate verify error/);
        } finally {
            impostor.closeAllConnections();
            impostor.close();
        }
    });
});
