/**
 * The request path of the dev stack, started on 127.0.0.1 from the files the plan renders:
 * gateway nginx (Debian) → guardrails (our entrypoint on nemoguardrails[server] 0.24.1) →
 * inference stand-in, with the jailbreak-heuristics stub and Presidio analyzer/anonymizer (PyPI).
 * The only bytes changed in a rendered file are in-cluster addresses and paths that cannot exist
 * here (service hosts → 127.0.0.1:<free port>, /etc/... and /tmp/... → the scratch folder); each
 * rewrite must match exactly once, so a renderer change that moves them fails loudly.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";
import { cacheDir, repoRoot } from "../support/env";
import { Venv, ensureApt, ensureVenv } from "../support/install";
import { K8sObject, clusters, findObject, manifests } from "../support/plan";
import { Started, freePort, httpAnswers, portOpen, start, waitUntil } from "../support/proc";
import { Issued, Pki } from "./pki";
import { StandinInference, startStandinInference } from "./standin-inference";

/** UID/GID the platform's containers run as (the pods' fixed non-root user). */
export const podUid = 10001;

type Any = any;

/** Replaces `from` by `to` in `text`, which must contain it exactly once. */
export function rewriteOnce(text: string, from: string, to: string, what: string): string {
    const n = text.split(from).length - 1;
    if (n !== 1) {
        throw new Error(`${what}: expected exactly one "${from}" in the rendered file, found ${n}`);
    }
    return text.replace(from, to);
}

/** What the jailbreak-heuristics stub answers. */
export type JailbreakMode = "pass" | "block" | "error" | { slowMs: number };

/**
 * Stub of the jailbreak-heuristics server (stand-in: its GPT-2 large perplexity model cannot be
 * had here). It speaks the server's contract, `POST /heuristics {prompt, lp_threshold,
 * ps_ppl_threshold}` → `{"jailbreak": bool}`, and judges nothing: the test sets the answer.
 */
export interface JailbreakStub {
    readonly port: number;
    mode: JailbreakMode;
    readonly prompts: string[];
    close(): Promise<void>;
}

export async function startJailbreakStub(): Promise<JailbreakStub> {
    const stub: JailbreakStub = {
        port: 0,
        mode: "pass",
        prompts: [],
        close: () =>
            new Promise((r) => {
                server.closeAllConnections();
                server.close(() => r());
            }),
    };
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            if (req.method !== "POST" || req.url !== "/heuristics") {
                res.writeHead(404).end();
                return;
            }
            const { prompt } = JSON.parse(body) as { prompt: string };
            stub.prompts.push(prompt);
            const mode = stub.mode;
            if (mode === "error") {
                res.writeHead(500, { "content-type": "application/json" }).end('{"detail":"x"}');
                return;
            }
            const answer = () =>
                res
                    .writeHead(200, { "content-type": "application/json" })
                    .end(JSON.stringify({ jailbreak: mode === "block" }));
            if (typeof mode === "object") setTimeout(answer, mode.slowMs);
            else answer();
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    (stub as { port: number }).port = (server.address() as AddressInfo).port;
    return stub;
}

/** The plan's objects of the request path (dev stack, its one cluster). */
export interface Rendered {
    readonly objects: K8sObject[];
    readonly railsConfigMap: K8sObject;
    readonly guardrails: Any;
    readonly gatewayConf: string;
    readonly gatewayScript: string;
    readonly gateway: Any;
    readonly keysTemplate: string;
    readonly metricsConf: string;
    readonly inference: Any;
}

const container = (d: K8sObject, name: string) =>
    ((d as Any).spec.template.spec.containers as Any[]).find((c) => c.name === name);

export function rendered(stack = "dev"): Rendered {
    const objects = manifests(stack, clusters(stack)[0]);
    const cm = (ns: string, name: string) => findObject(objects, "ConfigMap", name, ns);
    const es = findObject(objects, "ExternalSecret", "gateway-api-keys", "llm-gateway") as Any;
    return {
        objects,
        railsConfigMap: cm("llm-guardrails", "guardrails-rails"),
        guardrails: findObject(objects, "Deployment", "guardrails", "llm-guardrails"),
        gatewayConf: (cm("llm-gateway", "gateway-nginx") as Any).data["nginx.conf"],
        gatewayScript: (cm("llm-gateway", "gateway-nginx") as Any).data["run-gateway.sh"],
        gateway: findObject(objects, "Deployment", "gateway", "llm-gateway"),
        keysTemplate: es.spec.target.template.data["api-keys.map"],
        metricsConf: (cm("llm-inference", "inference-metrics-nginx") as Any).data["nginx.conf"],
        inference: findObject(objects, "Deployment", "inference", "llm-inference"),
    };
}

/** Installs what the request path runs (idempotent, cached). */
export function install(): { guardrails: Venv; presidio: Venv; esotemplate: string } {
    // busybox: its sh runs the gateway's entrypoint script as the image's (Alpine) shell does.
    ensureApt(["nginx", "busybox"]);
    const guardrails = ensureVenv(
        "guardrails",
        path.join(repoRoot, "images/guardrails/requirements.lock"),
    );
    const presidio = ensureVenv("presidio", path.join(__dirname, "presidio.lock"));
    // The External Secrets template engine (Go text/template + sprig), built from the Go proxy.
    const src = path.join(__dirname, "esotemplate");
    const digest = crypto
        .createHash("sha256")
        .update(
            ["main.go", "go.mod", "go.sum"]
                .map((f) => fs.readFileSync(path.join(src, f), "utf8"))
                .join("\0"),
        )
        .digest("hex")
        .slice(0, 16);
    const esotemplate = cacheDir("bin", `esotemplate-${digest}`);
    if (!fs.existsSync(esotemplate)) {
        fs.mkdirSync(path.dirname(esotemplate), { recursive: true });
        execFileSync("go", ["build", "-o", esotemplate, "."], {
            cwd: src,
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, GOFLAGS: "-mod=readonly", CGO_ENABLED: "0" },
        });
    }
    return { guardrails, presidio, esotemplate };
}

/** The gateway's key map as External Secrets renders it from the Vault secret's `keys` value. */
export function renderKeyMap(
    esotemplate: string,
    template: string,
    keys: string,
    dir: string,
): string {
    const tpl = path.join(dir, "api-keys.map.tpl");
    fs.writeFileSync(tpl, template);
    return execFileSync(esotemplate, [tpl], { input: JSON.stringify({ keys }), encoding: "utf8" });
}

/** Writes `text` to `file` readable by the pod user. */
export function writeForPod(file: string, text: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    fs.chownSync(file, podUid, podUid);
}

/** A folder the pod user owns. */
export function podDir(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(dir, podUid, podUid);
    return dir;
}

/** nginx as the pod user, with `command` as the Deployment renders it. */
export function startNginx(
    name: string,
    command: string[],
    conf: string,
    logFile: string,
): Started {
    podLog(logFile);
    if (command[0] !== "nginx" || command.at(-2) !== "-c") {
        throw new Error(`${name}: unexpected rendered command ${JSON.stringify(command)}`);
    }
    const args = [
        `--reuid=${podUid}`,
        `--regid=${podUid}`,
        "--clear-groups",
        "nginx",
        ...command.slice(1, -1),
        conf,
        // Debian's nginx opens /var/log/nginx/error.log before it reads the config; the image's
        // does not. Pointing the start-up log at stderr keeps the pod user's view.
        "-e",
        "/dev/stderr",
    ];
    return start(name, "setpriv", args, logFile);
}

/**
 * Creates `logFile` owned by the pod user: nginx re-opens /dev/stdout and /dev/stderr by path
 * (its `error_log`/`access_log`), which needs write permission on the file behind them.
 */
export function podLog(logFile: string): void {
    fs.closeSync(fs.openSync(logFile, "a"));
    fs.chownSync(logFile, podUid, podUid);
}

/** In-process stand-ins to close when the suite ends, even if start-up failed half way. */
const standins: { close(): Promise<void> }[] = [];

/** Closes every stand-in {@link startStack} started. */
export async function closeStandins(): Promise<void> {
    await Promise.all(standins.splice(0).map((s) => s.close()));
}

/** Whether a URL answers 200. */
export function answers200(url: string): Promise<boolean> {
    return new Promise((resolve) => {
        const req = http.get(url, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
        });
        req.on("error", () => resolve(false));
        req.setTimeout(2000, () => {
            req.destroy();
            resolve(false);
        });
    });
}

/** A started request path. */
export interface Stack {
    readonly scratch: string;
    readonly inference: StandinInference;
    readonly jailbreak: JailbreakStub;
    readonly servers: Record<string, Started>;
    /** The mTLS sidecars: guardrails, inference, analyzer, anonymizer. */
    readonly sidecars: Record<string, Sidecar>;
    readonly ports: Record<string, number>;
    readonly keysFile: string;
    readonly rendered: Rendered;
    /** The cluster CA the certificates were issued from. */
    readonly pki: Pki;
    /** ingress-nginx's client certificate to the gateway, from the rendered Certificate. */
    readonly ingressClient: Issued;
}

/** The guardrails pod's loopback addresses the rails name (its mTLS sidecar's listeners). */
export const railsLoopback = {
    inference: "http://127.0.0.1:8001",
    analyzer: "http://127.0.0.1:8003",
    anonymizer: "http://127.0.0.1:8004",
    jailbreak: "http://127.0.0.1:8005",
} as const;

/**
 * The rails files as the kubelet mounts them (every projected ConfigMap key at its path, in the
 * `..data` layout), the pod's loopback listeners on 127.0.0.1 ports.
 */
export function writeRails(
    r: Pick<Rendered, "guardrails" | "railsConfigMap">,
    root: string,
    ports: { inference: number; jailbreak: number; analyzer: number; anonymizer: number },
    configId: string,
): string {
    const vol = (r.guardrails.spec.template.spec.volumes as Any[]).find((v) => v.name === "rails");
    const data = (r.railsConfigMap as Any).data as Record<string, string>;
    const dir = path.join(root, configId);
    const stamp = "..2026_01_01_00_00_00.000000001";
    // Without `items` the kubelet projects every key as a file of the same name.
    const items =
        (vol.configMap.items as { key: string; path: string }[] | undefined) ??
        Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) {
        let text = data[item.key];
        if (item.path === "config.yml") {
            const swap = (from: string, port: number) => {
                text = rewriteOnce(
                    text,
                    `${from}`,
                    `http://127.0.0.1:${port}`,
                    `config.yml ${from}`,
                );
            };
            // `<base>/v1`: the base is rewritten, the path kept.
            swap(railsLoopback.inference, ports.inference);
            swap(railsLoopback.jailbreak, ports.jailbreak);
            swap(railsLoopback.analyzer, ports.analyzer);
            swap(railsLoopback.anonymizer, ports.anonymizer);
        }
        writeForPod(path.join(dir, stamp, item.path), text);
    }
    // The kubelet's ConfigMap volume layout: the files in a timestamped folder, `..data` a
    // symlink to it (swapped atomically on update), each top-level name a symlink into `..data`.
    fs.symlinkSync(stamp, path.join(dir, "..data"));
    for (const top of new Set(items.map((i) => i.path.split("/")[0]))) {
        fs.symlinkSync(path.join("..data", top), path.join(dir, top));
    }
    return dir;
}

/** Starts the guardrails entrypoint with the rendered command, args and env. */
export function startGuardrails(
    name: string,
    venv: Venv,
    r: Rendered,
    configRoot: string,
    port: number,
    metricsPort: number,
    logFile: string,
): Started {
    const c = container(r.guardrails, "guardrails");
    if (c.command[0] !== "python") throw new Error(`guardrails command ${c.command}`);
    const args = (c.args as string[]).map((a) =>
        a.startsWith("--config-root=")
            ? `--config-root=${configRoot}`
            : a.startsWith("--port=")
              ? `--port=${port}`
              : a.startsWith("--metrics-port=")
                ? `--metrics-port=${metricsPort}`
                : // The pod IP's metrics listener: loopback on this shared host.
                  a.startsWith("--metrics-host=")
                  ? "--metrics-host=127.0.0.1"
                  : a,
    );
    const env: NodeJS.ProcessEnv = {};
    for (const e of c.env as { name: string; value: string }[]) env[e.name] = e.value;
    Object.assign(env, {
        // The image installs slp_guardrails into the venv; here it is read from the repository.
        PYTHONPATH: path.join(repoRoot, "images", "guardrails"),
        HOME: podDir(path.join(configRoot, "..", `home-${name}`)),
        PATH: "/usr/bin:/bin",
        // The image's environment (Dockerfile ENV).
        PYTHONUNBUFFERED: "1",
    });
    // As the suite's user: the venv lives under the suite's cache (in root's home on CI), which
    // the pod user cannot read; the pod's non-root settings are the manifests' business.
    return start(name, venv.python, [...(c.command as string[]).slice(1), ...args], logFile, {
        env,
        cleanEnv: true,
    });
}

/**
 * A rendered nginx.conf or run script for this host (pure): the pod's /tmp → `tmp`, each mounted
 * folder → its local copy, and every address nginx listens on or dials (`listen`, upstream
 * `server`, `proxy_pass` to an address) → its 127.0.0.1 port, all of which `addresses` must name
 * (an address it does not name fails, so a renderer change cannot slip through); the run
 * script's poll interval → 1 s.
 */
export function forHost(
    text: string,
    opts: {
        readonly tmp: string;
        readonly paths?: Readonly<Record<string, string>>;
        readonly addresses?: Readonly<Record<string, string>>;
    },
): string {
    const addr = (what: string) => (x: string) => {
        const to = opts.addresses?.[x];
        if (to === undefined) throw new Error(`${what} ${x}: no local address given`);
        return to;
    };
    let out = text.replace(/\/tmp\//g, `${opts.tmp}/`);
    for (const [from, to] of Object.entries(opts.paths ?? {}))
        out = out.split(`${from}/`).join(`${to}/`);
    out = out.replace(
        /(\blisten )([^\s;]+)((?: ssl)?;)/g,
        (_, a, x, b) => a + addr("listen")(x) + b,
    );
    out = out.replace(/^(\s+server )([^\s;]+);/gm, (_, a, x) => `${a}${addr("upstream")(x)};`);
    out = out.replace(
        /(proxy_pass https?:\/\/)([^/;\s]*:\d+)/g,
        (_, a, x) => a + addr("proxy_pass")(x),
    );
    return out.replace(/^poll=\d+$/m, "poll=1");
}

/** `sh <script>` as the pod user (busybox's sh, as the nginx image's ash). */
export function startRunScript(name: string, script: string, logFile: string): Started {
    podLog(logFile);
    return start(
        name,
        "setpriv",
        [`--reuid=${podUid}`, `--regid=${podUid}`, "--clear-groups", "busybox", "sh", script],
        logFile,
    );
}

/** A started mTLS sidecar (or entry): its scratch root, log and certificate folders. */
export interface Sidecar {
    readonly started: Started;
    readonly root: string;
    /** Local folder of each mounted certificate Secret, by its path in the container. */
    readonly mounts: Readonly<Record<string, string>>;
}

/**
 * Starts a rendered `<id>-mtls-nginx`-style ConfigMap (nginx.conf + run-nginx.sh) the way its
 * container runs it (`/bin/sh /etc/mtls/conf/run-nginx.sh`, as the pod user), certificates
 * mounted where `mounts` says (written by the caller), addresses as `addresses` maps them.
 */
export function startSidecar(opts: {
    readonly name: string;
    readonly objects: readonly K8sObject[];
    readonly namespace: string;
    readonly configMap: string;
    /** The Deployment and container that run it (their command is checked). */
    readonly deployment: string;
    readonly container: string;
    readonly root: string;
    readonly addresses: Readonly<Record<string, string>>;
    /** Local folder of each mounted certificate Secret (by container path). */
    readonly mounts: Readonly<Record<string, string>>;
}): Sidecar {
    const cm = findObject(
        opts.objects as K8sObject[],
        "ConfigMap",
        opts.configMap,
        opts.namespace,
    ) as Any;
    const dep = findObject(
        opts.objects as K8sObject[],
        "Deployment",
        opts.deployment,
        opts.namespace,
    );
    const command = container(dep, opts.container).command as string[];
    if (command[0] !== "/bin/sh" || command[1] !== "/etc/mtls/conf/run-nginx.sh") {
        throw new Error(`${opts.name}: unexpected rendered command ${JSON.stringify(command)}`);
    }
    const root = podDir(opts.root);
    const confDir = podDir(path.join(root, "conf"));
    const o = {
        tmp: podDir(path.join(root, "tmp")),
        paths: { "/etc/mtls/conf": confDir, ...opts.mounts },
        addresses: opts.addresses,
    };
    writeForPod(path.join(confDir, "nginx.conf"), forHost(cm.data["nginx.conf"], o));
    writeForPod(path.join(confDir, "run-nginx.sh"), forHost(cm.data["run-nginx.sh"], o));
    const started = startRunScript(
        opts.name,
        path.join(confDir, "run-nginx.sh"),
        path.join(root, `${opts.name}.log`),
    );
    return { started, root, mounts: opts.mounts };
}

/** Local 127.0.0.1 addresses, by name. */
export type Addresses = Record<string, string>;

/**
 * One Presidio engine (`which`) on its pod's loopback (127.0.0.1:3001, as its image binds it)
 * behind the rendered `presidio-<which>-mtls` sidecar: `addresses` maps `<which>` (the tier port
 * 3000), `<which>App` and `<which>Health`; the certificate is mounted from `tlsDir`.
 */
export function startPresidio(
    which: "analyzer" | "anonymizer",
    opts: {
        readonly python: string;
        readonly objects: readonly K8sObject[];
        readonly scratch: string;
        readonly addresses: Addresses;
        readonly tlsDir: string;
    },
): { server: Started; sidecar: Sidecar } {
    const id = `presidio-${which}`;
    const a = opts.addresses;
    const server = start(
        id,
        opts.python,
        [
            path.join(__dirname, "presidio_server.py"),
            which,
            String(portOfAddress(a[`${which}App`]!)),
        ],
        path.join(opts.scratch, `${id}.log`),
        { env: { HOME: opts.scratch } },
    );
    const sidecar = startSidecar({
        name: `${id}-mtls`,
        objects: opts.objects,
        namespace: "llm-output-filter",
        configMap: `${id}-mtls-nginx`,
        deployment: id,
        container: "mtls",
        root: path.join(opts.scratch, id),
        addresses: {
            "3000": a[which]!,
            "127.0.0.1:3001": a[`${which}App`]!,
            "8081": a[`${which}Health`]!,
        },
        mounts: { "/etc/mtls/tls": opts.tlsDir },
    });
    return { server, sidecar };
}

/** `127.0.0.1:<free port>`. */
export async function local(): Promise<string> {
    return `127.0.0.1:${await freePort()}`;
}

const portOfAddress = (a: string) => Number(a.slice(a.lastIndexOf(":") + 1));

/** Starts the whole path and waits for every part to answer. */
export async function startStack(
    scratch: string,
    tools: ReturnType<typeof install>,
): Promise<Stack> {
    const r = rendered();
    const objs = r.objects;
    podDir(scratch);
    fs.chmodSync(scratch, 0o755);
    const model = (container(r.inference, "vllm").args as string[])[
        (container(r.inference, "vllm").args as string[]).indexOf("--served-model-name") + 1
    ];
    const inference = await startStandinInference(model);
    standins.push(inference);
    const jailbreak = await startJailbreakStub();
    standins.push(jailbreak);
    // Every address of the path: the Services (the tiers' sidecars), each pod's loopback
    // listeners and apps, the health listeners. One port each on this host.
    const a: Addresses = {};
    for (const k of [
        "gateway",
        "gatewayHealth",
        "guardrails",
        "guardrailsApp",
        "guardrailsHealth",
        "guardrailsToInference",
        "guardrailsToAnalyzer",
        "guardrailsToAnonymizer",
        "guardrailsToJailbreak",
        "guardrailsMetrics",
        "jailbreak",
        "jailbreakHealth",
        "inference",
        "inferenceHealth",
        "inferenceMetrics",
        "analyzer",
        "analyzerApp",
        "analyzerHealth",
        "anonymizer",
        "anonymizerApp",
        "anonymizerHealth",
    ]) {
        a[k] = await local();
    }
    a.inferenceApp = `127.0.0.1:${inference.port}`;
    const ports: Record<string, number> = Object.fromEntries(
        Object.entries(a).map(([k, v]) => [k, portOfAddress(v)]),
    );
    const servers: Record<string, Started> = {};
    const sidecars: Record<string, Sidecar> = {};
    const log = (n: string) => path.join(scratch, `${n}.log`);

    // The cluster CA and every tier's certificate, from the rendered Certificates.
    const pki = new Pki(path.join(scratch, "pki"), "dev");
    const tlsDir = (pod: string) => path.join(scratch, pod, "mtls-tls");
    const mountCert = (pod: string, ns: string) =>
        pki.mount(objs, `${pod}-mtls`, ns, podDir(tlsDir(pod)));
    mountCert("gateway", "llm-gateway");
    mountCert("guardrails", "llm-guardrails");
    mountCert("inference", "llm-inference");
    mountCert("presidio-analyzer", "llm-output-filter");
    mountCert("presidio-anonymizer", "llm-output-filter");
    mountCert("jailbreak-detection", "llm-guardrails");
    // What ingress-nginx presents to the gateway (the Ingress's proxy-ssl-secret).
    const ingressClient = pki.issue(
        "ingress-nginx",
        Pki.spec(objs, "ingress-nginx-mtls", "llm-gateway"),
    );

    const svc = {
        guardrails: "guardrails.llm-guardrails.svc.cluster.local:8000",
        inference: "inference.llm-inference.svc.cluster.local:8000",
        analyzer: "presidio-analyzer.llm-output-filter.svc.cluster.local:3000",
        anonymizer: "presidio-anonymizer.llm-output-filter.svc.cluster.local:3000",
        jailbreak: "jailbreak-detection.llm-guardrails.svc.cluster.local:1337",
    };
    // Presidio apps and their sidecars.
    for (const which of ["analyzer", "anonymizer"] as const) {
        const p = startPresidio(which, {
            python: tools.presidio.python,
            objects: objs,
            scratch,
            addresses: a,
            tlsDir: tlsDir(`presidio-${which}`),
        });
        servers[which] = p.server;
        sidecars[which] = p.sidecar;
    }
    // Inference: the stand-in as vLLM on the pod's loopback, its mTLS sidecar, the metrics one.
    sidecars.inference = startSidecar({
        name: "inference-mtls",
        objects: objs,
        namespace: "llm-inference",
        configMap: "inference-mtls-nginx",
        deployment: "inference",
        container: "mtls",
        root: path.join(scratch, "inference"),
        addresses: {
            "8000": a.inference!,
            "127.0.0.1:8010": a.inferenceApp!,
            "8081": a.inferenceHealth!,
        },
        mounts: { "/etc/mtls/tls": tlsDir("inference") },
    });

    // The jailbreak heuristics stub as the server on the pod's loopback, behind its sidecar.
    sidecars.jailbreak = startSidecar({
        name: "jailbreak-detection-mtls",
        objects: objs,
        namespace: "llm-guardrails",
        configMap: "jailbreak-detection-mtls-nginx",
        deployment: "jailbreak-detection",
        container: "mtls",
        root: path.join(scratch, "jailbreak-detection"),
        addresses: {
            "1337": a.jailbreak!,
            "127.0.0.1:8010": `127.0.0.1:${jailbreak.port}`,
            "8081": a.jailbreakHealth!,
        },
        mounts: { "/etc/mtls/tls": tlsDir("jailbreak-detection") },
    });

    // Guardrails: the entrypoint on the pod's loopback, its sidecar (server + loopback clients).
    const configId = (container(r.guardrails, "guardrails").args as string[])
        .find((x) => x.startsWith("--config-id="))!
        .slice("--config-id=".length);
    const configRoot = podDir(path.join(scratch, "config"));
    writeRails(
        r,
        configRoot,
        {
            inference: ports.guardrailsToInference!,
            jailbreak: ports.guardrailsToJailbreak!,
            analyzer: ports.guardrailsToAnalyzer!,
            anonymizer: ports.guardrailsToAnonymizer!,
        },
        configId,
    );
    servers.guardrails = startGuardrails(
        "guardrails",
        tools.guardrails,
        r,
        configRoot,
        ports.guardrailsApp!,
        ports.guardrailsMetrics!,
        log("guardrails"),
    );
    sidecars.guardrails = startSidecar({
        name: "guardrails-mtls",
        objects: objs,
        namespace: "llm-guardrails",
        configMap: "guardrails-mtls-nginx",
        deployment: "guardrails",
        container: "mtls",
        root: path.join(scratch, "guardrails"),
        addresses: {
            "8000": a.guardrails!,
            "127.0.0.1:8010": a.guardrailsApp!,
            "8081": a.guardrailsHealth!,
            "127.0.0.1:8001": a.guardrailsToInference!,
            "127.0.0.1:8003": a.guardrailsToAnalyzer!,
            "127.0.0.1:8004": a.guardrailsToAnonymizer!,
            "127.0.0.1:8005": a.guardrailsToJailbreak!,
            [svc.inference]: a.inference!,
            [svc.jailbreak]: a.jailbreak!,
            [svc.analyzer]: a.analyzer!,
            [svc.anonymizer]: a.anonymizer!,
        },
        mounts: { "/etc/mtls/tls": tlsDir("guardrails") },
    });

    // Gateway: the rendered nginx.conf and run-gateway.sh in the container's layout.
    const gw = path.join(scratch, "gateway");
    const gwConf = podDir(path.join(gw, "conf"));
    const keysDir = podDir(path.join(gw, "keys"));
    const keysFile = path.join(keysDir, "api-keys.map");
    const gwOpts = {
        tmp: podDir(path.join(gw, "tmp")),
        paths: {
            "/etc/gateway/conf": gwConf,
            "/etc/gateway/keys": keysDir,
            "/etc/mtls/tls": tlsDir("gateway"),
        },
        addresses: {
            "8080": a.gateway!,
            "8081": a.gatewayHealth!,
            [svc.guardrails]: a.guardrails!,
        },
    };
    writeForPod(path.join(gwConf, "nginx.conf"), forHost(r.gatewayConf, gwOpts));
    writeForPod(path.join(gwConf, "run-gateway.sh"), forHost(r.gatewayScript, gwOpts));
    projectSecret(keysDir, { "api-keys.map": "" });

    // Inference metrics sidecar: the rendered conf, vLLM's loopback port → the stand-in.
    const mRoot = podDir(path.join(scratch, "metrics"));
    const mConfFile = path.join(mRoot, "nginx.conf");
    writeForPod(
        mConfFile,
        forHost(r.metricsConf, {
            tmp: podDir(path.join(mRoot, "tmp")),
            addresses: { "9400": a.inferenceMetrics!, "127.0.0.1:8010": a.inferenceApp! },
        }),
    );
    servers.metrics = startNginx(
        "inference-metrics",
        container(r.inference, "metrics").command,
        mConfFile,
        log("inference-metrics"),
    );
    for (const [k, v] of Object.entries(sidecars)) servers[`${k}-mtls`] = v.started;

    const stack: Stack = {
        scratch,
        inference,
        jailbreak,
        servers,
        sidecars,
        ports,
        keysFile,
        rendered: r,
        pki,
        ingressClient,
    };
    await waitUntil(servers.metrics, "the metrics listener", () =>
        portOpen(ports.inferenceMetrics!),
    );
    for (const which of ["analyzer", "anonymizer"]) {
        await waitUntil(
            servers[which]!,
            "/health through the sidecar",
            () => answers200(`http://127.0.0.1:${ports[`${which}Health`]}/health`),
            120_000,
        );
    }
    await waitUntil(
        servers.guardrails,
        "/health through the sidecar",
        () => answers200(`http://127.0.0.1:${ports.guardrailsHealth}/health`),
        180_000,
    );
    await waitUntil(sidecars.inference!.started, "/health through the sidecar", () =>
        answers200(`http://127.0.0.1:${ports.inferenceHealth}/health`),
    );
    await waitUntil(sidecars.jailbreak!.started, "/healthz of the jailbreak sidecar", () =>
        answers200(`http://127.0.0.1:${ports.jailbreakHealth}/healthz`),
    );
    return stack;
}

/**
 * Writes `files` into `dir` as the kubelet updates a Secret or ConfigMap volume: a new
 * timestamped folder, `..data` swapped to it by an atomic rename, top-level names linked into
 * `..data`, the old folder removed.
 */
let projections = 0;
export function projectSecret(dir: string, files: Record<string, string>): void {
    const stamp = `..2026_01_01_00_00_${String(++projections).padStart(2, "0")}.000000001`;
    const old = fs.existsSync(path.join(dir, "..data"))
        ? fs.readlinkSync(path.join(dir, "..data"))
        : "";
    for (const [name, text] of Object.entries(files))
        writeForPod(path.join(dir, stamp, name), text);
    fs.symlinkSync(stamp, path.join(dir, "..data_tmp"));
    fs.renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    for (const name of Object.keys(files)) {
        if (!fs.existsSync(path.join(dir, name))) {
            fs.symlinkSync(path.join("..data", name), path.join(dir, name));
        }
    }
    if (old) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

/** The gateway's entrypoint (its rendered command: `/bin/sh run-gateway.sh`) as the pod user. */
export function startGatewayProcess(stack: Stack, name = "gateway"): Started {
    const c = container(stack.rendered.gateway, "gateway");
    if (c.command[0] !== "/bin/sh" || c.command.length !== 2) {
        throw new Error(`gateway: unexpected rendered command ${JSON.stringify(c.command)}`);
    }
    return startRunScript(
        name,
        path.join(stack.scratch, "gateway", "conf", "run-gateway.sh"),
        path.join(stack.scratch, `${name}.log`),
    );
}

/** Starts the gateway (after its key map was written). */
export async function startGateway(stack: Stack): Promise<Started> {
    const s = startGatewayProcess(stack);
    // The kubelet's probe: the plain health listener (the API port requires a client certificate).
    await waitUntil(s, "/healthz", () =>
        httpAnswers(`http://127.0.0.1:${stack.ports.gatewayHealth}/healthz`),
    );
    stack.servers.gateway = s;
    return s;
}
