/**
 * Remote inference over mTLS (issue 16) on the real servers, with the hybrid stack's files exactly
 * as the plan renders them: our guardrails entrypoint (nemoguardrails 0.24.1, onprem-fra's rails,
 * whose model base URL is the uplink on loopback) → the uplink sidecar's nginx (onprem-fra's
 * `guardrails-uplink-nginx`) → TLS 1.3 with a client certificate → the entry's nginx (cloud-fra's
 * `inference-entry-nginx`) → the inference stand-in (vLLM's API; no GPU here). Presidio runs for
 * the output rails; the jailbreak-heuristics server is the stub of stack.ts.
 *
 * Certificates are made here with openssl from the rendered cert-manager Certificate objects
 * (names, addresses, usages): cert-manager itself and the delivery through OCI Vault (PushSecret →
 * ExternalSecret) do not run here. Rewrites are only what cannot exist on this machine: the
 * load balancer's address and the in-cluster inference name → 127.0.0.1:<free port>, mounted
 * paths and /tmp → the scratch folder.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { scratchDir } from "../support/env";
import { K8sObject, findObject, manifests } from "../support/plan";
import { Started, freePort, portOpen, start, stopAll, waitUntil } from "../support/proc";
import {
    answers200,
    closeStandins,
    install,
    podDir,
    rewriteOnce,
    startGuardrails,
    startJailbreakStub,
    startNginx,
    writeForPod,
} from "./stack";
import { StandinInference, startStandinInference } from "./standin-inference";

type Any = any;

const stack = "hybrid";
const serving = "cloud-fra";
const calling = "onprem-fra";

/** A TLS key and certificate made by openssl, as cert-manager would issue it from `spec`. */
interface Issued {
    readonly key: string;
    readonly cert: string;
}

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
}

/** A self-signed CA (ECDSA P-256, like the rendered CA Certificate's privateKey). */
function makeCa(dir: string, name: string, cn: string): Issued {
    const key = path.join(dir, `${name}.key`);
    const cert = path.join(dir, `${name}.crt`);
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], dir);
    openssl(
        [
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            `/CN=${cn}`,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
    return { key, cert };
}

/** A leaf signed by `ca` with the subject, SANs and usages of a rendered Certificate's spec. */
function issue(dir: string, name: string, ca: Issued, spec: Any): Issued {
    const key = path.join(dir, `${name}.key`);
    const csr = path.join(dir, `${name}.csr`);
    const cert = path.join(dir, `${name}.crt`);
    const ext = path.join(dir, `${name}.ext`);
    const eku = (spec.usages as string[])
        .filter((u) => u.endsWith(" auth"))
        .map((u) => (u === "server auth" ? "serverAuth" : "clientAuth"));
    const sans = [
        ...((spec.dnsNames as string[] | undefined) ?? []).map((d) => `DNS:${d}`),
        ...((spec.ipAddresses as string[] | undefined) ?? []).map((a) => `IP:${a}`),
    ];
    fs.writeFileSync(
        ext,
        [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            `extendedKeyUsage=${eku.join(",")}`,
            ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
        ].join("\n"),
    );
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], dir);
    openssl(["req", "-new", "-key", key, "-out", csr, "-subj", `/CN=${spec.commonName}`], dir);
    openssl(
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca.cert,
            "-CAkey",
            ca.key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            ext,
        ],
        dir,
    );
    return { key, cert };
}

/** Writes a Secret as the kubelet mounts it (tls.crt, tls.key, ca.crt) into `dir`, for the pod user. */
function mountTls(dir: string, leaf: Issued, ca: Issued): void {
    podDir(dir);
    writeForPod(path.join(dir, "tls.crt"), fs.readFileSync(leaf.cert, "utf8"));
    writeForPod(path.join(dir, "tls.key"), fs.readFileSync(leaf.key, "utf8"));
    writeForPod(path.join(dir, "ca.crt"), fs.readFileSync(ca.cert, "utf8"));
    fs.chmodSync(path.join(dir, "tls.key"), 0o600);
}

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
        req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
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
const configMapText = (objs: K8sObject[], ns: string, name: string) =>
    (findObject(objs, "ConfigMap", name, ns) as Any).data["nginx.conf"] as string;

describe("remote inference over mTLS on the real servers (guardrails 0.24.1 → uplink nginx → entry nginx)", function () {
    let scratch: string;
    let inference: StandinInference;
    let ca: Issued;
    let client: Issued;
    let ports: Record<string, number>;
    let entry: Started;
    let entryName: string;
    let model: string;
    const others: Record<string, Issued> = {};
    /** The uplink's rendered conf with only the scratch paths rewritten, and its command. */
    let uplinkBase: { conf: string; command: string[]; root: string };

    before(async function () {
        const tools = install();
        scratch = scratchDir("mtls");
        podDir(scratch);
        fs.chmodSync(scratch, 0o755);
        const cloud = manifests(stack, serving);
        const site = manifests(stack, calling);
        const cert = (name: string) =>
            (findObject(cloud, "Certificate", name, "llm-inference") as Any).spec;
        const pki = podDir(path.join(scratch, "pki"));
        // The CA and the leaves, from the rendered Certificates.
        ca = makeCa(pki, "ca", "test inference entry CA");
        const serverSpec = cert("inference-entry-server");
        entryName = serverSpec.dnsNames[0];
        const server = issue(pki, "server", ca, serverSpec);
        client = issue(pki, "client", ca, cert(`guardrails-client-${calling}`));
        // Refusal material: another CA's client certificate with the right name, and one of our
        // CA with another name.
        const otherCa = makeCa(pki, "other-ca", "some other CA");
        others.otherCa = issue(
            pki,
            "other-ca-client",
            otherCa,
            cert(`guardrails-client-${calling}`),
        );
        others.otherName = issue(pki, "other-name", ca, {
            ...cert(`guardrails-client-${calling}`),
            commonName: "guardrails.somewhere-else",
        });

        model = (
            container(findObject(cloud, "Deployment", "inference", "llm-inference"), "vllm")
                .args as string[]
        ).find((_, i, a) => a[i - 1] === "--served-model-name")!;
        inference = await startStandinInference(model);
        const jailbreak = await startJailbreakStub();
        ports = {
            entry: await freePort(),
            entryHealth: await freePort(),
            uplink: await freePort(),
            uplinkHealth: await freePort(),
            analyzer: await freePort(),
            anonymizer: await freePort(),
            guardrails: await freePort(),
            guardrailsMetrics: await freePort(),
        };
        const log = (n: string) => path.join(scratch, `${n}.log`);

        // The entry (cloud-fra), its Secret mounted as the Deployment mounts it.
        const eRoot = podDir(path.join(scratch, "entry"));
        mountTls(path.join(eRoot, "tls"), server, ca);
        let econf = configMapText(cloud, "llm-inference", "inference-entry-nginx");
        econf = econf.replace(/\/tmp\//g, `${podDir(path.join(eRoot, "tmp"))}/`);
        econf = econf.replace(/\/etc\/inference-entry\/tls\//g, `${eRoot}/tls/`);
        econf = rewriteOnce(
            econf,
            "listen 8443 ssl;",
            `listen 127.0.0.1:${ports.entry} ssl;`,
            "entry listen",
        );
        econf = rewriteOnce(
            econf,
            "listen 8081;",
            `listen 127.0.0.1:${ports.entryHealth};`,
            "entry health",
        );
        econf = rewriteOnce(
            econf,
            "server inference.llm-inference.svc.cluster.local:8000;",
            `server 127.0.0.1:${inference.port};`,
            "entry upstream",
        );
        writeForPod(path.join(eRoot, "nginx.conf"), econf);
        const entryDeployment = findObject(cloud, "Deployment", "inference-entry", "llm-inference");
        entry = startNginx(
            "inference-entry",
            container(entryDeployment, "entry").command,
            path.join(eRoot, "nginx.conf"),
            log("entry"),
        );

        // The uplink (onprem-fra), with the bundle the ExternalSecret delivers.
        const uRoot = podDir(path.join(scratch, "uplink"));
        mountTls(path.join(uRoot, "tls"), client, ca);
        let uconf = configMapText(site, "llm-guardrails", "guardrails-uplink-nginx");
        uconf = uconf.replace(/\/tmp\//g, `${podDir(path.join(uRoot, "tmp"))}/`);
        uconf = uconf.replace(/\/etc\/guardrails-uplink\/tls\//g, `${uRoot}/tls/`);
        const uconfBase = uconf;
        uconf = rewriteOnce(
            uconf,
            "listen 127.0.0.1:8001;",
            `listen 127.0.0.1:${ports.uplink};`,
            "uplink listen",
        );
        uconf = rewriteOnce(
            uconf,
            "listen 8002;",
            `listen 127.0.0.1:${ports.uplinkHealth};`,
            "uplink health",
        );
        uconf = rewriteOnce(
            uconf,
            "server 10.40.4.20:8443;",
            `server 127.0.0.1:${ports.entry};`,
            "uplink upstream",
        );
        writeForPod(path.join(uRoot, "nginx.conf"), uconf);
        uplinkBase = { conf: uconfBase, command: [], root: uRoot };
        const guardrails = findObject(site, "Deployment", "guardrails", "llm-guardrails");
        uplinkBase.command = container(guardrails, "uplink").command;
        const uplink = startNginx(
            "guardrails-uplink",
            container(guardrails, "uplink").command,
            path.join(uRoot, "nginx.conf"),
            log("uplink"),
        );

        // Presidio and the guardrails, with onprem-fra's rails.
        const servers: Record<string, Started> = {};
        for (const which of ["analyzer", "anonymizer"] as const) {
            servers[which] = start(
                `presidio-${which}`,
                tools.presidio.python,
                [path.join(__dirname, "presidio_server.py"), which, String(ports[which])],
                log(`presidio-${which}`),
                { env: { HOME: scratch } },
            );
        }
        const railsMap = findObject(site, "ConfigMap", "guardrails-rails", "llm-guardrails") as Any;
        const configId = (container(guardrails, "guardrails").args as string[])
            .find((a) => a.startsWith("--config-id="))!
            .slice("--config-id=".length);
        const configRoot = podDir(path.join(scratch, "config"));
        for (const [k, v] of Object.entries(railsMap.data as Record<string, string>)) {
            let text = v;
            if (k === "config.yml") {
                const swap = (from: string, to: string) => {
                    text = rewriteOnce(text, from, to, `config.yml ${from}`);
                };
                swap("http://127.0.0.1:8001/v1", `http://127.0.0.1:${ports.uplink}/v1`);
                swap(
                    "http://jailbreak-detection.llm-guardrails.svc.cluster.local:1337",
                    `http://127.0.0.1:${jailbreak.port}`,
                );
                swap(
                    "http://presidio-analyzer.llm-output-filter.svc.cluster.local:3000",
                    `http://127.0.0.1:${ports.analyzer}`,
                );
                swap(
                    "http://presidio-anonymizer.llm-output-filter.svc.cluster.local:3000",
                    `http://127.0.0.1:${ports.anonymizer}`,
                );
            }
            writeForPod(path.join(configRoot, configId, k), text);
        }
        servers.guardrails = startGuardrails(
            "guardrails",
            tools.guardrails,
            { guardrails } as Any,
            configRoot,
            ports.guardrails,
            ports.guardrailsMetrics,
            log("guardrails"),
        );
        await waitUntil(entry, "the entry's TLS listener", () => portOpen(ports.entry));
        await waitUntil(uplink, "the uplink's listener", () => portOpen(ports.uplink));
        for (const which of ["analyzer", "anonymizer"]) {
            await waitUntil(
                servers[which]!,
                "/health",
                () => answers200(`http://127.0.0.1:${ports[which]}/health`),
                120_000,
            );
        }
        await waitUntil(
            servers.guardrails,
            "/health",
            () => answers200(`http://127.0.0.1:${ports.guardrails}/health`),
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
        const r = await post(ports.guardrails, "/v1/chat/completions", {
            messages: [
                { role: "user", content: "Which component schedules pods? ident-mtls-4410" },
            ],
        });
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
        const lines = entry
            .log()
            .split("\n")
            .filter((l) => l.includes('"event":"inference-entry.request"'))
            .map((l) => JSON.parse(l.slice(l.indexOf("{"))));
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
        const pki = path.join(scratch, "pki");
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
        const [port, health] = [await freePort(), await freePort()];
        let conf = rewriteOnce(
            uplinkBase.conf,
            "listen 127.0.0.1:8001;",
            `listen 127.0.0.1:${port};`,
            "listen",
        );
        conf = rewriteOnce(conf, "listen 8002;", `listen 127.0.0.1:${health};`, "health");
        conf = rewriteOnce(
            conf,
            "server 10.40.4.20:8443;",
            `server 127.0.0.1:${impostorPort};`,
            "upstream",
        );
        conf = rewriteOnce(
            conf,
            `pid ${uplinkBase.root}/tmp/guardrails-uplink.pid;`,
            `pid ${uplinkBase.root}/tmp/impostor-test.pid;`,
            "pid",
        );
        const file = path.join(uplinkBase.root, "impostor.conf");
        writeForPod(file, conf);
        const s2 = startNginx(
            "uplink-to-impostor",
            uplinkBase.command,
            file,
            path.join(scratch, "uplink-impostor.log"),
        );
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
