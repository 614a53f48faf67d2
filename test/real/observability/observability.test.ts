/**
 * Observability against Prometheus's and Alertmanager's own tools, on what the plan renders for
 * every stack:
 * - `promtool check rules` and `promtool test rules` on every cluster's PrometheusRule, with test
 *   files generated from the rule definitions' cases (a rendered alert without cases fails);
 *   every case is also run with its expectation flipped, which promtool must fail, so no case
 *   passes whatever the rule does;
 * - every dashboard panel expression parsed by promtool (as a recording rule);
 * - `amtool check-config` and `amtool config routes test` per severity on every cluster's
 *   Alertmanager config as the chart renders it (our values over the chart's defaults);
 * - the plan refuses (exit 2, naming the key) a prod stack without a receiver.
 * promtool is Debian's (`prometheus`); amtool is built from the Go module proxy at the
 * Alertmanager version the pinned chart runs, because Debian's (0.25) rejects `url_file` in
 * webhook receivers, which the pinned version (0.31.1) reads.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml, stringify } from "yaml";
import { parseConfig } from "../../../modules/config";
import { kubePrometheusStackChart } from "../../../modules/constants/charts";
import type { AlertRule, RuleGroup } from "../../../modules/k8s/observability/rules";
import { alertCatalog, isAlert } from "../../../modules/k8s/observability/rules";
import { metricRegistry } from "../../../modules/k8s/observability/metrics";
import { monitoringReleaseName } from "../../../modules/k8s/observability/values";
import { listStacks, readStackConfig } from "../../../tools/plan/stackfile";
import { promtoolTests } from "../../observability/promtool";
import { stackRaw } from "../../support/stacks";
import { chartsDir, repoRoot, scratchDir } from "../support/env";
import { ensureApt } from "../support/install";
import { ensureGoBinary, goModuleVersion } from "../support/observability";
import { clusters, manifests, planStack, resources } from "../support/plan";

const promtool = "/usr/bin/promtool";
const amModule = "github.com/prometheus/alertmanager";

interface Ran {
    status: number | null;
    out: string;
}

function run(cmd: string, args: readonly string[], cwd?: string): Ran {
    const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** Helm's merge of user values over a chart's defaults: maps merge, anything else replaces, null deletes. */
function coalesce(defaults: unknown, user: unknown): unknown {
    const isMap = (v: unknown): v is Record<string, unknown> =>
        typeof v === "object" && v !== null && !Array.isArray(v);
    if (!isMap(defaults) || !isMap(user)) {
        return user === undefined ? defaults : user;
    }
    const out: Record<string, unknown> = { ...defaults };
    for (const [k, v] of Object.entries(user)) {
        if (v === null) {
            delete out[k];
        } else {
            out[k] = coalesce(defaults[k], v);
        }
    }
    return out;
}

/** One cluster's rendered rules file, shared by every cluster that renders the same content. */
interface RuleFile {
    readonly file: string;
    readonly groups: RuleGroup[];
    readonly where: string[];
}

describe("observability: rules, dashboards and Alertmanager config checked by Prometheus's tools", function () {
    const stacks = listStacks(repoRoot);
    const chartValues = parseYaml(
        fs.readFileSync(
            chartsDir(`kube-prometheus-stack-${kubePrometheusStackChart.version}`, "values.yaml"),
            "utf8",
        ),
    ) as any;
    const amVersion = chartValues.alertmanager.alertmanagerSpec.image.tag as string;
    let amtool: string;
    let dir: string;
    const ruleFiles: RuleFile[] = [];

    before(function () {
        ensureApt(["prometheus"]);
        amtool = ensureGoBinary(`${amModule}/cmd/amtool`, amModule, amVersion);
        dir = scratchDir("observability");
        const byContent = new Map<string, RuleFile>();
        for (const stack of stacks) {
            planStack(stack);
            for (const cluster of clusters(stack)) {
                for (const o of manifests(stack, cluster).filter(
                    (m) => m.kind === "PrometheusRule",
                )) {
                    const groups = (o.spec as { groups: RuleGroup[] }).groups;
                    const text = stringify({ groups });
                    const where = `${stack}/${cluster}/${o.metadata.name}`;
                    const have = byContent.get(text);
                    if (have) {
                        have.where.push(where);
                        continue;
                    }
                    const file = path.join(dir, `rules-${byContent.size}.yaml`);
                    fs.writeFileSync(file, text);
                    byContent.set(text, { file, groups, where: [where] });
                }
            }
        }
        ruleFiles.push(...byContent.values());
        const pv = run(promtool, ["--version"]).out.split("\n")[0];
        console.log(
            `      ${pv}; amtool built from ${amModule} ${goModuleVersion(amtool, amModule)}; ` +
                `${ruleFiles.length} distinct rule files from ${stacks.join(", ")}`,
        );
    });

    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the chart pins the Alertmanager version amtool is built from", () => {
        assert.match(amVersion, /^v0\.\d+\.\d+$/);
        assert.equal(goModuleVersion(amtool, amModule), amVersion);
    });

    it("every stack renders alert rules, and promtool check rules accepts each file", () => {
        assert.ok(ruleFiles.length > 0, "no PrometheusRule in any stack");
        const covered = new Set(ruleFiles.flatMap((f) => f.where.map((w) => w.split("/")[0])));
        assert.deepEqual([...covered].sort(), [...stacks].sort());
        for (const f of ruleFiles) {
            const r = run(promtool, ["check", "rules", f.file]);
            assert.equal(r.status, 0, `${f.where.join(", ")}:\n${r.out}`);
            assert.match(r.out, /SUCCESS: \d+ rules found/);
        }
    });

    it("every rendered alert has firing and quiet cases, and promtool test rules passes them all", () => {
        const catalog = alertCatalog();
        for (const f of ruleFiles) {
            const tests = promtoolTests([f.file], f.groups, catalog);
            const files = tests.map((t) => {
                const file = path.join(
                    dir,
                    `test-${path.basename(f.file, ".yaml")}-${t.alert}.yaml`,
                );
                fs.writeFileSync(file, stringify(t.content));
                return file;
            });
            const alerts = f.groups.flatMap((g) => g.rules).filter(isAlert);
            assert.equal(files.length, alerts.length);
            const r = run(promtool, ["test", "rules", ...files]);
            assert.equal(r.status, 0, `${f.where.join(", ")}:\n${r.out}`);
            assert.equal((r.out.match(/^\s+SUCCESS$/gm) ?? []).length, files.length, r.out);
        }
    });

    it("every case discriminates: with its expectation flipped, promtool fails it", () => {
        const catalog = alertCatalog();
        const flippedOnce = new Set<string>();
        const files: string[] = [];
        const expectFailed: string[] = [];
        for (const f of ruleFiles) {
            const alerts = new Map(
                (f.groups.flatMap((g) => g.rules).filter(isAlert) as AlertRule[]).map((a) => [
                    a.alert,
                    a,
                ]),
            );
            for (const t of promtoolTests([f.file], f.groups, catalog)) {
                if (flippedOnce.has(t.alert)) continue;
                flippedOnce.add(t.alert);
                const rule = alerts.get(t.alert)!;
                const content = structuredClone(t.content) as any;
                for (const [i, test] of content.tests.entries()) {
                    const c = catalog.get(t.alert)!.cases[i]!;
                    test.alert_rule_test[0].exp_alerts = c.fires
                        ? []
                        : [{ exp_labels: { ...(c.labels ?? {}), ...rule.labels } }];
                    expectFailed.push(test.name);
                }
                const file = path.join(dir, `flipped-${t.alert}.yaml`);
                fs.writeFileSync(file, stringify(content));
                files.push(file);
            }
        }
        assert.equal(
            flippedOnce.size,
            [...catalog.keys()].filter((a) => flippedOnce.has(a)).length,
        );
        const r = run(promtool, ["test", "rules", ...files]);
        assert.equal(r.status, 1, r.out);
        const failed = new Set([...r.out.matchAll(/^\s+name: (.*),$/gm)].map((m) => m[1]!.trim()));
        const passedAnyway = expectFailed.filter((n) => !failed.has(n));
        assert.deepEqual(passedAnyway, [], `cases that pass whatever they expect:\n${r.out}`);
    });

    it("every dashboard panel of every stack parses with promtool's PromQL parser", () => {
        const seen = new Set<string>();
        let panels = 0;
        for (const stack of stacks) {
            for (const cluster of clusters(stack)) {
                for (const cm of manifests(stack, cluster).filter(
                    (m) =>
                        m.kind === "ConfigMap" &&
                        (m.metadata.labels as Record<string, string> | undefined)
                            ?.grafana_dashboard === "1",
                )) {
                    for (const json of Object.values(cm.data as Record<string, string>)) {
                        if (seen.has(json)) continue;
                        seen.add(json);
                        const d = JSON.parse(json);
                        const exprs: string[] = [];
                        const walk = (ps: any[] | undefined) => {
                            for (const p of ps ?? []) {
                                for (const t of p.targets ?? []) {
                                    if (typeof t.expr === "string") exprs.push(t.expr);
                                }
                                walk(p.panels);
                            }
                        };
                        walk(d.panels);
                        assert.ok(exprs.length > 0, `${cm.metadata.name} has no queries`);
                        // Grafana's built-in range variables; any other variable is refused.
                        const rules = exprs.map((e, i) => {
                            const expr = e
                                .replace(/\$__rate_interval|\$__interval/g, "5m")
                                .replace(/\$__range/g, "1h");
                            assert.doesNotMatch(expr, /\$/, `${cm.metadata.name}: ${e}`);
                            return { record: `panel_${i}`, expr };
                        });
                        panels += rules.length;
                        const file = path.join(dir, `dashboard-${seen.size}.yaml`);
                        fs.writeFileSync(
                            file,
                            stringify({ groups: [{ name: cm.metadata.name, rules }] }),
                        );
                        const r = run(promtool, ["check", "rules", file]);
                        assert.equal(r.status, 0, `${cm.metadata.name}:\n${r.out}`);
                    }
                }
            }
        }
        assert.ok(panels > 10, `only ${panels} panel queries`);
    });

    it("every cluster's Alertmanager config passes amtool check-config and routes each severity to its receiver", () => {
        let checked = 0;
        for (const stack of stacks) {
            const cfg = parseConfig(stackRaw(stack), {
                stack,
                secretKeys: readStackConfig(repoRoot, stack).secretKeys,
            });
            const releases = resources(stack).filter(
                (r) =>
                    r.type === "kubernetes:helm.sh/v3:Release" &&
                    r.inputs.name === monitoringReleaseName,
            );
            for (const c of cfg.clusters) {
                const alerting = c.layer.observability.alerting;
                const rel = releases.find((r) => r.name.startsWith(`${c.name}-`));
                if (!c.layer.observability.enabled) continue;
                assert.ok(rel, `${stack}/${c.name}: no ${monitoringReleaseName} release`);
                const values = rel.inputs.values as any;
                const config = coalesce(
                    chartValues.alertmanager.config,
                    values.alertmanager.config,
                ) as any;
                const file = path.join(dir, `alertmanager-${stack}-${c.name}.yaml`);
                fs.writeFileSync(file, stringify(config));
                const check = run(amtool, ["check-config", file]);
                assert.equal(check.status, 0, `${stack}/${c.name}:\n${check.out}`);
                assert.match(check.out, /SUCCESS/);

                const route = (labels: string[]) => {
                    const r = run(amtool, [
                        "config",
                        "routes",
                        "test",
                        `--config.file=${file}`,
                        ...labels,
                    ]);
                    assert.equal(r.status, 0, r.out);
                    return r.out.trim();
                };
                const integrations = (name: string) =>
                    Object.keys(
                        (config.receivers as any[]).find((r) => r.name === name) ?? {},
                    ).filter((k) => k.endsWith("_configs"));
                const expected = {
                    critical: alerting.criticalReceiver ?? "null",
                    warning: alerting.defaultReceiver ?? "null",
                    info: alerting.defaultReceiver ?? "null",
                };
                for (const [severity, want] of Object.entries(expected)) {
                    const got = route([
                        `severity=${severity}`,
                        "alertname=GuardrailBlockRateSpike",
                        "namespace=llm-guardrails",
                    ]);
                    assert.equal(got, want, `${stack}/${c.name} severity=${severity}`);
                    if (cfg.environment === "prod" && severity !== "info") {
                        assert.ok(
                            integrations(got).length > 0,
                            `${stack}/${c.name}: ${severity} alerts go to ${got}, which has no integration`,
                        );
                    }
                }
                assert.equal(route(["alertname=Watchdog", "severity=none"]), "null");
                // No secret value in the config: receivers read mounted files.
                assert.doesNotMatch(
                    JSON.stringify(config.receivers),
                    /"(url|api_url|routing_key|service_key)"/,
                );
                checked++;
            }
        }
        assert.ok(checked >= stacks.length, `only ${checked} Alertmanager configs checked`);
    });

    it("every contract metric appears in the capture of the software that promises it", function () {
        const contract = Object.entries(metricRegistry).filter(([, e]) => e.basis === "contract");
        const captures = new Map<string, string>();
        for (const [, e] of contract) {
            const glob = e.capture!;
            const d = path.join(repoRoot, path.dirname(glob));
            const suffix = path.basename(glob).replace(/^\*/, "");
            const files = fs.existsSync(d)
                ? fs.readdirSync(d).filter((f) => f.endsWith(suffix))
                : [];
            captures.set(
                glob,
                files.map((f) => fs.readFileSync(path.join(d, f), "utf8")).join("\n"),
            );
        }
        if ([...captures.values()].every((c) => c === "")) {
            // The request-path suite writes the guardrails server's /metrics there once it runs.
            this.skip();
        }
        for (const [name, e] of contract) {
            const text = captures.get(e.capture!)!;
            assert.match(text, new RegExp(`^${name}[{ ]`, "m"), `${name} not in ${e.capture}`);
        }
    });

    it("the plan refuses a prod stack without a receiver, exit 2, naming the key", () => {
        const cfgDir = path.join(dir, "stack-without-receivers");
        fs.mkdirSync(cfgDir);
        const doc = parseYaml(fs.readFileSync(path.join(repoRoot, "Pulumi.prod.yaml"), "utf8"));
        delete doc.config["secure-llm-platform:observability"];
        fs.writeFileSync(path.join(cfgDir, "Pulumi.prod.yaml"), stringify(doc));
        const r = run(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                "tools/plan/cli.ts",
                "--stack",
                "prod",
                "--config-dir",
                cfgDir,
                "--out",
                path.join(dir, "plan-refused"),
            ],
            repoRoot,
        );
        assert.equal(r.status, 2, r.out);
        assert.match(r.out, /secure-llm-platform:observability\.alerting\.receivers/);
    });
});
