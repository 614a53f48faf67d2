/**
 * Mutual TLS on every tier hop (issue 16, docs/hybrid.md): one mechanism for the request path
 * inside a cluster and for the hop that leaves it.
 *
 * - **One CA per cluster.** cert-manager: a `selfSigned` Issuer bootstraps the CA Certificate
 *   (ECDSA P-256), whose key stays in a Secret of cert-manager's cluster resource namespace; a `CA`
 *   ClusterIssuer signs every tier's certificate and the remote entry's (cert-manager docs,
 *   "Configuration → CA": a ClusterIssuer's secret lives in the cluster resource namespace,
 *   `cert-manager` by default; "Issuer": an Issuer cannot sign for another namespace).
 * - **One identity per workload** ({@link tierIdentity}): its Service host, as the certificate's
 *   subject CN and DNS SAN. Servers admit exactly the callers of {@link mtlsCallers}; clients check
 *   the server's name and the CA.
 * - **One nginx configuration builder** ({@link nginxProxyConf}) for every TLS-terminating or
 *   TLS-originating nginx we run: each tier's sidecar (server side in front of an app bound to
 *   127.0.0.1, client side as loopback listeners for the guardrails' calls), the remote entry and
 *   uplink; the gateway (nginx itself) terminates TLS for its callers and originates it to the
 *   guardrails with the same directives ({@link sslServerDirectives}, {@link proxySslDirectives}).
 * - **One run script** ({@link nginxRunScript}) for every one of them: polls the mounted files
 *   (certificates cert-manager renews, the gateway's key map), `nginx -t`, SIGHUP only on a pass.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { annotations } from "../../constants/labels";
import { serviceNamespaces } from "../../constants/namespaces";
import { workloadPorts } from "../../constants/ports";
import type { TierImage } from "../../config/tiers";
import { Workload, WorkloadId, catalog } from "../catalog";
import type { ContainerSpec, HardenedWorkloadComponentArgs, VolumeSpec } from "../workload";

const certManager = "cert-manager.io/v1";

/** Names of the cluster's mTLS objects. */
export const mtlsNames = {
    /** Bootstraps the CA (cert-manager namespace). */
    selfSignedIssuer: "secure-llm-platform-mtls-bootstrap",
    caCertificate: "secure-llm-platform-mtls-ca",
    /** Secret of the CA's key, in cert-manager's cluster resource namespace only. */
    caSecret: "secure-llm-platform-mtls-ca",
    clusterIssuer: "secure-llm-platform-mtls",
    /** A workload's certificate and its Secret. */
    certificate: (id: string) => `${id}-mtls`,
    /** A workload's sidecar configuration (nginx.conf, run-nginx.sh). */
    configMap: (id: string) => `${id}-mtls-nginx`,
} as const;

/** Certificate lifetimes: short-lived leaves renewed by cert-manager, a longer-lived CA. */
export const certificateLifetimes = {
    ca: { duration: "8760h", renewBefore: "720h" },
    leaf: { duration: "168h", renewBefore: "72h" },
} as const;

/** Private key of every certificate: ECDSA P-256, a new key on each renewal. */
export const certificateKey = { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" } as const;

/** The mTLS identity of a workload: its Service host (subject CN and DNS SAN). */
export function tierIdentity(id: WorkloadId): string {
    return catalog[id].serviceHost;
}

/**
 * Pipeline steps that call a tier over mTLS (they are not catalog workloads: their namespace is
 * the configurable pipeline namespace). Each gets a client-auth-only certificate from the cluster
 * CA in the pipeline namespace ({@link pipelineClientCertificateSpec}); the step mounts its Secret
 * at {@link pipelineMtlsDir} (pipelines/slp_pipelines/platform.py). The key is the caller's id in
 * the network intent: `candidate-evaluation` is the guardrail-promotion evaluation step,
 * `kubeflow-pipelines` the KFP step pods, of which only the model-promotion smoke test mounts it.
 */
export const pipelineMtlsClients = {
    "candidate-evaluation": {
        commonName: "candidate-evaluation.pipelines.secure-llm-platform",
        secret: "candidate-evaluation-mtls",
    },
    "kubeflow-pipelines": {
        commonName: "model-smoke-test.pipelines.secure-llm-platform",
        secret: "model-smoke-test-mtls",
    },
    // The recurring red-team assessment (modules/k8s/kubeflow/redteam.ts): calls the gateway.
    "redteam-assessment": {
        commonName: "redteam-assessment.pipelines.secure-llm-platform",
        secret: "redteam-assessment-mtls",
    },
} as const;

/** A pipeline client of {@link pipelineMtlsClients}. */
export type PipelineMtlsClient = keyof typeof pipelineMtlsClients;

/** Where a pipeline step mounts its client certificate Secret (tls.crt, tls.key, ca.crt). */
export const pipelineMtlsDir = "/var/run/secrets/mtls";

/**
 * The ingress controller's client identity towards the gateway: ingress-nginx originates TLS to
 * the gateway with this certificate (the Ingress's `proxy-ssl-secret`). The Secret is in the
 * gateway's namespace: ingress-nginx refuses a `proxy-ssl-secret` of another namespace
 * (kubernetes/ingress-nginx controller-v1.14.1 internal/ingress/annotations/proxyssl/main.go,
 * Parse: "cross namespace secrets are not supported" unless allow-cross-namespace-resources).
 */
export const ingressMtlsClient = {
    id: "ingress-nginx",
    commonName: "ingress-nginx.ingress.secure-llm-platform",
    secret: "ingress-nginx-mtls",
} as const;

/** Anyone an mTLS server may admit: a tier (its Service host), a pipeline step or the ingress. */
export type MtlsCaller = WorkloadId | PipelineMtlsClient | typeof ingressMtlsClient.id;

/**
 * The subject CN a caller presents: a tier's {@link tierIdentity}, a pipeline step's or the
 * ingress controller's own name.
 */
export function mtlsIdentity(id: MtlsCaller): string {
    if (id === ingressMtlsClient.id) return ingressMtlsClient.commonName;
    return id in pipelineMtlsClients
        ? pipelineMtlsClients[id as PipelineMtlsClient].commonName
        : tierIdentity(id as WorkloadId);
}

/**
 * Who may call each mTLS server, by workload: the only subjects its listener admits (403
 * otherwise). The request path of docs/ARCHITECTURE.md: the gateway calls the guardrails (and the
 * model-promotion smoke test, which replays its sets through them); only the guardrails (the live
 * and the candidate tier, and the remote entry for other clusters' guardrails) call inference and
 * the output filter and the jailbreak heuristics; only the guardrail-promotion evaluation step
 * calls the candidate tier; only ingress-nginx (clients' requests) and the red-team assessment
 * call the gateway.
 */
export const mtlsCallers = {
    gateway: [ingressMtlsClient.id, "redteam-assessment"],
    guardrails: ["gateway", "kubeflow-pipelines"],
    "candidate-guardrails": ["candidate-evaluation"],
    inference: ["guardrails", "candidate-guardrails", "inference-entry"],
    "jailbreak-detection": ["guardrails", "candidate-guardrails"],
    "presidio-analyzer": ["guardrails", "candidate-guardrails"],
    "presidio-anonymizer": ["guardrails", "candidate-guardrails"],
} as const satisfies Partial<Record<WorkloadId, readonly MtlsCaller[]>>;

/** Workloads served behind an mTLS sidecar (the gateway is nginx: it terminates mTLS itself). */
export type MtlsServer = Exclude<keyof typeof mtlsCallers, "gateway">;

/** Whether `from` → `to` is an mTLS hop (a server of {@link mtlsCallers} that admits `from`). */
export function isMtlsHop(from: string, to: string): boolean {
    const callers = (mtlsCallers as Record<string, readonly string[]>)[to];
    return callers !== undefined && callers.includes(from);
}

/** Where a sidecar's (and the gateway's and the entry's) files are mounted. */
export const mtlsPaths = {
    conf: "/etc/mtls/conf",
    /** The workload's own certificate (tls.crt, tls.key, ca.crt). */
    tls: "/etc/mtls/tls",
    /** The remote hop's certificate: the entry's server one, or the uplink's client one. */
    remote: "/etc/mtls/remote",
} as const;

/** The files of a mounted `kubernetes.io/tls` Secret from cert-manager. */
export const tlsFiles = (dir: string) => [`${dir}/tls.crt`, `${dir}/tls.key`, `${dir}/ca.crt`];

/** A TLS server: certificate folder and the exact subjects admitted. */
export interface TlsServerSide {
    readonly dir: string;
    /** Subject CNs that may call; any other verified certificate gets 403. */
    readonly clients: readonly string[];
}

/** A TLS client: certificate folder and the server name to verify. */
export interface TlsClientSide {
    readonly dir: string;
    readonly serverName: string;
}

/** One listener of {@link nginxProxyConf}. */
export interface ProxyListener {
    /** Name in the audit lines (`"listener"`). */
    readonly name: string;
    /** nginx `listen` address: `8000` (every address) or `127.0.0.1:8001` (loopback only). */
    readonly listen: string;
    /** Terminate mTLS here; omitted on loopback listeners. */
    readonly server?: TlsServerSide;
    /** Forward only this method and path (everything else 404, other methods 403). Defaults to all. */
    readonly only?: { readonly method: "POST" | "GET"; readonly path: string };
    /** Where to: `host:port`, with TLS originated (client certificate, server verified) when set. */
    readonly upstream: { readonly address: string; readonly tls?: TlsClientSide };
}

/** Everything {@link nginxProxyConf} renders. */
export interface ProxySpec {
    /** Base name of the pid file in /tmp. */
    readonly name: string;
    readonly listeners: readonly ProxyListener[];
    /**
     * The plain health listener: `/healthz` (nginx itself) and, when `app` is set, `/health` →
     * the app's `appPath` (default `/health`).
     */
    readonly health: { readonly port: number; readonly app?: string; readonly appPath?: string };
    /** Request body limit. Defaults to 4m. */
    readonly maxBodySize?: string;
}

/** The `ssl_*` directives of an mTLS server: TLS 1.3, a client certificate of the CA required. */
export function sslServerDirectives(dir: string, indent = "        "): string {
    return [
        `ssl_certificate ${dir}/tls.crt;`,
        `ssl_certificate_key ${dir}/tls.key;`,
        "ssl_protocols TLSv1.3;",
        "ssl_session_tickets off;",
        // cert-manager's CA issuer writes the CA itself as ca.crt of every Secret it signs.
        `ssl_client_certificate ${dir}/ca.crt;`,
        "ssl_verify_client on;",
        "ssl_verify_depth 1;",
    ]
        .map((l) => indent + l)
        .join("\n");
}

/** The `proxy_ssl_*` directives of an mTLS client: presents its certificate, verifies the server's. */
export function proxySslDirectives(t: TlsClientSide, indent = "            "): string {
    return [
        `proxy_ssl_certificate ${t.dir}/tls.crt;`,
        `proxy_ssl_certificate_key ${t.dir}/tls.key;`,
        `proxy_ssl_trusted_certificate ${t.dir}/ca.crt;`,
        "proxy_ssl_verify on;",
        "proxy_ssl_verify_depth 1;",
        `proxy_ssl_name ${t.serverName};`,
        "proxy_ssl_server_name on;",
        "proxy_ssl_protocols TLSv1.3;",
        "proxy_ssl_session_reuse on;",
    ]
        .map((l) => indent + l)
        .join("\n");
}

/** nginx's temp paths under the pod's /tmp (read-only root file system). */
export const nginxTempPaths = `    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    server_tokens off;`;

/** An nginx server block on `port` that answers `/healthz` itself and `/health` from `app`. */
function healthServer(port: number, app?: string, appPath = "/health"): string {
    const appHealth =
        app === undefined
            ? ""
            : `
        location = /health {
            limit_except GET {
                deny all;
            }
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass http://${app}${appPath};
        }`;
    return `    server {
        listen ${port};
        access_log off;
        location = /healthz {
            return 200 "ok\\n";
        }${appHealth}
        location / {
            return 404;
        }
    }`;
}

/**
 * nginx configuration of an mTLS proxy (pure): the one builder of every sidecar, the remote
 * entry and the uplink. A server listener requires a client certificate of the CA (TLS 1.3) and
 * admits exactly its `clients` subjects (403 otherwise); an upstream with `tls` is reached over
 * TLS 1.3 with the client certificate, the server's certificate checked against the CA and name.
 * One audit line per request (listener, client subject, verification, status, timing; no bodies,
 * no headers but the gateway's request id).
 */
export function nginxProxyConf(spec: ProxySpec): string {
    const body = spec.maxBodySize ?? "4m";
    const maps: string[] = [];
    const upstreams: string[] = [];
    const servers: string[] = [];
    spec.listeners.forEach((l, i) => {
        const up = `${l.name.replace(/[^a-z0-9]/gi, "_")}_upstream`;
        upstreams.push(`    upstream ${up} {
        server ${l.upstream.address};
        keepalive 8;
    }`);
        const t = l.upstream.tls;
        const host = t?.serverName ?? l.upstream.address.replace(/:\d+$/, "");
        const proxy = [
            `            proxy_pass ${t ? "https" : "http"}://${up};`,
            "            proxy_http_version 1.1;",
            '            proxy_set_header Connection "";',
            `            proxy_set_header Host ${host};`,
            ...(t ? [proxySslDirectives(t)] : []),
            "            # Streaming answers pass through as they come.",
            "            proxy_buffering off;",
            "            proxy_read_timeout 300s;",
        ].join("\n");
        const locations =
            l.only === undefined
                ? `        location / {
${proxy}
        }`
                : `        location = ${l.only.path} {
            limit_except ${l.only.method} {
                deny all;
            }
${proxy}
        }
        location / {
            return 404;
        }`;
        let tls = "";
        if (l.server !== undefined) {
            const allowed = `mtls_allowed_${i}`;
            maps.push(`    map $ssl_client_s_dn $${allowed} {
        default 0;
${l.server.clients.map((c) => `        "CN=${c}" 1;`).join("\n")}
    }`);
            tls = `
${sslServerDirectives(l.server.dir)}
        if ($${allowed} = 0) {
            return 403;
        }`;
        }
        servers.push(`    server {
        listen ${l.listen}${l.server ? " ssl" : ""};
        set $mtls_listener ${l.name};${tls}
${locations}
    }`);
    });
    return `# Rendered by modules/k8s/llm/mtls.ts; do not edit in the cluster.
worker_processes 1;
pid /tmp/${spec.name}.pid;
error_log /dev/stderr warn;
events { worker_connections 256; }
http {
${nginxTempPaths}
${maps.length > 0 ? `    # The subject of a verified client certificate (RFC 2253) -> whether it may call. Subjects\n    # are Service hosts, longer than the default bucket (64) holds: nginx -t fails without this.\n    map_hash_bucket_size 128;\n${maps.join("\n")}\n` : ""}    log_format mtls escape=json '{"event":"mtls.request","time":"$time_iso8601",'
        '"listener":"$mtls_listener","request_id":"$http_x_request_id",'
        '"client":"$ssl_client_s_dn","client_serial":"$ssl_client_serial",'
        '"verify":"$ssl_client_verify",'
        '"method":"$request_method","uri":"$uri","status":$status,"duration":$request_time,'
        '"upstream_status":"$upstream_status"}';
    access_log /dev/stdout mtls;
    client_max_body_size ${body};
    client_body_buffer_size ${body};
${upstreams.join("\n")}
${servers.join("\n")}
${healthServer(spec.health.port, spec.health.app, spec.health.appPath)}
}
`;
}

/** A mounted file the run script copies to /tmp and nginx reads from there (last good copy kept). */
export interface CopiedFile {
    readonly mounted: string;
    readonly live: string;
}

/** What {@link nginxRunScript} watches and applies. */
export interface RunScriptSpec {
    /** Prefix of its events: `<event>.files_loaded` ... */
    readonly event: string;
    /** nginx.conf. */
    readonly conf: string;
    /** Files copied to /tmp before nginx reads them (the gateway's key map). Defaults to none. */
    readonly copies?: readonly CopiedFile[];
    /** Files nginx reads where they are mounted (certificates): a change is tested, then loaded. */
    readonly watched?: readonly string[];
    /** Seconds between two checks. Defaults to {@link nginxPollSeconds}. */
    readonly pollSeconds?: number;
}

/** Seconds between two checks of the mounted files for a rotation. */
export const nginxPollSeconds = 10;

/**
 * The entrypoint of every nginx we run (POSIX sh: the image's busybox ash, Debian's dash or
 * busybox in the real suite): runs nginx and applies rotated files without a restart. The kubelet
 * updates a mounted Secret in place (an atomic `..data` swap: a certificate and its key change
 * together) and nginx reads its files only when it (re)loads, so every few seconds the mounted
 * files are compared with the last ones seen; on a change the copied files are copied to /tmp,
 * the whole configuration is checked with `nginx -t` (its output discarded: an error can quote a
 * line of a file, i.e. a key), and only a configuration that passes is applied by SIGHUP (nginx's
 * graceful reload: new workers with the new files, old ones finish their requests). A rejected
 * copy is rolled back, so nginx keeps the last good set, also across container restarts (the copy
 * is in the pod's /tmp emptyDir); a rejected certificate is never loaded (nginx keeps the one in
 * memory). Only a first start without a passing configuration exits 1. Events are JSON lines on
 * stderr, without file contents.
 */
export function nginxRunScript(spec: RunScriptSpec): string {
    const copies = spec.copies ?? [];
    const watched = [...copies.map((c) => c.mounted), ...(spec.watched ?? [])];
    const q = (s: string) => `'${s}'`;
    const copyIn = copies
        .map(
            (c, i) => `    mkdir -p ${q(c.live.replace(/\/[^/]*$/, ""))} || return 1
    cp ${q(c.mounted)} ${q(`${c.live}.new`)} 2>/dev/null || return 1
    if [ -f ${q(c.live)} ]; then cp ${q(c.live)} ${q(`${c.live}.good`)} || return 1; fi
    mv -f ${q(`${c.live}.new`)} ${q(c.live)} || return 1
    copied=${i + 1}`,
        )
        .join("\n");
    const commit = copies.map((c) => `        rm -f ${q(`${c.live}.good`)}`).join("\n");
    const rollback = copies
        .map(
            (c) =>
                `    if [ -f ${q(`${c.live}.good`)} ]; then mv -f ${q(`${c.live}.good`)} ${q(c.live)}; else rm -f ${q(c.live)}; fi`,
        )
        .join("\n");
    const lastGood =
        copies.length === 0 ? "false" : copies.map((c) => `[ -f ${q(c.live)} ]`).join(" && ");
    return `#!/bin/sh
# Rendered by modules/k8s/llm/mtls.ts (nginxRunScript); do not edit in the cluster.
set -u
conf=${spec.conf}
poll=${spec.pollSeconds ?? nginxPollSeconds}
event() { printf '{"event":"${spec.event}.%s"%s}\\n' "$1" "\${2:-}" >&2; }
# Checksum of every watched file (a missing one counts as a change once it appears).
state() { for f in ${watched.map(q).join(" ")}; do cksum < "$f" 2>/dev/null || echo missing; done; }
# Copies the copied files in; keeps the new set only if nginx accepts the whole configuration.
apply() {
    copied=0
${copyIn || "    :"}
    if nginx -t -q -e /dev/null -c "$conf" >/dev/null 2>&1; then
${commit || "        :"}
        return 0
    fi
${rollback || "    :"}
    return 1
}
seen=$(state)
if apply; then
    event files_loaded
elif ${lastGood}; then
    event files_rejected ',"kept":"last good set"'
else
    event files_rejected ',"kept":"none: not starting"'
    exit 1
fi
nginx -e /dev/stderr -g 'daemon off;' -c "$conf" &
pid=$!
trap 'kill -QUIT "$pid" 2>/dev/null' TERM INT QUIT
while kill -0 "$pid" 2>/dev/null; do
    sleep "$poll" &
    wait $! 2>/dev/null
    now=$(state)
    [ "$now" = "$seen" ] && continue
    seen=$now
    if apply; then
        kill -HUP "$pid" && event files_reloaded
    else
        event files_rejected ',"kept":"last good set"'
    fi
done
wait "$pid"
`;
}

/** The cluster's CA: the bootstrap Issuer, the CA Certificate and the ClusterIssuer. */
export class ClusterMtls extends pulumi.ComponentResource {
    /** The ClusterIssuer every certificate depends on. */
    public readonly issuer: k8s.apiextensions.CustomResource;

    constructor(
        name: string,
        args: { readonly clusterName: string },
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("secure-llm-platform:llm:ClusterMtls", name, {}, opts);
        const ns = serviceNamespaces.certManager;
        const bootstrap = new k8s.apiextensions.CustomResource(
            `${name}-bootstrap-issuer`,
            {
                apiVersion: certManager,
                kind: "Issuer",
                metadata: { name: mtlsNames.selfSignedIssuer, namespace: ns },
                spec: { selfSigned: {} },
            },
            { parent: this },
        );
        const ca = new k8s.apiextensions.CustomResource(
            `${name}-ca`,
            {
                apiVersion: certManager,
                kind: "Certificate",
                metadata: { name: mtlsNames.caCertificate, namespace: ns },
                spec: {
                    isCA: true,
                    commonName: `secure-llm-platform mTLS CA (${args.clusterName})`,
                    secretName: mtlsNames.caSecret,
                    ...certificateLifetimes.ca,
                    privateKey: certificateKey,
                    issuerRef: { name: mtlsNames.selfSignedIssuer, kind: "Issuer" },
                },
            },
            { parent: this, dependsOn: [bootstrap] },
        );
        this.issuer = new k8s.apiextensions.CustomResource(
            `${name}-issuer`,
            {
                apiVersion: certManager,
                kind: "ClusterIssuer",
                metadata: { name: mtlsNames.clusterIssuer },
                spec: { ca: { secretName: mtlsNames.caSecret } },
            },
            { parent: this, dependsOn: [ca] },
        );
        this.registerOutputs({});
    }
}

/** What a certificate is for. */
export type CertificateUse = "server" | "client";

/** Spec of a cert-manager Certificate from the cluster CA (pure). */
export function certificateSpec(opts: {
    readonly secretName: string;
    readonly commonName: string;
    readonly uses: readonly CertificateUse[];
    readonly dnsNames?: readonly string[];
    readonly ipAddresses?: readonly string[];
}): Record<string, unknown> {
    return {
        secretName: opts.secretName,
        commonName: opts.commonName,
        ...(opts.dnsNames && opts.dnsNames.length > 0 ? { dnsNames: [...opts.dnsNames] } : {}),
        ...(opts.ipAddresses && opts.ipAddresses.length > 0
            ? { ipAddresses: [...opts.ipAddresses] }
            : {}),
        usages: [...opts.uses.map((u) => `${u} auth`), "digital signature"],
        ...certificateLifetimes.leaf,
        privateKey: certificateKey,
        issuerRef: {
            name: mtlsNames.clusterIssuer,
            kind: "ClusterIssuer",
            group: "cert-manager.io",
        },
    };
}

/** The Certificate of a workload's own identity ({@link tierIdentity}). */
export function tierCertificate(
    name: string,
    w: Workload,
    uses: readonly CertificateUse[],
    labels: Record<string, string>,
    opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResource {
    const identity = tierIdentity(w.id);
    return new k8s.apiextensions.CustomResource(
        name,
        {
            apiVersion: certManager,
            kind: "Certificate",
            metadata: { name: mtlsNames.certificate(w.id), namespace: w.namespace, labels },
            spec: certificateSpec({
                secretName: mtlsNames.certificate(w.id),
                commonName: identity,
                uses,
                // The Service host and its short forms, as clients may name it.
                dnsNames: uses.includes("server")
                    ? [identity, `${w.id}.${w.namespace}.svc`, `${w.id}.${w.namespace}`]
                    : [],
            }),
        },
        opts,
    );
}

/**
 * The Certificate spec of a pipeline step's client identity (pure): client auth only, no DNS
 * name (it serves nothing), from the cluster CA like every tier's.
 */
export function pipelineClientCertificateSpec(id: PipelineMtlsClient): Record<string, unknown> {
    const c = pipelineMtlsClients[id];
    return certificateSpec({ secretName: c.secret, commonName: c.commonName, uses: ["client"] });
}

/** The Certificate spec of ingress-nginx's client identity towards the gateway (pure). */
export function ingressClientCertificateSpec(): Record<string, unknown> {
    return certificateSpec({
        secretName: ingressMtlsClient.secret,
        commonName: ingressMtlsClient.commonName,
        uses: ["client"],
    });
}

/** Small, fixed resources of an mTLS sidecar. */
export const sidecarResources = {
    requests: { cpu: "20m", memory: "32Mi", ephemeralStorage: "32Mi" },
    limits: { cpu: "500m", memory: "128Mi", ephemeralStorage: "128Mi" },
} as const;

/** The command of every nginx we run under {@link nginxRunScript}. */
export const runScriptCommand = (confDir: string) => ["/bin/sh", `${confDir}/run-nginx.sh`];

/** What a sidecar of {@link withMtlsSidecar} needs. */
export interface MtlsSidecar {
    /** nginx image (the gateway tier's). */
    readonly image: TierImage;
    /** ConfigMap with `nginx.conf` and `run-nginx.sh`. */
    readonly configMap: pulumi.Input<string>;
    /** Checksum of both, for the pod template. */
    readonly checksum: string;
    /** The workload's own certificate Secret. */
    readonly secret: string;
    /** A second certificate Secret at {@link mtlsPaths.remote} (entry or uplink), if any. */
    readonly remoteSecret?: string;
    /** Port the sidecar serves for other pods (the tier's Service port), if any. */
    readonly port?: { readonly name: string; readonly containerPort: number };
}

/**
 * The workload with the mTLS sidecar added (pure): nginx under the run script, its own listener
 * on the tier's port (named like the catalog port, so Service and probes follow), the plain
 * health listener for probes; the certificates are mounted into the sidecar alone.
 */
export function withMtlsSidecar(
    spec: HardenedWorkloadComponentArgs,
    s: MtlsSidecar,
): HardenedWorkloadComponentArgs {
    const sidecar: ContainerSpec = {
        name: "mtls",
        image: { repository: s.image.repository, tag: s.image.tag, digest: s.image.digest },
        command: runScriptCommand(mtlsPaths.conf),
        resources: sidecarResources,
        ports: [
            ...(s.port ? [s.port] : []),
            { name: "mtls-health", containerPort: workloadPorts.mtlsHealth },
        ],
        probes: {
            readiness: { path: "/healthz", port: "mtls-health" },
            liveness: { path: "/healthz", port: "mtls-health", periodSeconds: 20 },
        },
        mounts: [
            { name: "mtls-conf", mountPath: mtlsPaths.conf, readOnly: true },
            { name: "mtls-tls", mountPath: mtlsPaths.tls, readOnly: true },
            ...(s.remoteSecret
                ? [{ name: "mtls-remote", mountPath: mtlsPaths.remote, readOnly: true }]
                : []),
        ],
    };
    const volumes: VolumeSpec[] = [
        { name: "mtls-conf", configMap: { name: s.configMap } },
        { name: "mtls-tls", secret: { secretName: s.secret } },
        ...(s.remoteSecret
            ? [{ name: "mtls-remote", secret: { secretName: s.remoteSecret } }]
            : []),
    ];
    return {
        ...spec,
        containers: [...spec.containers, sidecar],
        volumes: [...(spec.volumes ?? []), ...volumes],
        podAnnotations: {
            ...(spec.podAnnotations ?? {}),
            [mtlsChecksumAnnotation]: s.checksum,
        },
    };
}

/** Pod-template annotation: checksum of the sidecar's configuration (a change rolls the pods). */
export const mtlsChecksumAnnotation = `${annotations.configChecksum}-mtls`;

/** The server listener of a tier's sidecar: the tier's port, mTLS, only its callers, → the app. */
export function tierServerListener(id: MtlsServer, appPort: number): ProxyListener {
    return {
        name: id,
        listen: String(catalog[id].ports[0].port),
        server: {
            dir: mtlsPaths.tls,
            clients: (mtlsCallers[id] as readonly MtlsCaller[]).map(mtlsIdentity),
        },
        upstream: { address: `127.0.0.1:${appPort}` },
    };
}

/**
 * A loopback client listener of a sidecar: plain HTTP in the pod, forwarding only `only` over
 * mTLS to the tier `to`.
 */
export function tierClientListener(
    to: MtlsServer,
    localPort: number,
    only: ProxyListener["only"],
): ProxyListener {
    const w = catalog[to];
    return {
        name: `to-${to}`,
        listen: `127.0.0.1:${localPort}`,
        only,
        upstream: {
            address: `${w.serviceHost}:${w.ports[0].port}`,
            tls: { dir: mtlsPaths.tls, serverName: tierIdentity(to) },
        },
    };
}

/** `http://127.0.0.1:<port>`: what a client in a pod with a sidecar calls. */
export const loopbackUrl = (port: number) => `http://127.0.0.1:${port}`;

/** Loopback port of each server behind its sidecar (the app binds 127.0.0.1 where it can). */
export const mtlsAppPorts: Readonly<Record<MtlsServer, number>> = {
    guardrails: workloadPorts.loopbackApp,
    "candidate-guardrails": workloadPorts.loopbackApp,
    "jailbreak-detection": workloadPorts.loopbackApp,
    inference: workloadPorts.loopbackApp,
    "presidio-analyzer": workloadPorts.loopbackPresidio,
    "presidio-anonymizer": workloadPorts.loopbackPresidio,
};

/** Probes of an app behind its sidecar: `/health` through the sidecar's health listener. */
export function appProbesThroughSidecar(startup?: {
    readonly periodSeconds: number;
    readonly failureThreshold: number;
}): NonNullable<ContainerSpec["probes"]> {
    // A port number, not a name: named ports resolve only among the probed container's own.
    const port = workloadPorts.mtlsHealth;
    return {
        readiness: { path: "/health", port },
        liveness: { path: "/health", port, periodSeconds: 20 },
        ...(startup ? { startup: { path: "/health", port, ...startup } } : {}),
    };
}

/**
 * The sidecar configuration of a tier server (pure): its mTLS listener in front of the app on
 * loopback, `extra` listeners (the guardrails' loopback clients), the health listener whose
 * `/health` is the app's.
 */
export function tierSidecarConf(id: MtlsServer, extra: readonly ProxyListener[] = []): string {
    const app = mtlsAppPorts[id];
    return nginxProxyConf({
        name: `${id}-mtls`,
        listeners: [tierServerListener(id, app), ...extra],
        health: {
            port: workloadPorts.mtlsHealth,
            app: `127.0.0.1:${app}`,
            appPath: mtlsAppHealthPaths[id],
        },
    });
}

/**
 * The app's health path where it is not `/health`: the jailbreak heuristics server (NeMo
 * Guardrails 0.24.1 `library/jailbreak_detection/server.py`) has no health route; its `GET /`
 * answers 200 once the app serves.
 */
export const mtlsAppHealthPaths: Partial<Record<MtlsServer, string>> = {
    "jailbreak-detection": "/",
};

/** The run script of a sidecar: its own certificate (and the remote one) watched. */
export function sidecarRunScript(remote: boolean, pollSeconds?: number): string {
    return nginxRunScript({
        event: "mtls",
        conf: `${mtlsPaths.conf}/nginx.conf`,
        watched: [...tlsFiles(mtlsPaths.tls), ...(remote ? tlsFiles(mtlsPaths.remote) : [])],
        pollSeconds,
    });
}
