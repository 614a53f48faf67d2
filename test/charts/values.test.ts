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
import { freeForm } from "./free-form";
import { coalesce, undefinedKeys } from "./values";

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
