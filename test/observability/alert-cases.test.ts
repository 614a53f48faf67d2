import { strict as assert } from "assert";
import { parseObservability } from "../../modules/config/observability";
import type { LayerContext } from "../../modules/config/layer";
import { Issues } from "../../modules/config/validate";
import { isExportedMetric } from "../../modules/k8s/observability/metrics";
import { metricNamesIn } from "../../modules/k8s/observability/promql";
import {
    alertCatalog,
    alertGroups,
    anomalyZScore,
    baselineSeries,
    counterValues,
    gaugeValues,
    isAlert,
    ruleDefinitions,
} from "../../modules/k8s/observability/rules";
import type { AlertRule, RuleGroup } from "../../modules/k8s/observability/rules";
import { alertmanagerConfig } from "../../modules/k8s/observability/values";
import { refusal, stackRaw } from "../support/stacks";
import { MissingAlertTests, expandAnnotations, promtoolTests } from "./promtool";

/** promtool's expanding notation, evaluated: `a+bxn` → a, a+b, …, a+n·b; `axn` → n+1 times a. */
function expand(values: string): number[] {
    const out: number[] = [];
    for (const part of values.split(" ")) {
        const m = /^(-?[0-9.e]+)(?:([+-])([0-9.e]+))?x([0-9]+)$/.exec(part);
        if (!m) {
            out.push(Number(part));
            continue;
        }
        const step = m[2] === undefined ? 0 : (m[2] === "-" ? -1 : 1) * Number(m[3]);
        for (let i = 0; i <= Number(m[4]); i++) out.push(Number(m[1]) + i * step);
    }
    return out;
}

const allAlerts = (groups: readonly RuleGroup[]): AlertRule[] =>
    groups.flatMap((g) => g.rules).filter(isAlert);

describe("observability: every alert carries promtool cases", () => {
    const catalog = alertCatalog();

    it("the series helpers write promtool's notation for counters and gauges", () => {
        assert.equal(counterValues([[10, 3]]), "0+10x3");
        assert.deepEqual(
            expand(
                counterValues([
                    [10, 3],
                    [20, 2],
                    [0, 1],
                ]),
            ),
            [0, 10, 20, 30, 50, 70, 70],
        );
        assert.deepEqual(
            expand(
                gaugeValues([
                    [1, 2],
                    [0, 3],
                ]),
            ),
            [1, 1, 0, 0, 0],
        );
    });

    it("every alert any cluster can render has a firing and a quiet case", () => {
        assert.ok(catalog.size >= 25, `only ${catalog.size} alerts`);
        for (const [name, def] of catalog) {
            assert.ok(
                def.cases.some((c) => c.fires),
                `${name} has no firing case`,
            );
            assert.ok(
                def.cases.some((c) => !c.fires),
                `${name} has no quiet case`,
            );
        }
    });

    it("every case's series names a registered metric, with label values, never a recorded series", () => {
        for (const [name, def] of catalog) {
            for (const c of def.cases) {
                for (const s of c.series) {
                    const [metric] = metricNamesIn(s.series);
                    assert.ok(metric && isExportedMetric(metric), `${name}: ${s.series}`);
                    assert.ok(!s.series.startsWith("slp:"), `${name} feeds a recorded series`);
                }
            }
        }
    });

    it("each rendered cluster variant's alerts are exactly the catalog's definitions", () => {
        for (const egressEngine of ["proxy", "cilium", "calico-enterprise"] as const) {
            for (const gpu of [true, false]) {
                for (const logMetrics of [true, false]) {
                    const groups = alertGroups({ gpu, logMetrics, egressEngine });
                    const files = promtoolTests(["rules.yaml"], groups, catalog);
                    assert.equal(files.length, allAlerts(groups).length);
                }
            }
        }
    });

    it("a rendered alert without cases, or rendered differently from its definition, is refused", () => {
        const groups = alertGroups({ gpu: false, egressEngine: "proxy" });
        const extra: RuleGroup = {
            name: "extra",
            rules: [
                {
                    alert: "UntestedAlert",
                    expr: "up == 0",
                    for: "1m",
                    labels: { severity: "warning" },
                    annotations: { summary: "s", description: "d" },
                },
            ],
        };
        assert.throws(
            () => promtoolTests(["r.yaml"], [...groups, extra], catalog),
            (e: unknown) =>
                e instanceof MissingAlertTests &&
                /alert UntestedAlert has no test cases/.test(e.message),
        );
        const changed = alertGroups({
            gpu: false,
            egressEngine: "proxy",
            thresholds: { blockRatio: 0.5 },
        });
        assert.throws(
            () => promtoolTests(["r.yaml"], changed, catalog),
            /GuardrailBlockRateSpike renders expr .*0\.5/,
        );
    });

    it("generated tests expect the alert's labels and its annotations as Prometheus expands them", () => {
        const groups = alertGroups({ gpu: false, egressEngine: "proxy" });
        const file = promtoolTests(["r.yaml"], groups, catalog).find(
            (f) => f.alert === "EgressDenialSpike",
        )!;
        const tests = file.content.tests as any[];
        const firing = tests.find((t) => t.alert_rule_test[0].exp_alerts.length === 1);
        const quiet = tests.find((t) => t.alert_rule_test[0].exp_alerts.length === 0);
        assert.ok(firing && quiet);
        const exp = firing.alert_rule_test[0].exp_alerts[0];
        assert.deepEqual(exp.exp_labels, { identity: "inference", severity: "critical" });
        assert.match(exp.exp_annotations.description, /^The egress proxy of inference refused/);
        assert.throws(
            () => expandAnnotations({ description: "value {{ $value }}" }, {}),
            /other than \{\{ \$labels/,
        );
    });
});

describe("observability: security signals against a rolling baseline", () => {
    const rules = (engine: "proxy" | "cilium") =>
        ruleDefinitions({ gpu: false, egressEngine: engine }).flatMap((g) => g.rules);
    const signals = {
        GuardrailBlockRateAnomaly: "guardrails_input_block_ratio",
        OutputRedactionAnomaly: "guardrails_output_mask_ratio",
        JailbreakBlockRateAnomaly: "guardrails_jailbreak_block_ratio",
        EgressDenialAnomaly: "egress_proxy_denied",
        EgressPolicyDropAnomaly: "cilium_egress_policy_drops",
    };

    it("records each signal, its one-week mean and deviation and a z-score, and alerts on the z-score with guards and a runbook", () => {
        const all = [...rules("proxy"), ...rules("cilium")];
        for (const [alert, id] of Object.entries(signals)) {
            const r = baselineSeries(id);
            const rec = (name: string) => all.find((x) => !isAlert(x) && x.record === name);
            assert.ok(rec(r.current), `${id}: no 10-minute signal`);
            assert.equal(rec(r.mean)!.expr, `avg_over_time(${r.current}[1w])`);
            assert.equal(rec(r.stddev)!.expr, `stddev_over_time(${r.current}[1w])`);
            assert.match(rec(r.zscore)!.expr, /clamp_min\(slp:.*:stddev_1w, [0-9.]+\)/);
            const a = all.find((x) => isAlert(x) && x.alert === alert);
            assert.ok(a && isAlert(a), `no ${alert}`);
            assert.ok(a.expr.startsWith(`${r.zscore} > ${anomalyZScore} and on() (`), a.expr);
            assert.match(a.expr, /present_over_time\(.*\[1h\] offset 1d\)$/);
            assert.match(a.annotations.description, /Runbook: \S.{40,}/);
            // The anomaly must be shown to fire where the fixed threshold would not.
            const cases = a.cases.map((c) => c.name);
            assert.ok(cases.some((c) => /normal variation/.test(c)));
            assert.ok(cases.some((c) => /no baseline yet/.test(c)));
        }
    });

    it("the ratio baselines' firing cases stay under the fixed thresholds (the anomaly adds something)", () => {
        const defs = alertCatalog();
        const blockSpike = /> ([0-9.]+) and/.exec(defs.get("GuardrailBlockRateSpike")!.expr)![1];
        const maskSpike = /> ([0-9.]+) and/.exec(defs.get("OutputRedactionSpike")!.expr)![1];
        const anomalous = (alert: string) =>
            Number(/now ([0-9.]+)$/.exec(defs.get(alert)!.cases.find((c) => c.fires)!.name)![1]);
        assert.ok(anomalous("GuardrailBlockRateAnomaly") < Number(blockSpike));
        assert.ok(anomalous("OutputRedactionAnomaly") < Number(maskSpike));
    });

    it("no baseline for Calico Enterprise's denied egress (no verified metric)", () => {
        const names = ruleDefinitions({ gpu: false, egressEngine: "calico-enterprise" })
            .flatMap((g) => g.rules)
            .filter(isAlert)
            .map((r) => r.alert);
        assert.ok(!names.some((n) => n.startsWith("Egress")));
        assert.ok(names.includes("GuardrailBlockRateAnomaly"));
    });
});

describe("observability: the guardrails tier reads the server's own metrics", () => {
    it("tier alerts and baselines read guardrails_* series, not the decision log", () => {
        const defs = alertCatalog();
        for (const a of [
            "GuardrailBlockRateSpike",
            "OutputRedactionSpike",
            "GuardrailRailErrors",
            "JailbreakCheckErrors",
            "Guardrails5xxRateHigh",
        ]) {
            const names = metricNamesIn(defs.get(a)!.expr);
            assert.ok(
                names.every((n) => n.startsWith("guardrails_")),
                `${a} reads ${names.join(", ")}`,
            );
        }
    });
});

describe("observability: routes that reach a person", () => {
    const ctx = (environment: "dev" | "prod"): LayerContext => ({
        environment,
        clusterName: "c1",
        target: "oke",
        region: "us-ashburn-1",
        addons: [],
        capabilities: { kata: true, kataGpu: true, gpu: true, cni: "calico" },
    });
    const issuesFor = (raw: unknown, env: "dev" | "prod") => {
        const issues = new Issues();
        const cfg = parseObservability(raw, "secure-llm-platform:observability", issues, ctx(env));
        return { issues: issues.list, cfg };
    };

    it("prod refuses a cluster whose critical alerts have no receiver, naming the key", () => {
        const { issues } = issuesFor(undefined, "prod");
        assert.equal(issues.length, 1);
        assert.equal(issues[0]!.path, "secure-llm-platform:observability.alerting.receivers");
        assert.match(issues[0]!.expected, /prod stack.*receiver.*OCI Vault secret/);
        assert.equal(issuesFor(undefined, "dev").issues.length, 0);
        assert.equal(issuesFor({ enabled: false }, "prod").issues.length, 0);
    });

    it("prod's stack file routes critical alerts to a paging receiver whose key is a Vault secret", () => {
        const raw = stackRaw("prod");
        const { issues, cfg } = issuesFor(raw.observability, "prod");
        assert.equal(issues.length, 0);
        const critical = cfg.alerting.receivers.find(
            (r) => r.name === cfg.alerting.criticalReceiver,
        )!;
        assert.equal(critical.type, "pagerduty");
        const am = alertmanagerConfig(cfg.alerting) as any;
        const rec = am.receivers.find((r: any) => r.name === critical.name);
        assert.match(rec.pagerduty_configs[0].routing_key_file, /^\/etc\/alertmanager\/secrets\//);
        assert.doesNotMatch(JSON.stringify(am), /https?:\/\//);
        assert.deepEqual([...raw.networkPolicy.alertReceiverDomains].sort(), [
            "events.pagerduty.com",
            "hooks.slack.com",
        ]);
    });

    it("the prod stack without its receivers is refused with the key path", () => {
        const raw = stackRaw("prod");
        delete raw.observability;
        const lines = refusal(raw);
        assert.ok(
            lines.some((l) =>
                l.startsWith("secure-llm-platform:observability.alerting.receivers:"),
            ),
            lines.join("\n"),
        );
    });
});
