/**
 * promtool unit-test files generated from the rule definitions' cases, for the alerts a
 * PrometheusRule actually renders. Pure: the real suite writes the files and runs promtool.
 */
import { isDeepStrictEqual } from "util";
import type {
    AlertDefinition,
    AlertRule,
    RecordingRule,
    RuleGroup,
} from "../../modules/k8s/observability/rules";
import { isAlert } from "../../modules/k8s/observability/rules";

/** Alert annotations as Prometheus expands them, for the `{{ $labels.<name> }}` form only. */
export function expandAnnotations(
    annotations: Readonly<Record<string, string>>,
    labels: Readonly<Record<string, string>>,
): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(annotations)) {
        const rest = v.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, l: string) =>
            Object.prototype.hasOwnProperty.call(labels, l) ? labels[l]! : "",
        );
        if (rest.includes("{{")) {
            throw new Error(
                `annotation ${k} "${v}" uses a template other than {{ $labels.<name> }}; the test generator cannot expand it`,
            );
        }
        out[k] = rest;
    }
    return out;
}

/** One promtool test file (YAML as an object) for one alert. */
export interface PromtoolTestFile {
    readonly alert: string;
    readonly content: Record<string, unknown>;
}

/** Everything wrong between the rendered rules and the definitions: no case, drift, one-sided cases. */
export class MissingAlertTests extends Error {}

/**
 * One promtool test file per rendered alert, from its definition's cases. Throws
 * {@link MissingAlertTests} naming every rendered alert that has no definition, a definition that
 * renders differently, or a definition without both a firing and a quiet case.
 */
export function promtoolTests(
    ruleFiles: readonly string[],
    groups: readonly RuleGroup[],
    catalog: ReadonlyMap<string, AlertDefinition>,
): PromtoolTestFile[] {
    const problems: string[] = [];
    const out: PromtoolTestFile[] = [];
    const rendered = groups.flatMap((g) => g.rules).filter(isAlert) as AlertRule[];
    for (const r of rendered) {
        const def = catalog.get(r.alert);
        if (def === undefined) {
            problems.push(`alert ${r.alert} has no test cases (no definition in rules.ts)`);
            continue;
        }
        for (const k of ["expr", "for", "labels", "annotations"] as const) {
            if (!isDeepStrictEqual(def[k], r[k])) {
                problems.push(
                    `alert ${r.alert} renders ${k} ${JSON.stringify(r[k])}, but its tested definition has ${JSON.stringify(def[k])}`,
                );
            }
        }
        if (!def.cases.some((c) => c.fires) || !def.cases.some((c) => !c.fires)) {
            problems.push(`alert ${r.alert} needs at least one firing and one quiet case`);
        }
        const interval = def.testInterval ?? "1m";
        out.push({
            alert: r.alert,
            content: {
                rule_files: [...ruleFiles],
                evaluation_interval: interval,
                tests: def.cases.map((c) => {
                    const labels = { ...(c.labels ?? {}), ...r.labels };
                    return {
                        name: `${r.alert}: ${c.name} (${c.fires ? "fires" : "quiet"})`,
                        interval,
                        input_series: c.series.map((s) => ({ series: s.series, values: s.values })),
                        alert_rule_test: [
                            {
                                eval_time: c.at,
                                alertname: r.alert,
                                exp_alerts: c.fires
                                    ? [
                                          {
                                              exp_labels: labels,
                                              exp_annotations: expandAnnotations(
                                                  r.annotations,
                                                  labels,
                                              ),
                                          },
                                      ]
                                    : [],
                            },
                        ],
                    };
                }),
            },
        });
    }
    if (problems.length > 0) {
        throw new MissingAlertTests(problems.join("\n"));
    }
    return out;
}

/** Recording rules of rendered groups. */
export function recordingRules(groups: readonly RuleGroup[]): RecordingRule[] {
    return groups.flatMap((g) => g.rules).filter((r): r is RecordingRule => !isAlert(r));
}
