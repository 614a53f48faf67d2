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
    /** The remote inference entry's plain health listener (the mTLS sidecars' health port). */
    inferenceEntryHealth: 8081,
    /**
     * The guardrails pod's mTLS sidecar, loopback listener to inference: the local inference
     * Service, or a remote inference entry (modules/k8s/llm/mtls.ts).
     */
    guardrailsUplink: 8001,
    /** The guardrails pod's mTLS sidecar, loopback listener to the Presidio analyzer. */
    guardrailsToAnalyzer: 8003,
    /** The guardrails pod's mTLS sidecar, loopback listener to the Presidio anonymizer. */
    guardrailsToAnonymizer: 8004,
    /** The guardrails pod's mTLS sidecar, loopback listener to the jailbreak heuristics server. */
    guardrailsToJailbreak: 8005,
    /** Loopback port of a server behind its pod's mTLS sidecar (guardrails, vLLM). */
    loopbackApp: 8010,
    /** Loopback port of Presidio behind its pod's mTLS sidecar (the image's `PORT`). */
    loopbackPresidio: 3001,
    /**
     * Health listener of every mTLS sidecar (plain HTTP for the kubelet's probes, in no Service
     * and admitted by no NetworkPolicy): `/healthz` the sidecar itself, `/health` the app's.
     */
    mtlsHealth: 8081,
    egressProxy: 3128,
    /** The pipeline sandbox webhook's TLS listener (POST /mutate; only the API server reaches it). */
    sandboxWebhook: 8443,
    /** The sandbox webhook's plain health listener (serves only /healthz, for probes). */
    sandboxWebhookHealth: 8081,
    dns: 53,
} as const;
