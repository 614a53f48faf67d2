/**
 * The platform's workloads: where each runs, the labels that select its pods and the ports its
 * Service exposes. Tiers build pods from it, the network intent model draws flows between its
 * entries and the monitors scrape its ports, so all three agree by construction.
 */
import { labels, partOfValue } from "../constants/labels";
import { serviceNamespaces, tierNamespaces } from "../constants/namespaces";
import { workloadPorts } from "../constants/ports";

/** A named Service port. */
export interface WorkloadPort {
    readonly name: string;
    readonly port: number;
    readonly protocol: "TCP" | "UDP";
}

/** One workload of the platform. */
export interface Workload {
    /** Stable id, also `app.kubernetes.io/name` and the Service name. */
    readonly id: WorkloadId;
    /** Namespace it runs in. */
    readonly namespace: string;
    /** The tier or component it belongs to (`app.kubernetes.io/component`). */
    readonly component: string;
    /** Labels on its pods; the selector of its Service, policies and monitors. */
    readonly podLabels: Readonly<Record<string, string>>;
    /** Ports of its Service. */
    readonly ports: readonly WorkloadPort[];
    /** Name of the port Prometheus scrapes, if any. */
    readonly metricsPort?: string;
    /** Service DNS name inside the cluster. */
    readonly serviceHost: string;
}

export const workloadIds = [
    "gateway",
    "guardrails",
    "candidate-guardrails",
    "jailbreak-detection",
    "inference",
    "presidio-analyzer",
    "presidio-anonymizer",
    "egress-proxy",
    "inference-entry",
] as const;
export type WorkloadId = (typeof workloadIds)[number];

function workload(
    id: WorkloadId,
    namespace: string,
    component: string,
    ports: WorkloadPort[],
    metricsPort?: string,
): Workload {
    return {
        id,
        namespace,
        component,
        podLabels: {
            [labels.name]: id,
            [labels.partOf]: partOfValue,
            [labels.component]: component,
        },
        ports,
        metricsPort,
        serviceHost: `${id}.${namespace}.svc.cluster.local`,
    };
}

const http = (name: string, port: number): WorkloadPort => ({ name, port, protocol: "TCP" });

/** Every workload the platform can run, by id. */
export const catalog: Readonly<Record<WorkloadId, Workload>> = {
    // nginx serves no /metrics; the gateway tier is measured by the ingress controller in front of it.
    gateway: workload("gateway", tierNamespaces.gateway, "gateway", [
        http("http", workloadPorts.gateway),
    ]),
    // The entrypoint serves its Prometheus metrics on a port of their own, /metrics only.
    guardrails: workload(
        "guardrails",
        tierNamespaces.guardrails,
        "guardrails",
        [http("http", workloadPorts.guardrails), http("metrics", workloadPorts.guardrailsMetrics)],
        "metrics",
    ),
    // A second guardrails Deployment serving a candidate rule set for the guardrail-promotion
    // pipeline's evaluation (modules/constants/rollout.ts): same pods, its own ConfigMap. Not
    // scraped, and its pod names do not match the live tier's log glob (constants/logs.ts), so
    // evaluation traffic never enters the live tier's metrics, decision counts or alerts.
    "candidate-guardrails": workload(
        "candidate-guardrails",
        tierNamespaces.guardrails,
        "guardrails",
        [http("http", workloadPorts.guardrails)],
    ),
    "jailbreak-detection": workload(
        "jailbreak-detection",
        tierNamespaces.guardrails,
        "guardrails",
        [http("http", workloadPorts.jailbreakDetection)],
    ),
    // vLLM serves /metrics on its API port; Prometheus scrapes a sidecar that passes through only
    // /metrics, so nothing but the guardrails may open the API port.
    inference: workload(
        "inference",
        tierNamespaces.inference,
        "inference",
        [http("http", workloadPorts.inference), http("metrics", workloadPorts.inferenceMetrics)],
        "metrics",
    ),
    "presidio-analyzer": workload(
        "presidio-analyzer",
        tierNamespaces.outputFilter,
        "output-filter",
        [http("http", workloadPorts.presidio)],
    ),
    "presidio-anonymizer": workload(
        "presidio-anonymizer",
        tierNamespaces.outputFilter,
        "output-filter",
        [http("http", workloadPorts.presidio)],
    ),
    "egress-proxy": workload("egress-proxy", serviceNamespaces.egressProxy, "egress-proxy", [
        http("http", workloadPorts.egressProxy),
    ]),
    // The mTLS entry other clusters' guardrails reach this cluster's inference through (issue 16):
    // forwards only the chat-completions API; `health` answers probes only.
    "inference-entry": workload("inference-entry", tierNamespaces.inference, "inference", [
        http("https", workloadPorts.inferenceEntry),
        http("health", workloadPorts.inferenceEntryHealth),
    ]),
};
