/**
 * The one network intent model of a cluster (pure): which workloads exist, which flows between
 * them are allowed, which CIDRs and domains each may reach. Engines only render it: standard
 * NetworkPolicy always (render-k8s.ts), plus the FQDN part by Calico Enterprise, Cilium or the
 * egress proxy.
 */
import { contains, formatCidr, parseCidr } from "../../config/cidr";
import type { ClusterCapabilities, ClusterConfig } from "../../config";
import {
    EgressEngine,
    ExtendableEgressIdentity,
    NetworkPolicyConfig,
    domainProblem,
    extendableEgressIdentities,
} from "../../config/network";
import { ingressControllerMetrics } from "../../constants/ingress";
import { labelDomain, labels } from "../../constants/labels";
import {
    dcgmExporterNamespace,
    privilegedNamespaces,
    serviceNamespaces,
    tierNamespaces,
} from "../../constants/namespaces";
import { okePorts, workloadPorts } from "../../constants/ports";
import type { CloudClusterInfo } from "../../oci/types";
import { clientCommonName } from "../../constants/remote";
import { candidateEvaluation, redteamAssessment } from "../../constants/rollout";
import { sandboxWebhook } from "../../constants/sandbox";
import { WorkloadId, WorkloadPort, catalog } from "../catalog";
import {
    MtlsCaller,
    isMtlsHop,
    mtlsCallers,
    mtlsIdentity,
    mtlsNames,
    tierIdentity,
} from "../llm/mtls";
import { decisionMetrics } from "../observability/monitors";
import { nonPublicCidrs, proxyRefusedIpv4Cidrs } from "./non-public";
import { calicoPodLabels, calicoPolicyOnly } from "./calico-policy-only";
import { calicoInstallMode } from "./render-calico";

export { domainProblem } from "../../config/network";

/**
 * Where a workload comes from: our catalog, the egress proxy, another component of the platform
 * (outside the catalog), a Helm chart, or the cluster itself.
 */
export type WorkloadSource =
    | "catalog"
    | "egress-proxy"
    | "platform"
    | "chart"
    | "system"
    /** In the pipeline namespace, whose policies the Kubeflow component declares with it. */
    | "pipeline";

/** One workload as the network sees it: a namespace and the labels that select its pods. */
export interface NetWorkload {
    /** Stable id; also the suffix of its policy names. */
    readonly id: string;
    readonly namespace: string;
    /** Labels that select its pods (matchLabels). */
    readonly podLabels: Readonly<Record<string, string>>;
    /** Ports it listens on. */
    readonly ports: readonly WorkloadPort[];
    readonly source: WorkloadSource;
}

/**
 * How a flow is protected in transit (docs/hybrid.md): `mtls` when both ends authenticate with
 * certificates of the platform's CA and the bytes are TLS 1.3; `none` when it is plaintext on the
 * pod network (the report says why). Defaults to `none`.
 */
export interface FlowProtection {
    readonly kind: "mtls" | "none";
    /** What protects it, or why nothing does. */
    readonly how: string;
}

/** An allowed connection between two workloads. */
export interface Flow {
    readonly from: string;
    readonly to: string;
    readonly port: number;
    readonly protocol: "TCP" | "UDP";
    /** Why the flow exists (shown in the report). */
    readonly purpose: string;
    /** In-transit protection; defaults to {@link plaintextInCluster}. */
    readonly protection?: FlowProtection;
}

/** Connections a workload may open to IP blocks outside the pod network. */
export interface CidrEgress {
    readonly from: string;
    readonly cidrs: readonly string[];
    /** Addresses cut out of every block (private and link-local ranges for the proxy). */
    readonly except: readonly string[];
    readonly ports: readonly number[];
    readonly purpose: string;
    /** In-transit protection; defaults to none stated. */
    readonly protection?: FlowProtection;
}

/** Connections a workload may accept from IP blocks outside the pod network. */
export interface CidrIngress {
    readonly to: string;
    readonly cidrs: readonly string[];
    /** Empty: every port. */
    readonly ports: readonly number[];
    readonly purpose: string;
    /** In-transit protection; defaults to none stated. */
    readonly protection?: FlowProtection;
}

/** Connections a workload may open to any pod of a namespace the platform does not police. */
export interface NamespaceEgress {
    readonly from: string;
    readonly namespace: string;
    readonly ports: readonly number[];
    readonly purpose: string;
}

/** A namespace where a third-party chart runs several components that talk among themselves. */
export interface ChartNamespace {
    readonly namespace: string;
    /** Its pods may reach, and accept webhook calls from, the API server. */
    readonly apiServer: boolean;
}

/** The cluster's network intent. */
export interface NetworkIntent {
    readonly engine: EgressEngine;
    /** OCI region whose service endpoints the allowlists name. */
    readonly ociRegion: string;
    readonly workloads: readonly NetWorkload[];
    /** Namespaces under default deny in both directions. */
    readonly platformNamespaces: readonly string[];
    /** Chart namespaces: intra-namespace traffic and API server access allowed. */
    readonly chartNamespaces: readonly ChartNamespace[];
    readonly flows: readonly Flow[];
    readonly cidrEgress: readonly CidrEgress[];
    readonly cidrIngress: readonly CidrIngress[];
    readonly namespaceEgress: readonly NamespaceEgress[];
    /** External domains each workload may reach (TCP 443), by workload id. Never contains `*`. */
    readonly egress: Readonly<Record<string, readonly string[]>>;
    /** The only DNS servers any platform pod may query. */
    readonly dns: {
        readonly namespace: string;
        readonly podLabels: Readonly<Record<string, string>>;
        readonly port: number;
    };
    readonly apiServer: { readonly cidrs: readonly string[]; readonly port: number };
    /** Pod and Service CIDRs of the cluster, where its config states them (never proxied). */
    readonly clusterCidrs: readonly string[];
}

/** Label the egress proxy instances carry: which identity's allowlist they enforce. */
export const allowlistLabel = `${labelDomain}/egress-allowlist`;

/** Port of CoreDNS's metrics (the `prometheus :9153` plugin of its Corefile). */
export const coreDnsMetricsPort = 9153;

/** Workloads installed by charts (or the cluster) that the intent names as peers. */
export const namedPeers = {
    "kube-dns": {
        id: "kube-dns",
        namespace: "kube-system",
        podLabels: { "k8s-app": "kube-dns" },
        ports: [
            { name: "dns", port: workloadPorts.dns, protocol: "UDP" },
            { name: "dns-tcp", port: workloadPorts.dns, protocol: "TCP" },
            // CoreDNS's Prometheus endpoint, which kube-prometheus-stack's coreDns monitor scrapes.
            { name: "metrics", port: coreDnsMetricsPort, protocol: "TCP" },
        ],
        source: "system",
    },
    "ingress-nginx": {
        id: "ingress-nginx",
        namespace: serviceNamespaces.ingress,
        podLabels: { [labels.name]: "ingress-nginx" },
        ports: [
            { name: "http", port: 80, protocol: "TCP" },
            { name: "https", port: 443, protocol: "TCP" },
            {
                name: ingressControllerMetrics.portName,
                port: ingressControllerMetrics.port,
                protocol: "TCP",
            },
        ],
        source: "chart",
    },
    prometheus: {
        id: "prometheus",
        namespace: serviceNamespaces.monitoring,
        podLabels: { [labels.name]: "prometheus" },
        ports: [{ name: "web", port: 9090, protocol: "TCP" }],
        source: "chart",
    },
    alertmanager: {
        id: "alertmanager",
        namespace: serviceNamespaces.monitoring,
        podLabels: { [labels.name]: "alertmanager" },
        ports: [{ name: "web", port: 9093, protocol: "TCP" }],
        source: "chart",
    },
    "external-secrets": {
        id: "external-secrets",
        namespace: serviceNamespaces.externalSecrets,
        podLabels: { [labels.name]: "external-secrets" },
        ports: [],
        source: "chart",
    },
    "cert-manager": {
        id: "cert-manager",
        namespace: serviceNamespaces.certManager,
        podLabels: { [labels.name]: "cert-manager" },
        ports: [],
        source: "chart",
    },
    // The observability layer's Fluent Bit DaemonSet; privileged namespace (reads host logs).
    "decision-log-metrics": {
        id: "decision-log-metrics",
        namespace: decisionMetrics.namespace,
        podLabels: { [labels.name]: decisionMetrics.name },
        ports: [
            { name: decisionMetrics.port.name, port: decisionMetrics.port.port, protocol: "TCP" },
        ],
        source: "platform",
    },
    // KFP v2 marks the pods of pipeline steps with this label (unverified against a live install).
    "kubeflow-pipelines": {
        id: "kubeflow-pipelines",
        namespace: serviceNamespaces.kubeflow,
        podLabels: { "pipelines.kubeflow.org/v2_component": "true" },
        ports: [],
        source: "chart",
    },
} as const satisfies Record<string, NetWorkload>;

export type NamedPeerId = keyof typeof namedPeers;

// Private, shared and link-local ranges (their one home is ./non-public).
export { nonPublicCidrs } from "./non-public";

/** OCI service endpoints of a region (Oracle Services Network). */
export function ociEndpoints(region: string): {
    objectStorage: string;
    kms: string;
    secrets: string;
} {
    return {
        objectStorage: `objectstorage.${region}.oraclecloud.com`,
        // Each vault has its own `<id>-crypto.kms.<region>` host; the id is only known after the
        // vault exists, and allowlists must be plain values, so the vault hosts of the region match.
        kms: `*.kms.${region}.oraclecloud.com`,
        secrets: `secrets.vaults.${region}.oci.oraclecloud.com`,
    };
}

/**
 * True when `domain` is an endpoint of the inference tier's model supply chain in some region:
 * Object Storage or a KMS vault crypto endpoint. The plan's exfiltration check uses this: inference
 * may reach these and nothing else outside the cluster.
 */
export function isSupplyChainDomain(domain: string): boolean {
    return (
        /^objectstorage\.[a-z]{2,3}-[a-z]+-\d\.oraclecloud\.com$/.test(domain) ||
        /^(\*|[a-z0-9]+-crypto)\.kms\.[a-z]{2,3}-[a-z]+-\d\.oraclecloud\.com$/.test(domain)
    );
}

/** Which tiers and services run on the cluster. */
export interface IntentInputs {
    readonly cluster: Pick<ClusterConfig, "name" | "target" | "network">;
    readonly network: NetworkPolicyConfig;
    readonly capabilities: ClusterCapabilities;
    readonly tiers: {
        readonly gateway: boolean;
        readonly guardrails: boolean;
        readonly inference: boolean;
        readonly outputFilter: boolean;
    };
    readonly observability: boolean;
    readonly kubeflow: boolean;
    /** Namespace pipeline steps run in: `kubeflow` (standalone KFP) or the profile namespace (full). */
    readonly kubeflowNamespace: string;
    /** The pipeline namespace (`kubeflow.profileNamespace`): the red-team assessment runs there. */
    readonly pipelineNamespace: string;
    /** External Secrets runs on the cluster. */
    readonly externalSecrets: boolean;
    /** ACME directory URL cert-manager issues from, if any (its host joins cert-manager's allowlist). */
    readonly acmeServer?: string;
    /** An OKE cluster's subnet CIDRs, as its cloud layer hands them over. Defaults to none. */
    readonly okeSubnets?: CloudClusterInfo["subnetCidrs"];
    /** Remote inference (issue 16); defaults to none. */
    readonly remoteInference?: RemoteInferenceInputs;
}

/** The remote-inference part of a cluster's intent. */
export interface RemoteInferenceInputs {
    /** Serving cluster: the calling clusters and the only source CIDRs its entry admits. */
    readonly entryClients: readonly {
        readonly cluster: string;
        readonly cidrs: readonly string[];
    }[];
    /** Calling cluster: the remote entry its guardrails (only) may reach. */
    readonly uplink?: {
        readonly servingCluster: string;
        readonly address: string;
        readonly port: number;
    };
}

/** The protection of flows nothing encrypts: plaintext on the pod network (docs/hybrid.md). */
export const plaintextInCluster: FlowProtection = {
    kind: "none",
    how: "plaintext on the pod network: no mTLS listener on this port and the platform enables no CNI encryption (docs/hybrid.md)",
};

/** Why the flows left plaintext are (docs/hybrid.md, "Encryption in transit, per hop"). */
export const plaintextReasons = {
    scrape: "plaintext: a Prometheus scrape of a /metrics-only listener (counters, no request data); the API port is not reachable from Prometheus",
} as const;

/** The protection of an in-cluster tier hop through the tiers' mTLS sidecars (modules/k8s/llm/mtls.ts). */
export function tierMtlsProtection(from: MtlsCaller, to: keyof typeof mtlsCallers): FlowProtection {
    const callers = mtlsCallers[to] as readonly MtlsCaller[];
    return {
        kind: "mtls",
        how:
            `mTLS (TLS 1.3): client certificate CN=${mtlsIdentity(from)}, server certificate ${tierIdentity(to)} ` +
            `verified by name, both from the cluster CA (ClusterIssuer ${mtlsNames.clusterIssuer}); ` +
            `${to}'s listener admits only ${callers.map((c) => `CN=${mtlsIdentity(c)}`).join(", ")}`,
    };
}

/** The protection of the remote inference hop. */
export function remoteEntryProtection(
    servingCluster: string,
    callingCluster: string,
): FlowProtection {
    return {
        kind: "mtls",
        how: `mTLS (TLS 1.3): client certificate CN=${clientCommonName(callingCluster)} and the entry's certificate from ${servingCluster}'s cert-manager CA`,
    };
}

/**
 * The inputs {@link buildIntent} needs, read from a validated cluster config and, on OKE, the
 * subnets its cloud layer created (`cloud`, defaults to none).
 */
export function intentInputs(
    cluster: ClusterConfig,
    cloud?: Pick<CloudClusterInfo, "subnetCidrs">,
): IntentInputs {
    const t = cluster.layer.tiers;
    return {
        cluster,
        network: cluster.layer.networkPolicy,
        capabilities: cluster.capabilities,
        tiers: {
            gateway: t.gateway.enabled,
            guardrails: t.guardrails.enabled,
            inference: t.inference.enabled,
            outputFilter: t.outputFilter.enabled,
        },
        observability: cluster.layer.observability.enabled,
        kubeflow: cluster.layer.kubeflow.enabled,
        kubeflowNamespace:
            cluster.layer.kubeflow.mode === "full"
                ? cluster.layer.kubeflow.profileNamespace
                : serviceNamespaces.kubeflow,
        pipelineNamespace: cluster.layer.kubeflow.profileNamespace,
        externalSecrets: cluster.layer.baseline.secrets.enabled,
        acmeServer: cluster.layer.baseline.ingress.acme?.server,
        okeSubnets: cloud?.subnetCidrs,
        remoteInference: {
            entryClients: (cluster.inferenceClients ?? []).map((c) => ({
                cluster: c.cluster,
                cidrs: c.cidrs,
            })),
            uplink:
                t.guardrails.inferenceFrom !== undefined && cluster.privateLink !== undefined
                    ? {
                          servingCluster: t.guardrails.inferenceFrom,
                          address: cluster.privateLink.entryAddress,
                          port: workloadPorts.inferenceEntry,
                      }
                    : undefined,
        },
    };
}

/** Name of the egress proxy instance that enforces `identity`'s allowlist. */
export function proxyName(identity: string): string {
    return `egress-proxy-${identity}`;
}

/** Throws when a domain list holds an entry no engine may enforce (config validation normally catches it). */
function checkDomains(id: string, domains: readonly string[]): void {
    for (const d of domains) {
        const problem = domainProblem(d);
        if (problem !== undefined) {
            throw new Error(
                `egress allowlist of ${id}: ${JSON.stringify(d)} is refused; expected ${problem}`,
            );
        }
    }
}

/** Builds the cluster's intent. Pure. */
export function buildIntent(inputs: IntentInputs): NetworkIntent {
    const net = inputs.network;
    const engine = net.engine;
    const t = inputs.tiers;
    const endpoints = ociEndpoints(net.ociRegion);

    const enabled = new Set<WorkloadId>();
    if (t.gateway) enabled.add("gateway");
    if (t.guardrails) {
        enabled.add("guardrails");
        enabled.add("jailbreak-detection");
        // The candidate tier the guardrail-promotion pipeline evaluates rule sets on.
        if (inputs.kubeflow) enabled.add("candidate-guardrails");
    }
    if (t.inference) enabled.add("inference");
    const remote = inputs.remoteInference;
    const entryClients = t.inference ? (remote?.entryClients ?? []) : [];
    if (entryClients.length > 0) enabled.add("inference-entry");
    if (t.outputFilter) {
        enabled.add("presidio-analyzer");
        enabled.add("presidio-anonymizer");
    }
    const workloads: NetWorkload[] = [...enabled].map((id) => ({
        ...catalog[id],
        source: "catalog" as const,
    }));

    const peers: NamedPeerId[] = ["ingress-nginx", "cert-manager"];
    if (inputs.externalSecrets) peers.push("external-secrets");
    if (inputs.observability) {
        peers.push("prometheus", "alertmanager", "decision-log-metrics", "kube-dns");
    }
    if (inputs.kubeflow) peers.push("kubeflow-pipelines");
    workloads.push(
        ...peers.map((p) =>
            p === "kubeflow-pipelines"
                ? { ...(namedPeers[p] as NetWorkload), namespace: inputs.kubeflowNamespace }
                : (namedPeers[p] as NetWorkload),
        ),
    );
    // The authored Calico policy-only install (OKE VCN-native): calico-kube-controllers is a
    // pod-network pod, policed like ours; calico-node is host-network (calicoHostNetworkFlows).
    const calicoMode = calicoInstallMode({
        target: inputs.cluster.target,
        podNetworking: inputs.cluster.network?.podNetworking,
        installCalico: net.installCalico,
    });
    if (calicoMode === "policy-only") {
        workloads.push({
            id: calicoPolicyOnly.kubeControllers,
            namespace: calicoPolicyOnly.namespace,
            podLabels: {
                [labels.name]: calicoPodLabels(calicoPolicyOnly.kubeControllers)[labels.name],
            },
            ports: [],
            source: "platform",
        });
    }
    if (inputs.kubeflow) {
        for (const p of [redteamAssessment, candidateEvaluation]) {
            workloads.push({
                id: p.id,
                namespace: inputs.pipelineNamespace,
                podLabels: { ...p.podLabels },
                ports: [],
                source: "pipeline",
            });
        }
        // The pipeline sandbox's admission webhook: called by the API server only (below).
        workloads.push({
            id: sandboxWebhook.id,
            namespace: sandboxWebhook.namespace,
            podLabels: { ...sandboxWebhook.podLabels },
            ports: [{ name: "https", port: workloadPorts.sandboxWebhook, protocol: "TCP" }],
            source: "platform",
        });
    }
    const has = (id: string) => workloads.some((w) => w.id === id);
    const portOf = (id: WorkloadId, name = "http") =>
        catalog[id].ports.find((p) => p.name === name)!.port;

    const flows: Flow[] = [];
    // Every tier hop of mtls.ts's table is mTLS; other flows state why not (plaintextReasons).
    const flow = (from: string, to: string, port: number, purpose: string, plaintext?: string) => {
        if (!has(from) || !has(to)) return;
        const protection: FlowProtection | undefined = isMtlsHop(from, to)
            ? tierMtlsProtection(from as MtlsCaller, to as keyof typeof mtlsCallers)
            : plaintext === undefined
              ? undefined
              : { kind: "none", how: plaintext };
        flows.push({ from, to, port, protocol: "TCP", purpose, protection });
    };
    // The request path (docs/ARCHITECTURE.md): the gateway reaches only the guardrails, and only
    // the guardrails reach inference and the output filter.
    flow(
        "ingress-nginx",
        "gateway",
        portOf("gateway"),
        "client requests (TLS terminated, rate limited)",
    );
    flow("gateway", "guardrails", portOf("guardrails"), "input rails");
    flow(
        "guardrails",
        "jailbreak-detection",
        portOf("jailbreak-detection"),
        "jailbreak heuristics",
    );
    flow("guardrails", "inference", portOf("inference"), "OpenAI API");
    // The candidate tier calls what the live tier calls (same builder, same rails backends).
    flow(
        "candidate-guardrails",
        "jailbreak-detection",
        portOf("jailbreak-detection"),
        "candidate rules: jailbreak heuristics",
    );
    flow("candidate-guardrails", "inference", portOf("inference"), "candidate rules: OpenAI API");
    // Remote inference (issue 16): the entry forwards other clusters' guardrails' chat completions.
    flow(
        "inference-entry",
        "inference",
        portOf("inference"),
        `chat completions of the guardrails of ${entryClients.map((c) => c.cluster).join(", ")} (mTLS terminated at the entry)`,
    );
    flow("guardrails", "presidio-analyzer", portOf("presidio-analyzer"), "output rails: analyze");
    flow(
        "guardrails",
        "presidio-anonymizer",
        portOf("presidio-anonymizer"),
        "output rails: anonymize",
    );
    flow(
        "candidate-guardrails",
        "presidio-analyzer",
        portOf("presidio-analyzer"),
        "candidate output rails: analyze",
    );
    flow(
        "candidate-guardrails",
        "presidio-anonymizer",
        portOf("presidio-anonymizer"),
        "candidate output rails: anonymize",
    );
    for (const id of enabled) {
        const metrics = catalog[id].metricsPort;
        if (metrics !== undefined)
            flow("prometheus", id, portOf(id, metrics), "scrape", plaintextReasons.scrape);
    }
    flow(
        "prometheus",
        "ingress-nginx",
        ingressControllerMetrics.port,
        "scrape",
        plaintextReasons.scrape,
    );
    flow("prometheus", "alertmanager", 9093, "alerts");
    flow(
        "prometheus",
        "kube-dns",
        coreDnsMetricsPort,
        "scrape CoreDNS (kube-prometheus-stack coreDns)",
        plaintextReasons.scrape,
    );
    flow(
        "prometheus",
        "decision-log-metrics",
        decisionMetrics.port.port,
        "scrape decision-log metrics",
        plaintextReasons.scrape,
    );
    flow(
        "kubeflow-pipelines",
        "guardrails",
        portOf("guardrails"),
        "model-promotion smoke test (red-team and benign sets through the guardrails)",
    );
    // No flow from pipeline steps to inference: a model rollout's smoke test goes through the
    // guardrails like every other request (the flow above).
    // The guardrail-promotion pipeline's evaluation step, and no other pod, queries the candidate
    // tier (which then calls inference and the output filter like the live tier): unpromoted rules
    // are reachable from that step only, never from the gateway.
    flow(
        candidateEvaluation.id,
        "candidate-guardrails",
        portOf("candidate-guardrails"),
        "evaluate candidate rules (red-team and benign sets)",
    );
    // The recurring red-team assessment replays attacks through the gateway, like a client would
    // (never straight to the guardrails or inference).
    flow(
        redteamAssessment.id,
        "gateway",
        portOf("gateway"),
        "recurring red-team assessment through the gateway",
    );
    // Domain allowlists. Inference: the model loader (init container) fetches the encrypted model
    // from Object Storage and unwraps its key with KMS; vLLM itself needs nothing at run time.
    const egress: Record<string, string[]> = {};
    const allow = (id: string, domains: readonly string[]) => {
        if (!has(id) || domains.length === 0) return;
        checkDomains(id, domains);
        egress[id] = [...new Set([...(egress[id] ?? []), ...domains])].sort();
    };
    allow("inference", [endpoints.objectStorage, endpoints.kms]);
    allow("external-secrets", [endpoints.secrets]);
    allow("alertmanager", net.alertReceiverDomains);
    if (inputs.acmeServer !== undefined)
        allow("cert-manager", [new URL(inputs.acmeServer).hostname]);
    for (const id of extendableEgressIdentities) {
        allow(id, net.extraEgress[id as ExtendableEgressIdentity] ?? []);
    }

    const apiServerCidrs =
        net.apiServerCidrs.length > 0 ? [...net.apiServerCidrs] : okeSubnet(inputs, "cp");
    const cidrEgress: CidrEgress[] = [];
    const cidrIngress: CidrIngress[] = [];
    if (inputs.cluster.target === "oke" && apiServerCidrs.length > 0) {
        // OKE workload identity: the OCI SDK exchanges the pod's token at the control plane's
        // proxymux on TCP 12250 (unverified in a live cluster), for the loader and External Secrets.
        for (const id of ["inference", "external-secrets"]) {
            if (has(id)) {
                cidrEgress.push({
                    from: id,
                    cidrs: apiServerCidrs,
                    except: [],
                    ports: [okePorts.controlPlane],
                    purpose: "OKE workload identity token exchange",
                });
            }
        }
    }
    if (has(calicoPolicyOnly.kubeControllers) && apiServerCidrs.length > 0) {
        cidrEgress.push({
            from: calicoPolicyOnly.kubeControllers,
            cidrs: apiServerCidrs,
            except: [],
            ports: [net.apiServerPort],
            purpose:
                "Calico's node controller: watches nodes and pods, garbage-collects Calico's per-node data (API server)",
        });
    }
    const namespaceEgress: NamespaceEgress[] = [];
    if (has("prometheus")) {
        // The GPU operator's DCGM exporter (its namespace is the chart's) and the nodes' kubelets
        // and host-network node exporters: the workers subnet on OKE, `nodeCidrs` elsewhere.
        namespaceEgress.push({
            from: "prometheus",
            namespace: dcgmExporterNamespace,
            ports: [dcgmPort],
            purpose: "scrape DCGM",
        });
        const workers =
            net.nodeCidrs.length > 0 ? [...net.nodeCidrs] : okeSubnet(inputs, "workers");
        if (workers.length > 0) {
            cidrEgress.push({
                from: "prometheus",
                cidrs: workers,
                except: [],
                ports: [okePorts.kubelet, nodeExporterPort],
                purpose: "scrape kubelets and node-exporter",
            });
        }
    }
    for (const c of entryClients) {
        cidrIngress.push({
            to: "inference-entry",
            cidrs: c.cidrs,
            ports: [workloadPorts.inferenceEntry],
            purpose: `guardrails of ${c.cluster} over the private link`,
            protection: remoteEntryProtection(inputs.cluster.name, c.cluster),
        });
    }
    for (const from of ["guardrails", "candidate-guardrails"]) {
        if (remote?.uplink === undefined || !has(from)) continue;
        cidrEgress.push({
            from,
            cidrs: [`${remote.uplink.address}/32`],
            except: [],
            ports: [remote.uplink.port],
            purpose: `inference of ${remote.uplink.servingCluster} through its entry over the private link`,
            protection: remoteEntryProtection(remote.uplink.servingCluster, inputs.cluster.name),
        });
    }
    if (has(sandboxWebhook.id) && apiServerCidrs.length > 0) {
        // Admission webhooks are called by the API server, from its endpoint (OKE: the
        // control-plane subnet), as for the charts' webhooks; nothing else may reach it. Without
        // a known API server CIDR nothing can, and sandboxed steps are refused (failurePolicy Fail).
        cidrIngress.push({
            to: sandboxWebhook.id,
            cidrs: apiServerCidrs,
            ports: [workloadPorts.sandboxWebhook],
            purpose:
                "the API server calls the pipeline sandbox's admission webhook (TLS, cert-manager CA)",
        });
    }
    if (has("ingress-nginx")) {
        cidrIngress.push({
            to: "ingress-nginx",
            cidrs: net.ingressCidrs,
            ports: [80, 443],
            purpose: "clients",
        });
    }

    if (engine === "proxy") {
        for (const [id, domains] of Object.entries(egress)) {
            const proxy: NetWorkload = {
                ...catalog["egress-proxy"],
                id: proxyName(id),
                podLabels: { ...catalog["egress-proxy"].podLabels, [allowlistLabel]: id },
                source: "egress-proxy",
            };
            workloads.push(proxy);
            flows.push({
                from: id,
                to: proxy.id,
                port: workloadPorts.egressProxy,
                protocol: "TCP",
                purpose: `egress via proxy (${domains.length} domain(s))`,
            });
            cidrEgress.push({
                from: proxy.id,
                cidrs: ["0.0.0.0/0"],
                except: [...proxyRefusedIpv4Cidrs],
                ports: [okePorts.https],
                purpose: `allowlisted domains of ${id} (enforced by the proxy)`,
            });
        }
    }

    const chartNamespaces: ChartNamespace[] = [
        ...new Set(workloads.filter((w) => w.source === "chart").map((w) => w.namespace)),
    ].map((namespace) => ({ namespace, apiServer: apiServerCidrs.length > 0 }));
    // Privileged namespaces are policed only where the platform itself declares workloads.
    // Only namespaces the baseline declares: a disabled tier has no namespace to police, and a
    // policy rendered into a missing namespace is refused by the API server.
    const platformNamespaces = [
        ...(Object.keys(tierNamespaces) as (keyof typeof tierNamespaces)[])
            .filter((t) => inputs.tiers[t])
            .map((t) => tierNamespaces[t]),
        ...(engine === "proxy" ? [serviceNamespaces.egressProxy] : []),
        ...chartNamespaces.map((c) => c.namespace),
        ...workloads.filter((w) => w.source === "platform").map((w) => w.namespace),
    ].filter(
        (ns, i, all) =>
            all.indexOf(ns) === i &&
            (!isPrivilegedNamespace(ns) ||
                workloads.some((w) => w.source === "platform" && w.namespace === ns)),
    );

    return {
        engine,
        ociRegion: net.ociRegion,
        workloads,
        platformNamespaces,
        chartNamespaces,
        flows,
        cidrEgress,
        cidrIngress,
        namespaceEgress,
        egress,
        dns: {
            namespace: "kube-system",
            podLabels: { "k8s-app": "kube-dns" },
            port: workloadPorts.dns,
        },
        apiServer: { cidrs: apiServerCidrs, port: net.apiServerPort },
        clusterCidrs:
            inputs.cluster.network === undefined
                ? []
                : [inputs.cluster.network.podsCidr, inputs.cluster.network.servicesCidr],
    };
}

/** Port of the DCGM exporter the GPU operator runs (NVIDIA default). */
const dcgmPort = 9400;
/** Port of prometheus-node-exporter on the host network (chart default). */
const nodeExporterPort = 9100;

/** A subnet of an OKE cluster's VCN, as the cloud layer created it: `cp` holds the API server endpoint, `workers` the nodes. */
function okeSubnet(inputs: IntentInputs, role: "cp" | "workers"): string[] {
    if (inputs.cluster.target !== "oke" || inputs.okeSubnets === undefined) return [];
    const parsed = parseCidr(inputs.okeSubnets[role]);
    return parsed === undefined ? [] : [formatCidr(parsed)];
}

/** True for namespaces of privileged system components, which the platform does not police. */
export function isPrivilegedNamespace(ns: string): boolean {
    return (Object.values(privilegedNamespaces) as string[]).includes(ns);
}

/**
 * Proxy settings for a container of `identity` under the proxy engine, or none for other engines.
 * For inference, give them to the model-loader init container only: vLLM must not get them.
 */
export function proxyEnv(
    intent: NetworkIntent,
    identity: string,
): { name: string; value: string }[] {
    if (intent.engine !== "proxy" || intent.egress[identity] === undefined) return [];
    const url = `http://${proxyName(identity)}.${serviceNamespaces.egressProxy}.svc.cluster.local:${workloadPorts.egressProxy}`;
    // In-cluster names and addresses go direct: the API server (its endpoints and the
    // `kubernetes` Service, whose ClusterIP controllers dial), pods, Services and the private
    // ranges (the API server's workload-identity endpoint). Go and Node clients match CIDRs.
    const privateRanges = nonPublicCidrs.slice(0, 3);
    const outsidePrivate = (c: string) =>
        !privateRanges.some((p) => contains(parseCidr(p)!, parseCidr(c)!));
    const noProxy = [
        ...new Set([
            ".svc",
            ".cluster.local",
            "localhost",
            "127.0.0.1",
            ...privateRanges,
            ...[...intent.apiServer.cidrs, ...intent.clusterCidrs].filter(outsidePrivate),
        ]),
    ].join(",");
    return [
        { name: "HTTPS_PROXY", value: url },
        { name: "https_proxy", value: url },
        { name: "HTTP_PROXY", value: url },
        { name: "http_proxy", value: url },
        { name: "NO_PROXY", value: noProxy },
        { name: "no_proxy", value: noProxy },
    ];
}
