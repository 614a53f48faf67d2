/**
 * Alert and recording rules. Every alert is defined together with the promtool unit-test cases
 * that prove it: synthetic series on which it fires and series on which it stays quiet. The
 * PrometheusRule the program renders carries the rules only; the real-software suite
 * (test/real/observability) feeds the rendered rules and these cases to `promtool test rules`, and
 * fails on a rendered alert that has no case here. Adding an alert is one {@link AlertDefinition}
 * entry with its cases.
 *
 * Sources, per tier (every name is in the metric registry, with its evidence):
 * - gateway: the ingress-nginx controller's per-Ingress latency and status for the gateway's Ingress
 *   (the whole request path as the client sees it).
 * - guardrails: the server's own metrics (our entrypoint, images/guardrails): HTTP status classes,
 *   rail decisions and jailbreak checks. Latency is the guardrails upstream time as the gateway's
 *   nginx logs it (log-derived, buckets ours up to the proxy read timeout; it includes the inference
 *   and output-filter calls the guardrails make synchronously).
 * - inference: vLLM's histograms and gauges, and its API app's `http_requests_total`.
 * - output filter (Presidio, which exports nothing): duration and outcome of the guardrails'
 *   Presidio calls from the output decision line (log-derived). An error withholds the answer.
 * - denied egress: the Squid proxies' refusals per identity (engine `proxy`, log-derived) or
 *   Cilium's policy drops (engine `cilium`); none for Calico Enterprise (not verified here).
 * Security signals also get a rolling one-week baseline (recording rules) and an alert on a
 * deviation from it (z-score), beside the fixed thresholds.
 */
import type { EgressEngine } from "../../config/network";
import { ingressTimeBucketsSeconds } from "../../constants/ingress";
import { serviceNamespaces, tierNamespaces } from "../../constants/namespaces";
import { catalog } from "../catalog";
import { logMetricNames, outputFilterBucketsSeconds } from "./decision-metrics";

/**
 * The last conclusive red-team assessment (the series of the node that logged the latest run)
 * blocked fewer attacks through the gateway than the promotion gate it was held to.
 */
export function redteamBelowGateRule(): AlertDefinition {
    const rate = logMetricNames.redteamAttackBlockRate;
    const gate = logMetricNames.redteamMinAttackBlockRate;
    const finished = logMetricNames.redteamFinishedAt;
    const latest = `${finished} == on () group_left () max(${finished})`;
    const run = (instance: string, blocked: number, at: number): TestSeries[] => [
        { series: `${rate}{instance="${instance}"}`, values: `${blocked}x30` },
        { series: `${gate}{instance="${instance}"}`, values: "0.95x30" },
        { series: `${finished}{instance="${instance}"}`, values: `${at}x30` },
    ];
    return {
        alert: "RedTeamBlockRateBelowGate",
        expr: `(${rate} >= 0 and on (instance) (${latest})) < on (instance) ${gate}`,
        for: "0m",
        labels: { severity: "critical" },
        annotations: {
            summary: "The live rails block fewer red-team attacks than the promotion gate",
            description:
                "The last recurring red-team assessment through the gateway (node {{ $labels.instance }}) blocked a smaller share of attacks than the gate rules are promoted at. Runbook: read the redteam-assessment Job's log in the pipeline namespace for the attacks that got through, then roll the rails back to the last promoted rule set.",
        },
        cases: [
            {
                name: "the latest run blocked 80% of attacks against a 95% gate",
                fires: true,
                series: run("node-a", 0.8, 2000),
                at: "10m",
                labels: { instance: "node-a" },
            },
            {
                name: "the latest run blocked 97% of attacks against a 95% gate",
                fires: false,
                series: run("node-a", 0.97, 2000),
                at: "10m",
            },
            {
                name: "an older run on another node fell short, the latest one passed",
                fires: false,
                series: [...run("node-a", 0.5, 1000), ...run("node-b", 0.99, 2000)],
                at: "10m",
            },
        ],
    };
}

/** One Prometheus alerting rule, as rendered. */
export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for: string;
    readonly labels: { readonly severity: "warning" | "critical" };
    readonly annotations: { readonly summary: string; readonly description: string };
}

/** One Prometheus recording rule. */
export interface RecordingRule {
    readonly record: string;
    readonly expr: string;
}

/** A rendered rule group (the `spec.groups[]` of a PrometheusRule). */
export interface RuleGroup {
    readonly name: string;
    readonly rules: readonly (AlertRule | RecordingRule)[];
}

/** One input series of a promtool test, values in promtool's expanding notation. */
export interface TestSeries {
    readonly series: string;
    readonly values: string;
}

/** One promtool case of an alert. */
export interface AlertCase {
    /** What the case shows, e.g. "30% of prompts blocked for 30 minutes". */
    readonly name: string;
    /** The alert is firing at {@link at} (true) or is neither firing nor listed (false). */
    readonly fires: boolean;
    readonly series: readonly TestSeries[];
    /** promtool `eval_time`, e.g. "30m". */
    readonly at: string;
    /** Labels of the firing alert besides `alertname` and the rule's labels. Defaults to none. */
    readonly labels?: Readonly<Record<string, string>>;
}

/** An alert with the cases that prove it fires and stays quiet. */
export interface AlertDefinition extends AlertRule {
    /** Sample and evaluation interval of its promtool cases. Defaults to 1m. */
    readonly testInterval?: string;
    /** At least one firing and one quiet case. */
    readonly cases: readonly AlertCase[];
}

/** A rule group whose alerts carry their cases. */
export interface DefinitionGroup {
    readonly name: string;
    readonly rules: readonly (AlertDefinition | RecordingRule)[];
}

/** True for an alerting rule (as opposed to a recording rule). */
export function isAlert<T extends AlertRule | RecordingRule>(r: T): r is Extract<T, AlertRule> {
    return "alert" in r;
}

// ---------------------------------------------------------------------------------------------
// Synthetic series in promtool's expanding notation (`a+bxn` = a, a+b, …, a+n·b).

const num = (n: number): string => String(Number(n.toFixed(6)));

/**
 * A counter's samples from runs of `[increase per step, steps]`, starting at 0: one sample more
 * than the steps, so a run of 30 one-minute steps spans 30 minutes.
 */
export function counterValues(runs: readonly (readonly [number, number])[]): string {
    const parts: string[] = [];
    let value = 0;
    for (const [inc, steps] of runs) {
        if (steps <= 0) {
            continue;
        }
        if (parts.length === 0) {
            parts.push(`0+${num(inc)}x${steps}`);
        } else {
            const first = value + inc;
            parts.push(steps === 1 ? num(first) : `${num(first)}+${num(inc)}x${steps - 1}`);
        }
        value += inc * steps;
    }
    return parts.join(" ");
}

/** A gauge's samples from runs of `[value, samples]`. */
export function gaugeValues(runs: readonly (readonly [number, number])[]): string {
    return runs.map(([v, n]) => (n === 1 ? num(v) : `${num(v)}x${n - 1}`)).join(" ");
}

/** `{a="b",…}` (empty string for no labels). */
function sel(labels: Readonly<Record<string, string>>): string {
    const e = Object.entries(labels);
    return e.length === 0 ? "" : `{${e.map(([k, v]) => `${k}="${v}"`).join(",")}}`;
}

/**
 * A counter split between `hit` and `rest` label sets, from runs of
 * `[events per step, share that are hits, steps]`.
 */
export function splitCounter(
    metric: string,
    hit: Readonly<Record<string, string>>,
    rest: Readonly<Record<string, string>>,
    runs: readonly (readonly [number, number, number])[],
): TestSeries[] {
    return [
        { series: metric + sel(hit), values: counterValues(runs.map(([n, s, k]) => [n * s, k])) },
        {
            series: metric + sel(rest),
            values: counterValues(runs.map(([n, s, k]) => [n * (1 - s), k])),
        },
    ];
}

/**
 * A histogram's `_bucket` series (every bucket and `+Inf`) for `perStep` observations a step,
 * all of `seconds`, over `steps` steps.
 */
export function histogramSeries(
    metric: string,
    labels: Readonly<Record<string, string>>,
    buckets: readonly number[],
    perStep: number,
    seconds: number,
    steps: number,
): TestSeries[] {
    const les = [...buckets.map((b) => [String(b), b] as const), ["+Inf", Infinity] as const];
    return les.map(([le, bound]) => ({
        series: `${metric}_bucket${sel({ ...labels, le })}`,
        values: counterValues([[seconds <= bound ? perStep : 0, steps]]),
    }));
}

// ---------------------------------------------------------------------------------------------

/** Thresholds of the platform alerts. */
export interface AlertThresholds {
    /** Share of input-rail decisions that block over 10 minutes that signals an attack. Defaults to 0.2. */
    readonly blockRatio?: number;
    /** Share of output-rail decisions that mask over 10 minutes that signals a leak. Defaults to 0.1. */
    readonly redactRatio?: number;
    /** p95 end-to-end inference latency, in seconds. Defaults to 30. */
    readonly latencyP95Seconds?: number;
    /** Requests waiting in a vLLM queue. Defaults to 10. */
    readonly queueDepth?: number;
    /**
     * p95 duration of client requests through the gateway's Ingress, in seconds; must be below the
     * controller's largest histogram bucket (300). Defaults to 60.
     */
    readonly gatewayLatencyP95Seconds?: number;
    /** Share of client requests answered with a 5xx over 5 minutes. Defaults to 0.05. */
    readonly gateway5xxRatio?: number;
    /**
     * p95 response time of the guardrails upstream seen by the gateway, in seconds; must be below
     * the histogram's largest bucket (300). Defaults to 60.
     */
    readonly guardrailsLatencyP95Seconds?: number;
    /** Share of the guardrails server's answers that are 5xx over 5 minutes. Defaults to 0.05. */
    readonly guardrails5xxRatio?: number;
    /** Share of rail decisions that end in an error over 5 minutes. Defaults to 0.02. */
    readonly railErrorRatio?: number;
    /** Share of jailbreak checks that fail (and therefore block) over 5 minutes. Defaults to 0.05. */
    readonly jailbreakErrorRatio?: number;
    /**
     * p95 duration of the output filter's Presidio calls, in seconds; must be below the histogram's
     * largest bucket (10). Defaults to 2.
     */
    readonly outputFilterLatencyP95Seconds?: number;
    /** Share of output-filter calls that failed over 5 minutes. Defaults to 0.05. */
    readonly outputFilterErrorRatio?: number;
    /** Requests one identity's egress proxy refused within 10 minutes. Defaults to 10. */
    readonly egressDenials?: number;
    /** Packets Cilium dropped by egress policy on one node within 10 minutes. Defaults to 50. */
    readonly ciliumPolicyDrops?: number;
}

/** Throws unless `value` seconds is a p95 threshold the histogram with `buckets` can measure. */
function checkQuantileThreshold(what: string, value: number, buckets: readonly number[]): void {
    const max = buckets[buckets.length - 1]!;
    if (!(value > 0 && value < max)) {
        throw new Error(
            `${what} p95 latency threshold ${value}s must be above 0 and below its histogram's largest bucket (${max}s): a quantile past it cannot be measured; lower it or extend the buckets.`,
        );
    }
}

/** p95 over a histogram's `_bucket` series, summed over its exporters (`by` adds labels). */
function p95(bucket: string, by = ""): string {
    return `histogram_quantile(0.95, sum by (le${by}) (rate(${bucket}[5m])))`;
}

/** Share of `counter{hit}` in `counter{all}` over `window`. */
function share(counter: string, hit: string, all = "", window = "5m"): string {
    const allSel = all === "" ? "" : `{${all}}`;
    return `sum(rate(${counter}{${hit}}[${window}])) / clamp_min(sum(rate(${counter}${allSel}[${window}])), 1e-9)`;
}

/** Fixed share-over-threshold cases: `over` fires, `under` does not. */
function shareCases(
    what: string,
    metric: string,
    hit: Record<string, string>,
    rest: Record<string, string>,
    perMinute: number,
    over: number,
    under: number,
): AlertCase[] {
    return [
        {
            name: `${over * 100}% of ${perMinute} ${what} a minute for 30 minutes`,
            fires: true,
            series: splitCounter(metric, hit, rest, [[perMinute, over, 30]]),
            at: "30m",
        },
        {
            name: `${under * 100}% of ${perMinute} ${what} a minute`,
            fires: false,
            series: splitCounter(metric, hit, rest, [[perMinute, under, 30]]),
            at: "30m",
        },
    ];
}

/** Buckets of vLLM's `vllm:e2e_request_latency_seconds` (vllm/v1/metrics/loggers.py). */
const vllmE2eBuckets = [
    0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];
/** Buckets of vLLM's `vllm:time_to_first_token_seconds` (vllm/v1/metrics/loggers.py). */
const vllmTtftBuckets = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40,
    80, 160, 640, 2560,
];

const inf = tierNamespaces.inference;
const platformNamespaces = [...Object.values(tierNamespaces), serviceNamespaces.egressProxy].join(
    "|",
);
const scrapedNamespaces = `${platformNamespaces}|${serviceNamespaces.ingress}`;
const ingressRequests = "nginx_ingress_controller_requests";
const ingressDuration = "nginx_ingress_controller_request_duration_seconds";
/**
 * The gateway's Ingress in the controller's metrics. The metric's own `namespace` label is stored
 * as `exported_namespace`: the ServiceMonitor's target already has `namespace` (ingress-nginx).
 */
const gatewayIngressLabels = {
    exported_namespace: catalog.gateway.namespace,
    ingress: catalog.gateway.id,
};
const gatewayIngress = `exported_namespace="${catalog.gateway.namespace}",ingress="${catalog.gateway.id}"`;
/** Labels the ingress controller adds to every per-Ingress series (besides the target's). */
const ingressSeriesLabels = {
    ...gatewayIngressLabels,
    namespace: serviceNamespaces.ingress,
    service: catalog.gateway.id,
    method: "POST",
    path: "/v1/chat/completions",
    canary: "",
};

/** The guardrails server's metrics (our entrypoint, images/guardrails; metrics port only). */
export const guardrailsMetricNames = {
    httpRequests: "guardrails_http_requests_total",
    requestDuration: "guardrails_request_duration_seconds",
    railDecisions: "guardrails_rail_decisions_total",
    jailbreakChecks: "guardrails_jailbreak_checks_total",
} as const;
const gm = guardrailsMetricNames;
const guardrailsTarget = { namespace: tierNamespaces.guardrails, job: "guardrails" };

/** The guardrails tier: decisions of its rails and its own HTTP errors. */
function guardrailsRules(t: AlertThresholds): AlertDefinition[] {
    const blockRatio = t.blockRatio ?? 0.2;
    const redactRatio = t.redactRatio ?? 0.1;
    const g5xx = t.guardrails5xxRatio ?? 0.05;
    const railErrors = t.railErrorRatio ?? 0.02;
    const jbErrors = t.jailbreakErrorRatio ?? 0.05;
    const input = { ...guardrailsTarget, rail: "input" };
    const output = { ...guardrailsTarget, rail: "output" };
    return [
        {
            alert: "GuardrailBlockRateSpike",
            expr:
                `(${share(gm.railDecisions, 'rail="input",outcome="block"', 'rail="input"', "10m")}) > ${blockRatio}` +
                ` and sum(rate(${gm.railDecisions}{rail="input"}[10m])) > 0.05`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "Guardrails are blocking an unusual share of prompts (likely attack)",
                description: `More than ${blockRatio * 100}% of prompts were blocked by input rails over 10 minutes. Look up the request ids in the guardrail decision log.`,
            },
            cases: [
                ...shareCases(
                    "prompts",
                    gm.railDecisions,
                    { ...input, outcome: "block" },
                    { ...input, outcome: "allow" },
                    120,
                    0.3,
                    0.05,
                ),
                {
                    name: "every prompt blocked, but only 2 a minute (under the traffic guard)",
                    fires: false,
                    series: splitCounter(
                        gm.railDecisions,
                        { ...input, outcome: "block" },
                        { ...input, outcome: "allow" },
                        [[2, 1, 30]],
                    ),
                    at: "30m",
                },
            ],
        },
        {
            alert: "OutputRedactionSpike",
            expr:
                `(${share(gm.railDecisions, 'rail="output",outcome="mask"', 'rail="output"', "10m")}) > ${redactRatio}` +
                ` and sum(rate(${gm.railDecisions}{rail="output"}[10m])) > 0.05`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "Output rails are redacting an unusual share of answers (likely leak)",
                description: `More than ${redactRatio * 100}% of answers needed redaction over 10 minutes: the model or its context may be leaking sensitive data.`,
            },
            cases: shareCases(
                "answers",
                gm.railDecisions,
                { ...output, outcome: "mask" },
                { ...output, outcome: "allow" },
                120,
                0.25,
                0.03,
            ),
        },
        {
            alert: "GuardrailRailErrors",
            expr: `${share(gm.railDecisions, 'outcome="error"')} > ${railErrors}`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "Guardrail rails are failing",
                description: `More than ${railErrors * 100}% of rail decisions ended in an error over 5 minutes: requests are refused (fail closed) and the rails are not checking anything. The guardrails pods' logs name the failing rail.`,
            },
            cases: shareCases(
                "input-rail decisions",
                gm.railDecisions,
                { ...input, outcome: "error" },
                { ...input, outcome: "allow" },
                60,
                0.1,
                0.005,
            ),
        },
        {
            alert: "JailbreakCheckErrors",
            expr: `${share(gm.jailbreakChecks, 'outcome="error"')} > ${jbErrors}`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "Jailbreak checks are failing: prompts are being blocked",
                description: `More than ${jbErrors * 100}% of jailbreak checks failed over 5 minutes; a failed check blocks the prompt, so users are refused. Check the jailbreak-detection pods and the guardrails' connection to them.`,
            },
            cases: shareCases(
                "jailbreak checks",
                gm.jailbreakChecks,
                { ...guardrailsTarget, outcome: "error" },
                { ...guardrailsTarget, outcome: "pass" },
                60,
                0.2,
                0.01,
            ),
        },
        {
            alert: "Guardrails5xxRateHigh",
            expr: `${share(gm.httpRequests, 'status_class="5xx"')} > ${g5xx}`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "The guardrails server answers with 5xx",
                description: `More than ${g5xx * 100}% of the guardrails server's answers were 5xx over 5 minutes. Look up the request ids in the gateway's audit log; if the gateway cannot reach the guardrails at all, Gateway5xxRateHigh fires instead.`,
            },
            cases: shareCases(
                "requests",
                gm.httpRequests,
                { ...guardrailsTarget, status_class: "5xx" },
                { ...guardrailsTarget, status_class: "2xx" },
                60,
                0.1,
                0.01,
            ),
        },
    ];
}

/** Alerts on the log-derived series of the guardrails (latency) and output-filter tiers. */
function logDerivedTierRules(t: AlertThresholds): AlertDefinition[] {
    const gLatency = t.guardrailsLatencyP95Seconds ?? 60;
    const fLatency = t.outputFilterLatencyP95Seconds ?? 2;
    const fErrors = t.outputFilterErrorRatio ?? 0.05;
    checkQuantileThreshold("guardrails", gLatency, ingressTimeBucketsSeconds);
    checkQuantileThreshold("output filter", fLatency, outputFilterBucketsSeconds);
    const m = logMetricNames;
    const hist = (metric: string, labels: Record<string, string>, b: readonly number[]) => ({
        slow: (s: number) => histogramSeries(metric, labels, b, 30, s, 30),
    });
    const gw = hist(m.gatewayUpstreamSeconds, {}, ingressTimeBucketsSeconds);
    const filter = hist(
        m.outputFilterSeconds,
        { filter_outcome: "ok" },
        outputFilterBucketsSeconds,
    );
    return [
        {
            alert: "GuardrailsLatencyP95High",
            expr: `${p95(`${m.gatewayUpstreamSeconds}_bucket`)} > ${gLatency}`,
            for: "10m",
            labels: { severity: "warning" },
            annotations: {
                summary: "Guardrails tier p95 latency is high",
                description: `p95 response time of the guardrails tier, as the gateway measures it, is above ${gLatency}s (includes the inference and output-filter calls it makes; compare with InferenceLatencyP95High and OutputFilterLatencyP95High).`,
            },
            cases: [
                { name: "every answer takes 100s", fires: true, series: gw.slow(100), at: "30m" },
                { name: "every answer takes 2s", fires: false, series: gw.slow(2), at: "30m" },
            ],
        },
        {
            alert: "OutputFilterLatencyP95High",
            expr: `${p95(`${m.outputFilterSeconds}_bucket`)} > ${fLatency}`,
            for: "10m",
            labels: { severity: "warning" },
            annotations: {
                summary: "Output filter (Presidio) p95 latency is high",
                description: `p95 duration of the guardrails' Presidio analyze/anonymize calls is above ${fLatency}s.`,
            },
            cases: [
                { name: "every call takes 4s", fires: true, series: filter.slow(4), at: "30m" },
                {
                    name: "every call takes 0.2s",
                    fires: false,
                    series: filter.slow(0.2),
                    at: "30m",
                },
            ],
        },
        {
            alert: "OutputFilterErrorRateHigh",
            expr: `${share(`${m.outputFilterSeconds}_count`, 'filter_outcome="error"')} > ${fErrors}`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "Output filter calls fail: answers are being withheld",
                description: `More than ${fErrors * 100}% of the guardrails' Presidio calls failed over 5 minutes; the output rail fails closed, so those answers were withheld.`,
            },
            cases: shareCases(
                "Presidio calls",
                `${m.outputFilterSeconds}_count`,
                { filter_outcome: "error" },
                { filter_outcome: "ok" },
                30,
                0.2,
                0.01,
            ),
        },
    ];
}

/** Denied-egress alerts for the cluster's egress engine; none for `calico-enterprise`. */
function egressRules(engine: EgressEngine, logMetrics: boolean, t: AlertThresholds) {
    if (engine === "proxy" && logMetrics) {
        const n = t.egressDenials ?? 10;
        const denied = (perMinute: number) => [
            {
                series: `${logMetricNames.egressDenied}{identity="inference"}`,
                values: counterValues([[perMinute, 20]]),
            },
        ];
        const rule: AlertDefinition = {
            alert: "EgressDenialSpike",
            expr: `sum by (identity) (increase(${logMetricNames.egressDenied}[10m])) > ${n}`,
            for: "0m",
            labels: { severity: "critical" },
            annotations: {
                summary: "A workload keeps trying destinations outside its egress allowlist",
                description: `The egress proxy of {{ $labels.identity }} refused more than ${n} requests in 10 minutes: a compromised or misconfigured workload (possible exfiltration attempt). The proxy's access log names the destinations.`,
            },
            cases: [
                {
                    name: "3 refusals a minute",
                    fires: true,
                    series: denied(3),
                    at: "20m",
                    labels: { identity: "inference" },
                },
                {
                    name: "one refusal every 2 minutes",
                    fires: false,
                    series: denied(0.5),
                    at: "20m",
                },
            ],
        };
        return { rules: [rule], baseline: egressBaseline("proxy") };
    }
    if (engine === "cilium") {
        const n = t.ciliumPolicyDrops ?? 50;
        const drops = (egress: number, ingress: number) => [
            {
                series: `cilium_drop_count_total{pod="cilium-x7k2p",reason="Policy denied",direction="EGRESS"}`,
                values: counterValues([[egress, 20]]),
            },
            {
                series: `cilium_drop_count_total{pod="cilium-x7k2p",reason="Policy denied",direction="INGRESS"}`,
                values: counterValues([[ingress, 20]]),
            },
        ];
        const rule: AlertDefinition = {
            alert: "EgressPolicyDropSpike",
            expr: `sum by (pod) (increase(cilium_drop_count_total{reason="Policy denied",direction=~"(?i)egress"}[10m])) > ${n}`,
            for: "0m",
            labels: { severity: "critical" },
            annotations: {
                summary: "Cilium is dropping egress packets by policy",
                description: `The Cilium agent {{ $labels.pod }} dropped more than ${n} egress packets by policy in 10 minutes: a workload is trying destinations outside its allowlist (possible exfiltration attempt). Use hubble observe --verdict DROPPED on that node.`,
            },
            cases: [
                {
                    name: "10 egress drops a minute",
                    fires: true,
                    series: drops(10, 0),
                    at: "20m",
                    labels: { pod: "cilium-x7k2p" },
                },
                {
                    name: "2 egress drops a minute beside 100 ingress drops",
                    fires: false,
                    series: drops(2, 100),
                    at: "20m",
                },
            ],
        };
        return { rules: [rule], baseline: egressBaseline("cilium") };
    }
    return { rules: [], baseline: [] };
}

// ---------------------------------------------------------------------------------------------
// Rolling baselines of the security signals.

/** z-score above which a security signal deviates from its one-week baseline. */
export const anomalyZScore = 3;

/** A security signal with a rolling baseline. */
interface BaselineSignal {
    /** Recording-rule stem: `slp:<id>:rate10m`, `:mean_1w`, `:stddev_1w`, `:zscore`. */
    readonly id: string;
    readonly alert: string;
    /** The signal over 10 minutes; no sample while there is no traffic. */
    readonly current: string;
    /** Guard the alert also needs (enough traffic or events to mean something). */
    readonly guard: string;
    /** Smallest standard deviation assumed, in the signal's unit: a flat history is not a licence to page on noise. */
    readonly stddevFloor: number;
    readonly summary: string;
    /** What deviated; the runbook line is appended. */
    readonly description: string;
    readonly runbook: string;
    /**
     * Input series for `history` (runs of [signal value, 5-minute steps]) followed by `now`
     * (the last 45 minutes).
     */
    readonly series: (history: readonly (readonly [number, number])[], now: number) => TestSeries[];
    /** Normal variation: the two values the history alternates between every 2 hours. */
    readonly normal: readonly [number, number];
    /** A deviation that must fire, and one within normal variation that must not. */
    readonly anomalous: number;
    readonly ordinary: number;
}

/** Recorded series of a baseline signal. */
export function baselineSeries(id: string) {
    return {
        current: `slp:${id}:rate10m`,
        mean: `slp:${id}:mean_1w`,
        stddev: `slp:${id}:stddev_1w`,
        zscore: `slp:${id}:zscore`,
    };
}

/** Two days of 5-minute steps alternating between `a` and `b` every 2 hours. */
function alternating(a: number, b: number, days: number): [number, number][] {
    return Array.from({ length: days * 12 }, (_, i) => [i % 2 === 0 ? a : b, 24]);
}

function baselineRules(s: BaselineSignal): (RecordingRule | AlertDefinition)[] {
    const r = baselineSeries(s.id);
    const steps = (h: readonly (readonly [number, number])[]) =>
        h.reduce((n, [, k]) => n + k, 0) + 9;
    const at = (h: readonly (readonly [number, number])[]) => `${steps(h) * 5}m`;
    const normal = alternating(s.normal[0], s.normal[1], 2);
    const short: [number, number][] = [[s.normal[0], 72]];
    return [
        { record: r.current, expr: s.current },
        { record: r.mean, expr: `avg_over_time(${r.current}[1w])` },
        { record: r.stddev, expr: `stddev_over_time(${r.current}[1w])` },
        {
            record: r.zscore,
            expr: `(${r.current} - ${r.mean}) / clamp_min(${r.stddev}, ${s.stddevFloor})`,
        },
        {
            alert: s.alert,
            // The history guard: the signal was recorded a day ago, so the week holds a day or more.
            expr:
                `${r.zscore} > ${anomalyZScore}` +
                ` and on() (${s.guard})` +
                ` and on() present_over_time(${r.current}[1h] offset 1d)`,
            for: "10m",
            labels: { severity: "warning" },
            annotations: {
                summary: s.summary,
                description: `${s.description} is more than ${anomalyZScore} standard deviations above its one-week mean (${r.zscore}). Runbook: ${s.runbook}`,
            },
            testInterval: "5m",
            cases: [
                {
                    name: `history alternating ${s.normal.join("/")}, now ${s.anomalous}`,
                    fires: true,
                    series: s.series(normal, s.anomalous),
                    at: at(normal),
                },
                {
                    name: `history alternating ${s.normal.join("/")}, now ${s.ordinary} (normal variation)`,
                    fires: false,
                    series: s.series(normal, s.ordinary),
                    at: at(normal),
                },
                {
                    name: `only 6 hours of history, now ${s.anomalous} (no baseline yet)`,
                    fires: false,
                    series: s.series(short, s.anomalous),
                    at: at(short),
                },
            ],
        },
    ];
}

/** The ratio signal `hit / all` of a counter, recorded only while `all` has traffic. */
function ratioSignal(metric: string, hit: string, all: string): string {
    const allSel = all === "" ? "" : `{${all}}`;
    return `(sum(rate(${metric}{${hit}}[10m])) or vector(0)) / (sum(rate(${metric}${allSel}[10m])) > 0)`;
}

/** Test series for a ratio signal: 300 events per 5 minutes, `share` of them hits. */
function ratioSeries(metric: string, hit: Record<string, string>, rest: Record<string, string>) {
    return (history: readonly (readonly [number, number])[], now: number) =>
        splitCounter(metric, hit, rest, [
            ...history.map(([s, k]) => [300, s, k] as const),
            [300, now, 9],
        ]);
}

const securitySignals: readonly BaselineSignal[] = [
    {
        id: "guardrails_input_block_ratio",
        alert: "GuardrailBlockRateAnomaly",
        current: ratioSignal(gm.railDecisions, 'rail="input",outcome="block"', 'rail="input"'),
        guard: `sum(rate(${gm.railDecisions}{rail="input"}[10m])) > 0.05`,
        stddevFloor: 0.01,
        summary: "Input rails block an unusual share of prompts for this platform",
        description: "The share of prompts blocked by input rails over 10 minutes",
        runbook:
            "pull the blocked request ids from the guardrail decision log, group them by client key at the gateway; a single key or source means a probing client (revoke or rate-limit its key); a broad rise after a rules rollout means the new rules over-block (roll back the rules ConfigMap).",
        series: ratioSeries(
            gm.railDecisions,
            { ...guardrailsTarget, rail: "input", outcome: "block" },
            { ...guardrailsTarget, rail: "input", outcome: "allow" },
        ),
        normal: [0.04, 0.06],
        anomalous: 0.12,
        ordinary: 0.07,
    },
    {
        id: "guardrails_output_mask_ratio",
        alert: "OutputRedactionAnomaly",
        current: ratioSignal(gm.railDecisions, 'rail="output",outcome="mask"', 'rail="output"'),
        guard: `sum(rate(${gm.railDecisions}{rail="output"}[10m])) > 0.05`,
        stddevFloor: 0.01,
        summary: "Output rails redact an unusual share of answers for this platform",
        description: "The share of answers masked by output rails over 10 minutes",
        runbook:
            "read the entity types of the masked output decisions (decision log `entities`); a new entity type or one client's requests point at a leak from the model or its context: pause the model rollout or the tenant, and review what context the requests carried.",
        series: ratioSeries(
            gm.railDecisions,
            { ...guardrailsTarget, rail: "output", outcome: "mask" },
            { ...guardrailsTarget, rail: "output", outcome: "allow" },
        ),
        normal: [0.01, 0.02],
        anomalous: 0.08,
        ordinary: 0.025,
    },
    {
        id: "guardrails_jailbreak_block_ratio",
        alert: "JailbreakBlockRateAnomaly",
        current: ratioSignal(gm.jailbreakChecks, 'outcome="block"', ""),
        guard: `sum(rate(${gm.jailbreakChecks}[10m])) > 0.05`,
        stddevFloor: 0.01,
        summary: "The jailbreak check blocks an unusual share of prompts for this platform",
        description: "The share of jailbreak checks that blocked over 10 minutes",
        runbook:
            "group the blocked requests by client key at the gateway; one key means a jailbreak campaign (revoke or rate-limit it and keep the prompts for the red-team set); a rise across all keys after a jailbreak-model or threshold change means the check over-blocks (roll it back).",
        series: ratioSeries(
            gm.jailbreakChecks,
            { ...guardrailsTarget, outcome: "block" },
            { ...guardrailsTarget, outcome: "pass" },
        ),
        normal: [0.02, 0.04],
        anomalous: 0.15,
        ordinary: 0.045,
    },
];

/** Denied-egress baseline of the cluster's engine (refusals or drops per second, cluster-wide). */
function egressBaseline(engine: "proxy" | "cilium"): BaselineSignal[] {
    const proxy = engine === "proxy";
    const metric = proxy
        ? logMetricNames.egressDenied
        : 'cilium_drop_count_total{reason="Policy denied",direction=~"(?i)egress"}';
    const seriesName = proxy
        ? `${logMetricNames.egressDenied}{identity="inference"}`
        : 'cilium_drop_count_total{pod="cilium-x7k2p",reason="Policy denied",direction="EGRESS"}';
    const id = proxy ? "egress_proxy_denied" : "cilium_egress_policy_drops";
    return [
        {
            id,
            alert: proxy ? "EgressDenialAnomaly" : "EgressPolicyDropAnomaly",
            current: `sum(rate(${metric}[10m])) or vector(0)`,
            // At least 12 refusals in 10 minutes.
            guard: `${baselineSeries(id).current} > 0.02`,
            stddevFloor: 0.005,
            summary: proxy
                ? "The egress proxies refuse an unusual number of requests for this platform"
                : "Cilium drops an unusual number of egress packets for this platform",
            description: proxy
                ? "The rate of requests the egress proxies refused over 10 minutes"
                : "The rate of egress packets Cilium dropped by policy over 10 minutes",
            runbook: proxy
                ? "find the identity and destinations in the egress proxies' access logs (status TCP_DENIED); a workload calling an unknown host is a possible exfiltration attempt: isolate its pods (scale to zero or quarantine policy) and keep the logs; a known host missing from the allowlist after a change is a config bug (fix the allowlist, do not widen it by wildcard)."
                : "run hubble observe --verdict DROPPED --type policy-verdict on the reporting nodes to find the pods and destinations; an unknown destination is a possible exfiltration attempt: isolate the pods and keep the flow logs; a known one missing after a change is a config bug.",
            // [refusals per second] → refusals per 5-minute step.
            series: (history, now) => [
                {
                    series: seriesName,
                    values: counterValues([
                        ...history.map(([r, k]) => [r * 300, k] as const),
                        [now * 300, 9],
                    ]),
                },
            ],
            normal: [0, 0.01],
            anomalous: 0.1,
            ordinary: 0.0133,
        },
    ];
}

// ---------------------------------------------------------------------------------------------

/** Options that decide which rules exist. */
export interface RuleOptions {
    /** DCGM metrics are scraped (ordinary GPU nodes). */
    readonly gpu: boolean;
    /** The decision-log-metrics pipeline runs. Defaults to true. */
    readonly logMetrics?: boolean;
    /** The cluster's egress engine; no denied-egress alert when unset. */
    readonly egressEngine?: EgressEngine;
    readonly thresholds?: AlertThresholds;
}

/** The platform's rule groups with each alert's promtool cases. */
export function ruleDefinitions(opts: RuleOptions): DefinitionGroup[] {
    const t = opts.thresholds ?? {};
    const latency = t.latencyP95Seconds ?? 30;
    const queue = t.queueDepth ?? 10;
    const gatewayLatency = t.gatewayLatencyP95Seconds ?? 60;
    const gateway5xx = t.gateway5xxRatio ?? 0.05;
    const logMetrics = opts.logMetrics ?? true;
    const maxBucket = ingressTimeBucketsSeconds[ingressTimeBucketsSeconds.length - 1]!;
    if (!(gatewayLatency > 0 && gatewayLatency < maxBucket)) {
        throw new Error(
            `gateway p95 latency threshold ${gatewayLatency}s must be above 0 and below the ingress controller's largest histogram bucket (${maxBucket}s): a quantile past it cannot be measured; lower it or extend ingressTimeBucketsSeconds.`,
        );
    }
    checkQuantileThreshold("inference", latency, vllmE2eBuckets);
    const tierLogRules = logMetrics ? logDerivedTierRules(t) : [];
    const egress = opts.egressEngine
        ? egressRules(opts.egressEngine, logMetrics, t)
        : { rules: [], baseline: [] };
    const gwHist = (s: number) =>
        histogramSeries(
            ingressDuration,
            { ...ingressSeriesLabels, status: "200" },
            ingressTimeBucketsSeconds,
            30,
            s,
            30,
        );
    const vllmHist = (metric: string, buckets: readonly number[], s: number) =>
        histogramSeries(metric, { namespace: inf, model_name: "served" }, buckets, 20, s, 30);
    const vllmPod = { namespace: inf, pod: "inference-5c9d7-qx2lp" };
    const initPod = { ...vllmPod, container: "model-loader" };
    const groups: DefinitionGroup[] = [
        ...(logMetrics ? [{ name: "mlops", rules: [redteamBelowGateRule()] }] : []),
        { name: "llm-guardrails", rules: guardrailsRules(t) },
        {
            name: "llm-security-baselines",
            rules: [...securitySignals, ...egress.baseline].flatMap(baselineRules),
        },
        {
            name: "llm-tiers",
            rules: [
                {
                    alert: "TierScrapeTargetDown",
                    expr: `up{namespace=~"${scrapedNamespaces}"} == 0`,
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "A platform tier's metrics endpoint is down",
                        description:
                            "Prometheus cannot scrape {{ $labels.namespace }}/{{ $labels.pod }}.",
                    },
                    cases: [
                        {
                            name: "the guardrails metrics endpoint is down for 10 minutes",
                            fires: true,
                            series: [
                                {
                                    series: `up{job="guardrails",namespace="${tierNamespaces.guardrails}",pod="guardrails-6b8f9-l2m4x",instance="10.244.1.7:9464"}`,
                                    values: gaugeValues([[0, 11]]),
                                },
                            ],
                            at: "10m",
                            labels: {
                                job: "guardrails",
                                namespace: tierNamespaces.guardrails,
                                pod: "guardrails-6b8f9-l2m4x",
                                instance: "10.244.1.7:9464",
                            },
                        },
                        {
                            name: "every platform target up, a kube-system target down",
                            fires: false,
                            series: [
                                {
                                    series: `up{job="guardrails",namespace="${tierNamespaces.guardrails}",pod="guardrails-6b8f9-l2m4x"}`,
                                    values: gaugeValues([[1, 11]]),
                                },
                                {
                                    series: 'up{job="coredns",namespace="kube-system",pod="coredns-1"}',
                                    values: gaugeValues([[0, 11]]),
                                },
                            ],
                            at: "10m",
                        },
                    ],
                },
                {
                    alert: "GatewayLatencyP95High",
                    expr: `histogram_quantile(0.95, sum by (le) (rate(${ingressDuration}_bucket{${gatewayIngress}}[5m]))) > ${gatewayLatency}`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Gateway p95 latency is high",
                        description: `p95 duration of client requests through the gateway's Ingress is above ${gatewayLatency}s (whole path: gateway, guardrails, inference, output filter).`,
                    },
                    cases: [
                        {
                            name: "every request takes 100s",
                            fires: true,
                            series: gwHist(100),
                            at: "30m",
                        },
                        {
                            name: "every request takes 2s",
                            fires: false,
                            series: gwHist(2),
                            at: "30m",
                        },
                    ],
                },
                {
                    alert: "Gateway5xxRateHigh",
                    expr:
                        `sum(rate(${ingressRequests}{${gatewayIngress},status=~"5.."}[5m]))` +
                        ` / clamp_min(sum(rate(${ingressRequests}{${gatewayIngress}}[5m])), 1e-9) > ${gateway5xx}`,
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "Clients get 5xx from the gateway",
                        description: `More than ${gateway5xx * 100}% of client requests through the gateway's Ingress failed with a 5xx over 5 minutes. Compare with Guardrails5xxRateHigh and Inference5xxRateHigh to locate the tier.`,
                    },
                    cases: shareCases(
                        "client requests",
                        ingressRequests,
                        { ...ingressSeriesLabels, status: "503" },
                        { ...ingressSeriesLabels, status: "200" },
                        60,
                        0.1,
                        0.01,
                    ),
                },
                ...tierLogRules,
                {
                    alert: "InferenceLatencyP95High",
                    expr: `${p95(`vllm:e2e_request_latency_seconds_bucket{namespace="${inf}"}`, ", namespace")} > ${latency}`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Inference p95 latency is high",
                        description: `p95 end-to-end latency of the inference tier is above ${latency}s.`,
                    },
                    cases: [
                        {
                            name: "every request takes 45s",
                            fires: true,
                            series: vllmHist(
                                "vllm:e2e_request_latency_seconds",
                                vllmE2eBuckets,
                                45,
                            ),
                            at: "30m",
                            labels: { namespace: inf },
                        },
                        {
                            name: "every request takes 2s",
                            fires: false,
                            series: vllmHist("vllm:e2e_request_latency_seconds", vllmE2eBuckets, 2),
                            at: "30m",
                        },
                    ],
                },
                {
                    alert: "InferenceTimeToFirstTokenP95High",
                    expr: `${p95(`vllm:time_to_first_token_seconds_bucket{namespace="${inf}"}`, ", namespace")} > 5`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Inference time to first token is high",
                        description: "p95 time to first token of the inference tier is above 5s.",
                    },
                    cases: [
                        {
                            name: "first token after 8s",
                            fires: true,
                            series: vllmHist(
                                "vllm:time_to_first_token_seconds",
                                vllmTtftBuckets,
                                8,
                            ),
                            at: "30m",
                            labels: { namespace: inf },
                        },
                        {
                            name: "first token after 0.3s",
                            fires: false,
                            series: vllmHist(
                                "vllm:time_to_first_token_seconds",
                                vllmTtftBuckets,
                                0.3,
                            ),
                            at: "30m",
                        },
                    ],
                },
                {
                    alert: "Inference5xxRateHigh",
                    expr:
                        `sum(rate(http_requests_total{namespace="${inf}",status="5xx"}[5m]))` +
                        ` / clamp_min(sum(rate(http_requests_total{namespace="${inf}"}[5m])), 1e-9) > 0.05`,
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "Inference tier answers with 5xx",
                        description:
                            "More than 5% of inference requests failed with a 5xx over 5 minutes.",
                    },
                    cases: shareCases(
                        "inference requests",
                        "http_requests_total",
                        {
                            namespace: inf,
                            handler: "/v1/chat/completions",
                            method: "POST",
                            status: "5xx",
                        },
                        {
                            namespace: inf,
                            handler: "/v1/chat/completions",
                            method: "POST",
                            status: "2xx",
                        },
                        60,
                        0.1,
                        0.01,
                    ),
                },
                {
                    alert: "InferenceQueueDepthHigh",
                    expr: `sum by (namespace, pod) (vllm:num_requests_waiting{namespace="${inf}"}) > ${queue}`,
                    for: "5m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Requests are queueing in vLLM",
                        description: `{{ $labels.pod }} has more than ${queue} requests waiting.`,
                    },
                    cases: [25, 3].map((waiting) => ({
                        name: `${waiting} requests waiting for 15 minutes`,
                        fires: waiting > queue,
                        series: [
                            {
                                series: `vllm:num_requests_waiting${sel({ ...vllmPod, model_name: "served" })}`,
                                values: gaugeValues([[waiting, 16]]),
                            },
                        ],
                        at: "15m",
                        labels: vllmPod,
                    })),
                },
                {
                    alert: "InferenceKvCacheSaturated",
                    expr: `max by (namespace, pod) (vllm:kv_cache_usage_perc{namespace="${inf}"}) > 0.95`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "vLLM KV cache is nearly full",
                        description:
                            "{{ $labels.pod }} uses more than 95% of its KV cache: requests will be preempted.",
                    },
                    cases: [0.99, 0.7].map((used) => ({
                        name: `KV cache ${used * 100}% used for 20 minutes`,
                        fires: used > 0.95,
                        series: [
                            {
                                series: `vllm:kv_cache_usage_perc${sel({ ...vllmPod, model_name: "served" })}`,
                                values: gaugeValues([[used, 21]]),
                            },
                        ],
                        at: "20m",
                        labels: vllmPod,
                    })),
                },
                {
                    alert: "ModelLoadFailed",
                    expr:
                        `max by (namespace, pod, container) (kube_pod_init_container_status_last_terminated_reason{namespace="${inf}",reason!="Completed"}) > 0` +
                        ` or max by (namespace, pod, container) (kube_pod_init_container_status_waiting_reason{namespace="${inf}",reason=~"CrashLoopBackOff|CreateContainerConfigError|ImagePullBackOff|ErrImagePull"}) > 0`,
                    for: "2m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary: "The model loader failed",
                        description:
                            "Init container {{ $labels.container }} of {{ $labels.pod }} failed: the model could not be fetched, decrypted or verified.",
                    },
                    cases: [
                        {
                            name: "the loader's last run ended in Error",
                            fires: true,
                            series: [
                                {
                                    series: `kube_pod_init_container_status_last_terminated_reason${sel({ ...initPod, reason: "Error" })}`,
                                    values: gaugeValues([[1, 11]]),
                                },
                            ],
                            at: "10m",
                            labels: initPod,
                        },
                        {
                            name: "the loader completed",
                            fires: false,
                            series: [
                                {
                                    series: `kube_pod_init_container_status_last_terminated_reason${sel({ ...initPod, reason: "Completed" })}`,
                                    values: gaugeValues([[1, 11]]),
                                },
                                {
                                    series: `kube_pod_init_container_status_waiting_reason${sel({ ...initPod, reason: "PodInitializing" })}`,
                                    values: gaugeValues([[1, 11]]),
                                },
                            ],
                            at: "10m",
                        },
                    ],
                },
                {
                    alert: "PlatformPodRestarting",
                    expr: `increase(kube_pod_container_status_restarts_total{namespace=~"${platformNamespaces}"}[15m]) > 2`,
                    for: "0m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "A platform pod keeps restarting",
                        description:
                            "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) restarted more than twice in 15 minutes.",
                    },
                    cases: [
                        { every: 3, fires: true },
                        { every: 20, fires: false },
                    ].map(({ every, fires }) => {
                        const pod = {
                            namespace: tierNamespaces.guardrails,
                            pod: "guardrails-6b8f9-l2m4x",
                            container: "guardrails",
                        };
                        return {
                            name: `a restart every ${every} minutes`,
                            fires,
                            series: [
                                {
                                    series: `kube_pod_container_status_restarts_total${sel(pod)}`,
                                    values: counterValues([[1 / every, 20]]),
                                },
                            ],
                            at: "20m",
                            labels: pod,
                        };
                    }),
                },
            ],
        },
    ];
    if (egress.rules.length > 0) {
        groups.push({ name: "llm-egress", rules: egress.rules });
    }
    if (opts.gpu) {
        const gpu = { gpu: "0", Hostname: "gpu-node-1" };
        const gpuSeries = { ...gpu, UUID: "GPU-5fd4a8b2", modelName: "NVIDIA A100-SXM4-40GB" };
        groups.push({
            name: "llm-gpu",
            rules: [
                {
                    alert: "GpuMemoryNearlyFull",
                    expr: "max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)) > 0.97",
                    for: "15m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "GPU framebuffer memory is nearly full",
                        description:
                            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} uses more than 97% of its memory.",
                    },
                    cases: [
                        [40200, 200],
                        [30000, 10400],
                    ].map(([used, free]) => ({
                        name: `${used} MiB used, ${free} MiB free`,
                        fires: used! / (used! + free!) > 0.97,
                        series: [
                            {
                                series: `DCGM_FI_DEV_FB_USED${sel(gpuSeries)}`,
                                values: gaugeValues([[used!, 31]]),
                            },
                            {
                                series: `DCGM_FI_DEV_FB_FREE${sel(gpuSeries)}`,
                                values: gaugeValues([[free!, 31]]),
                            },
                        ],
                        at: "30m",
                        labels: gpu,
                    })),
                },
                {
                    alert: "GpuUtilisationSaturated",
                    expr: "avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL) > 95",
                    for: "30m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "GPU saturated",
                        description:
                            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} has been above 95% utilisation for 30 minutes.",
                    },
                    cases: [99, 80].map((util) => ({
                        name: `${util}% utilisation for 45 minutes`,
                        fires: util > 95,
                        series: [
                            {
                                series: `DCGM_FI_DEV_GPU_UTIL${sel(gpuSeries)}`,
                                values: gaugeValues([[util, 46]]),
                            },
                        ],
                        at: "45m",
                        labels: gpu,
                    })),
                },
            ],
        });
    }
    return groups;
}

/** A rule without its test cases, as Prometheus reads it. */
function rendered(r: AlertDefinition | RecordingRule): AlertRule | RecordingRule {
    if (!isAlert(r)) {
        return { record: r.record, expr: r.expr };
    }
    return {
        alert: r.alert,
        expr: r.expr,
        for: r.for,
        labels: r.labels,
        annotations: r.annotations,
    };
}

/** The platform's rule groups as the PrometheusRule carries them. */
export function alertGroups(opts: RuleOptions): RuleGroup[] {
    return ruleDefinitions(opts).map((g) => ({ name: g.name, rules: g.rules.map(rendered) }));
}

/**
 * Every alert any cluster may render (all optional groups, each egress engine), by name, at the
 * default thresholds: what the real suite looks up a rendered alert's cases in.
 */
export function alertCatalog(): ReadonlyMap<string, AlertDefinition> {
    const out = new Map<string, AlertDefinition>();
    for (const egressEngine of ["proxy", "cilium", "calico-enterprise"] as const) {
        for (const g of ruleDefinitions({ gpu: true, logMetrics: true, egressEngine })) {
            for (const r of g.rules) {
                if (isAlert(r)) {
                    out.set(r.alert, r);
                }
            }
        }
    }
    return out;
}

/** Names of the series the platform's recording rules produce. */
export function recordedSeries(): string[] {
    const out = new Set<string>();
    for (const egressEngine of ["proxy", "cilium"] as const) {
        for (const g of ruleDefinitions({ gpu: true, logMetrics: true, egressEngine })) {
            for (const r of g.rules) {
                if (!isAlert(r)) {
                    out.add(r.record);
                }
            }
        }
    }
    return [...out].sort();
}
