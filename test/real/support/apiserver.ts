/**
 * A real Kubernetes control plane for the real-software suite: etcd, kube-apiserver and
 * kube-controller-manager built from the Go module proxy by the build module in
 * tools/real/apiserver (every module pinned by go.sum), started on 127.0.0.1 with certificates the
 * suite makes, and a small HTTPS client that reports the API server's `Warning` headers.
 */
import { execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import { cacheDir, repoRoot } from "./env";
import { ensureApt } from "./install";
import { freePort, start, Started, waitUntil } from "./proc";

/** The Kubernetes release the platform pins for its clusters; the build module builds exactly it. */
export const kubernetesVersion = "v1.34.2";

const buildModule = path.join(repoRoot, "tools", "real", "apiserver");
const commands = ["etcd", "kube-apiserver", "kube-controller-manager"] as const;

/** Paths of the built binaries. */
export type ControlPlaneBinaries = Record<(typeof commands)[number], string>;

function goBinary(): string {
    const candidates = [
        ...(process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, "go")),
        "/usr/local/go/bin/go",
    ];
    const go = candidates.find((c) => fs.existsSync(c));
    if (!go) {
        throw new Error(
            "no Go toolchain: the control plane is built from source with Go >= 1.24 (go.mod of tools/real/apiserver); install Go or put it on PATH",
        );
    }
    const version = execFileSync(go, ["env", "GOVERSION"], { encoding: "utf8" }).trim();
    const m = /^go1\.(\d+)/.exec(version);
    if (!m || Number(m[1]) < 24) {
        throw new Error(`${go} is ${version}; tools/real/apiserver needs Go >= 1.24`);
    }
    return go;
}

// -s -w: no symbol tables (smaller, faster link); the -X values make /version report the release.
function ldflags(): string {
    const v = "k8s.io/component-base/version";
    const [major, minor] = kubernetesVersion.slice(1).split(".");
    return [
        "-s -w",
        `-X ${v}.gitVersion=${kubernetesVersion}`,
        `-X ${v}.gitMajor=${major}`,
        `-X ${v}.gitMinor=${minor}`,
        `-X ${v}.gitTreeState=clean`,
    ].join(" ");
}

function buildKey(goVersion: string): string {
    const h = crypto.createHash("sha256");
    h.update(`${goVersion}\n${ldflags()}\n`);
    const files = ["go.mod", "go.sum", ...commands.map((c) => path.join(c, "main.go"))];
    for (const f of files) {
        h.update(`${f}\n`).update(fs.readFileSync(path.join(buildModule, f)));
    }
    return h.digest("hex").slice(0, 16);
}

/** Environment of every `go` run: module and build caches kept under cacheDir() so they persist. */
function goEnv(): NodeJS.ProcessEnv {
    return {
        ...process.env,
        GOMODCACHE: cacheDir("go", "mod"),
        GOCACHE: cacheDir("go", "build"),
        GOPATH: cacheDir("go", "path"),
        GOFLAGS: "-trimpath -buildvcs=false -mod=readonly",
        GOTOOLCHAIN: "local",
        CGO_ENABLED: "0",
    };
}

/**
 * Builds etcd, kube-apiserver and kube-controller-manager once per content of the build module
 * (`cacheDir("bin", "control-plane-<hash>")`) and returns their paths. A cold build on 2 cores takes
 * tens of minutes; `log` receives progress lines.
 */
export async function ensureControlPlaneBinaries(
    log: (line: string) => void = () => undefined,
): Promise<ControlPlaneBinaries> {
    const go = goBinary();
    const goVersion = execFileSync(go, ["env", "GOVERSION"], { encoding: "utf8" }).trim();
    const dir = cacheDir("bin", `control-plane-${buildKey(goVersion)}`);
    const bins = Object.fromEntries(
        commands.map((c) => [c, path.join(dir, c)]),
    ) as ControlPlaneBinaries;
    if (fs.existsSync(path.join(dir, ".complete"))) {
        return bins;
    }
    const tmp = `${dir}.partial-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const begun = Date.now();
    log(`building ${commands.join(", ")} (${kubernetesVersion}) with ${goVersion} into ${dir}`);
    const buildLog = `${tmp}.log`;
    await new Promise<void>((resolve, reject) => {
        const out = fs.openSync(buildLog, "w");
        const child = spawn(
            go,
            [
                "build",
                "-ldflags",
                ldflags(),
                "-o",
                tmp + path.sep,
                ...commands.map((c) => `./${c}`),
            ],
            { cwd: buildModule, env: goEnv(), stdio: ["ignore", out, out] },
        );
        fs.closeSync(out);
        child.once("error", reject);
        child.once("exit", (code) =>
            code === 0
                ? resolve()
                : reject(
                      new Error(
                          `go build in tools/real/apiserver failed (${code}); log ${buildLog}:\n${fs.readFileSync(buildLog, "utf8").slice(-4000)}`,
                      ),
                  ),
        );
    });
    fs.writeFileSync(path.join(tmp, ".complete"), `${new Date().toISOString()}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    log(`built in ${Math.round((Date.now() - begun) / 1000)} s`);
    return bins;
}

/** Certificates and keys of one control plane, as files. */
export interface Pki {
    readonly dir: string;
    readonly caCert: string;
    readonly serverCert: string;
    readonly serverKey: string;
    readonly adminCert: string;
    readonly adminKey: string;
    readonly saPublic: string;
    readonly saPrivate: string;
}

/**
 * A throwaway CA, a serving certificate for 127.0.0.1, an admin client certificate in
 * `system:masters` and the service-account signing key pair, made with openssl.
 */
export function makePki(dir: string): Pki {
    ensureApt(["openssl"]);
    fs.mkdirSync(dir, { recursive: true });
    const f = (n: string) => path.join(dir, n);
    const ssl = (...args: string[]) =>
        execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    ssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=slp-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        f("ca.key"),
        "-out",
        f("ca.crt"),
    );
    const leaf = (name: string, subj: string, ext: string) => {
        ssl(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subj,
            "-keyout",
            f(`${name}.key`),
            "-out",
            f(`${name}.csr`),
        );
        fs.writeFileSync(f(`${name}.ext`), ext);
        ssl(
            "x509",
            "-req",
            "-in",
            f(`${name}.csr`),
            "-CA",
            f("ca.crt"),
            "-CAkey",
            f("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f(`${name}.ext`),
            "-out",
            f(`${name}.crt`),
        );
    };
    leaf(
        "server",
        "/CN=kube-apiserver",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
    );
    leaf(
        "admin",
        "/O=system:masters/CN=slp-real-suite-admin",
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n",
    );
    const sa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    fs.writeFileSync(f("sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));
    fs.writeFileSync(f("sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }), {
        mode: 0o600,
    });
    return {
        dir,
        caCert: f("ca.crt"),
        serverCert: f("server.crt"),
        serverKey: f("server.key"),
        adminCert: f("admin.crt"),
        adminKey: f("admin.key"),
        saPublic: f("sa.pub"),
        saPrivate: f("sa.key"),
    };
}

/** One answer of the API server. */
export interface KubeResponse {
    readonly status: number;

    readonly body: any;
    /** The text of every `Warning` header (RFC 7234 code 299), in order. */
    readonly warnings: string[];
}

/** Options of one request. */
export interface RequestOptions {
    readonly contentType?: string;
    /** `Impersonate-User` (the admin certificate is in system:masters, which may impersonate). */
    readonly asUser?: string;
    readonly asGroups?: readonly string[];
}

// `299 - "text"`; the API server escapes quotes and backslashes inside the text.
function parseWarning(value: string): string {
    const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(value);
    return m ? m[1].replace(/\\(.)/g, "$1") : value;
}

/** A client for one API server with the admin client certificate. */
export class KubeClient {
    private readonly agent: https.Agent;

    constructor(
        readonly url: string,
        pki: Pki,
    ) {
        this.agent = new https.Agent({
            ca: fs.readFileSync(pki.caCert),
            cert: fs.readFileSync(pki.adminCert),
            key: fs.readFileSync(pki.adminKey),
            keepAlive: true,
            maxSockets: 4,
        });
    }

    /** Sends one request; JSON bodies are serialized, answers parsed when they are JSON. */
    request(
        method: string,
        urlPath: string,
        body?: unknown,
        opts: RequestOptions = {},
    ): Promise<KubeResponse> {
        const payload =
            body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
        const headers: Record<string, string | string[]> = { Accept: "application/json" };
        if (payload !== undefined) {
            headers["Content-Type"] = opts.contentType ?? "application/json";
            headers["Content-Length"] = String(Buffer.byteLength(payload));
        }
        if (opts.asUser) {
            headers["Impersonate-User"] = opts.asUser;
            if (opts.asGroups) {
                headers["Impersonate-Group"] = [...opts.asGroups];
            }
        }
        return new Promise((resolve, reject) => {
            const req = https.request(
                new URL(urlPath, this.url),
                { method, headers, agent: this.agent, timeout: 60_000 },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        let parsed: unknown = text;
                        try {
                            parsed = JSON.parse(text);
                        } catch {
                            /* not JSON (e.g. /readyz) */
                        }
                        const warnings: string[] = [];
                        for (let i = 0; i < res.rawHeaders.length; i += 2) {
                            if (res.rawHeaders[i].toLowerCase() === "warning") {
                                warnings.push(parseWarning(res.rawHeaders[i + 1]));
                            }
                        }
                        resolve({ status: res.statusCode ?? 0, body: parsed, warnings });
                    });
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
            req.on("error", reject);
            if (payload !== undefined) {
                req.write(payload);
            }
            req.end();
        });
    }

    /** Closes the kept-alive connections. */
    close(): void {
        this.agent.destroy();
    }
}

/** A running etcd. */
export interface Etcd {
    readonly server: Started;
    readonly clientUrl: string;
}

/** Starts etcd on 127.0.0.1 with its data in `dir`, and waits until it is healthy. */
export async function startEtcd(bins: ControlPlaneBinaries, dir: string): Promise<Etcd> {
    fs.mkdirSync(dir, { recursive: true });
    const [client, peer] = [await freePort(), await freePort()];
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const server = start(
        "etcd",
        bins.etcd,
        [
            "--name=slp-real",
            `--data-dir=${path.join(dir, "data")}`,
            `--listen-client-urls=${clientUrl}`,
            `--advertise-client-urls=${clientUrl}`,
            `--listen-peer-urls=${peerUrl}`,
            `--initial-advertise-peer-urls=${peerUrl}`,
            `--initial-cluster=slp-real=${peerUrl}`,
            "--initial-cluster-state=new",
            // The suite writes a few thousand objects; no need for fsync-per-write durability.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        path.join(dir, "etcd.log"),
    );
    await waitUntil(
        server,
        "etcd healthy",
        () =>
            new Promise((resolve) => {
                const req = http.get(`${clientUrl}/health`, (res) => {
                    let t = "";
                    res.on("data", (c: Buffer) => (t += c.toString()));
                    res.on("end", () => resolve(t.includes('"health":"true"')));
                });
                req.on("error", () => resolve(false));
            }),
        120_000,
    );
    return { server, clientUrl };
}

/** A running API server (and its controller manager). */
export interface ApiServer {
    readonly server: Started;
    readonly controllers: Started;
    readonly client: KubeClient;
    readonly url: string;
    stop(): Promise<void>;
}

/** Files and flags of one API server; see docs/real-apiserver.md for why each flag is set. */
export interface ApiServerOptions {
    readonly bins: ControlPlaneBinaries;
    readonly pki: Pki;
    readonly etcd: Etcd;
    /** Key prefix in etcd: a fresh prefix is a fresh cluster. */
    readonly etcdPrefix: string;
    /** Folder for the admission configuration, kubeconfig and logs. */
    readonly dir: string;
    /** Further kube-apiserver flags (feature gates, runtime config). Defaults to none. */
    readonly extraArgs?: readonly string[];
}

/** The PodSecurity admission configuration: upstream defaults, no exemptions at all. */
export function admissionConfiguration(): string {
    return [
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: AdmissionConfiguration",
        "plugins:",
        "  - name: PodSecurity",
        "    configuration:",
        "      apiVersion: pod-security.admission.config.k8s.io/v1",
        "      kind: PodSecurityConfiguration",
        "      defaults:",
        "        enforce: privileged",
        "        enforce-version: latest",
        "        audit: privileged",
        "        audit-version: latest",
        "        warn: privileged",
        "        warn-version: latest",
        "      exemptions:",
        "        usernames: []",
        "        runtimeClasses: []",
        "        namespaces: []",
        "",
    ].join("\n");
}

/**
 * Admission plugins, in the API server's own order: the default set plus what the platform relies
 * on. PodSecurity runs before ValidatingAdmissionPolicy, and the first refusal ends admission.
 */
export const admissionPlugins = [
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "DefaultIngressClass",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
] as const;

/** The controllers the suite runs: policy type checking, quota status, default service accounts. */
export const controllers = [
    "validatingadmissionpolicy-status-controller",
    "resourcequota-controller",
    "serviceaccount-controller",
] as const;

/** Starts kube-apiserver and kube-controller-manager against `etcd`, and waits until both are up. */
export async function startApiServer(o: ApiServerOptions): Promise<ApiServer> {
    fs.mkdirSync(o.dir, { recursive: true });
    const admission = path.join(o.dir, "admission.yaml");
    fs.writeFileSync(admission, admissionConfiguration());
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const server = start(
        "kube-apiserver",
        o.bins["kube-apiserver"],
        [
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            `--secure-port=${port}`,
            `--etcd-servers=${o.etcd.clientUrl}`,
            `--etcd-prefix=${o.etcdPrefix}`,
            `--tls-cert-file=${o.pki.serverCert}`,
            `--tls-private-key-file=${o.pki.serverKey}`,
            `--client-ca-file=${o.pki.caCert}`,
            "--anonymous-auth=false",
            "--authorization-mode=RBAC",
            `--service-account-key-file=${o.pki.saPublic}`,
            `--service-account-signing-key-file=${o.pki.saPrivate}`,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.96.0.0/16",
            // Real clusters (OKE, kubeadm) allow privileged pods; Pod Security decides per namespace.
            "--allow-privileged=true",
            `--enable-admission-plugins=${admissionPlugins.join(",")}`,
            `--admission-control-config-file=${admission}`,
            "--profiling=false",
            "--v=1",
            ...(o.extraArgs ?? []),
        ],
        path.join(o.dir, "kube-apiserver.log"),
    );
    const client = new KubeClient(url, o.pki);
    await waitUntil(
        server,
        "/readyz ok",
        async () => (await client.request("GET", "/readyz")).status === 200,
        300_000,
    );
    const kubeconfig = path.join(o.dir, "kubeconfig.yaml");
    fs.writeFileSync(
        kubeconfig,
        JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
                { name: "test", cluster: { server: url, "certificate-authority": o.pki.caCert } },
            ],
            users: [
                {
                    name: "admin",
                    user: {
                        "client-certificate": o.pki.adminCert,
                        "client-key": o.pki.adminKey,
                    },
                },
            ],
            contexts: [{ name: "test", context: { cluster: "test", user: "admin" } }],
            "current-context": "test",
        }),
    );
    const controllerManager = start(
        "kube-controller-manager",
        o.bins["kube-controller-manager"],
        [
            `--kubeconfig=${kubeconfig}`,
            `--controllers=${controllers.join(",")}`,
            "--leader-elect=false",
            "--secure-port=0",
            "--v=1",
        ],
        path.join(o.dir, "kube-controller-manager.log"),
    );
    await waitUntil(
        controllerManager,
        "default service account created by the controller manager",
        async () =>
            (await client.request("GET", "/api/v1/namespaces/default/serviceaccounts/default"))
                .status === 200,
        180_000,
    );
    return {
        server,
        controllers: controllerManager,
        client,
        url,
        stop: async () => {
            client.close();
            await controllerManager.stop();
            await server.stop();
        },
    };
}
