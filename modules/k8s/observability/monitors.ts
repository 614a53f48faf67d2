/** Which Services Prometheus scrapes: pure, so tests can check them against the Services that exist. */
import { ingressControllerMetrics } from "../../constants/ingress";
import { labels } from "../../constants/labels";
import {
    dcgmExporterNamespace,
    privilegedNamespaces,
    serviceNamespaces,
} from "../../constants/namespaces";
import { catalog, workloadIds } from "../catalog";

/** One ServiceMonitor: the Service it selects and the named port it scrapes. */
export interface MonitorSpec {
    /** ServiceMonitor name. */
    readonly name: string;
    /** Namespace of the selected Service. */
    readonly namespace: string;
    /** Labels the selected Service carries. */
    readonly matchLabels: Readonly<Record<string, string>>;
    /** Name of the Service port to scrape. */
    readonly port: string;
    readonly path: string;
}

/** The decision-log-metrics exporter the observability layer runs itself. */
export const decisionMetrics = {
    name: "decision-log-metrics",
    namespace: privilegedNamespaces.nodeMonitoring,
    port: { name: "metrics", port: 2021 },
    healthPort: 2020,
} as const;

/** DCGM exporter Service the GPU operator creates (NVIDIA gpu-operator, `nvidia-dcgm-exporter`). */
export const dcgmService = {
    name: "nvidia-dcgm-exporter",
    namespace: dcgmExporterNamespace,
    matchLabels: { app: "nvidia-dcgm-exporter" },
    port: "gpu-metrics",
} as const;

/**
 * The ingress-nginx controller's metrics Service (the baseline enables `controller.metrics`): the
 * gateway tier's client-facing request count, status and latency, per Ingress.
 */
export const ingressMetricsService = {
    name: ingressControllerMetrics.serviceName,
    namespace: serviceNamespaces.ingress,
    matchLabels: ingressControllerMetrics.serviceLabels,
    port: ingressControllerMetrics.portName,
} as const;

/**
 * Monitors for every catalog workload with a metrics port, the ingress-nginx controller, the
 * decision-log metrics and, when
 * ordinary (runc) GPU nodes exist, the DCGM exporter (Kata GPU nodes run none: REFERENCE §4.4).
 */
export function monitorSpecs(opts: { dcgm: boolean; decisionMetrics: boolean }): MonitorSpec[] {
    const out: MonitorSpec[] = [];
    for (const id of workloadIds) {
        const w = catalog[id];
        if (w.metricsPort === undefined) {
            continue;
        }
        out.push({
            name: w.id,
            namespace: w.namespace,
            matchLabels: { [labels.name]: w.podLabels[labels.name]! },
            port: w.metricsPort,
            path: "/metrics",
        });
    }
    // The chart's controller Service and admission-webhook Service carry the same labels but no
    // port named `metrics`, so only the metrics Service yields targets.
    out.push({
        name: "ingress-nginx-controller",
        namespace: ingressMetricsService.namespace,
        matchLabels: ingressMetricsService.matchLabels,
        port: ingressMetricsService.port,
        path: "/metrics",
    });
    if (opts.decisionMetrics) {
        out.push({
            name: decisionMetrics.name,
            namespace: decisionMetrics.namespace,
            matchLabels: { [labels.name]: decisionMetrics.name },
            port: decisionMetrics.port.name,
            path: "/metrics",
        });
    }
    if (opts.dcgm) {
        out.push({
            name: "dcgm-exporter",
            namespace: dcgmService.namespace,
            matchLabels: dcgmService.matchLabels,
            port: dcgmService.port,
            path: "/metrics",
        });
    }
    return out;
}

/** The `spec` of a `monitoring.coreos.com/v1` ServiceMonitor for `m`. */
export function serviceMonitorSpec(m: MonitorSpec): Record<string, unknown> {
    return {
        namespaceSelector: { matchNames: [m.namespace] },
        selector: { matchLabels: { ...m.matchLabels } },
        endpoints: [{ port: m.port, path: m.path, interval: "30s", scheme: "http" }],
    };
}
