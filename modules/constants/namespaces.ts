/** Namespaces the platform creates, by role. One place, so policies and tests agree. */

/** Namespaces that run the LLM tiers; Pod Security `restricted`. */
export const tierNamespaces = {
    gateway: "llm-gateway",
    guardrails: "llm-guardrails",
    inference: "llm-inference",
    outputFilter: "llm-output-filter",
} as const;

/** Platform service namespaces that run under Pod Security `restricted`. */
export const serviceNamespaces = {
    egressProxy: "egress-proxy",
    externalSecrets: "external-secrets",
    certManager: "cert-manager",
    ingress: "ingress-nginx",
    monitoring: "monitoring",
    kubeflow: "kubeflow",
    /** The pipeline sandbox's admission webhook (modules/k8s/kubeflow/sandbox.ts); with Kubeflow. */
    sandboxAdmission: "sandbox-admission",
} as const;

/**
 * Namespaces for components that must be privileged (host paths, host namespaces, device access).
 * Each carries an annotation saying why; nothing else may run there.
 */
export const privilegedNamespaces = {
    kata: "kata-system",
    gpuOperator: "gpu-operator",
    nodeMonitoring: "monitoring-system",
    calico: "tigera-operator",
    /** The authored Calico policy-only install on OKE (calico-node, calico-kube-controllers). */
    calicoSystem: "calico-system",
} as const;

/** Prefix of tenant namespaces: `tenant-<team>`. */
export const tenantNamespacePrefix = "tenant-";

/** Namespace of the GPU operator's DCGM exporter Service (`nvidia-dcgm-exporter`, port `gpu-metrics`). */
export const dcgmExporterNamespace = privilegedNamespaces.gpuOperator;
