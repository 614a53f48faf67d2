/**
 * Remote inference (issue 16, docs/hybrid.md): a cluster without inference sends its guardrails'
 * model calls to another cluster's inference through a private, mutually authenticated entry.
 *
 * Serving cluster ({@link InferenceEntry}): a cert-manager CA whose key stays in a Secret of that
 * cluster; the entry (nginx) with a server certificate from it, verifying client certificates from
 * it and forwarding only `POST /v1/chat/completions` to inference; an internal OCI network load
 * balancer Service on a fixed private address; per calling cluster a client certificate, pushed by
 * External Secrets into the serving cluster's OCI Vault (the only copy that leaves the cluster,
 * encrypted by the vault's key).
 *
 * Calling cluster ({@link InferenceUplink}): External Secrets pulls that client certificate; an
 * nginx "uplink" sidecar in the guardrails pod listens on loopback only, presents it and verifies
 * the entry's certificate, so the guardrails' OpenAI client speaks plain HTTP to 127.0.0.1 and
 * the certificate's key is mounted into the sidecar alone.
 */
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../../config";
import type { InferenceClient } from "../../config/private-link";
import type { TierImage, TierResources } from "../../config/tiers";
import { annotations } from "../../constants/labels";
import { clientCommonName, clientVaultSecretName, entryServerName } from "../../constants/remote";
import { externalSecretsApiVersion } from "../../constants/secrets";
import { workloadPorts } from "../../constants/ports";
import { priorityClasses } from "../../constants/scheduling";
import { tierNamespaces } from "../../constants/namespaces";
import { catalog } from "../catalog";
import {
    ContainerSpec,
    HardenedWorkload,
    HardenedWorkloadComponentArgs,
    VolumeSpec,
    buildWorkloadLabels,
} from "../workload";
import { oracleProvider } from "../baseline/secrets";

/** An nginx server block on `port` that answers only `GET /healthz` with `ok` (probes). */
function healthServer(port: number): string {
    return `    server {
        listen ${port};
        access_log off;
        location = /healthz {
            return 200 "ok\\n";
        }
        location / {
            return 404;
        }
    }`;
}

/** Names of the objects, one place for the components, the intent and the tests. */
export const remoteNames = {
    selfSignedIssuer: "inference-entry-bootstrap",
    caCertificate: "inference-entry-ca",
    caSecret: "inference-entry-ca",
    caIssuer: "inference-entry-ca",
    serverCertificate: "inference-entry-server",
    serverSecret: "inference-entry-tls",
    entryConfigMap: "inference-entry-nginx",
    loadBalancer: "inference-entry-lb",
    pushStore: "oci-vault-inference-clients",
    clientSecret: (calling: string) => `guardrails-client-${calling}`,
    uplinkStore: "oci-vault-inference-uplink",
    uplinkSecret: "guardrails-uplink-tls",
    uplinkConfigMap: "guardrails-uplink-nginx",
} as const;

/** Where the entry's container mounts its files. */
const entryPaths = { conf: "/etc/inference-entry/conf", tls: "/etc/inference-entry/tls" } as const;
/** Where the uplink sidecar mounts its files. */
const uplinkPaths = {
    conf: "/etc/guardrails-uplink/conf",
    tls: "/etc/guardrails-uplink/tls",
} as const;

/** Certificate lifetimes: short-lived leaves renewed by cert-manager, a longer-lived CA. */
export const certificateLifetimes = {
    ca: { duration: "8760h", renewBefore: "720h" },
    leaf: { duration: "720h", renewBefore: "240h" },
} as const;

const nginxPreamble = (pidFile: string) => `worker_processes 1;
pid /tmp/${pidFile};
error_log /dev/stderr warn;
events { worker_connections 256; }`;

const tempPaths = `    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    server_tokens off;`;

/**
 * nginx configuration of the entry (pure). TLS 1.3 only; a client certificate is required and
 * must chain to the entry's CA (`ca.crt` of the server certificate's Secret, which cert-manager's
 * CA issuer sets to the CA itself) with a subject that is exactly one of `clients`' common names;
 * only `POST /v1/chat/completions` is forwarded to inference, everything else is 404 or 405.
 */
export function entryNginxConf(clients: readonly string[], maxBodySize = "1m"): string {
    const upstream = `${catalog.inference.serviceHost}:${catalog.inference.ports[0].port}`;
    const allowed = clients.map((c) => `        "CN=${clientCommonName(c)}" 1;`).join("\n");
    return `# Rendered by modules/k8s/llm/remote.ts; do not edit in the cluster.
${nginxPreamble("inference-entry.pid")}
http {
${tempPaths}
    # The subject of a verified client certificate (RFC 2253) -> whether it may call.
    map $ssl_client_s_dn $entry_client_allowed {
        default 0;
${allowed}
    }
    # Audit line per request: the client's subject, status, timing; no bodies, no headers.
    log_format entry escape=json '{"event":"inference-entry.request","time":"$time_iso8601",'
        '"request_id":"$request_id","client":"$ssl_client_s_dn","verify":"$ssl_client_verify",'
        '"method":"$request_method","uri":"$uri","status":$status,"duration":$request_time,'
        '"upstream_status":"$upstream_status"}';
    access_log /dev/stdout entry;
    client_max_body_size ${maxBodySize};
    client_body_buffer_size ${maxBodySize};
    upstream inference {
        server ${upstream};
        keepalive 8;
    }
    server {
        listen ${workloadPorts.inferenceEntry} ssl;
        ssl_certificate ${entryPaths.tls}/tls.crt;
        ssl_certificate_key ${entryPaths.tls}/tls.key;
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_client_certificate ${entryPaths.tls}/ca.crt;
        ssl_verify_client on;
        ssl_verify_depth 1;
        if ($entry_client_allowed = 0) {
            return 403;
        }
        location = /v1/chat/completions {
            limit_except POST {
                deny all;
            }
            proxy_pass http://inference;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host ${catalog.inference.serviceHost};
            # Streaming answers pass through as they come.
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
        location / {
            return 404;
        }
    }
${healthServer(workloadPorts.inferenceEntryHealth)}
}
`;
}

/** What the uplink dials: the entry's load balancer address and the name in its certificate. */
export interface UplinkTarget {
    readonly servingCluster: string;
    readonly address: string;
    readonly port: number;
}

/**
 * nginx configuration of the guardrails' uplink sidecar (pure): listens on loopback only, forwards
 * only `POST /v1/chat/completions` to the remote entry over TLS 1.3, presenting the client
 * certificate and verifying the entry's against the CA and its name.
 */
export function uplinkNginxConf(target: UplinkTarget): string {
    const name = entryServerName(target.servingCluster);
    return `# Rendered by modules/k8s/llm/remote.ts; do not edit in the cluster.
${nginxPreamble("guardrails-uplink.pid")}
http {
${tempPaths}
    log_format uplink escape=json '{"event":"guardrails-uplink.request","time":"$time_iso8601",'
        '"method":"$request_method","uri":"$uri","status":$status,"duration":$request_time,'
        '"upstream_status":"$upstream_status"}';
    access_log /dev/stdout uplink;
    upstream remote_inference {
        server ${target.address}:${target.port};
        keepalive 8;
    }
    server {
        listen 127.0.0.1:${workloadPorts.guardrailsUplink};
        location = /v1/chat/completions {
            limit_except POST {
                deny all;
            }
            proxy_pass https://remote_inference;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host ${name};
            proxy_ssl_certificate ${uplinkPaths.tls}/tls.crt;
            proxy_ssl_certificate_key ${uplinkPaths.tls}/tls.key;
            proxy_ssl_trusted_certificate ${uplinkPaths.tls}/ca.crt;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 1;
            proxy_ssl_name ${name};
            proxy_ssl_server_name on;
            proxy_ssl_protocols TLSv1.3;
            proxy_ssl_session_reuse on;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }
        location / {
            return 404;
        }
    }
${healthServer(workloadPorts.guardrailsUplinkHealth)}
}
`;
}

/** OpenAI base URL the guardrails use when their inference is remote: the uplink on loopback. */
export const uplinkBaseUrl = `http://127.0.0.1:${workloadPorts.guardrailsUplink}/v1`;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const nginxResources = (r: TierResources) => ({ requests: r.requests, limits: r.limits });

/** Small, fixed resources of the uplink sidecar. */
const uplinkResources = {
    requests: { cpu: "20m", memory: "32Mi", ephemeralStorage: "32Mi" },
    limits: { cpu: "500m", memory: "128Mi", ephemeralStorage: "128Mi" },
} as const;

/** The nginx command the entry and the uplink run (the gateway image's nginx). */
const nginxCommand = (conf: string) => ["nginx", "-g", "daemon off;", "-c", `${conf}/nginx.conf`];

/** The guardrails workload with the uplink sidecar added (pure): the key is mounted into the sidecar only. */
export function withUplink(
    spec: HardenedWorkloadComponentArgs,
    image: TierImage,
    confChecksum: string,
): HardenedWorkloadComponentArgs {
    const sidecar: ContainerSpec = {
        name: "uplink",
        image: { repository: image.repository, tag: image.tag, digest: image.digest },
        command: nginxCommand(uplinkPaths.conf),
        resources: uplinkResources,
        ports: [{ name: "uplink-health", containerPort: workloadPorts.guardrailsUplinkHealth }],
        probes: {
            readiness: { path: "/healthz", port: "uplink-health" },
            liveness: { path: "/healthz", port: "uplink-health", periodSeconds: 20 },
        },
        mounts: [
            { name: "uplink-conf", mountPath: uplinkPaths.conf, readOnly: true },
            { name: "uplink-tls", mountPath: uplinkPaths.tls, readOnly: true },
        ],
    };
    const volumes: VolumeSpec[] = [
        { name: "uplink-conf", configMap: { name: remoteNames.uplinkConfigMap } },
        { name: "uplink-tls", secret: { secretName: remoteNames.uplinkSecret } },
    ];
    return {
        ...spec,
        containers: [...spec.containers, sidecar],
        volumes: [...(spec.volumes ?? []), ...volumes],
        podAnnotations: {
            ...(spec.podAnnotations ?? {}),
            "secure-llm-platform.io/uplink-checksum": confChecksum,
        },
    };
}

/** Annotations of the entry's LoadBalancer Service: an internal OCI network load balancer. */
export function entryLoadBalancerAnnotations(
    address: string,
    nsgId?: pulumi.Input<string>,
): Record<string, pulumi.Input<string>> {
    // oracle/oci-cloud-controller-manager pkg/cloudprovider/providers/oci/load_balancer_spec.go
    // (ServiceAnnotationLoadBalancerType, ServiceAnnotationNetworkLoadBalancer{Internal,
    // AssignedPrivateIpV4,IsPreserveSource,NetworkSecurityGroups,SecurityListManagementMode}) and
    // OKE's "Provisioning OCI Network Load Balancers for Kubernetes Services of Type LoadBalancer".
    return {
        "oci.oraclecloud.com/load-balancer-type": "nlb",
        "oci-network-load-balancer.oraclecloud.com/internal": "true",
        "oci-network-load-balancer.oraclecloud.com/assigned-private-ipv4": address,
        // The entry's NetworkPolicy admits the private link's CIDRs: the source must survive.
        "oci-network-load-balancer.oraclecloud.com/is-preserve-source": "true",
        // The program's NSG rules admit the link (modules/oci/private-link.ts), not the CCM.
        "oci-network-load-balancer.oraclecloud.com/security-list-management-mode": "None",
        ...(nsgId === undefined
            ? {}
            : { "oci-network-load-balancer.oraclecloud.com/oci-network-security-groups": nsgId }),
    };
}

/** What the serving cluster's OCI layer hands to the entry (push of client certificates). */
export interface EntryVault {
    readonly vaultId: pulumi.Input<string>;
    readonly region: string;
    readonly compartmentId: string;
    /** Key of the vault that encrypts pushed secrets. */
    readonly keyId: pulumi.Input<string>;
    /** NSG of the network load balancer (admits the private link's CIDRs on the entry port). */
    readonly loadBalancerNsgId?: pulumi.Input<string>;
}

/** Arguments for {@link InferenceEntry}. */
export interface InferenceEntryArgs {
    /** The serving cluster. */
    readonly cluster: ClusterConfig;
    /** The clusters whose guardrails call it (from `inferenceFrom`); at least one. */
    readonly clients: readonly InferenceClient[];
    /** nginx image (the gateway tier's). */
    readonly image: TierImage;
    /** Resources of each entry pod. Defaults to the gateway tier's. */
    readonly resources: TierResources;
    /** Entry pods. Defaults to 2. */
    readonly replicas?: number;
    /** OKE: where client certificates are pushed; without it none are (the plan reports it). */
    readonly vault?: EntryVault;
}

const certManager = "cert-manager.io/v1";

export { clientCommonName, clientVaultSecretName, entryServerName } from "../../constants/remote";

/** The serving cluster's side: CA, certificates, entry pods, internal load balancer, pushes. */
export class InferenceEntry extends pulumi.ComponentResource {
    constructor(name: string, args: InferenceEntryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:llm:InferenceEntry", name, {}, opts);
        const w = catalog["inference-entry"];
        const ns = w.namespace;
        const labels = buildWorkloadLabels(w);
        const child = { parent: this };
        if (args.clients.length === 0) {
            throw new pulumi.ResourceError(
                `cluster ${args.cluster.name}: an inference entry needs at least one calling cluster`,
                this,
            );
        }
        const cr = (
            suffix: string,
            kind: string,
            objName: string,
            spec: Record<string, unknown>,
            deps: pulumi.Resource[] = [],
            apiVersion = certManager,
        ) =>
            new k8s.apiextensions.CustomResource(
                `${name}-${suffix}`,
                { apiVersion, kind, metadata: { name: objName, namespace: ns, labels }, spec },
                { parent: this, dependsOn: deps },
            );
        const key = { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" };
        // The CA: self-signed once, its key in a Secret of this namespace only.
        const bootstrap = cr("bootstrap-issuer", "Issuer", remoteNames.selfSignedIssuer, {
            selfSigned: {},
        });
        const ca = cr(
            "ca",
            "Certificate",
            remoteNames.caCertificate,
            {
                isCA: true,
                commonName: `secure-llm-platform inference entry CA (${args.cluster.name})`,
                secretName: remoteNames.caSecret,
                ...certificateLifetimes.ca,
                privateKey: key,
                issuerRef: { name: remoteNames.selfSignedIssuer, kind: "Issuer" },
            },
            [bootstrap],
        );
        const caIssuer = cr(
            "ca-issuer",
            "Issuer",
            remoteNames.caIssuer,
            { ca: { secretName: remoteNames.caSecret } },
            [ca],
        );
        const issuerRef = { name: remoteNames.caIssuer, kind: "Issuer" };
        const server = cr(
            "server-cert",
            "Certificate",
            remoteNames.serverCertificate,
            {
                secretName: remoteNames.serverSecret,
                commonName: entryServerName(args.cluster.name),
                dnsNames: [entryServerName(args.cluster.name)],
                ipAddresses: [...new Set(args.clients.map((c) => c.entryAddress))],
                usages: ["server auth", "digital signature"],
                ...certificateLifetimes.leaf,
                privateKey: key,
                issuerRef,
            },
            [caIssuer],
        );
        const clientCerts = args.clients.map((c) =>
            cr(
                `client-cert-${c.cluster}`,
                "Certificate",
                remoteNames.clientSecret(c.cluster),
                {
                    secretName: remoteNames.clientSecret(c.cluster),
                    commonName: clientCommonName(c.cluster),
                    usages: ["client auth", "digital signature"],
                    ...certificateLifetimes.leaf,
                    privateKey: key,
                    issuerRef,
                },
                [caIssuer],
            ),
        );
        if (args.vault !== undefined) {
            const v = args.vault;
            // External Secrets writes the client bundles into the vault (workload identity; the
            // IAM statement that allows exactly these secrets is modules/oci/private-link.ts's).
            const store = new k8s.apiextensions.CustomResource(
                `${name}-push-store`,
                {
                    apiVersion: externalSecretsApiVersion,
                    kind: "ClusterSecretStore",
                    metadata: { name: remoteNames.pushStore, labels },
                    spec: {
                        provider: {
                            oracle: {
                                ...oracleProvider({
                                    kind: "workload",
                                    vaultId: v.vaultId,
                                    region: v.region,
                                }),
                                compartment: v.compartmentId,
                                encryptionKey: v.keyId,
                            },
                        },
                        conditions: [{ namespaces: [ns] }],
                    },
                },
                child,
            );
            args.clients.forEach((c, i) =>
                cr(
                    `push-${c.cluster}`,
                    "PushSecret",
                    remoteNames.clientSecret(c.cluster),
                    {
                        refreshInterval: "1h",
                        updatePolicy: "Replace",
                        deletionPolicy: "Delete",
                        secretStoreRefs: [
                            { name: remoteNames.pushStore, kind: "ClusterSecretStore" },
                        ],
                        selector: { secret: { name: remoteNames.clientSecret(c.cluster) } },
                        // No secretKey: the whole Secret (tls.crt, tls.key, ca.crt) as one JSON value.
                        data: [
                            {
                                match: {
                                    remoteRef: {
                                        remoteKey: clientVaultSecretName(
                                            args.cluster.name,
                                            c.cluster,
                                        ),
                                    },
                                },
                            },
                        ],
                    },
                    [store, clientCerts[i]!],
                    "external-secrets.io/v1alpha1",
                ),
            );
        }

        const conf = entryNginxConf(args.clients.map((c) => c.cluster));
        const confMap = new k8s.core.v1.ConfigMap(
            `${name}-conf`,
            {
                metadata: { name: remoteNames.entryConfigMap, namespace: ns, labels },
                data: { "nginx.conf": conf },
            },
            child,
        );
        const spec: HardenedWorkloadComponentArgs = {
            workload: w,
            replicas: args.replicas ?? 2,
            priorityClassName: priorityClasses.serving,
            podAnnotations: { [annotations.configChecksum]: sha256(conf) },
            containers: [
                {
                    name: "entry",
                    image: {
                        repository: args.image.repository,
                        tag: args.image.tag,
                        digest: args.image.digest,
                    },
                    command: nginxCommand(entryPaths.conf),
                    resources: nginxResources(args.resources),
                    probes: {
                        readiness: { path: "/healthz", port: "health" },
                        liveness: { path: "/healthz", port: "health", periodSeconds: 20 },
                    },
                    mounts: [
                        { name: "conf", mountPath: entryPaths.conf, readOnly: true },
                        { name: "tls", mountPath: entryPaths.tls, readOnly: true },
                    ],
                },
            ],
            volumes: [
                { name: "conf", configMap: { name: confMap.metadata.name } },
                { name: "tls", secret: { secretName: remoteNames.serverSecret } },
            ],
        };
        const entry = new HardenedWorkload(`${name}-entry`, spec, {
            parent: this,
            dependsOn: [server],
        });
        const address = args.clients[0]!.entryAddress;
        new k8s.core.v1.Service(
            `${name}-lb`,
            {
                metadata: {
                    name: remoteNames.loadBalancer,
                    namespace: ns,
                    labels,
                    annotations: entryLoadBalancerAnnotations(
                        address,
                        args.vault?.loadBalancerNsgId,
                    ),
                },
                spec: {
                    type: "LoadBalancer",
                    // Local: no second hop through kube-proxy, and the client's address survives.
                    externalTrafficPolicy: "Local",
                    loadBalancerSourceRanges: [...new Set(args.clients.flatMap((c) => c.cidrs))],
                    selector: { ...w.podLabels },
                    ports: [
                        {
                            name: "https",
                            port: workloadPorts.inferenceEntry,
                            targetPort: "https",
                            protocol: "TCP",
                        },
                    ],
                },
            },
            { parent: this, dependsOn: [entry] },
        );
        this.registerOutputs({});
    }
}

/** Arguments for {@link InferenceUplink}. */
export interface InferenceUplinkArgs {
    /** The calling cluster. */
    readonly cluster: ClusterConfig;
    readonly target: UplinkTarget;
    /** The serving cluster's vault (its OCID and region), where its client certificate is pushed. */
    readonly vault: { readonly vaultId: pulumi.Input<string>; readonly region: string };
}

/** The calling cluster's side: the uplink's configuration and its client certificate from the vault. */
export class InferenceUplink extends pulumi.ComponentResource {
    /** Checksum of the uplink configuration, for the guardrails pod template. */
    public readonly confChecksum: string;

    constructor(name: string, args: InferenceUplinkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:llm:InferenceUplink", name, {}, opts);
        const w = catalog.guardrails;
        const ns = tierNamespaces.guardrails;
        const labels = buildWorkloadLabels(w);
        const child = { parent: this };
        const auth = args.cluster.layer.baseline.secrets.existingClusterAuth;
        if (auth === undefined) {
            throw new pulumi.ResourceError(
                `cluster ${args.cluster.name}: the uplink's client certificate needs baseline.secrets.existingClusterAuth`,
                this,
            );
        }
        const conf = uplinkNginxConf(args.target);
        this.confChecksum = sha256(conf);
        new k8s.core.v1.ConfigMap(
            `${name}-conf`,
            {
                metadata: { name: remoteNames.uplinkConfigMap, namespace: ns, labels },
                data: { "nginx.conf": conf },
            },
            child,
        );
        // The same API key as the cluster's `oci-vault` store, reading the serving cluster's vault;
        // usable from the guardrails namespace only.
        const store = new k8s.apiextensions.CustomResource(
            `${name}-store`,
            {
                apiVersion: externalSecretsApiVersion,
                kind: "ClusterSecretStore",
                metadata: { name: remoteNames.uplinkStore, labels },
                spec: {
                    provider: {
                        oracle: {
                            ...oracleProvider({ kind: "api-key", existing: auth }),
                            vault: args.vault.vaultId,
                            region: args.vault.region,
                        },
                    },
                    conditions: [{ namespaces: [ns] }],
                },
            },
            child,
        );
        new k8s.apiextensions.CustomResource(
            `${name}-tls`,
            {
                apiVersion: externalSecretsApiVersion,
                kind: "ExternalSecret",
                metadata: { name: remoteNames.uplinkSecret, namespace: ns, labels },
                spec: {
                    refreshInterval: "1h",
                    secretStoreRef: { kind: "ClusterSecretStore", name: remoteNames.uplinkStore },
                    target: {
                        name: remoteNames.uplinkSecret,
                        creationPolicy: "Owner",
                        deletionPolicy: "Retain",
                        template: { type: "kubernetes.io/tls" },
                    },
                    dataFrom: [
                        {
                            extract: {
                                key: clientVaultSecretName(
                                    args.target.servingCluster,
                                    args.cluster.name,
                                ),
                            },
                        },
                    ],
                },
            },
            { parent: this, dependsOn: [store] },
        );
        this.registerOutputs({ confChecksum: this.confChecksum });
    }
}
