/** Where Kubeflow comes from (pinned kustomize refs) and the KServe storage container, as data. */
import type { KubeflowConfig } from "../../config/kubeflow";

/** One kustomize directory to apply, in order. */
export interface KustomizeStep {
    /** Role, used in the resource name. */
    readonly role: string;
    /** Remote git directory at a pinned ref (`https://github.com/<org>/<repo>/tree/<ref>/<path>`). */
    readonly directory: string;
}

/**
 * The kustomize directories of an install, in apply order. Standalone: KFP's cluster-scoped
 * resources (CRDs, the `kubeflow` namespace), then the platform-agnostic env. Full: the
 * kubeflow/manifests `example` kustomization (KFP, KServe, Istio, Dex, profiles…).
 */
export function kustomizeSteps(cfg: Pick<KubeflowConfig, "mode" | "version">): KustomizeStep[] {
    if (!/^[A-Za-z0-9._-]+$/.test(cfg.version)) {
        throw new Error(
            `kubeflow version ${JSON.stringify(cfg.version)} is not a release tag; pin a tag such as 2.16.0`,
        );
    }
    if (cfg.mode === "full") {
        return [
            {
                role: "manifests",
                directory: `https://github.com/kubeflow/manifests/tree/${cfg.version}/example`,
            },
        ];
    }
    const base = `https://github.com/kubeflow/pipelines/tree/${cfg.version}/manifests/kustomize`;
    return [
        { role: "cluster-scoped", directory: `${base}/cluster-scoped-resources` },
        { role: "pipelines", directory: `${base}/env/platform-agnostic` },
    ];
}

/** Name of the model-vault ClusterStorageContainer. */
export const storageContainerName = "encrypted-models";

/**
 * The KServe `ClusterStorageContainer` that makes `oci-os://` storage URIs go through model-vault
 * (REFERENCE.md §5.4): KServe runs it as the `storage-initializer` init container with
 * `<storageUri> /mnt/models`, which model-vault takes as `decrypt`. Hardened like our own pods.
 */
export function storageContainerSpec(image: string): Record<string, unknown> {
    return {
        container: {
            name: "storage-initializer",
            image,
            resources: {
                requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                limits: { cpu: "1", memory: "256Mi", "ephemeral-storage": "256Mi" },
            },
            securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                runAsUser: 10001,
                runAsGroup: 10001,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
            },
            env: [{ name: "OCI_AUTH", value: "workload" }],
        },
        supportedUriFormats: [{ prefix: "oci-os://" }],
        workloadType: "initContainer",
    };
}
