/**
 * Where the pod spec of each Kubernetes workload kind lives, and a uniform view of it (the object's
 * display name, its namespace, every container with the path a reviewer would look at).
 */
import { get, isUnknown, list, stringMap } from "./values";

/** `Deployment` from `kubernetes:apps/v1:Deployment`; undefined for non-Kubernetes tokens. */
export function kubernetesKind(type: string): string | undefined {
    return /^kubernetes:[^:]+:([A-Za-z0-9]+)$/.exec(type)?.[1];
}

/** Path from the object to its pod template (`[]` for a bare Pod), by kind. */
export const templatePaths: Readonly<Record<string, readonly string[]>> = {
    Pod: [],
    Deployment: ["spec", "template"],
    StatefulSet: ["spec", "template"],
    DaemonSet: ["spec", "template"],
    ReplicaSet: ["spec", "template"],
    ReplicationController: ["spec", "template"],
    Job: ["spec", "template"],
    CronJob: ["spec", "jobTemplate", "spec", "template"],
};

/** Kubernetes kinds that create pods. */
export const workloadKinds: readonly string[] = Object.keys(templatePaths);

/** True for a type token whose object creates pods. */
export function isWorkloadType(type: string): boolean {
    const kind = kubernetesKind(type);
    return kind !== undefined && kind in templatePaths;
}

/** One container of a pod spec. */
export interface ContainerView {
    /** The container object (may be UNKNOWN). */
    readonly container: unknown;
    /** `containers`, `initContainers` or `ephemeralContainers`. */
    readonly list: "containers" | "initContainers" | "ephemeralContainers";
    /** Full path from the object, e.g. `spec.template.spec.containers[0]`. */
    readonly path: string;
    /** `container "vllm"`, `init container "model-loader"`. */
    readonly label: string;
}

/** A workload's pod template, seen uniformly whatever the kind. */
export interface PodView {
    readonly kind: string;
    /** `Deployment llm-inference/inference`. */
    readonly ref: string;
    /** `metadata.namespace`, `default` when unset (the provider's default namespace). */
    readonly namespace: string | undefined;
    /** The pod spec (may be UNKNOWN). */
    readonly spec: unknown;
    /** Path of the pod spec from the object, e.g. `spec.template.spec`. */
    readonly specPath: string;
    /** Annotations of the object and of its pod template, template last. */
    readonly annotations: Readonly<Record<string, unknown>>;
    readonly containers: readonly ContainerView[];
}

const containerLabels = {
    containers: "container",
    initContainers: "init container",
    ephemeralContainers: "ephemeral container",
} as const;

/** Display reference of a Kubernetes object: `Kind namespace/name` (falls back to the Pulumi name). */
export function objectRef(kind: string, inputs: unknown, fallbackName: string): string {
    const name = get(inputs, "metadata", "name");
    const ns = get(inputs, "metadata", "namespace");
    const shown = typeof name === "string" ? name : fallbackName;
    return typeof ns === "string" ? `${kind} ${ns}/${shown}` : `${kind} ${shown}`;
}

/** The pod view of a workload, or undefined for other kinds. */
export function podView(type: string, name: string, inputs: unknown): PodView | undefined {
    const kind = kubernetesKind(type);
    if (kind === undefined || !(kind in templatePaths)) {
        return undefined;
    }
    const tpl = templatePaths[kind];
    const spec = get(inputs, ...tpl, "spec");
    const specPath = [...tpl, "spec"].join(".");
    const ns = get(inputs, "metadata", "namespace");
    const containers: ContainerView[] = [];
    for (const field of ["containers", "initContainers", "ephemeralContainers"] as const) {
        list(get(spec, field)).forEach((c, i) => {
            const cname = get(c, "name");
            containers.push({
                container: c,
                list: field,
                path: `${specPath}.${field}[${i}]`,
                label: `${containerLabels[field]} "${typeof cname === "string" ? cname : i}"`,
            });
        });
    }
    return {
        kind,
        ref: objectRef(kind, inputs, name),
        namespace: isUnknown(ns) ? undefined : typeof ns === "string" ? ns : "default",
        spec,
        specPath,
        annotations: {
            ...stringMap(get(inputs, "metadata", "annotations")),
            ...(tpl.length > 0 ? stringMap(get(inputs, ...tpl, "metadata", "annotations")) : {}),
        },
        containers,
    };
}
