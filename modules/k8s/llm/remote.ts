/**
 * Remote inference (issue 16, docs/hybrid.md): a cluster without inference sends its guardrails'
 * model calls to another cluster's inference through a private, mutually authenticated entry.
 *
 * Serving cluster ({@link InferenceEntry}): the cluster's cert-manager CA (mtls.ts), whose key
 * stays in a Secret of that cluster; the entry (nginx, the mTLS builder of mtls.ts) with a server
 * certificate from it, verifying client certificates from it and forwarding only
 * `POST /v1/chat/completions` to inference over mTLS; an internal OCI network load
 * balancer Service on a fixed private address; per calling cluster a client certificate, pushed by
 * External Secrets into the serving cluster's OCI Vault (the only copy that leaves the cluster,
 * encrypted by the vault's key).
 *
 * Calling cluster ({@link InferenceUplink}): External Secrets pulls that client certificate; the
 * guardrails pod's mTLS sidecar listens for inference calls on loopback only, presents it and
 * verifies the entry's certificate ({@link inferenceListener}), so the guardrails' OpenAI client
 * speaks plain HTTP to 127.0.0.1 and the certificate's key is mounted into the sidecar alone.
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
import { HardenedWorkload, HardenedWorkloadComponentArgs, buildWorkloadLabels } from "../workload";
import { oracleProvider } from "../baseline/secrets";
import {
    ProxyListener,
    certificateSpec,
    mtlsNames,
    mtlsPaths,
    nginxProxyConf,
    nginxRunScript,
    runScriptCommand,
    tierCertificate,
    tierIdentity,
    tlsFiles,
} from "./mtls";

/** Names of the objects, one place for the components, the intent and the tests. */
export const remoteNames = {
    serverCertificate: "inference-entry-server",
    serverSecret: "inference-entry-tls",
    entryConfigMap: "inference-entry-nginx",
    loadBalancer: "inference-entry-lb",
    pushStore: "oci-vault-inference-clients",
    clientSecret: (calling: string) => `guardrails-client-${calling}`,
    uplinkStore: "oci-vault-inference-uplink",
    uplinkSecret: "guardrails-uplink-tls",
} as const;

/** The one path the entry and the uplink forward. */
const chatCompletions = { method: "POST", path: "/v1/chat/completions" } as const;

/**
 * The entry's listener (pure): TLS 1.3 with its server certificate, a client certificate of the
 * cluster CA required whose subject is exactly one of `clients`' common names; only
 * `POST /v1/chat/completions` is forwarded, over mTLS to inference's sidecar (the entry's own
 * tier certificate presented, inference's name verified).
 */
export function entryListener(clients: readonly string[]): ProxyListener {
    const inference = catalog.inference;
    return {
        name: "inference-entry",
        listen: String(workloadPorts.inferenceEntry),
        server: { dir: mtlsPaths.remote, clients: clients.map(clientCommonName) },
        only: chatCompletions,
        upstream: {
            address: `${inference.serviceHost}:${inference.ports[0].port}`,
            tls: { dir: mtlsPaths.tls, serverName: tierIdentity("inference") },
        },
    };
}

/** nginx configuration of the entry (pure): {@link entryListener} and the health listener. */
export function entryNginxConf(clients: readonly string[], maxBodySize = "1m"): string {
    return nginxProxyConf({
        name: "inference-entry",
        listeners: [entryListener(clients)],
        health: { port: workloadPorts.inferenceEntryHealth },
        maxBodySize,
    });
}

/** What the uplink dials: the entry's load balancer address and the name in its certificate. */
export interface UplinkTarget {
    readonly servingCluster: string;
    readonly address: string;
    readonly port: number;
}

/**
 * The guardrails' loopback listener to inference (pure), the rails' base URL on every cluster:
 * only `POST /v1/chat/completions`, over mTLS to the local inference tier or, when `remote` is
 * set, to the remote entry (the pulled client certificate presented, the entry's certificate
 * verified against the serving cluster's CA and name).
 */
export function inferenceListener(remote?: UplinkTarget): ProxyListener {
    const listen = `127.0.0.1:${workloadPorts.guardrailsUplink}`;
    if (remote === undefined) {
        const inference = catalog.inference;
        return {
            name: "to-inference",
            listen,
            only: chatCompletions,
            upstream: {
                address: `${inference.serviceHost}:${inference.ports[0].port}`,
                tls: { dir: mtlsPaths.tls, serverName: tierIdentity("inference") },
            },
        };
    }
    return {
        name: "uplink",
        listen,
        only: chatCompletions,
        upstream: {
            address: `${remote.address}:${remote.port}`,
            tls: { dir: mtlsPaths.remote, serverName: entryServerName(remote.servingCluster) },
        },
    };
}

/** OpenAI base URL of the guardrails, local or remote inference: their sidecar on loopback. */
export const uplinkBaseUrl = `http://127.0.0.1:${workloadPorts.guardrailsUplink}/v1`;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const nginxResources = (r: TierResources) => ({ requests: r.requests, limits: r.limits });

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
    /** The cluster CA's ClusterIssuer (mtls.ts), which signs every certificate here. */
    readonly issuer: pulumi.Resource;
}

const certManager = "cert-manager.io/v1";

export { clientCommonName, clientVaultSecretName, entryServerName } from "../../constants/remote";

/** The serving cluster's side: certificates, entry pods, internal load balancer, pushes. */
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
        // Every certificate from the cluster CA (mtls.ts): the entry's server certificate for
        // the other clusters' guardrails, its own tier identity towards inference, and one client
        // certificate per calling cluster.
        const server = cr(
            "server-cert",
            "Certificate",
            remoteNames.serverCertificate,
            certificateSpec({
                secretName: remoteNames.serverSecret,
                commonName: entryServerName(args.cluster.name),
                dnsNames: [entryServerName(args.cluster.name)],
                ipAddresses: [...new Set(args.clients.map((c) => c.entryAddress))],
                uses: ["server"],
            }),
            [args.issuer],
        );
        const own = tierCertificate(`${name}-mtls-cert`, w, ["client"], labels, {
            parent: this,
            dependsOn: [args.issuer],
        });
        const clientCerts = args.clients.map((c) =>
            cr(
                `client-cert-${c.cluster}`,
                "Certificate",
                remoteNames.clientSecret(c.cluster),
                certificateSpec({
                    secretName: remoteNames.clientSecret(c.cluster),
                    commonName: clientCommonName(c.cluster),
                    uses: ["client"],
                }),
                [args.issuer],
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
        const script = nginxRunScript({
            event: "inference-entry",
            conf: `${mtlsPaths.conf}/nginx.conf`,
            watched: [...tlsFiles(mtlsPaths.remote), ...tlsFiles(mtlsPaths.tls)],
        });
        const confMap = new k8s.core.v1.ConfigMap(
            `${name}-conf`,
            {
                metadata: { name: remoteNames.entryConfigMap, namespace: ns, labels },
                data: { "nginx.conf": conf, "run-nginx.sh": script },
            },
            child,
        );
        const spec: HardenedWorkloadComponentArgs = {
            workload: w,
            replicas: args.replicas ?? 2,
            priorityClassName: priorityClasses.serving,
            podAnnotations: { [annotations.configChecksum]: sha256(conf + script) },
            containers: [
                {
                    name: "entry",
                    image: {
                        repository: args.image.repository,
                        tag: args.image.tag,
                        digest: args.image.digest,
                    },
                    // nginx under the run script: renewed certificates are loaded without a restart.
                    command: runScriptCommand(mtlsPaths.conf),
                    resources: nginxResources(args.resources),
                    probes: {
                        readiness: { path: "/healthz", port: "health" },
                        liveness: { path: "/healthz", port: "health", periodSeconds: 20 },
                    },
                    mounts: [
                        { name: "conf", mountPath: mtlsPaths.conf, readOnly: true },
                        { name: "remote", mountPath: mtlsPaths.remote, readOnly: true },
                        { name: "tls", mountPath: mtlsPaths.tls, readOnly: true },
                    ],
                },
            ],
            volumes: [
                { name: "conf", configMap: { name: confMap.metadata.name } },
                { name: "remote", secret: { secretName: remoteNames.serverSecret } },
                { name: "tls", secret: { secretName: mtlsNames.certificate(w.id) } },
            ],
        };
        const entry = new HardenedWorkload(`${name}-entry`, spec, {
            parent: this,
            dependsOn: [server, own],
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

/**
 * The calling cluster's side: its client certificate from the serving cluster's vault (the
 * guardrails' sidecar, mtls.ts, mounts it and dials the entry: {@link inferenceListener}).
 */
export class InferenceUplink extends pulumi.ComponentResource {
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
        this.registerOutputs({});
    }
}
