/** Where Kubeflow comes from (pinned kustomize refs) and the KServe storage container, as data. */
import { mkdirSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import type { KubeflowConfig } from "../../config/kubeflow";
import { serviceNamespaces } from "../../constants/namespaces";

/** A local kustomization that wraps a remote one, written before the install applies it. */
export interface KustomizeWrapper {
    /** `kustomization.yaml` of the wrapper. */
    readonly kustomization: string;
}

/** One kustomize directory to apply, in order. */
export interface KustomizeStep {
    /** Role, used in the resource name. */
    readonly role: string;
    /**
     * Remote git directory at a pinned ref (`https://github.com/<org>/<repo>/tree/<ref>/<path>`),
     * or the local folder of {@link wrapper}.
     */
    readonly directory: string;
    /** Set when `directory` is a wrapper the program writes (see {@link writeKustomizeWrapper}). */
    readonly wrapper?: KustomizeWrapper;
}

/**
 * Wraps a remote kustomization and deletes its Namespace `kubeflow`: the baseline owns that
 * namespace (Pod Security labels, quota, limits, policies), so the upstream copy — with other Pod
 * Security labels — never reaches the cluster. Everything else is applied as upstream ships it.
 */
export function withoutKubeflowNamespace(remote: string): KustomizeWrapper {
    return {
        kustomization: [
            "# Written by secure-llm-platform (modules/k8s/kubeflow/install.ts); do not edit.",
            "apiVersion: kustomize.config.k8s.io/v1beta1",
            "kind: Kustomization",
            "resources:",
            `  - ${remote}`,
            "patches:",
            "  - patch: |-",
            "      $patch: delete",
            "      apiVersion: v1",
            "      kind: Namespace",
            "      metadata:",
            `        name: ${serviceNamespaces.kubeflow}`,
            "",
        ].join("\n"),
    };
}

/** Folder of a step's wrapper: deterministic per version, outside the repository. */
export function wrapperDirectory(release: string, role: string): string {
    return path.join(os.tmpdir(), "secure-llm-platform", "kustomize", release, role);
}

/** Writes a wrapper step's kustomization (idempotent: same version, same bytes). */
export function writeKustomizeWrapper(step: KustomizeStep): void {
    if (step.wrapper === undefined) return;
    mkdirSync(step.directory, { recursive: true });
    writeFileSync(path.join(step.directory, "kustomization.yaml"), step.wrapper.kustomization);
}

/**
 * The kustomize directories of an install, in apply order. Standalone: KFP's cluster-scoped
 * resources (CRDs, cluster roles) without its `kubeflow` Namespace, then the platform-agnostic
 * env (which declares no Namespace). Full: the kubeflow/manifests `example` kustomization (KFP,
 * KServe, Istio, Dex, profiles…), which declares `kubeflow` too (see docs/mlops.md).
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
                directory: wrapperDirectory(`manifests-${cfg.version}`, "example"),
                wrapper: withoutKubeflowNamespace(
                    `https://github.com/kubeflow/manifests//example?ref=${cfg.version}`,
                ),
            },
        ];
    }
    const base = `https://github.com/kubeflow/pipelines/tree/${cfg.version}/manifests/kustomize`;
    // kustomize's own remote syntax (`//` before the path, `?ref=`), as a resource of the wrapper.
    const remote = `https://github.com/kubeflow/pipelines//manifests/kustomize/cluster-scoped-resources?ref=${cfg.version}`;
    return [
        {
            role: "cluster-scoped",
            directory: wrapperDirectory(`kfp-${cfg.version}`, "cluster-scoped"),
            wrapper: withoutKubeflowNamespace(remote),
        },
        { role: "pipelines", directory: `${base}/env/platform-agnostic` },
    ];
}

/** Name of the model-vault ClusterStorageContainer. */
export const storageContainerName = "encrypted-models";

/**
 * The KServe `ClusterStorageContainer` that makes `oci-os://` storage URIs go through model-vault:
 * KServe runs it as the `storage-initializer` init container with
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
