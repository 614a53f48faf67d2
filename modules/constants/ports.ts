/** Ports, by component. */

/** OKE control-plane and node ports the NSGs open. */
export const okePorts = {
    apiServer: 6443,
    controlPlane: 12250,
    kubelet: 10250,
    lbHealthCheck: 10256,
    nodePortMin: 30000,
    nodePortMax: 32767,
    https: 443,
    /** Plain HTTP listener: only for ACME HTTP-01 challenges. */
    http: 80,
} as const;

/** Workload ports inside the cluster. */
export const workloadPorts = {
    gateway: 8080,
    guardrails: 8000,
    /** The guardrails entrypoint's Prometheus listener (serves only /metrics). */
    guardrailsMetrics: 9464,
    jailbreakDetection: 1337,
    inference: 8000,
    /** The inference pod's metrics-only listener (an nginx sidecar passing through vLLM's /metrics). */
    inferenceMetrics: 9400,
    presidio: 3000,
    /** The remote inference entry's mTLS listener (modules/k8s/llm/remote.ts). */
    inferenceEntry: 8443,
    /** The remote inference entry's plain health listener (serves only /healthz, for probes). */
    inferenceEntryHealth: 8081,
    /** The guardrails pod's uplink sidecar to a remote inference entry (loopback only). */
    guardrailsUplink: 8001,
    /** The uplink sidecar's health listener (serves only /healthz, for probes). */
    guardrailsUplinkHealth: 8002,
    egressProxy: 3128,
    /** The pipeline sandbox webhook's TLS listener (POST /mutate; only the API server reaches it). */
    sandboxWebhook: 8443,
    /** The sandbox webhook's plain health listener (serves only /healthz, for probes). */
    sandboxWebhookHealth: 8081,
    dns: 53,
} as const;
