/**
 * Log-derived metrics. Neither the NeMo Guardrails server (its opt-in Prometheus exporter carries
 * only `guardrails.nonstream.*` admission-queue metrics), nor Presidio, nor the gateway's stock
 * nginx, nor Squid export request metrics, so a Fluent Bit DaemonSet tails their containers' JSON
 * log lines and turns them into Prometheus series with `log_to_metrics` (counters are exposed as
 * `log_metric_counter_<name>`, histograms as `log_metric_histogram_<name>_{bucket,sum,count}`;
 * `metric_mode histogram` exists in the pinned 4.1 line).
 *
 * Log contracts (one JSON object per line on the container's stdout; nothing else is counted):
 * - guardrails decision (guardrails/default/actions.py):
 *   `{"event": "guardrails.decision", "request_id", "config_id", "direction": "input" | "output",
 *     "rails": [...], "verdict": "allow" | "block" | "redact", "entities"?: {type: count}}`; the
 *   output filter's line adds `"filter_seconds": <Presidio call duration, s>` and
 *   `"filter_outcome": "ok" | "error"`. Prompt and response text are never part of it.
 * - gateway request (modules/k8s/llm/tiers.ts, nginx `log_format audit`):
 *   `{"event": "gateway.request", ..., "status", "duration", "upstream_status",
 *     "upstream_status_class": "1xx".."5xx" | "none", "upstream_time": "<s>" | ""}`.
 * - egress proxy access (modules/k8s/network/proxy.ts, Squid `logformat platform_json`):
 *   `{"event": "egress.access", "identity", "status": "<Squid result code>", ...}`.
 * - red-team assessment (pipelines/cli.ts `assessmentLine`, the CronJob of
 *   modules/k8s/kubeflow/redteam.ts): `{"event": "redteam.assessment", "finished_at": <unix s>,
 *   "attack_block_rate", "benign_block_rate" (-1 when inconclusive), "min_attack_block_rate", ...}`,
 *   exposed as gauges (`log_metric_gauge_<name>`; gauge mode reads string, int or float fields —
 *   plugins/filter_log_to_metrics/log_to_metrics.c, not run here).
 */
import type * as k8s from "@pulumi/kubernetes";
import { ingressTimeBucketsSeconds } from "../../constants/ingress";
import { labels, partOfValue } from "../../constants/labels";
import { serviceNamespaces } from "../../constants/namespaces";
import { redteamAssessment } from "../../constants/rollout";
import { images } from "../../constants/images";
import { guardrailsLogGlob } from "../../constants/logs";
import { catalog } from "../catalog";
import { decisionMetrics } from "./monitors";

/** Host path glob of the guardrails containers' log files (one home: the OCI log agent tails it too). */
export { guardrailsLogGlob };
/** Host path glob of the gateway containers' log files (`<pod>_<namespace>_<container>-<id>.log`). */
export const gatewayLogGlob = `/var/log/containers/${catalog.gateway.id}-*_${catalog.gateway.namespace}_*.log`;
/** Host path glob of the egress proxies' log files (pods `egress-proxy-<identity>-...`). */
export const egressProxyLogGlob = `/var/log/containers/${catalog["egress-proxy"].id}-*_${serviceNamespaces.egressProxy}_*.log`;

/**
 * Host path glob of the red-team assessment's log files: its CronJob's pods (`redteam-assessment-*`),
 * container `assess`, in any namespace (the pipeline namespace is configurable).
 */
export const redteamLogGlob = `/var/log/containers/${redteamAssessment.id}-*_*_${redteamAssessment.container}-*.log`;

/**
 * Buckets, in seconds, of the output filter's Presidio call histogram: an analyze plus an anonymize
 * call, bounded by the action's timeout (5 s per call by default).
 */
export const outputFilterBucketsSeconds = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Metric names (as Prometheus stores them) of the log-derived series. */
export const logMetricNames = {
    decisions: "log_metric_counter_guardrails_decisions_total",
    /** Guardrails upstream response time seen by the gateway, seconds. */
    gatewayUpstreamSeconds: "log_metric_histogram_gateway_upstream_seconds",
    /** Gateway requests answered by the guardrails upstream, by `upstream_status_class`. */
    gatewayUpstreamResponses: "log_metric_counter_gateway_upstream_responses_total",
    /** Output filter (Presidio) call duration, seconds, by `filter_outcome` (ok | error). */
    outputFilterSeconds: "log_metric_histogram_output_filter_seconds",
    /** Requests the egress proxy of `identity` refused (Squid `TCP_DENIED*`). */
    egressDenied: "log_metric_counter_egress_denied_total",
    /** Share of red-team attacks the last assessment saw blocked through the gateway (-1: inconclusive). */
    redteamAttackBlockRate: "log_metric_gauge_redteam_attack_block_rate",
    /** The promotion gate that assessment was held to. */
    redteamMinAttackBlockRate: "log_metric_gauge_redteam_min_attack_block_rate",
    /** When that assessment finished, unix seconds. */
    redteamFinishedAt: "log_metric_gauge_redteam_finished_at_seconds",
} as const;

/** One log stream: which files, its tag prefix and the `event` its counted lines carry. */
interface LogStream {
    readonly tag: string;
    readonly path: string;
    readonly event: string;
}

/** The tailed log streams. */
export const logStreams: readonly LogStream[] = [
    { tag: "guardrails", path: guardrailsLogGlob, event: "guardrails.decision" },
    { tag: "gateway", path: gatewayLogGlob, event: "gateway.request" },
    { tag: "egress", path: egressProxyLogGlob, event: "egress.access" },
    { tag: "redteam", path: redteamLogGlob, event: "redteam.assessment" },
];

const metricsTag = "decision_metrics";

function section(name: string, entries: readonly (readonly [string, string | number])[]): string[] {
    return [`[${name}]`, ...entries.map(([k, v]) => `    ${k.padEnd(20)}${v}`), ""];
}

function streamSections(s: LogStream): string[] {
    return [
        ...section("INPUT", [
            ["Name", "tail"],
            ["Path", s.path],
            ["Tag", `${s.tag}.*`],
            ["multiline.parser", "cri"],
            ["Read_from_Head", "false"],
            ["Mem_Buf_Limit", "16MB"],
            ["Skip_Long_Lines", "On"],
        ]),
        // Non-JSON lines stay unparsed (no `event`) and are dropped by the grep below.
        ...section("FILTER", [
            ["Name", "parser"],
            ["Match", `${s.tag}.*`],
            ["Key_Name", "log"],
            ["Parser", "decision_json"],
            ["Reserve_Data", "Off"],
        ]),
        ...section("FILTER", [
            ["Name", "grep"],
            ["Match", `${s.tag}.*`],
            ["Regex", `event ^${s.event.replace(/\./g, "\\.")}$`],
        ]),
    ];
}

function toMetric(
    match: string,
    mode: "counter" | "histogram" | "gauge",
    name: string,
    description: string,
    opts: {
        regex?: string;
        labels?: readonly string[];
        value?: string;
        buckets?: readonly number[];
    },
): string[] {
    const e: [string, string | number][] = [
        ["Name", "log_to_metrics"],
        ["Match", `${match}.*`],
        ["Tag", metricsTag],
        ["Metric_Mode", mode],
        ["Metric_Name", name],
        ["Metric_Description", description],
    ];
    // One Regex per filter: log_to_metrics keeps a record as soon as one Regex rule matches.
    if (opts.regex !== undefined) e.push(["Regex", opts.regex]);
    if (opts.value !== undefined) e.push(["Value_Field", opts.value]);
    for (const b of opts.buckets ?? []) e.push(["Bucket", b]);
    for (const l of opts.labels ?? []) e.push(["Label_Field", l]);
    return section("FILTER", e);
}

/** Fluent Bit configuration (classic format): tail → JSON → keep events → metrics → expose. */
export function fluentBitConfig(): string {
    return [
        ...section("SERVICE", [
            ["Flush", 5],
            ["Log_Level", "info"],
            ["Parsers_File", "/fluent-bit/etc/custom/parsers.conf"],
            ["HTTP_Server", "On"],
            ["HTTP_Listen", "0.0.0.0"],
            ["HTTP_Port", decisionMetrics.healthPort],
            ["Health_Check", "On"],
        ]),
        ...logStreams.flatMap(streamSections),
        ...toMetric(
            "guardrails",
            "counter",
            "guardrails_decisions_total",
            "Guardrail decisions by direction and verdict",
            { labels: ["direction", "verdict"] },
        ),
        // Only the output filter's line carries filter_outcome (ok | error).
        ...toMetric(
            "guardrails",
            "histogram",
            "output_filter_seconds",
            "Duration of the output filter's Presidio calls in seconds, by outcome",
            {
                regex: "filter_outcome ^(ok|error)$",
                value: "filter_seconds",
                buckets: outputFilterBucketsSeconds,
                labels: ["filter_outcome"],
            },
        ),
        // upstream_time is empty when nginx answered itself (401, 404, 413, 429): not observed.
        ...toMetric(
            "gateway",
            "histogram",
            "gateway_upstream_seconds",
            "Response time of the guardrails upstream seen by the gateway in seconds",
            {
                regex: "upstream_time ^[0-9]",
                value: "upstream_time",
                buckets: ingressTimeBucketsSeconds,
            },
        ),
        ...toMetric(
            "gateway",
            "counter",
            "gateway_upstream_responses_total",
            "Gateway requests answered by the guardrails upstream, by status class",
            { regex: "upstream_status_class ^[1-5]xx$", labels: ["upstream_status_class"] },
        ),
        ...toMetric(
            "egress",
            "counter",
            "egress_denied_total",
            "Requests refused by the egress proxy, by identity",
            { regex: "status ^TCP_DENIED", labels: ["identity"] },
        ),
        ...(
            [
                [
                    "redteam_attack_block_rate",
                    "attack_block_rate",
                    "Share of red-team attacks blocked through the gateway in the last assessment (-1: inconclusive)",
                ],
                [
                    "redteam_min_attack_block_rate",
                    "min_attack_block_rate",
                    "Promotion gate the last red-team assessment was held to",
                ],
                [
                    "redteam_finished_at_seconds",
                    "finished_at",
                    "When the last red-team assessment finished, unix seconds",
                ],
            ] as const
        ).flatMap(([name, field, description]) =>
            toMetric("redteam", "gauge", name, description, { value: field }),
        ),
        ...section("OUTPUT", [
            ["Name", "prometheus_exporter"],
            ["Match", metricsTag],
            ["Host", "0.0.0.0"],
            ["Port", decisionMetrics.port.port],
        ]),
    ].join("\n");
}

export function fluentBitParsers(): string {
    return ["[PARSER]", "    Name    decision_json", "    Format  json", ""].join("\n");
}

/** Pod labels of the decision-log-metrics DaemonSet. */
export const decisionMetricsLabels = {
    [labels.name]: decisionMetrics.name,
    [labels.partOf]: partOfValue,
    [labels.component]: "observability",
};

/**
 * The DaemonSet's pod spec. It runs in the privileged node-monitoring namespace because it reads
 * host log files (hostPath, read-only) owned by root with mode 0640; it runs as UID 0 for that
 * reason only, with every capability dropped, no privilege escalation and a read-only root.
 */
export function decisionMetricsPodSpec(
    configMapName: string,
    serviceAccountName: string,
): k8s.types.input.core.v1.PodSpec {
    return {
        serviceAccountName,
        automountServiceAccountToken: false,
        priorityClassName: "system-node-critical",
        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
        tolerations: [{ operator: "Exists" }],
        containers: [
            {
                name: "fluent-bit",
                image: images.fluentBit,
                args: ["--config=/fluent-bit/etc/custom/fluent-bit.conf"],
                ports: [
                    {
                        name: decisionMetrics.port.name,
                        containerPort: decisionMetrics.port.port,
                        protocol: "TCP",
                    },
                    { name: "health", containerPort: decisionMetrics.healthPort, protocol: "TCP" },
                ],
                securityContext: {
                    runAsUser: 0,
                    runAsGroup: 0,
                    runAsNonRoot: false,
                    allowPrivilegeEscalation: false,
                    privileged: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                    seccompProfile: { type: "RuntimeDefault" },
                },
                resources: {
                    requests: { cpu: "20m", memory: "32Mi", "ephemeral-storage": "16Mi" },
                    limits: { cpu: "200m", memory: "128Mi", "ephemeral-storage": "64Mi" },
                },
                livenessProbe: {
                    httpGet: { path: "/api/v1/health", port: "health" },
                    periodSeconds: 30,
                },
                readinessProbe: {
                    httpGet: { path: "/metrics", port: decisionMetrics.port.name },
                    periodSeconds: 15,
                },
                volumeMounts: [
                    { name: "config", mountPath: "/fluent-bit/etc/custom", readOnly: true },
                    { name: "varlog", mountPath: "/var/log", readOnly: true },
                ],
            },
        ],
        volumes: [
            { name: "config", configMap: { name: configMapName } },
            { name: "varlog", hostPath: { path: "/var/log", type: "Directory" } },
        ],
    };
}
