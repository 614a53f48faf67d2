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

/**
 * Annotations that record a deliberate, reviewed exception to a security rule (modules/security).
 * Each must carry a non-empty value; the rules report every exception they honour as advisory.
 */
export const exceptionAnnotations = {
    /** On a pod template or workload: why its pods need an automounted API token. */
    needsApiToken: `${labelDomain}/needs-api-token`,
    /** On a (Cluster)RoleBinding to cluster-admin: `"true"` when the stack config asked for it. */
    requestedByConfig: `${labelDomain}/requested-by-config`,
    /** On a LoadBalancer Service: `"true"` when the stack config asked for a public load balancer. */
    publicByConfig: `${labelDomain}/public-by-config`,
} as const;

/** OCI cloud-controller annotations that keep a LoadBalancer Service private. */
export const ociInternalLoadBalancerAnnotations = {
    /** OCI Load Balancer (flexible). */
    loadBalancer: "service.beta.kubernetes.io/oci-load-balancer-internal",
    /** OCI Network Load Balancer. */
    networkLoadBalancer: "oci-network-load-balancer.oraclecloud.com/internal",
} as const;

/** Node labels the GPU stack reads. */
export const gpuNodeLabels = {
    /** `true` on a node stops OKE's NvidiaGpuPlugin there (set on GPU pools when the GPU operator owns the plugin). */
    disableOkeDevicePlugin: "oci.oraclecloud.com/disable-gpu-device-plugin",
    /** GPU operator workload mode of a node: `container` or `vm-passthrough` (Kata GPU nodes). */
    workloadConfig: "nvidia.com/gpu.workload.config",
} as const;
