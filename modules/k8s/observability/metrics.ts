/**
 * Every metric name an alert, a recording rule, a rule test or a dashboard of the platform may use,
 * with the component that exports it, where that is documented and how the name is known. Alerts,
 * test series and panels are checked against this list, so a query can never name a metric
 * nothing exports.
 */

/** Who exports a metric. */
export type MetricSource =
    | "guardrails"
    | "vllm"
    | "ingress-nginx"
    | "decision-log-metrics"
    | "cilium-agent"
    | "dcgm-exporter"
    | "kube-state-metrics"
    | "cadvisor"
    | "prometheus";

/**
 * How a metric name is known:
 * - `captured`: read from the real exporter's `/metrics` output on this project's machines; the
 *   exposition is kept in the repository at {@link MetricEntry.capture}.
 * - `upstream`: read in the exporter's upstream source or documentation (at the pinned version
 *   where one is pinned); not run here (GPU, cluster or cloud components).
 * - `contract`: promised by our own code and not yet captured; {@link MetricEntry.capture} is
 *   where the suite that runs that code writes its capture.
 */
export type MetricBasis = "captured" | "upstream" | "contract";

/** One exported metric. */
export interface MetricEntry {
    readonly source: MetricSource;
    /** Doc URL or `repo:path` that shows the name. */
    readonly evidence: string;
    readonly basis: MetricBasis;
    /** Repository path (glob for `contract`) of the captured exposition showing the name. */
    readonly capture?: string;
}

const upstream = (source: MetricSource, evidence: string): MetricEntry => ({
    source,
    evidence,
    basis: "upstream",
});

const vllmDocs =
    "https://docs.vllm.ai/en/stable/usage/metrics/ ; vllm-project/vllm:docs/design/metrics.md";
const vllmHttp =
    "vllm-project/vllm:vllm/entrypoints/serve/instrumentator/metrics.py (Instrumentator().add() on the API app, vLLM's registry) ; " +
    'trallnag/prometheus-fastapi-instrumentator:src/prometheus_fastapi_instrumentator/metrics.py default(): http_requests_total{method,status="2xx|4xx|5xx",handler} (status codes grouped by default), http_request_duration_seconds{method,handler}';
const ingressNginx =
    "kubernetes/ingress-nginx:internal/ingress/metric/collectors/socket.go (namespace nginx_ingress_controller; labels status (full code unless --report-status-classes), method, path, namespace, ingress, service, canary; const labels controller_namespace, controller_class, controller_pod) ; " +
    "https://kubernetes.github.io/ingress-nginx/user-guide/monitoring/";
const fluentBit =
    "https://docs.fluentbit.io/manual/data-pipeline/filters/log_to_metrics (counter names are log_metric_counter_<metric_name>)";
const fluentBitHistogram =
    "https://docs.fluentbit.io/manual/data-pipeline/filters/log_to_metrics (metric_mode histogram, bucket, value_field) ; " +
    "fluent/fluent-bit:plugins/filter_log_to_metrics/log_to_metrics.c (cmt_histogram_create(namespace log_metric, subsystem = mode name, metric_name)) → log_metric_histogram_<metric_name>_{bucket,sum,count}";
const gatewayLog =
    "our config: modules/k8s/llm/tiers.ts gatewayNginxConf (log_format audit: upstream_time, upstream_status_class) → modules/k8s/observability/decision-metrics.ts fluentBitConfig";
const presidioLog =
    "our code: guardrails/default/actions.py mask_sensitive_data_presidio (filter_seconds, filter_outcome on the output decision line) → modules/k8s/observability/decision-metrics.ts fluentBitConfig";
const squidLog =
    "our config: modules/k8s/network/proxy.ts squidJsonLogFormat (status = Squid %Ss, TCP_DENIED on refusal; https://www.squid-cache.org/Doc/config/logformat/) → modules/k8s/observability/decision-metrics.ts fluentBitConfig";
const cilium =
    'cilium/cilium:pkg/metrics/metrics.go (DropCount: namespace cilium, name drop_count_total, labels reason, direction) ; cilium/cilium:pkg/monitor/api/drop.go (133: "Policy denied")';
const guardrails =
    "our code: images/guardrails entrypoint (Prometheus exposition on the metrics port only, workloadPorts.guardrailsMetrics): " +
    'guardrails_http_requests_total{status_class="2xx|4xx|5xx"} counter, guardrails_request_duration_seconds histogram, ' +
    'guardrails_rail_decisions_total{rail="input|output",outcome="allow|block|mask|error"} counter, guardrails_jailbreak_checks_total{outcome="pass|block|error"} counter';
/** Where the request-path suite writes the guardrails server's captured /metrics. */
export const guardrailsCaptureGlob = "test/real/request-path/captured/*.prom";
const guardrailsContract: MetricEntry = {
    source: "guardrails",
    evidence: guardrails,
    basis: "contract",
    capture: guardrailsCaptureGlob,
};
const dcgm = "https://github.com/NVIDIA/dcgm-exporter/blob/main/etc/default-counters.csv";
const ksm =
    "https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/workload/pod-metrics.md";

const fluentBitGauge =
    "fluent/fluent-bit:plugins/filter_log_to_metrics/log_to_metrics.c (cmt_gauge_create(namespace log_metric, subsystem gauge, metric_name); value_field read as string, int or float) ; " +
    "our code: pipelines/cli.ts assessmentLine → modules/k8s/observability/decision-metrics.ts fluentBitConfig";

/** Metric name → exporter and evidence. Histograms are listed by their `_bucket` series. */
export const metricRegistry: Readonly<Record<string, MetricEntry>> = {
    // The guardrails server (our entrypoint), on its metrics port.
    guardrails_http_requests_total: guardrailsContract,
    guardrails_request_duration_seconds_bucket: guardrailsContract,
    guardrails_request_duration_seconds_count: guardrailsContract,
    guardrails_rail_decisions_total: guardrailsContract,
    guardrails_jailbreak_checks_total: guardrailsContract,
    // vLLM OpenAI server, /metrics on the inference Service's http port (8000).
    "vllm:num_requests_running": upstream("vllm", vllmDocs),
    "vllm:num_requests_waiting": upstream("vllm", vllmDocs),
    "vllm:kv_cache_usage_perc": upstream("vllm", vllmDocs),
    "vllm:e2e_request_latency_seconds_bucket": upstream("vllm", vllmDocs),
    "vllm:time_to_first_token_seconds_bucket": upstream("vllm", vllmDocs),
    "vllm:generation_tokens_total": upstream("vllm", vllmDocs),
    "vllm:prompt_tokens_total": upstream("vllm", vllmDocs),
    "vllm:request_success_total": upstream("vllm", vllmDocs),
    http_requests_total: upstream("vllm", vllmHttp),
    http_request_duration_seconds_bucket: upstream("vllm", vllmHttp),
    // ingress-nginx controller, port `metrics` (10254): every client request to the gateway's
    // Ingress. Its `namespace` and `service` labels clash with the target labels Prometheus adds,
    // so they are stored as `exported_namespace` and `exported_service` (honor_labels false).
    nginx_ingress_controller_requests: upstream("ingress-nginx", ingressNginx),
    nginx_ingress_controller_request_duration_seconds_bucket: upstream(
        "ingress-nginx",
        ingressNginx,
    ),
    // The platform's decision-log-metrics DaemonSet (Fluent Bit log_to_metrics over the guardrails'
    // JSON decision log lines; see decision-metrics.ts for the fields it counts).
    log_metric_counter_guardrails_decisions_total: upstream("decision-log-metrics", fluentBit),
    // The red-team assessment CronJob's result line (modules/k8s/kubeflow/redteam.ts).
    log_metric_gauge_redteam_attack_block_rate: upstream("decision-log-metrics", fluentBitGauge),
    log_metric_gauge_redteam_min_attack_block_rate: upstream(
        "decision-log-metrics",
        fluentBitGauge,
    ),
    log_metric_gauge_redteam_finished_at_seconds: upstream("decision-log-metrics", fluentBitGauge),
    // Gateway (nginx) audit lines: the guardrails upstream's response time and status class.
    log_metric_histogram_gateway_upstream_seconds_bucket: upstream(
        "decision-log-metrics",
        `${gatewayLog} ; ${fluentBitHistogram}`,
    ),
    log_metric_histogram_gateway_upstream_seconds_count: upstream(
        "decision-log-metrics",
        `${gatewayLog} ; ${fluentBitHistogram}`,
    ),
    log_metric_counter_gateway_upstream_responses_total: upstream(
        "decision-log-metrics",
        `${gatewayLog} ; ${fluentBit}`,
    ),
    // Output filter: duration and outcome of the guardrails' Presidio calls.
    log_metric_histogram_output_filter_seconds_bucket: upstream(
        "decision-log-metrics",
        `${presidioLog} ; ${fluentBitHistogram}`,
    ),
    log_metric_histogram_output_filter_seconds_count: upstream(
        "decision-log-metrics",
        `${presidioLog} ; ${fluentBitHistogram}`,
    ),
    // Egress proxies (engine `proxy`): refused requests per identity.
    log_metric_counter_egress_denied_total: upstream(
        "decision-log-metrics",
        `${squidLog} ; ${fluentBit}`,
    ),
    // Cilium agent (engine `cilium`; scraped only if the cluster's Cilium exposes agent metrics).
    cilium_drop_count_total: upstream("cilium-agent", cilium),
    // NVIDIA DCGM exporter (GPU operator), port 9400.
    DCGM_FI_DEV_GPU_UTIL: upstream("dcgm-exporter", dcgm),
    DCGM_FI_DEV_FB_USED: upstream("dcgm-exporter", dcgm),
    DCGM_FI_DEV_FB_FREE: upstream("dcgm-exporter", dcgm),
    DCGM_FI_DEV_GPU_TEMP: upstream("dcgm-exporter", dcgm),
    DCGM_FI_DEV_POWER_USAGE: upstream("dcgm-exporter", dcgm),
    // kube-state-metrics (installed by kube-prometheus-stack).
    kube_pod_container_status_restarts_total: upstream("kube-state-metrics", ksm),
    kube_pod_init_container_status_last_terminated_reason: upstream("kube-state-metrics", ksm),
    kube_pod_init_container_status_waiting_reason: upstream("kube-state-metrics", ksm),
    kube_pod_container_status_ready: upstream("kube-state-metrics", ksm),
    // Prometheus' own synthetic series for every scrape target.
    up: upstream(
        "prometheus",
        "https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series",
    ),
};

/** True when some component of the platform exports `name`. */
export function isExportedMetric(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(metricRegistry, name);
}
