/** Label and annotation keys the platform reads or writes. */

/** Domain for the platform's own labels and annotations. */
export const labelDomain = "secure-llm-platform.io";

export const labels = {
    /** `app.kubernetes.io/name` of a workload: the pod selector the network policies use. */
    name: "app.kubernetes.io/name",
    /** `app.kubernetes.io/part-of`, always `secure-llm-platform`. */
    partOf: "app.kubernetes.io/part-of",
    /** `app.kubernetes.io/component`: the tier or component. */
    component: "app.kubernetes.io/component",
    /** `app.kubernetes.io/managed-by`, always `pulumi`. */
    managedBy: "app.kubernetes.io/managed-by",
    /** Node label: which pool a node belongs to. */
    pool: `${labelDomain}/pool`,
    /** Node label: the pool's role (system, gpu, kata). */
    poolRole: `${labelDomain}/pool-role`,
    /** Node label set on Kata-capable pools before kata-deploy runs (kata-deploy's own nodeSelector). */
    kataPool: `${labelDomain}/kata`,
    /** Label kata-deploy puts on nodes it has installed the runtime on. */
    kataRuntime: "katacontainers.io/kata-runtime",
    /** Namespace label: tenant name. */
    tenant: `${labelDomain}/tenant`,
    /** Namespace label: the platform role of the namespace (tier, service, privileged, tenant). */
    namespaceRole: `${labelDomain}/namespace-role`,
} as const;

export const partOfValue = "secure-llm-platform";

/** Node taints the node pools register with (managed pools: kubelet extra args in cloud-init). */
export const taints = {
    gpu: { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" },
    kata: { key: "kata", value: "true", effect: "NoSchedule" },
} as const;

export const annotations = {
    /** Why a namespace must run privileged components. */
    privilegedReason: `${labelDomain}/privileged-reason`,
    /** Checksum of mounted configuration; a change rolls the pods. */
    configChecksum: `${labelDomain}/config-checksum`,
} as const;
