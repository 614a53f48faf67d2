/** Compliant fixture objects for the security rule tests; each test breaks exactly one thing. */
import type { ResourceDescription } from "../../modules/security";

export const digest = `sha256:${"a".repeat(64)}`;
export const pinnedImage = `ghcr.io/secure-llm-platform/guardrails@${digest}`;

/** A container that meets every mandatory and advisory rule. */
export function hardenedContainer(name = "app"): Record<string, any> {
    return {
        name,
        image: pinnedImage,
        securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
        },
        resources: {
            requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
            limits: { cpu: "1", memory: "256Mi", "ephemeral-storage": "128Mi" },
        },
        livenessProbe: { httpGet: { path: "/healthz", port: 8000 } },
        readinessProbe: { httpGet: { path: "/ready", port: 8000 } },
        env: [{ name: "LOG_LEVEL", value: "info" }],
        volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    };
}

/** A pod spec that meets every rule. */
export function hardenedPodSpec(): Record<string, any> {
    return {
        serviceAccountName: "app",
        automountServiceAccountToken: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: "RuntimeDefault" },
        },
        initContainers: [
            { ...hardenedContainer("init"), livenessProbe: undefined, readinessProbe: undefined },
        ],
        containers: [hardenedContainer("app")],
        volumes: [{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } }],
    };
}

const apiVersions: Record<string, string> = {
    Pod: "v1",
    Deployment: "apps/v1",
    StatefulSet: "apps/v1",
    DaemonSet: "apps/v1",
    ReplicaSet: "apps/v1",
    Job: "batch/v1",
    CronJob: "batch/v1",
};

/** A workload of the given kind wrapping `podSpec` at the kind's template path. */
export function workload(
    kind: string,
    podSpec: Record<string, any> = hardenedPodSpec(),
    namespace = "llm-guardrails",
): ResourceDescription & { inputs: Record<string, any> } {
    const group = apiVersions[kind].includes("/") ? apiVersions[kind] : `core/${apiVersions[kind]}`;
    const template = { metadata: { labels: { app: "x" } }, spec: podSpec };
    const spec =
        kind === "Pod"
            ? podSpec
            : kind === "CronJob"
              ? { schedule: "0 * * * *", jobTemplate: { spec: { template } } }
              : { selector: { matchLabels: { app: "x" } }, template };
    return {
        type: `kubernetes:${group}:${kind}`,
        name: `test-${kind.toLowerCase()}`,
        inputs: { apiVersion: apiVersions[kind], kind, metadata: { name: "x", namespace }, spec },
    };
}

/** A Deployment whose pod spec was changed by `mutate`. */
export function deploymentWith(mutate: (pod: Record<string, any>) => void): ResourceDescription {
    const pod = hardenedPodSpec();
    mutate(pod);
    return workload("Deployment", pod);
}

/** A Kubernetes object with a type token derived from apiVersion and kind. */
export function k8s(
    apiVersion: string,
    kind: string,
    inputs: Record<string, any>,
): ResourceDescription {
    const group = apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`;
    return {
        type: `kubernetes:${group}:${kind}`,
        name: `test-${kind.toLowerCase()}`,
        inputs: { apiVersion, kind, ...inputs },
    };
}
