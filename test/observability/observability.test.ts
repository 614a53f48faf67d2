import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigValidationError, parseConfig } from "../../modules/config";
import type { ClusterConfig } from "../../modules/config";
import { parseObservability } from "../../modules/config/observability";
import type { LayerContext } from "../../modules/config/layer";
import { Issues } from "../../modules/config/validate";
import {
    ingressControllerMetrics,
    ingressReleaseName,
    ingressTimeBucketsSeconds,
} from "../../modules/constants/ingress";
import { serviceNamespaces } from "../../modules/constants/namespaces";
import { ingressNginxValues } from "../../modules/k8s/baseline/ingress";
import { catalog } from "../../modules/k8s/catalog";
import {
    dashboardsDir,
    loadDashboards,
    panelQueries,
} from "../../modules/k8s/observability/dashboards";
import { isExportedMetric, metricRegistry } from "../../modules/k8s/observability/metrics";
import {
    dcgmService,
    decisionMetrics,
    ingressMetricsService,
    monitorSpecs,
} from "../../modules/k8s/observability/monitors";
import { metricNamesIn } from "../../modules/k8s/observability/promql";
import { alertGroups, isAlert, recordedSeries } from "../../modules/k8s/observability/rules";
import { alertmanagerConfig, monitoringReleaseName } from "../../modules/k8s/observability/values";
import { recordedResources, resetRecords, settle, unwrapSecrets } from "../../tools/plan/mocks";

const ctx: LayerContext = {
    environment: "dev",
    clusterName: "c1",
    target: "oke",
    region: "us-ashburn-1",
    addons: [],
    capabilities: { kata: true, kataGpu: true, gpu: true, cni: "calico" },
};

function parse(raw: unknown): { issues: Issues; cfg: ReturnType<typeof parseObservability> } {
    const issues = new Issues();
    return {
        issues,
        cfg: parseObservability(raw, "secure-llm-platform:observability", issues, ctx),
    };
}

describe("observability: PromQL scanner", () => {
    it("finds metric names and ignores functions, label names, grouping and numbers", () => {
        const names = metricNamesIn(
            'histogram_quantile(0.95, sum by (le, namespace) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="x",le!="1e3"}[5m]))) > 1e3 and on(pod) group_left(node) up offset 5m',
        );
        assert.deepEqual(names, ["up", "vllm:e2e_request_latency_seconds_bucket"]);
    });
    it("sees a metric hidden in a __name__ matcher and ignores Grafana variables", () => {
        assert.deepEqual(
            metricNamesIn('sum({__name__="made_up_total", job="$job"}) / $__rate_interval'),
            ["made_up_total"],
        );
        assert.deepEqual(metricNamesIn("rate(bogus_metric[$__rate_interval])"), ["bogus_metric"]);
    });
});

/** Exported by a component, or recorded by the platform's own rules. */
const isKnownSeries = (n: string) => isExportedMetric(n) || recordedSeries().includes(n);

describe("observability: alerts and dashboards only use exported metrics", () => {
    it("every rule expression names registered metrics or the platform's recorded series only", () => {
        for (const engine of ["proxy", "cilium"] as const) {
            for (const g of alertGroups({ gpu: true, egressEngine: engine })) {
                for (const r of g.rules) {
                    const name = isAlert(r) ? r.alert : r.record;
                    const names = metricNamesIn(r.expr);
                    assert.ok(names.length > 0, `${name} reads no metric`);
                    for (const n of names) {
                        assert.ok(
                            isKnownSeries(n),
                            `${name} uses ${n}, which no component exports`,
                        );
                    }
                }
            }
        }
    });
    it("covers attacks, leaks, latency, 5xx, queue, GPU, model loading and restarts", () => {
        const alerts = alertGroups({ gpu: true }).flatMap((g) =>
            g.rules.filter(isAlert).map((r) => r.alert),
        );
        for (const a of [
            "GuardrailBlockRateSpike",
            "OutputRedactionSpike",
            "GatewayLatencyP95High",
            "Gateway5xxRateHigh",
            "InferenceLatencyP95High",
            "Inference5xxRateHigh",
            "InferenceQueueDepthHigh",
            "GpuMemoryNearlyFull",
            "GpuUtilisationSaturated",
            "ModelLoadFailed",
            "PlatformPodRestarting",
        ]) {
            assert.ok(alerts.includes(a), `missing alert ${a}`);
        }
        assert.ok(
            !alertGroups({ gpu: false }).some((g) => g.name === "llm-gpu"),
            "no DCGM alerts without DCGM",
        );
    });
    it("gateway alerts read the controller's series of the gateway's Ingress, namespace as Prometheus stores it", () => {
        const rules = alertGroups({ gpu: false })
            .flatMap((g) => g.rules)
            .filter(isAlert);
        const gw = catalog.gateway;
        for (const name of ["GatewayLatencyP95High", "Gateway5xxRateHigh"]) {
            const r = rules.find((x) => x.alert === name)!;
            // The ServiceMonitor target sets `namespace` (ingress-nginx); the metric's own
            // `namespace` label survives only as `exported_namespace`.
            assert.ok(r.expr.includes(`exported_namespace="${gw.namespace}"`), r.expr);
            assert.ok(r.expr.includes(`ingress="${gw.id}"`), r.expr);
            assert.doesNotMatch(
                r.expr,
                /[{,]namespace=/,
                `${name} filters on the target namespace`,
            );
        }
        const fivexx = rules.find((x) => x.alert === "Gateway5xxRateHigh")!;
        // The controller reports full status codes unless --report-status-classes is set.
        assert.ok(fivexx.expr.includes('status=~"5.."'), fivexx.expr);
        const lat = rules.find((x) => x.alert === "GatewayLatencyP95High")!;
        assert.match(lat.expr, /nginx_ingress_controller_request_duration_seconds_bucket/);
        assert.match(lat.expr, /> 60$/);
    });
    it("refuses a gateway latency threshold the controller's histogram cannot measure", () => {
        const max = ingressTimeBucketsSeconds[ingressTimeBucketsSeconds.length - 1]!;
        assert.throws(
            () => alertGroups({ gpu: false, thresholds: { gatewayLatencyP95Seconds: max } }),
            /largest histogram bucket/,
        );
        assert.doesNotThrow(() =>
            alertGroups({ gpu: false, thresholds: { gatewayLatencyP95Seconds: 120 } }),
        );
    });
    it("dashboards parse, have the expected panels and use registered metrics only", () => {
        const files = loadDashboards();
        assert.deepEqual(
            files.map((f) => f.id),
            ["llm-gpu", "llm-security-overview"],
        );
        const overview = JSON.parse(files.find((f) => f.id === "llm-security-overview")!.json);
        const titles = (overview.panels as { title: string }[]).map((p) => p.title.toLowerCase());
        for (const want of [
            "requests",
            "blocked",
            "redaction",
            "latency",
            "tokens per second",
            "gateway latency",
            "gateway 5xx",
            "guardrails latency",
            "guardrails 5xx",
            "output filter latency",
            "output filter error",
            "denied egress",
        ]) {
            assert.ok(
                titles.some((t) => t.includes(want)),
                `overview has no ${want} panel`,
            );
        }
        for (const f of files) {
            const queries = panelQueries(JSON.parse(f.json));
            assert.ok(queries.length > 0, `${f.id} has no queries`);
            for (const q of queries) {
                for (const n of metricNamesIn(q.expr)) {
                    assert.ok(
                        isKnownSeries(n),
                        `${f.id} panel "${q.panel}" uses ${n}, which no component exports`,
                    );
                }
            }
        }
    });
    it("a dashboard that is not JSON is refused with its path", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dash-"));
        fs.writeFileSync(path.join(dir, "bad.json"), "{ nope");
        assert.throws(() => loadDashboards(dir), /bad\.json is not valid JSON/);
        assert.ok(fs.existsSync(dashboardsDir));
    });
    it("every registry entry names its exporter and evidence", () => {
        for (const [name, e] of Object.entries(metricRegistry)) {
            assert.ok(e.evidence.length > 10, `${name} has no evidence`);
        }
    });
});

describe("observability: monitors select Services and ports that exist", () => {
    it("catalog monitors select the workload's namespace, a label of its pods and a port of its Service", () => {
        const specs = monitorSpecs({ dcgm: true, decisionMetrics: true });
        for (const m of specs.filter((s) => s.name in catalog)) {
            const w = catalog[m.name as keyof typeof catalog];
            assert.equal(m.namespace, w.namespace);
            for (const [k, v] of Object.entries(m.matchLabels)) {
                assert.equal(w.podLabels[k], v, `${m.name} selects ${k}=${v}`);
            }
            assert.ok(
                w.ports.some((p) => p.name === m.port),
                `${m.name} scrapes port ${m.port} its Service lacks`,
            );
        }
        const withMetrics = Object.values(catalog)
            .filter((w) => w.metricsPort !== undefined)
            .map((w) => w.id);
        for (const id of withMetrics) {
            assert.ok(
                specs.some((s) => s.name === id),
                `no monitor for ${id}`,
            );
        }
        const dcgm = specs.find((s) => s.name === "dcgm-exporter")!;
        assert.deepEqual(
            [dcgm.namespace, dcgm.port, dcgm.matchLabels],
            [dcgmService.namespace, "gpu-metrics", dcgmService.matchLabels],
        );
        assert.ok(
            !monitorSpecs({ dcgm: false, decisionMetrics: true }).some(
                (s) => s.name === "dcgm-exporter",
            ),
        );
    });
});

describe("observability: the ingress-nginx monitor matches what the baseline's chart values render", () => {
    // What kubernetes/ingress-nginx:charts/ingress-nginx/templates/controller-service-metrics.yaml
    // renders from `controller.metrics` for release `ingress-nginx` in its namespace.
    const values = ingressNginxValues({ public: false }) as any;
    const metrics = values.controller.metrics;
    const rendered = {
        name: `${ingressReleaseName}-controller-metrics`,
        namespace: serviceNamespaces.ingress,
        labels: {
            "app.kubernetes.io/name": "ingress-nginx",
            "app.kubernetes.io/instance": ingressReleaseName,
            "app.kubernetes.io/component": "controller",
            ...(metrics.service?.labels ?? {}),
        },
        port: { name: metrics.portName, port: metrics.service.servicePort },
        containerPort: metrics.port,
    };

    it("the baseline enables the controller's metrics but not the chart's own ServiceMonitor", () => {
        assert.equal(metrics.enabled, true);
        assert.equal(metrics.serviceMonitor.enabled, false);
        assert.equal(metrics.prometheusRule.enabled, false);
        assert.equal(metrics.service.type, "ClusterIP");
    });
    it("selects the metrics Service's namespace, labels and named port", () => {
        const m = monitorSpecs({ dcgm: false, decisionMetrics: false }).find(
            (x) => x.namespace === ingressMetricsService.namespace,
        );
        assert.ok(m, "no monitor for the ingress-nginx controller");
        assert.equal(m.namespace, rendered.namespace);
        for (const [k, v] of Object.entries(m.matchLabels)) {
            assert.equal(
                rendered.labels[k as keyof typeof rendered.labels],
                v,
                `selects ${k}=${v}`,
            );
        }
        assert.equal(m.port, rendered.port.name);
        assert.equal(rendered.port.port, ingressControllerMetrics.port);
        assert.equal(rendered.containerPort, ingressControllerMetrics.port);
        assert.equal(m.path, "/metrics");
    });
    it("widens the controller's latency buckets past an LLM answer (up to the proxy read timeout)", () => {
        const args = values.controller.extraArgs["time-buckets"] as string;
        const buckets = args.split(",").map(Number);
        assert.deepEqual(buckets, [...ingressTimeBucketsSeconds]);
        assert.ok(
            buckets.every((b, i) => i === 0 || b > buckets[i - 1]!),
            "ascending",
        );
        assert.ok(buckets[buckets.length - 1]! >= 300);
    });
});

describe("observability: config", () => {
    it("applies defaults", () => {
        const { issues, cfg } = parse(undefined);
        assert.equal(issues.list.length, 0);
        assert.equal(cfg.enabled, true);
        assert.equal(cfg.storageClass, "oci-bv");
        assert.equal(cfg.logging.retentionDays, 90);
        assert.deepEqual(cfg.alerting.receivers, []);
    });
    it("refuses a log retention OCI does not accept, naming the key and the choices", () => {
        const { issues } = parse({ logging: { retentionDays: 45 } });
        assert.equal(issues.list.length, 1);
        assert.equal(
            issues.list[0]!.path,
            "secure-llm-platform:observability.logging.retentionDays",
        );
        assert.match(issues.list[0]!.expected, /30, 60, 90, 120, 150, 180/);
        assert.equal(parse({ logging: { retentionDays: 365 } }).issues.list.length, 1);
    });
    it("refuses unknown receiver types, duplicate names and routes to missing receivers", () => {
        const { issues } = parse({
            alerting: {
                receivers: [
                    { name: "ops", type: "email", secretName: "x" },
                    { name: "sec", type: "webhook", secretName: "sec-hook" },
                    { name: "sec", type: "slack", secretName: "sec-slack" },
                ],
                criticalReceiver: "pager",
            },
        });
        const paths = issues.list.map((i) => i.path);
        assert.ok(paths.some((p) => p.endsWith("receivers[0].type")));
        assert.ok(paths.some((p) => p.endsWith("receivers[2].name")));
        assert.ok(paths.some((p) => p.endsWith("alerting.criticalReceiver")));
    });
    it("routes critical alerts to their receiver and reads URLs from mounted files, never literals", () => {
        const { cfg } = parse({
            alerting: {
                receivers: [
                    { name: "ops", type: "slack", secretName: "ops-slack-url" },
                    { name: "pager", type: "pagerduty", secretName: "pd-key" },
                ],
                criticalReceiver: "pager",
            },
        });
        const am = alertmanagerConfig(cfg.alerting) as any;
        assert.equal(am.route.receiver, "ops");
        assert.ok(
            am.route.routes.some(
                (r: any) => r.receiver === "pager" && r.matchers[0].includes("critical"),
            ),
        );
        const text = JSON.stringify(am.receivers);
        assert.match(text, /api_url_file/);
        assert.match(text, /routing_key_file/);
        assert.doesNotMatch(text, /https?:\/\//);
    });
    it("is reported through parseConfig with the stack key path", () => {
        const raw = {
            environment: "dev",
            tenancyId: "ocid1.tenancy.oc1..aaaaaaaaexample",
            compartmentId: "ocid1.compartment.oc1..aaaaaaaaexample",
            homeRegion: "us-ashburn-1",
            observability: { storageGi: 1 },
            clusters: [
                {
                    name: "ex",
                    target: "existing",
                    region: "us-ashburn-1",
                    kubeconfigKey: "kc",
                    capabilities: { kata: false, kataGpu: false, gpu: false, cni: "calico" },
                },
            ],
        };
        try {
            parseConfig(raw, { stack: "test", secretKeys: ["secure-llm-platform:kc"] });
            assert.fail("expected refusal");
        } catch (e) {
            assert.ok(e instanceof ConfigValidationError, String(e));
            assert.ok(
                e.issues.some((i) => i.path.includes("observability.storageGi")),
                e.message,
            );
        }
    });
});

describe("observability: component under mocks", () => {
    let res: ReturnType<typeof recordedResources>;
    before(async () => {
        resetRecords();
        const { Observability } = await import("../../modules/k8s/observability");
        const { cfg } = parse({
            alerting: {
                receivers: [{ name: "ops", type: "webhook", secretName: "ops-webhook-url" }],
            },
        });
        const cluster = {
            name: "c1",
            target: "oke",
            capabilities: { kata: true, kataGpu: true, gpu: true, cni: "calico" },
            layer: { observability: cfg, networkPolicy: { engine: "proxy" } },
        } as unknown as ClusterConfig;
        new Observability("obs-t", { cluster, environment: "dev" });
        await settle();
        res = recordedResources();
    });
    const byType = (t: string) => res.filter((r) => r.type === t);
    const crs = (kind: string) =>
        res.map((r) => unwrapSecrets(r.inputs) as any).filter((i) => i.kind === kind);

    it("installs the pinned chart with the node exporter in the privileged namespace and nothing exposed", () => {
        const rel = byType("kubernetes:helm.sh/v3:Release");
        assert.equal(rel.length, 1);
        const i = unwrapSecrets(rel[0]!.inputs) as any;
        assert.equal(i.name, monitoringReleaseName);
        assert.equal(i.version, "82.16.0");
        assert.equal(i.repositoryOpts.repo, "https://prometheus-community.github.io/helm-charts");
        const v = i.values;
        assert.equal(v["prometheus-node-exporter"].namespaceOverride, "monitoring-system");
        assert.equal(v.grafana["grafana.ini"]["auth.anonymous"].enabled, false);
        for (const c of ["grafana", "prometheus", "alertmanager"]) {
            assert.equal(v[c].service.type, "ClusterIP");
            assert.equal(v[c].ingress.enabled, false);
        }
        assert.equal(v.grafana.sidecar.dashboards.label, "grafana_dashboard");
        assert.equal(
            v.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.storageClassName,
            "oci-bv",
        );
        assert.equal(v.prometheus.prometheusSpec.retention, "15d");
    });
    it("never puts a Grafana admin password in the values: it comes from Vault via External Secrets", () => {
        const v = (unwrapSecrets(byType("kubernetes:helm.sh/v3:Release")[0]!.inputs) as any).values;
        assert.equal(v.grafana.adminPassword, undefined);
        const es = crs("ExternalSecret").find(
            (e) => e.metadata.name === v.grafana.admin.existingSecret,
        );
        assert.ok(es, "an ExternalSecret produces the Secret Grafana reads");
        assert.equal(es.spec.secretStoreRef.name, "oci-vault");
        assert.equal(es.spec.data[0].remoteRef.key, "grafana-admin-password");
        assert.ok(
            crs("ExternalSecret").some((e) => e.spec.data[0].remoteRef.key === "ops-webhook-url"),
        );
        assert.deepEqual(v.alertmanager.alertmanagerSpec.secrets, ["alertmanager-ops"]);
    });
    it("labels every monitor and rule with the release Prometheus selects on", () => {
        const monitors = crs("ServiceMonitor");
        assert.ok(monitors.length >= 4);
        for (const m of [...monitors, ...crs("PrometheusRule")]) {
            assert.equal(m.metadata.labels.release, monitoringReleaseName, m.metadata.name);
        }
        assert.ok(monitors.some((m) => m.metadata.name === "dcgm-exporter"));
        const ing = monitors.find((m) => m.metadata.name === "ingress-nginx-controller");
        assert.ok(ing, "a ServiceMonitor for the ingress-nginx controller");
        assert.deepEqual(ing.spec.namespaceSelector.matchNames, ["ingress-nginx"]);
        assert.equal(ing.spec.endpoints[0].port, "metrics");
    });
    it("the decision-metrics monitor selects the Service this component creates", () => {
        const m = crs("ServiceMonitor").find((x) => x.metadata.name === decisionMetrics.name);
        const svc = byType("kubernetes:core/v1:Service")
            .map((r) => r.inputs as any)
            .find((s) => s.metadata.name === decisionMetrics.name);
        assert.ok(m && svc);
        assert.deepEqual(m.spec.namespaceSelector.matchNames, [svc.metadata.namespace]);
        for (const [k, val] of Object.entries(m.spec.selector.matchLabels)) {
            assert.equal(svc.metadata.labels[k], val);
        }
        assert.ok(svc.spec.ports.some((p: any) => p.name === m.spec.endpoints[0].port));
        const ds = byType("kubernetes:apps/v1:DaemonSet").map((r) => r.inputs as any)[0];
        assert.equal(ds.metadata.namespace, "monitoring-system");
        const c = ds.spec.template.spec.containers[0];
        assert.match(c.image, /@sha256:[0-9a-f]{64}$/);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
        assert.ok(c.volumeMounts.every((m: any) => m.readOnly));
    });
    it("renders the log-derived tier alerts and the proxy engine's denied-egress alert", () => {
        const rules = crs("PrometheusRule")[0].spec.groups.flatMap((g: any) => g.rules);
        const names = rules.map((r: any) => r.alert);
        for (const a of [
            "Guardrails5xxRateHigh",
            "OutputFilterErrorRateHigh",
            "EgressDenialSpike",
        ]) {
            assert.ok(names.includes(a), `missing ${a}`);
        }
        assert.ok(!names.includes("EgressPolicyDropSpike"), "no Cilium alert on a proxy cluster");
    });
    it("the Fluent Bit pods carry the checksum of the config they read, so a change rolls them", () => {
        const cm = byType("kubernetes:core/v1:ConfigMap")
            .map((r) => r.inputs as any)
            .find((c) => c.metadata.name === decisionMetrics.name);
        const ds = byType("kubernetes:apps/v1:DaemonSet").map((r) => r.inputs as any)[0];
        const sum = createHash("sha256").update(JSON.stringify(cm.data)).digest("hex");
        assert.deepEqual(Object.values(ds.spec.template.metadata.annotations), [sum]);
    });
    it("provisions every dashboard file as a sidecar ConfigMap", () => {
        const cms = byType("kubernetes:core/v1:ConfigMap")
            .map((r) => r.inputs as any)
            .filter((c) => c.metadata.labels?.grafana_dashboard === "1");
        assert.equal(cms.length, loadDashboards().length);
        for (const cm of cms) {
            assert.equal(cm.metadata.namespace, "monitoring");
            for (const v of Object.values(cm.data)) {
                JSON.parse(v as string);
            }
        }
    });
});
