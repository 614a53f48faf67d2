/**
 * Test-side model of how each catalogued chart's templates print an image reference from its
 * values (templates at the pinned commits, cited in modules/constants/chart-images.ts). No chart
 * is rendered here (the charts folder has no templates): this is our reading of them.
 */
import { strict as assert } from "assert";
import type { ChartImage } from "../../modules/constants/chart-images";
import {
    charts,
    kubePrometheusStackChart,
    tigeraOperatorChart,
} from "../../modules/constants/charts";
import { chartAppVersion, chartId, subcharts } from "../charts/support";

type Tree = Record<string, any>;
/** A dotted values path of a tree. */
export const get = (v: unknown, dotted: string): any =>
    dotted
        .split(".")
        .reduce<any>((o, k) => (typeof o === "object" && o !== null ? o[k] : undefined), v);

/** The pinned chart of each catalogued chart name. */
export const pinOf: Readonly<Record<string, { chart: string; version: string }>> = {
    "cert-manager": charts.certManager,
    "external-secrets": charts.externalSecrets,
    "ingress-nginx": charts.ingressNginx,
    "kata-deploy": charts.kataDeploy,
    "gpu-operator": charts.gpuOperator,
    "kube-prometheus-stack": kubePrometheusStackChart,
    "tigera-operator": tigeraOperatorChart,
};
export const idOf = (chart: string) => chartId(pinOf[chart]!.chart, pinOf[chart]!.version);

/**
 * The appVersion a chart's empty tag falls back to. cert-manager's, gpu-operator's and
 * tigera-operator's Chart.yaml in their repositories are templates their release tooling fills
 * with the release version (Chart.template.yaml `{{IS_PRERELEASE}}`, `v1.0.0-devel`, `v0.0`): for
 * those the published appVersion is the pinned chart version.
 */
function appVersion(chart: string, path: string): string {
    const sub = /^(grafana|kube-state-metrics|prometheus-node-exporter)\./.exec(path)?.[1];
    const id = sub ? subcharts[idOf(chart)]![sub]! : idOf(chart);
    if (["cert-manager", "gpu-operator", "tigera-operator"].includes(chart)) {
        return pinOf[chart]!.version;
    }
    return chartAppVersion(id)!;
}

/**
 * The image reference a chart's template prints from the merged values at an image's path
 * (templates cited in modules/constants/chart-images.ts).
 */
export function refFromValues(i: ChartImage, merged: Tree): string {
    const n = get(merged, i.path) ?? {};
    const app = appVersion(i.chart, i.path);
    switch (i.chart) {
        case "cert-manager": {
            const repo = n.registry ? `${n.registry}/${n.repository}` : n.repository;
            return n.digest ? `${repo}@${n.digest}` : `${repo}:${n.tag || app}`;
        }
        case "external-secrets":
            return `${n.repository}:${n.tag || app}${n.flavour ? `-${n.flavour}` : ""}`;
        case "ingress-nginx": {
            const m = { ...get(merged, "global.image"), ...n };
            const repo = m.repository || `${m.registry}/${m.image}`;
            return `${repo}:${m.tag}${m.digest ? `@${m.digest}` : ""}`;
        }
        case "kube-prometheus-stack": {
            const registry = get(merged, "global.imageRegistry") || n.registry;
            const tag =
                n.tag ||
                (i.path.startsWith("prometheusOperator.") || i.path === "grafana.image"
                    ? app
                    : n.tag);
            if (
                i.path === "kube-state-metrics.image" ||
                i.path === "prometheus-node-exporter.image"
            ) {
                const t = n.tag || `v${app}`;
                const d = i.path === "kube-state-metrics.image" ? n.sha : n.digest;
                assert.ok(
                    !(i.path === "prometheus-node-exporter.image" && n.sha),
                    "sha is refused",
                );
                return `${registry}/${n.repository}:${t}${d ? `@${d}` : ""}`;
            }
            return `${registry}/${n.repository}:${tag}${n.sha ? `@sha256:${n.sha}` : ""}`;
        }
        case "kata-deploy": {
            const tag = i.path === "image" ? n.tag || app : String(n.tag ?? "");
            return String(n.reference).includes("@") || tag === ""
                ? n.reference
                : `${n.reference}:${tag}`;
        }
        case "gpu-operator": {
            if (i.path === "node-feature-discovery.image") {
                return `${n.repository}:${n.tag || "v0.17.2"}`;
            }
            const v = n.version || app;
            return String(v).startsWith("sha256:")
                ? `${n.repository}/${n.image}@${v}`
                : `${n.repository}/${n.image}:${v}`;
        }
        case "tigera-operator":
            return `${n.registry ? `${String(n.registry).replace(/\/$/, "")}/` : ""}${n.image}:${n.version}`;
    }
}
