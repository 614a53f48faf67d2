/** Scheduling names shared by the baseline (which creates the objects) and the workloads. */

/**
 * PriorityClass names. The baseline creates the PriorityClass objects with exactly these names;
 * workloads only refer to them.
 */
export const priorityClasses = {
    /** The request path: gateway, guardrails, inference, output filter. */
    serving: "slp-serving",
    /** Platform services the request path depends on (egress proxy, secrets, ingress). */
    platform: "slp-platform",
    /** Pipelines and other batch work, first to be preempted. */
    batch: "slp-batch",
} as const;

export type PriorityClassName = (typeof priorityClasses)[keyof typeof priorityClasses];

/** Kata RuntimeClasses (names match kata-deploy's CRI-O handlers). */
export const runtimeClasses = {
    /** CPU workloads in a Kata VM. */
    kata: "kata-qemu",
    /** GPU workloads in a Kata VM with the GPU passed through (`nvidia.com/pgpu`). */
    kataGpu: "kata-qemu-nvidia-gpu",
} as const;
