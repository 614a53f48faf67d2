/**
 * Alert rules: each names only metrics in the registry (checked by the tests).
 *
 * Latency and 5xx per tier (issue 7), as far as the tiers' own output allows:
 * - gateway: p95 latency and 5xx ratio of the client-facing requests, from the ingress-nginx
 *   controller's per-Ingress metrics for the gateway's Ingress. These measure the whole request
 *   path as the client sees it (a 5xx may come from any tier behind the gateway).
 * - guardrails: p95 response time and 5xx ratio of the guardrails upstream as the gateway's nginx
 *   logs them (`upstream_time`, `upstream_status_class`), turned into series by the
 *   decision-log-metrics pipeline. The guardrails tier calls inference and the output filter
 *   synchronously, so this is "guardrails and everything behind it", without the gateway's own
 *   refusals (401/413/429) and queueing; a 502/504 here means the gateway could not reach it.
 * - inference: p95 end-to-end latency and time to first token (vLLM histograms) and 5xx ratio
 *   (`http_requests_total`, prometheus-fastapi-instrumentator on vLLM's API app).
 * - output filter (Presidio analyzer/anonymizer): p95 duration and error ratio of the guardrails'
 *   Presidio calls, from the `filter_seconds` / `filter_outcome` fields of the output decision line
 *   (Presidio itself exports no metrics). An error withholds the answer (fail closed).
 * Denied egress: per-identity refusals of the Squid proxies (engine `proxy`), or Cilium's policy
 * drops (engine `cilium`, only if the cluster's Cilium agents are scraped: the platform installs no
 * monitor for them). Calico Enterprise's denied-flow metrics are not used (not verified here).
 * The log-derived alerts exist only when the decision-log-metrics pipeline runs.
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
export function redteamBelowGateRule(): AlertRule {
    const latest =
        `${logMetricNames.redteamFinishedAt} == on () group_left () ` +
        `max(${logMetricNames.redteamFinishedAt})`;
    return {
        alert: "RedTeamBlockRateBelowGate",
        expr:
            `(${logMetricNames.redteamAttackBlockRate} >= 0 and on (instance) (${latest}))` +
            ` < on (instance) ${logMetricNames.redteamMinAttackBlockRate}`,
        for: "0m",
        labels: { severity: "critical" },
        annotations: {
            summary: "The live rails block fewer red-team attacks than the promotion gate",
            description:
                "The last recurring red-team assessment through the gateway blocked {{ $value | humanizePercentage }} of attacks, below the gate rules are promoted at. See the redteam-assessment Job's log in the pipeline namespace for the missed attacks.",
        },
    };
}

/** One Prometheus alerting rule. */
export interface AlertRule {
    readonly alert: string;
    readonly expr: string;
    readonly for: string;
    readonly labels: { readonly severity: "warning" | "critical" };
    readonly annotations: { readonly summary: string; readonly description: string };
}

/** A rule group. */
export interface RuleGroup {
    readonly name: string;
    readonly rules: readonly AlertRule[];
}

const decisions = "log_metric_counter_guardrails_decisions_total";
const inf = tierNamespaces.inference;
const platformNamespaces = [...Object.values(tierNamespaces), serviceNamespaces.egressProxy].join(
    "|",
);
const scrapedNamespaces = `${platformNamespaces}|${serviceNamespaces.ingress}`;
const ingressRequests = "nginx_ingress_controller_requests";
const ingressDuration = "nginx_ingress_controller_request_duration_seconds_bucket";
/**
 * The gateway's Ingress in the controller's metrics. The metric's own `namespace` label is stored
 * as `exported_namespace`: the ServiceMonitor's target already has `namespace` (ingress-nginx).
 */
const gatewayIngress = `exported_namespace="${catalog.gateway.namespace}",ingress="${catalog.gateway.id}"`;

/** Thresholds of the platform alerts. */
export interface AlertThresholds {
    /** Share of input decisions blocked over 10 minutes that signals an attack. Defaults to 0.2. */
    readonly blockRatio?: number;
    /** Share of output decisions redacted over 10 minutes that signals a leak. Defaults to 0.1. */
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
    /** Share of the guardrails upstream's answers that are 5xx over 5 minutes. Defaults to 0.05. */
    readonly guardrails5xxRatio?: number;
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

/** p95 over a histogram's `_bucket` series summed across all its exporters. */
function p95(bucket: string): string {
    return `histogram_quantile(0.95, sum by (le) (rate(${bucket}[5m])))`;
}

/** Share of `counter{selector}` in all of `counter` over 5 minutes. */
function share(counter: string, selector: string): string {
    return `sum(rate(${counter}{${selector}}[5m])) / clamp_min(sum(rate(${counter}[5m])), 1e-9)`;
}

/** Alerts on the log-derived series of the guardrails and output-filter tiers. */
function logDerivedTierRules(t: AlertThresholds): AlertRule[] {
    const gLatency = t.guardrailsLatencyP95Seconds ?? 60;
    const g5xx = t.guardrails5xxRatio ?? 0.05;
    const fLatency = t.outputFilterLatencyP95Seconds ?? 2;
    const fErrors = t.outputFilterErrorRatio ?? 0.05;
    checkQuantileThreshold("guardrails", gLatency, ingressTimeBucketsSeconds);
    checkQuantileThreshold("output filter", fLatency, outputFilterBucketsSeconds);
    const m = logMetricNames;
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
        },
        {
            alert: "Guardrails5xxRateHigh",
            expr: `${share(m.gatewayUpstreamResponses, 'upstream_status_class="5xx"')} > ${g5xx}`,
            for: "5m",
            labels: { severity: "critical" },
            annotations: {
                summary: "The guardrails tier answers the gateway with 5xx",
                description: `More than ${g5xx * 100}% of the guardrails tier's answers to the gateway were 5xx over 5 minutes (502/504: unreachable or timed out). Look up the request ids in the gateway's audit log.`,
            },
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
        },
    ];
}

/** Denied-egress alerts for the cluster's egress engine; none for `calico-enterprise`. */
function egressRules(engine: EgressEngine, logMetrics: boolean, t: AlertThresholds): AlertRule[] {
    if (engine === "proxy" && logMetrics) {
        const n = t.egressDenials ?? 10;
        return [
            {
                alert: "EgressDenialSpike",
                expr: `sum by (identity) (increase(${logMetricNames.egressDenied}[10m])) > ${n}`,
                for: "0m",
                labels: { severity: "critical" },
                annotations: {
                    summary: "A workload keeps trying destinations outside its egress allowlist",
                    description: `The egress proxy of {{ $labels.identity }} refused more than ${n} requests in 10 minutes: a compromised or misconfigured workload (possible exfiltration attempt). The proxy's access log names the destinations.`,
                },
            },
        ];
    }
    if (engine === "cilium") {
        const n = t.ciliumPolicyDrops ?? 50;
        return [
            {
                alert: "EgressPolicyDropSpike",
                expr: `sum by (pod) (increase(cilium_drop_count_total{reason="Policy denied",direction=~"(?i)egress"}[10m])) > ${n}`,
                for: "0m",
                labels: { severity: "critical" },
                annotations: {
                    summary: "Cilium is dropping egress packets by policy",
                    description: `The Cilium agent {{ $labels.pod }} dropped more than ${n} egress packets by policy in 10 minutes: a workload is trying destinations outside its allowlist (possible exfiltration attempt). Use hubble observe --verdict DROPPED on that node.`,
                },
            },
        ];
    }
    return [];
}

function ratio(selector: string, total: string): string {
    return `sum(rate(${decisions}{${selector}}[10m])) / clamp_min(sum(rate(${decisions}{${total}}[10m])), 1e-9)`;
}

/** The platform's alert groups. GPU rules only when DCGM metrics are scraped. */
export function alertGroups(opts: {
    gpu: boolean;
    /** The decision-log-metrics pipeline runs. Defaults to true. */
    logMetrics?: boolean;
    /** The cluster's egress engine; no denied-egress alert when unset. */
    egressEngine?: EgressEngine;
    thresholds?: AlertThresholds;
}): RuleGroup[] {
    const t = opts.thresholds ?? {};
    const blockRatio = t.blockRatio ?? 0.2;
    const redactRatio = t.redactRatio ?? 0.1;
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
    const tierLogRules = logMetrics ? logDerivedTierRules(t) : [];
    const egress = opts.egressEngine ? egressRules(opts.egressEngine, logMetrics, t) : [];
    const groups: RuleGroup[] = [
        ...(logMetrics ? [{ name: "mlops", rules: [redteamBelowGateRule()] }] : []),
        {
            name: "llm-guardrails",
            rules: [
                {
                    alert: "GuardrailBlockRateSpike",
                    expr:
                        `(${ratio('direction="input",verdict="block"', 'direction="input"')}) > ${blockRatio}` +
                        ` and sum(rate(${decisions}{direction="input"}[10m])) > 0.05`,
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary:
                            "Guardrails are blocking an unusual share of prompts (likely attack)",
                        description: `More than ${blockRatio * 100}% of prompts were blocked by input rails over 10 minutes. Look up the prompt ids in the guardrail decision log.`,
                    },
                },
                {
                    alert: "OutputRedactionSpike",
                    expr:
                        `(${ratio('direction="output",verdict="redact"', 'direction="output"')}) > ${redactRatio}` +
                        ` and sum(rate(${decisions}{direction="output"}[10m])) > 0.05`,
                    for: "5m",
                    labels: { severity: "critical" },
                    annotations: {
                        summary:
                            "Output rails are redacting an unusual share of answers (likely leak)",
                        description: `More than ${redactRatio * 100}% of answers needed redaction over 10 minutes: the model or its context may be leaking sensitive data.`,
                    },
                },
            ],
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
                },
                {
                    alert: "GatewayLatencyP95High",
                    expr: `histogram_quantile(0.95, sum by (le) (rate(${ingressDuration}{${gatewayIngress}}[5m]))) > ${gatewayLatency}`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Gateway p95 latency is high",
                        description: `p95 duration of client requests through the gateway's Ingress is above ${gatewayLatency}s (whole path: gateway, guardrails, inference, output filter).`,
                    },
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
                        description: `More than ${gateway5xx * 100}% of client requests through the gateway's Ingress failed with a 5xx over 5 minutes. Compare with Inference5xxRateHigh to locate the tier.`,
                    },
                },
                ...tierLogRules,
                {
                    alert: "InferenceLatencyP95High",
                    expr: `histogram_quantile(0.95, sum by (le, namespace) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="${inf}"}[5m]))) > ${latency}`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Inference p95 latency is high",
                        description: `p95 end-to-end latency of the inference tier is above ${latency}s.`,
                    },
                },
                {
                    alert: "InferenceTimeToFirstTokenP95High",
                    expr: `histogram_quantile(0.95, sum by (le, namespace) (rate(vllm:time_to_first_token_seconds_bucket{namespace="${inf}"}[5m]))) > 5`,
                    for: "10m",
                    labels: { severity: "warning" },
                    annotations: {
                        summary: "Inference time to first token is high",
                        description: "p95 time to first token of the inference tier is above 5s.",
                    },
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
                },
            ],
        },
    ];
    if (egress.length > 0) {
        groups.push({ name: "llm-egress", rules: egress });
    }
    if (opts.gpu) {
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
                },
            ],
        });
    }
    return groups;
}
