/** Hardened kube-prometheus-stack values, built from the observability config. */
import type { AlertReceiverConfig, ObservabilityConfig } from "../../config/observability";
import { withChartImages } from "../../constants/chart-images";
import { privilegedNamespaces } from "../../constants/namespaces";

/** Helm release name; Prometheus selects monitors and rules labelled `release: <this>`. */
export const monitoringReleaseName = "kube-prometheus-stack";

/** Secret (in the monitoring namespace) holding Grafana's admin user and password. */
export const grafanaAdminSecretName = "grafana-admin";

/** Kubernetes Secret that carries a receiver's URL or key, mounted into Alertmanager. */
export function receiverSecretName(r: AlertReceiverConfig): string {
    return `alertmanager-${r.name}`;
}

/** Key of the receiver's URL or key inside its Secret. */
export const receiverSecretKey = "credential";

const uid = 10001;
const podSecurity = {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: "RuntimeDefault" },
};
const containerSecurity = {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

function resources(
    cpu: string,
    memory: string,
    cpuLimit: string,
    memoryLimit: string,
): Record<string, unknown> {
    return {
        requests: { cpu, memory, "ephemeral-storage": "64Mi" },
        limits: { cpu: cpuLimit, memory: memoryLimit, "ephemeral-storage": "1Gi" },
    };
}

/** Alertmanager's configuration: routes and receivers whose URLs and keys are read from mounted files. */
export function alertmanagerConfig(cfg: ObservabilityConfig["alerting"]): Record<string, unknown> {
    const file = (r: AlertReceiverConfig): string =>
        `/etc/alertmanager/secrets/${receiverSecretName(r)}/${receiverSecretKey}`;
    const receivers: Record<string, unknown>[] = [{ name: "null" }];
    for (const r of cfg.receivers) {
        switch (r.type) {
            case "webhook":
                receivers.push({
                    name: r.name,
                    webhook_configs: [{ url_file: file(r), send_resolved: true }],
                });
                break;
            case "slack":
                receivers.push({
                    name: r.name,
                    slack_configs: [{ api_url_file: file(r), send_resolved: true }],
                });
                break;
            case "pagerduty":
                receivers.push({
                    name: r.name,
                    pagerduty_configs: [{ routing_key_file: file(r), send_resolved: true }],
                });
                break;
        }
    }
    const routes: Record<string, unknown>[] = [
        { receiver: "null", matchers: ['alertname = "Watchdog"'] },
    ];
    if (cfg.criticalReceiver !== undefined && cfg.criticalReceiver !== cfg.defaultReceiver) {
        routes.push({
            receiver: cfg.criticalReceiver,
            matchers: ['severity = "critical"'],
            continue: false,
        });
    }
    return {
        route: {
            receiver: cfg.defaultReceiver ?? "null",
            group_by: [...cfg.groupBy],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: `${cfg.repeatIntervalMinutes}m`,
            routes,
        },
        receivers,
    };
}

function volumeClaim(storageClass: string, gi: number): Record<string, unknown> {
    return {
        volumeClaimTemplate: {
            spec: {
                storageClassName: storageClass,
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: `${gi}Gi` } },
            },
        },
    };
}

/** kube-prometheus-stack values: nothing exposed, no anonymous access, non-root everywhere. */
export function kubePrometheusStackValues(cfg: ObservabilityConfig): Record<string, unknown> {
    // Images (operator, Prometheus, Alertmanager, Grafana, exporters) from the chart image catalog.
    return withChartImages("kube-prometheus-stack", {
        fullnameOverride: "kps",
        defaultRules: { create: true },
        // OKE manages the control plane: its components are not scrapeable from the cluster.
        kubeControllerManager: { enabled: false },
        kubeScheduler: { enabled: false },
        kubeProxy: { enabled: false },
        kubeEtcd: { enabled: false },
        prometheusOperator: {
            securityContext: podSecurity,
            containerSecurityContext: containerSecurity,
            resources: resources("50m", "128Mi", "500m", "512Mi"),
            admissionWebhooks: { patch: { securityContext: podSecurity } },
        },
        prometheus: {
            service: { type: "ClusterIP" },
            ingress: { enabled: false },
            prometheusSpec: {
                // Monitors, pod monitors and rules are selected by `release: <release name>` only.
                serviceMonitorSelectorNilUsesHelmValues: true,
                podMonitorSelectorNilUsesHelmValues: true,
                ruleSelectorNilUsesHelmValues: true,
                retention: `${cfg.retentionDays}d`,
                storageSpec: volumeClaim(cfg.storageClass, cfg.storageGi),
                securityContext: podSecurity,
                resources: resources("200m", "1Gi", "2", "4Gi"),
            },
        },
        alertmanager: {
            service: { type: "ClusterIP" },
            ingress: { enabled: false },
            config: alertmanagerConfig(cfg.alerting),
            alertmanagerSpec: {
                secrets: cfg.alerting.receivers.map(receiverSecretName),
                storage: volumeClaim(cfg.storageClass, 5),
                securityContext: podSecurity,
                resources: resources("20m", "64Mi", "200m", "256Mi"),
            },
        },
        grafana: {
            service: { type: "ClusterIP" },
            ingress: { enabled: false },
            admin: {
                existingSecret: grafanaAdminSecretName,
                userKey: "admin-user",
                passwordKey: "admin-password",
            },
            persistence: {
                enabled: cfg.grafana.persistence,
                storageClassName: cfg.storageClass,
                size: `${cfg.grafana.storageGi}Gi`,
            },
            // The chart's init-chown-data container runs as root (runAsNonRoot: false, CHOWN) to
            // chown the volume, which the `restricted` namespace refuses; fsGroup does that job.
            initChownData: { enabled: false },
            // Its `helm test` pod has no securityContext; the program never runs chart tests.
            testFramework: { enabled: false },
            securityContext: podSecurity,
            containerSecurityContext: containerSecurity,
            resources: resources("50m", "128Mi", "500m", "512Mi"),
            "grafana.ini": {
                "auth.anonymous": { enabled: false },
                auth: { disable_login_form: false },
                users: { allow_sign_up: false, allow_org_create: false },
                security: {
                    cookie_secure: true,
                    cookie_samesite: "strict",
                    disable_gravatar: true,
                    strict_transport_security: true,
                    content_security_policy: true,
                },
                snapshots: { external_enabled: false },
                analytics: { reporting_enabled: false, check_for_updates: false },
            },
            sidecar: {
                securityContext: containerSecurity,
                dashboards: {
                    enabled: true,
                    label: "grafana_dashboard",
                    labelValue: "1",
                    searchNamespace: "ALL",
                },
            },
        },
        "kube-state-metrics": {
            securityContext: podSecurity,
            containerSecurityContext: containerSecurity,
            resources: resources("20m", "64Mi", "200m", "256Mi"),
        },
        // Node exporter needs host namespaces and paths: only in the privileged node-monitoring namespace.
        "prometheus-node-exporter": {
            namespaceOverride: privilegedNamespaces.nodeMonitoring,
            resources: resources("20m", "32Mi", "200m", "128Mi"),
        },
    });
}
