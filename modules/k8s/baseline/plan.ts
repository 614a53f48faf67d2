/**
 * What the baseline puts in one cluster, decided purely from the cluster's validated config: which
 * namespaces exist and in which role, which Helm charts are installed, which RuntimeClasses exist.
 * The components only render this plan, so tests can check the decisions without the runtime.
 */
import type { ClusterConfig } from "../../config";
import type { QuotaConfig } from "../../config/baseline";
import {
    privilegedNamespaces,
    serviceNamespaces,
    tenantNamespacePrefix,
    tierNamespaces,
} from "../../constants/namespaces";
import { runtimeClasses } from "../../constants/scheduling";
import { clusterCalicoMode } from "../network/render-calico";

/** The platform role of a namespace; also the value of its `namespace-role` label. */
export type NamespaceRole = "tier" | "service" | "privileged" | "tenant";

/** One namespace the baseline creates. */
export interface NamespacePlan {
    readonly name: string;
    readonly role: NamespaceRole;
    /** Privileged namespaces: why the components there must be privileged. */
    readonly privilegedReason?: string;
    /** Tenant namespaces: the tenant's name. */
    readonly tenant?: string;
    /** Pod Security level enforced instead of the role's (`kubeflow`: `kubeflow.podSecurity`). */
    readonly podSecurity?: "baseline" | "restricted";
    /** Resource caps. */
    readonly quota: QuotaConfig;
}

/** The baseline of one cluster. */
export interface BaselinePlan {
    /** Namespaces in creation order (platform first, tenants last). */
    readonly namespaces: readonly NamespacePlan[];
    /** Kubernetes minor version, e.g. `v1.34`, that Pod Security labels pin. */
    readonly podSecurityVersion: string;
    /** Install kata-deploy (OKE clusters with Kata pools only; existing clusters bring their own runtime). */
    readonly installKataDeploy: boolean;
    /** Kata RuntimeClasses the program creates (OKE) or expects (existing). */
    readonly kataRuntimeClasses: readonly string[];
    /** Create the Kata RuntimeClass objects (false on existing clusters, whose Kata install owns them). */
    readonly createRuntimeClasses: boolean;
    /** Install the NVIDIA GPU operator (it then owns the device plugin). */
    readonly installGpuOperator: boolean;
    /** Install a standalone DCGM exporter (GPU metrics when the operator is not installed). */
    readonly installDcgmExporter: boolean;
    /** Install cert-manager from Helm (false when the OKE CertManager add-on provides it). */
    readonly installCertManager: boolean;
    /** Install External Secrets and the `oci-vault` ClusterSecretStore. */
    readonly installExternalSecrets: boolean;
}

const privilegedReasons: Readonly<Record<string, string>> = {
    [privilegedNamespaces.kata]:
        "kata-deploy installs the Kata runtime on the host: privileged container, hostPath mounts of /opt/kata and the CRI-O config, restarts CRI-O",
    [privilegedNamespaces.gpuOperator]:
        "GPU operator / DCGM exporter: device access, hostPath to the kubelet pod-resources socket and driver files, SYS_ADMIN",
    [privilegedNamespaces.nodeMonitoring]:
        "node exporter: hostNetwork, hostPID and read-only hostPath mounts of /proc, /sys and the root filesystem",
    [privilegedNamespaces.calico]:
        "Calico: calico-node runs privileged with hostNetwork to program the host's routes and iptables/eBPF",
    [privilegedNamespaces.calicoSystem]:
        "Calico policy-only: calico-node runs privileged with hostNetwork to program the host's iptables; calico-kube-controllers beside it meets restricted",
};

/** Built-in caps by namespace, before config overrides. */
export function defaultQuota(
    name: string,
    role: NamespaceRole,
    cluster: ClusterConfig,
): QuotaConfig {
    if (role === "privileged") {
        // DaemonSets scale with the node count: a generous pod cap, requests only.
        return { cpu: "32", memory: "64Gi", gpus: 0, pods: 500 };
    }
    switch (name) {
        case tierNamespaces.inference:
            return { cpu: "64", memory: "512Gi", gpus: clusterGpuCount(cluster) ?? 8, pods: 50 };
        case serviceNamespaces.monitoring:
        case serviceNamespaces.kubeflow:
            return { cpu: "16", memory: "64Gi", gpus: 0, pods: 100 };
        default:
            return role === "tier"
                ? { cpu: "16", memory: "64Gi", gpus: 0, pods: 50 }
                : { cpu: "8", memory: "16Gi", gpus: 0, pods: 30 };
    }
}

/** Total GPUs of an OKE cluster's GPU pools (shape suffix × pool size), or undefined when unknown. */
export function clusterGpuCount(cluster: ClusterConfig): number | undefined {
    const pools = cluster.nodePools.filter((p) => p.gpu);
    if (cluster.target !== "oke" || pools.length === 0) {
        return undefined;
    }
    return pools.reduce((sum, p) => sum + Number(/\.(\d+)$/.exec(p.shape)?.[1] ?? "1") * p.size, 0);
}

/** `v1.34.2` → `v1.34`. */
export function podSecurityVersion(kubernetesVersion: string): string {
    const m = /^v1\.(\d+)/.exec(kubernetesVersion);
    if (m === null) {
        throw new Error(`kubernetesVersion ${kubernetesVersion} is not of the form v1.NN.P`);
    }
    return `v1.${m[1]}`;
}

/** The baseline plan of a cluster. */
export function planBaseline(cluster: ClusterConfig): BaselinePlan {
    const layer = cluster.layer;
    const cfg = layer.baseline;
    const caps = cluster.capabilities;
    const isOke = cluster.target === "oke";
    const addonNames = new Set(cluster.addons.map((a) => a.name));
    const hasGpus = caps.gpu || caps.kataGpu;
    const owner = cfg.gpu.devicePluginOwner;

    const installKataDeploy = isOke && (caps.kata || caps.kataGpu);
    const installGpuOperator = hasGpus && owner === "gpu-operator";
    // With OKE's plugin, DCGM metrics come from a standalone exporter on runc GPU nodes (Kata GPU
    // nodes have no host exporter). A preinstalled stack is assumed to bring its own.
    const installDcgmExporter = caps.gpu && owner === "oke-addon";
    const installCertManager = !addonNames.has("CertManager");
    const calicoMode = clusterCalicoMode(cluster);
    const installExternalSecrets = cfg.secrets.enabled;

    const kataRuntimeClasses = [
        ...(caps.kata ? [runtimeClasses.kata] : []),
        ...(caps.kataGpu ? [runtimeClasses.kataGpu] : []),
    ];

    const platform: {
        name: string;
        role: NamespaceRole;
        when: boolean;
        podSecurity?: "baseline" | "restricted";
    }[] = [
        { name: tierNamespaces.gateway, role: "tier", when: layer.tiers.gateway.enabled },
        { name: tierNamespaces.guardrails, role: "tier", when: layer.tiers.guardrails.enabled },
        { name: tierNamespaces.inference, role: "tier", when: layer.tiers.inference.enabled },
        { name: tierNamespaces.outputFilter, role: "tier", when: layer.tiers.outputFilter.enabled },
        {
            name: serviceNamespaces.egressProxy,
            role: "service",
            when: layer.networkPolicy.engine === "proxy",
        },
        { name: serviceNamespaces.externalSecrets, role: "service", when: installExternalSecrets },
        { name: serviceNamespaces.certManager, role: "service", when: installCertManager },
        { name: serviceNamespaces.ingress, role: "service", when: true },
        { name: serviceNamespaces.monitoring, role: "service", when: layer.observability.enabled },
        // Standalone KFP runs pipeline steps here: the same level as the pipeline namespace.
        {
            name: serviceNamespaces.kubeflow,
            role: "service",
            when: layer.kubeflow.enabled,
            podSecurity: layer.kubeflow.podSecurity,
        },
        // The pipeline sandbox's admission webhook (modules/k8s/kubeflow/sandbox.ts).
        {
            name: serviceNamespaces.sandboxAdmission,
            role: "service",
            when: layer.kubeflow.enabled,
        },
        { name: privilegedNamespaces.kata, role: "privileged", when: installKataDeploy },
        {
            name: privilegedNamespaces.gpuOperator,
            role: "privileged",
            when: installGpuOperator || installDcgmExporter,
        },
        {
            name: privilegedNamespaces.nodeMonitoring,
            role: "privileged",
            when: layer.observability.enabled,
        },
        // Where NetworkSecurity installs open-source Calico: the tigera-operator chart, or on OKE
        // VCN-native the authored policy-only install (calico-node, calico-kube-controllers).
        {
            name: privilegedNamespaces.calico,
            role: "privileged",
            when: calicoMode === "operator",
        },
        {
            name: privilegedNamespaces.calicoSystem,
            role: "privileged",
            when: calicoMode === "policy-only",
        },
    ];

    const namespaces: NamespacePlan[] = platform
        .filter((n) => n.when)
        .map((n) => ({
            name: n.name,
            role: n.role,
            privilegedReason: n.role === "privileged" ? privilegedReasons[n.name] : undefined,
            podSecurity: n.podSecurity,
            quota: {
                ...defaultQuota(n.name, n.role, cluster),
                ...definedOnly(cfg.quotas[n.name] ?? {}),
            },
        }));
    for (const t of cfg.tenants) {
        namespaces.push({
            name: tenantNamespace(t.name),
            role: "tenant",
            tenant: t.name,
            quota: t.quota,
        });
    }

    return {
        namespaces,
        podSecurityVersion: podSecurityVersion(cluster.kubernetesVersion),
        installKataDeploy,
        kataRuntimeClasses,
        createRuntimeClasses: installKataDeploy,
        installGpuOperator,
        installDcgmExporter,
        installCertManager,
        installExternalSecrets,
    };
}

/** Namespace of a tenant. */
export function tenantNamespace(tenant: string): string {
    return `${tenantNamespacePrefix}${tenant}`;
}

function definedOnly<T extends object>(o: Partial<T>): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
