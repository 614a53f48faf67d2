/**
 * The chart image catalog (modules/constants/chart-images.ts) against the pinned charts' data
 * (../shared/charts, through chartsDir()): every image a chart's values.yaml names is catalogued
 * or belongs to a pod our values switch off (checked on the merged values of every release), and
 * each catalogued repository, tag and chart digest is the chart's default. Then what each release
 * of each stack hands Helm: the image keys, read the way the chart's templates read them, give
 * the catalogued image pinned by the lock's digest (by tag while the lock has none).
 *
 * The chart templates themselves are not in the charts folder and no chart is rendered here:
 * `refFromValues` below is our reading of each chart's image template at the pinned commit (the
 * file comment of modules/constants/chart-images.ts cites each); a chart that composed its
 * reference otherwise would need that model changed.
 */
import { strict as assert } from "assert";
import {
    chartImageCatalog,
    defaultChartImageLock,
    lockKey,
    resolveChartImage,
} from "../../modules/constants/chart-images";
import {
    DeclaredRelease,
    chartData,
    chartId,
    declaredByStacks,
    defaultsOf,
} from "../charts/support";
import { coalesce } from "../charts/values";
import { get, idOf, refFromValues } from "./chart-model";

type Tree = Record<string, any>;
/** Image-like maps of a values tree: a `repository`, a `reference`, or an `image` name with a tag or version. */
function imageNodes(tree: unknown, at: string[] = []): string[] {
    if (typeof tree !== "object" || tree === null || Array.isArray(tree)) return [];
    const t = tree as Tree;
    const isImage =
        typeof t.repository === "string" ||
        typeof t.reference === "string" ||
        (typeof t.image === "string" && ("tag" in t || "version" in t));
    const here = isImage ? [at.join(".")] : [];
    return [
        ...here,
        ...Object.entries(t).flatMap(([k, v]) =>
            isImage && k === "image" ? [] : imageNodes(v, [...at, k]),
        ),
    ];
}

/**
 * Images of the charts' values that no pod runs with our values, each with the check that proves
 * it on the merged values of every release of the chart.
 */
const notRun: Readonly<Record<string, Readonly<Record<string, (m: Tree) => boolean>>>> = {
    "ingress-nginx": { "defaultBackend.image": (m) => get(m, "defaultBackend.enabled") === false },
    "kube-prometheus-stack": {
        "crds.upgradeJob.image.busybox": (m) => get(m, "crds.upgradeJob.enabled") === false,
        "crds.upgradeJob.image.kubectl": (m) => get(m, "crds.upgradeJob.enabled") === false,
        "prometheusOperator.admissionWebhooks.deployment.image": (m) =>
            get(m, "prometheusOperator.admissionWebhooks.deployment.enabled") === false,
        // Passed as --thanos-default-base-image; only a Thanos sidecar (prometheusSpec.thanos) runs it.
        "prometheusOperator.thanosImage": (m) =>
            Object.keys(get(m, "prometheus.prometheusSpec.thanos") ?? {}).length === 0,
        "thanosRuler.thanosRulerSpec.image": (m) => get(m, "thanosRuler.enabled") === false,
        "grafana.testFramework.image": (m) => get(m, "grafana.testFramework.enabled") === false,
        // templates/_pod.tpl: the download-dashboards init container only with `dashboards`.
        "grafana.downloadDashboardsImage": (m) =>
            Object.keys(get(m, "grafana.dashboards") ?? {}).length === 0,
        "grafana.initChownData.image": (m) => get(m, "grafana.initChownData.enabled") === false,
        "grafana.imageRenderer.image": (m) => get(m, "grafana.imageRenderer.enabled") === false,
        "kube-state-metrics.kubeRBACProxy.image": (m) =>
            get(m, "kube-state-metrics.kubeRBACProxy.enabled") === false,
        "prometheus-node-exporter.kubeRBACProxy.image": (m) =>
            get(m, "prometheus-node-exporter.kubeRBACProxy.enabled") === false,
        // templates/daemonset.yaml: the permission-fix init container only with a fix or extra commands.
        "prometheus-node-exporter.permissionInitContainer.image": (m) => {
            const p = get(m, "prometheus-node-exporter.permissionInitContainer");
            return !p.fixes?.rapl && !p.fixes?.slabinfo && (p.extraCommands ?? []).length === 0;
        },
    },
    "gpu-operator": Object.fromEntries(
        [
            "driver",
            "toolkit",
            "dcgm",
            "nodeStatusExporter",
            "gds",
            "gdrcopy",
            "vgpuManager",
            "vgpuDeviceManager",
            "kataManager",
            "ccManager",
        ].map((k) => [k, (m: Tree) => get(m, `${k}.enabled`) === false] as const),
    ),
    "tigera-operator": {
        // 02-tigera-operator.yaml: calicoctl runs only in the OpenShift init containers.
        calicoctl: (m) =>
            String(get(m, "installation.kubernetesProvider")).toLowerCase() !== "openshift",
    },
};
// The driver manager images belong to the driver and vGPU manager pods (both off).
const partOf: Readonly<Record<string, string>> = {
    "driver.manager": "driver",
    "vgpuManager.driverManager": "vgpuManager",
};
/** Catalogued images whose chart data the charts folder does not hold (no default to compare). */
const outsideData: Readonly<Record<string, string>> = {
    "gpu-operator node-feature-discovery.image":
        "node-feature-discovery v0.17.2 subchart (its values.yaml: image.repository registry.k8s.io/nfd/node-feature-discovery, tag default appVersion v0.17.2)",
};

const valuesImages = chartImageCatalog.filter((i) => i.layout !== "operator");
const charted = [...new Set(chartImageCatalog.map((i) => i.chart))];

describe("chart image catalog against the pinned charts", function () {
    this.timeout(120000);
    let releases: readonly DeclaredRelease[];
    before(async () => {
        releases = (await declaredByStacks()).releases;
    });
    const releasesOf = (chart: string) =>
        releases.filter((r) => chartId(r.chart, r.version) === idOf(chart));
    const merged = (r: DeclaredRelease) =>
        coalesce(defaultsOf(chartData(chartId(r.chart, r.version))!), r.values) as Tree;

    it("every image a catalogued chart's values.yaml names is catalogued, or its pod is off in every release", () => {
        const problems: string[] = [];
        for (const chart of charted) {
            const data = chartData(idOf(chart));
            assert.ok(data, `no chart data for ${idOf(chart)}`);
            const mine = new Set(valuesImages.filter((i) => i.chart === chart).map((i) => i.path));
            for (const p of imageNodes(defaultsOf(data))) {
                if (mine.has(p)) continue;
                const off = notRun[chart]?.[p] ?? notRun[chart]?.[partOf[p] ?? ""];
                if (off === undefined) {
                    problems.push(`${chart}: ${p} is neither catalogued nor listed as not run`);
                    continue;
                }
                for (const r of releasesOf(chart)) {
                    if (!off(merged(r)))
                        problems.push(`${r.stack}/${r.cluster} ${chart}: ${p} runs`);
                }
            }
        }
        assert.deepEqual(problems, []);
        assert.ok(
            releasesOf("gpu-operator").length > 0 && releasesOf("kube-prometheus-stack").length > 0,
        );
    });

    it("each catalogued repository, tag and chart digest is the chart's default", () => {
        const problems: string[] = [];
        for (const i of valuesImages) {
            if (outsideData[`${i.chart} ${i.path}`] !== undefined) continue;
            const defaults = defaultsOf(chartData(idOf(i.chart))!) as Tree;
            const node = get(defaults, i.path);
            if (node === undefined) {
                problems.push(`${i.chart}: no ${i.path} in values.yaml`);
                continue;
            }
            // The chart's own default reference, stripped of a digest it pins.
            const def = refFromValues(i, defaults).replace(/@sha256:[0-9a-f]{64}$/, "");
            const ours = `${i.repository}:${i.tag}`;
            if (def !== ours)
                problems.push(`${i.chart} ${i.path}: chart default ${def}, catalog ${ours}`);
            const chartDigest = node.digest || undefined;
            if (chartDigest !== i.chartDigest) {
                problems.push(
                    `${i.chart} ${i.path}: chart digest ${chartDigest}, catalog ${i.chartDigest}`,
                );
            }
        }
        assert.deepEqual(problems, []);
    });

    it("catalogues the kata-deploy cleanup Job's kubectl image (chart default kubectl:latest) for pinning", () => {
        const k = chartImageCatalog.find(
            (i) => i.chart === "kata-deploy" && i.path === "kubectlImage",
        );
        assert.ok(k);
        assert.equal(lockKey(k), "quay.io/kata-containers/kubectl:latest");
    });

    it("every release of every stack hands Helm each catalogued image of its chart as the lock pins it", () => {
        const lock = defaultChartImageLock();
        const problems: string[] = [];
        let checked = 0;
        for (const r of releases) {
            const chart = charted.find((c) => chartId(r.chart, r.version) === idOf(c));
            if (chart === undefined) continue;
            const m = merged(r);
            for (const i of valuesImages.filter((x) => x.chart === chart)) {
                const ri = resolveChartImage(i, lock);
                const got = refFromValues(i, m);
                const want =
                    ri.digestSource === "placeholder"
                        ? [`${i.repository}:${i.tag}`]
                        : [`${i.repository}:${i.tag}@${ri.digest}`, `${i.repository}@${ri.digest}`];
                checked++;
                if (!want.includes(got))
                    problems.push(
                        `${r.stack}/${r.cluster} ${chart} ${i.path}: ${got}, want ${want[0]}`,
                    );
            }
        }
        assert.ok(checked > 50, `only ${checked} image keys checked`);
        assert.deepEqual(problems, []);
    });
});
