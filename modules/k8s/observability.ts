/** Prometheus, Grafana, monitors, alert rules, dashboards and guardrail decision metrics (issue 7). */
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubePrometheusStackChart } from "../constants/charts";
import { annotations, labels } from "../constants/labels";
import { serviceNamespaces } from "../constants/namespaces";
import { clusterSecretStoreName, externalSecretsApiVersion } from "../constants/secrets";
import type { ClusterLayerArgs } from "./args";
import { loadDashboards } from "./observability/dashboards";
import {
    decisionMetricsLabels,
    decisionMetricsPodSpec,
    fluentBitConfig,
    fluentBitParsers,
} from "./observability/decision-metrics";
import { decisionMetrics, monitorSpecs, serviceMonitorSpec } from "./observability/monitors";
import { alertGroups } from "./observability/rules";
import {
    grafanaAdminSecretName,
    kubePrometheusStackValues,
    monitoringReleaseName,
    receiverSecretKey,
    receiverSecretName,
} from "./observability/values";

export { monitoringReleaseName } from "./observability/values";

const ns = serviceNamespaces.monitoring;

/** Prometheus, Grafana, monitors, alert rules, dashboards and guardrail decision metrics (issue 7). */
export class Observability extends pulumi.ComponentResource {
    /** Name of the kube-prometheus-stack Helm release; undefined when observability is disabled. */
    public readonly releaseName?: string;

    constructor(name: string, args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:observability:Observability", name, {}, opts);
        const cfg = args.cluster.layer.observability;
        if (!cfg.enabled) {
            this.registerOutputs({});
            return;
        }
        const child = { parent: this };
        const releaseLabel = { release: monitoringReleaseName };

        // Secrets first: Grafana and Alertmanager mount them at start.
        const grafanaAdmin = new k8s.apiextensions.CustomResource(
            `${name}-grafana-admin`,
            {
                apiVersion: externalSecretsApiVersion,
                kind: "ExternalSecret",
                metadata: { name: grafanaAdminSecretName, namespace: ns },
                spec: {
                    refreshInterval: "1h",
                    secretStoreRef: { kind: "ClusterSecretStore", name: clusterSecretStoreName },
                    target: {
                        name: grafanaAdminSecretName,
                        creationPolicy: "Owner",
                        template: {
                            data: { "admin-user": "admin", "admin-password": "{{ .password }}" },
                        },
                    },
                    data: [
                        { secretKey: "password", remoteRef: { key: cfg.grafana.adminSecretName } },
                    ],
                },
            },
            child,
        );
        const receiverSecrets = cfg.alerting.receivers.map(
            (r) =>
                new k8s.apiextensions.CustomResource(
                    `${name}-receiver-${r.name}`,
                    {
                        apiVersion: externalSecretsApiVersion,
                        kind: "ExternalSecret",
                        metadata: { name: receiverSecretName(r), namespace: ns },
                        spec: {
                            refreshInterval: "1h",
                            secretStoreRef: {
                                kind: "ClusterSecretStore",
                                name: clusterSecretStoreName,
                            },
                            target: { name: receiverSecretName(r), creationPolicy: "Owner" },
                            data: [
                                { secretKey: receiverSecretKey, remoteRef: { key: r.secretName } },
                            ],
                        },
                    },
                    child,
                ),
        );

        const release = new k8s.helm.v3.Release(
            `${name}-stack`,
            {
                name: monitoringReleaseName,
                namespace: ns,
                chart: kubePrometheusStackChart.chart,
                version: kubePrometheusStackChart.version,
                repositoryOpts: { repo: kubePrometheusStackChart.repo },
                createNamespace: false,
                atomic: true,
                values: kubePrometheusStackValues(cfg),
            },
            { parent: this, dependsOn: [grafanaAdmin, ...receiverSecrets] },
        );
        // Monitors and rules need the chart's CRDs.
        const afterStack = { parent: this, dependsOn: [release] };

        const dm = this.decisionLogMetrics(name, cfg.logging.decisionLogs);
        const dcgm = args.cluster.capabilities.gpu;
        for (const m of monitorSpecs({ dcgm, decisionMetrics: cfg.logging.decisionLogs })) {
            new k8s.apiextensions.CustomResource(
                `${name}-monitor-${m.name}`,
                {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "ServiceMonitor",
                    metadata: { name: m.name, namespace: ns, labels: { ...releaseLabel } },
                    spec: serviceMonitorSpec(m),
                },
                m.name === decisionMetrics.name && dm
                    ? { parent: this, dependsOn: [release, dm] }
                    : afterStack,
            );
        }

        new k8s.apiextensions.CustomResource(
            `${name}-rules`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: "llm-platform", namespace: ns, labels: { ...releaseLabel } },
                spec: {
                    groups: alertGroups({
                        gpu: dcgm,
                        logMetrics: cfg.logging.decisionLogs,
                        egressEngine: args.cluster.layer.networkPolicy.engine,
                    }),
                },
            },
            afterStack,
        );

        for (const d of loadDashboards()) {
            new k8s.core.v1.ConfigMap(
                `${name}-dashboard-${d.id}`,
                {
                    metadata: {
                        name: `dashboard-${d.id}`,
                        namespace: ns,
                        labels: { grafana_dashboard: "1", [labels.partOf]: "secure-llm-platform" },
                    },
                    data: { [`${d.id}.json`]: d.json },
                },
                child,
            );
        }

        this.releaseName = monitoringReleaseName;
        this.registerOutputs({ releaseName: this.releaseName });
    }

    /** The Fluent Bit DaemonSet and Service that turn decision log lines into counters. */
    private decisionLogMetrics(name: string, enabled: boolean): k8s.core.v1.Service | undefined {
        if (!enabled) {
            return undefined;
        }
        const child = { parent: this };
        const dmNs = decisionMetrics.namespace;
        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-decision-metrics-sa`,
            {
                metadata: {
                    name: decisionMetrics.name,
                    namespace: dmNs,
                    labels: decisionMetricsLabels,
                },
                automountServiceAccountToken: false,
            },
            child,
        );
        const configData = {
            "fluent-bit.conf": fluentBitConfig(),
            "parsers.conf": fluentBitParsers(),
        };
        // Fluent Bit reads its configuration once: a change must roll the pods.
        const configChecksum = createHash("sha256")
            .update(JSON.stringify(configData))
            .digest("hex");
        const config = new k8s.core.v1.ConfigMap(
            `${name}-decision-metrics-config`,
            {
                metadata: {
                    name: decisionMetrics.name,
                    namespace: dmNs,
                    labels: decisionMetricsLabels,
                },
                data: configData,
            },
            child,
        );
        new k8s.apps.v1.DaemonSet(
            `${name}-decision-metrics`,
            {
                metadata: {
                    name: decisionMetrics.name,
                    namespace: dmNs,
                    labels: decisionMetricsLabels,
                },
                spec: {
                    selector: { matchLabels: { [labels.name]: decisionMetrics.name } },
                    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
                    template: {
                        metadata: {
                            labels: decisionMetricsLabels,
                            annotations: { [annotations.configChecksum]: configChecksum },
                        },
                        spec: decisionMetricsPodSpec(decisionMetrics.name, decisionMetrics.name),
                    },
                },
            },
            { parent: this, dependsOn: [sa, config] },
        );
        return new k8s.core.v1.Service(
            `${name}-decision-metrics-svc`,
            {
                metadata: {
                    name: decisionMetrics.name,
                    namespace: dmNs,
                    labels: decisionMetricsLabels,
                },
                spec: {
                    type: "ClusterIP",
                    selector: { [labels.name]: decisionMetrics.name },
                    ports: [
                        {
                            name: decisionMetrics.port.name,
                            port: decisionMetrics.port.port,
                            targetPort: decisionMetrics.port.name,
                            protocol: "TCP",
                        },
                    ],
                },
            },
            child,
        );
    }
}
