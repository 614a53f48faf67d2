/** Helm charts the platform installs, each pinned. One place, so upgrades are one diff. */

/** A pinned Helm chart: `repo` for HTTP repositories; OCI charts carry the full `oci://` ref in `chart`. */
export interface ChartPin {
    readonly chart: string;
    readonly version: string;
    readonly repo?: string;
}

export const charts = {
    kataDeploy: {
        chart: "oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy",
        version: "3.29.0",
    },
    gpuOperator: {
        chart: "gpu-operator",
        repo: "https://helm.ngc.nvidia.com/nvidia",
        version: "v25.3.0",
    },
    dcgmExporter: {
        chart: "dcgm-exporter",
        repo: "https://nvidia.github.io/dcgm-exporter/helm-charts",
        version: "4.8.1",
    },
    externalSecrets: {
        chart: "external-secrets",
        repo: "https://charts.external-secrets.io",
        version: "0.19.2",
    },
    ingressNginx: {
        chart: "ingress-nginx",
        repo: "https://kubernetes.github.io/ingress-nginx",
        version: "4.14.1",
    },
    certManager: { chart: "cert-manager", repo: "https://charts.jetstack.io", version: "v1.18.2" },
} as const satisfies Record<string, ChartPin>;

/** kube-prometheus-stack; observability installs it. */
export const kubePrometheusStackChart = {
    chart: "kube-prometheus-stack",
    repo: "https://prometheus-community.github.io/helm-charts",
    version: "82.16.0",
} as const satisfies ChartPin;

/**
 * Open-source Calico (Tigera operator), installed to enforce NetworkPolicy where the cluster's CNI
 * does not (OKE with the `proxy` egress engine). v3.31.5 is a published chart release (seen in
 * Renovate updates to v3.32.0); tiers with `defaultAction` need ≥ 3.29.
 */
export const tigeraOperatorChart = {
    chart: "tigera-operator",
    repo: "https://docs.tigera.io/calico/charts",
    version: "v3.31.5",
} as const satisfies ChartPin;
