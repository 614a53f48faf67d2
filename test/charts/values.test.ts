/**
 * Our Helm values against the pinned charts: every key we set is a key the chart defines (Helm
 * silently ignores the rest, so a misspelt or outdated key is a setting that never happened), and
 * the values Helm hands the templates pass the chart's own values.schema.json, which `helm
 * install` enforces.
 */
import { strict as assert } from "assert";
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020";
import {
    DeclaredRelease,
    chartData,
    chartId,
    declaredByStacks,
    defaultsOf,
    requireChartsDir,
} from "./support";
import { certManagerValues } from "../../modules/k8s/baseline/ingress";
import { coalesce, undefinedKeys } from "./values";

/**
 * Maps the charts leave free-form, by chart: each entry is a values path whose keys are not the
 * chart's (Kubernetes API fields, labels, annotations, program flags, ini sections), with where the
 * chart says so. Everything else we set must be a key of the chart's values.yaml.
 */
const freeForm: Readonly<Record<string, readonly { path: string; why: string }[]>> = {
    "cert-manager-v1.18.2": [
        ...["", "webhook.", "cainjector.", "startupapicheck."].flatMap((c) => [
            { path: `${c}containerSecurityContext.**`, why: "a container SecurityContext, toYaml" },
            { path: `${c}resources.**`, why: "ResourceRequirements, toYaml" },
        ]),
        ...["", "webhook."].map((c) => ({
            path: `${c}podDisruptionBudget.minAvailable`,
            why: "commented in values.yaml, read by templates/*poddisruptionbudget.yaml and in the schema",
        })),
        ...["", "webhook.", "cainjector.", "startupapicheck.", "acmesolver."].flatMap((c) =>
            ["tag", "digest"].map((k) => ({
                path: `${c}image.${k}`,
                why: "commented in values.yaml (+docs:property), read by the `image` helper of templates/_helpers.tpl and in the schema",
            })),
        ),
    ],
    "external-secrets-0.19.2": ["", "webhook.", "certController."].flatMap((c) => [
        {
            path: `${c}podSecurityContext.**`,
            why: "a PodSecurityContext (the chart drops `enabled`)",
        },
        { path: `${c}securityContext.**`, why: "a container SecurityContext, toYaml" },
        { path: `${c}resources.**`, why: "ResourceRequirements, toYaml" },
    ]),
    "ingress-nginx-4.14.1": [
        { path: "controller.config.**", why: "data of the controller's ConfigMap: nginx settings" },
        ...["controller.image", "controller.admissionWebhooks.patch.image"].map((c) => ({
            path: `${c}.repository`,
            why: "commented in values.yaml (the full image URL instead of registry/image), read by controller-deployment.yaml and job-patch/*.yaml",
        })),
        { path: "controller.extraArgs.**", why: "controller flags, one per key" },
        { path: "controller.podSecurityContext.**", why: "a PodSecurityContext, toYaml" },
        { path: "controller.resources.**", why: "ResourceRequirements, toYaml" },
        { path: "controller.service.annotations.**", why: "Service annotations" },
        { path: "controller.admissionWebhooks.*.resources.**", why: "ResourceRequirements" },
        {
            path: "controller.admissionWebhooks.patch.securityContext.**",
            why: "the patch Jobs' PodSecurityContext, toYaml",
        },
    ],
    "kata-deploy-3.29.0": [{ path: "nodeSelector.**", why: "the DaemonSet's nodeSelector" }],
    "gpu-operator-v25.3.0": [
        ...["operator", "validator"].map((c) => ({
            path: `${c}.version`,
            why: "commented in values.yaml (default the chart's appVersion), read by templates/_helpers.tpl gpu-operator.fullimage and clusterpolicy.yaml",
        })),
        {
            path: "node-feature-discovery.image",
            why: "the image keys of the node-feature-discovery v0.17.2 subchart (its values.yaml: image.repository, image.tag), whose data the charts folder does not hold",
        },
    ],
    "kube-prometheus-stack-82.16.0": [
        ...[
            "alertmanager.alertmanagerSpec",
            "prometheus.prometheusSpec",
            "prometheusOperator",
            "grafana",
            "kube-state-metrics",
            "prometheus-node-exporter",
        ].map((c) => ({ path: `${c}.resources.**`, why: "ResourceRequirements" })),
        { path: "alertmanager.alertmanagerSpec.storage.**", why: "the Alertmanager CR's storage" },
        { path: "prometheus.prometheusSpec.storageSpec.**", why: "the Prometheus CR's storage" },
        ...[
            "prometheusOperator.containerSecurityContext",
            "prometheusOperator.admissionWebhooks.patch.securityContext",
            "grafana.securityContext",
            "grafana.containerSecurityContext",
            "grafana.sidecar.securityContext",
            "kube-state-metrics.containerSecurityContext",
        ].map((path) => ({ path: `${path}.**`, why: "a (pod) SecurityContext, toYaml" })),
        { path: "grafana.[grafana.ini].**", why: "sections and keys of grafana.ini" },
        {
            path: "grafana.persistence.storageClassName",
            why: "commented in grafana's values.yaml, read by its templates/pvc.yaml",
        },
    ],
};

const where = (r: DeclaredRelease) => `${r.stack}/${r.cluster} release ${r.releaseName}`;

describe("charts: our Helm values against the pinned charts", function () {
    this.timeout(120000);
    let releases: readonly DeclaredRelease[];
    before(async () => {
        releases = (await declaredByStacks()).releases;
    });

    it("every release of every stack is a chart whose pinned data is in the charts folder", () => {
        assert.ok(releases.length >= 6, `only ${releases.length} releases recorded`);
        const missing = releases
            .filter((r) => chartData(chartId(r.chart, r.version)) === undefined)
            .map((r) => `${where(r)}: ${chartId(r.chart, r.version)}`);
        assert.deepEqual(missing, []);
    });

    it("sets only keys the chart's values.yaml defines (free-form maps named and explained)", () => {
        const problems: string[] = [];
        for (const r of releases) {
            const chart = chartData(chartId(r.chart, r.version))!;
            const allowed = (freeForm[chart.id] ?? []).map((f) => f.path);
            for (const k of undefinedKeys(r.values, defaultsOf(chart), allowed)) {
                problems.push(`${where(r)} (${chart.id}): ${k}`);
            }
        }
        assert.deepEqual([...new Set(problems)], []);
    });

    it("the merged values pass the chart's values.schema.json", () => {
        const problems: string[] = [];
        let checked = 0;
        for (const r of releases) {
            const chart = chartData(chartId(r.chart, r.version))!;
            if (chart.schema === undefined) continue;
            // Helm validates with the draft the schema names (cert-manager: draft-07, ESO: 2020-12).
            const opts = { strict: false, allErrors: true, validateFormats: false };
            const ajv = String(chart.schema.$schema ?? "").includes("draft-07")
                ? new Ajv(opts)
                : new Ajv2020(opts);
            const validate = ajv.compile(chart.schema);
            checked++;
            if (!validate(coalesce(chart.values, r.values))) {
                for (const e of validate.errors ?? []) {
                    problems.push(
                        `${where(r)} (${chart.id}): ${e.instancePath || "/"} ${e.message}` +
                            (e.params && "additionalProperty" in e.params
                                ? ` (${String(e.params.additionalProperty)})`
                                : ""),
                    );
                }
            }
        }
        assert.ok(checked > 0, "no release of a chart with a values.schema.json");
        assert.deepEqual([...new Set(problems)], []);
    });

    describe("would have caught the findings of issue 13", () => {
        it("cert-manager's schema refuses a top-level priorityClassName", () => {
            const chart = chartData("cert-manager-v1.18.2")!;
            const validate = new Ajv({ strict: false, validateFormats: false }).compile(
                chart.schema!,
            );
            const ours = certManagerValues();
            assert.ok(validate(coalesce(chart.values, ours)), JSON.stringify(validate.errors));
            assert.ok(!validate(coalesce(chart.values, { ...ours, priorityClassName: "x" })));
        });

        it("kata-deploy 3.29.0 and gpu-operator v25.3.0 do not define the keys we used to set", () => {
            const kata = chartData("kata-deploy-3.29.0")!.values;
            assert.deepEqual(
                undefinedKeys(
                    { env: { shims: "qemu", createRuntimeClasses: "false" }, nfd: {} },
                    kata,
                    [],
                ),
                ["env.shims", "env.createRuntimeClasses", "nfd"],
            );
            const gpu = chartData("gpu-operator-v25.3.0")!.values;
            assert.deepEqual(
                undefinedKeys(
                    { operator: { defaultRuntime: "crio" }, sandboxWorkloads: { mode: "kata" } },
                    gpu,
                    [],
                ),
                ["operator.defaultRuntime", "sandboxWorkloads.mode"],
            );
        });
    });
});

describe("charts: the charts folder", () => {
    it("a missing charts folder fails with a message naming SLP_CHARTS_DIR", () => {
        const saved = process.env.SLP_CHARTS_DIR;
        process.env.SLP_CHARTS_DIR = "/nonexistent/slp-charts";
        try {
            assert.throws(() => requireChartsDir(), /SLP_CHARTS_DIR/);
        } finally {
            if (saved === undefined) delete process.env.SLP_CHARTS_DIR;
            else process.env.SLP_CHARTS_DIR = saved;
        }
    });
});
