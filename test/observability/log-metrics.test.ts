import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { egressEngines } from "../../modules/config/network";
import { ingressTimeBucketsSeconds } from "../../modules/constants/ingress";
import { gatewayNginxConf } from "../../modules/k8s/llm/tiers";
import {
    egressProxyLogGlob,
    redteamLogGlob,
    fluentBitConfig,
    gatewayLogGlob,
    guardrailsLogGlob,
    logMetricNames,
    outputFilterBucketsSeconds,
} from "../../modules/k8s/observability/decision-metrics";
import { isExportedMetric } from "../../modules/k8s/observability/metrics";
import { metricNamesIn } from "../../modules/k8s/observability/promql";
import {
    AlertRule,
    alertGroups,
    isAlert,
    recordedSeries,
} from "../../modules/k8s/observability/rules";
import { renderSquidConfig, squidJsonLogFormat } from "../../modules/k8s/network/proxy";
import type { GatewayTierConfig } from "../../modules/config/tiers";

type Section = { kind: string; entries: [string, string][] };

/** Fluent Bit classic config → sections of (key, value) pairs, keys lower-cased. */
function sections(conf: string): Section[] {
    const out: Section[] = [];
    for (const line of conf.split("\n")) {
        const head = /^\[(\w+)\]$/.exec(line);
        if (head) {
            out.push({ kind: head[1]!, entries: [] });
        } else if (line.trim() !== "") {
            const m = /^\s+(\S+)\s+(.*)$/.exec(line);
            assert.ok(m, `unparsable line: ${line}`);
            out[out.length - 1]!.entries.push([m[1]!.toLowerCase(), m[2]!]);
        }
    }
    return out;
}
const get = (s: Section, k: string) => s.entries.filter(([key]) => key === k).map(([, v]) => v);
const one = (s: Section, k: string) => get(s, k)[0];

/** A tail glob as a RegExp over the host path. */
function globRe(glob: string): RegExp {
    return new RegExp(
        "^" +
            glob
                .split("*")
                .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
                .join("[^/]*") +
            "$",
    );
}

/** Fluent Bit's Match pattern (only a trailing `*` is used here). */
const matches = (pattern: string, tag: string) =>
    pattern.endsWith("*") ? tag.startsWith(pattern.slice(0, -1)) : tag === pattern;

/**
 * What the pipeline does with one parsed JSON log record of `tag`: the grep filters it passes and
 * the metrics (Prometheus names) it feeds, with the label values and observed value.
 */
function metricsFor(
    conf: string,
    tag: string,
    record: Record<string, unknown>,
): { name: string; labels: Record<string, string>; value?: number }[] {
    const out: { name: string; labels: Record<string, string>; value?: number }[] = [];
    for (const s of sections(conf).filter((x) => x.kind === "FILTER")) {
        if (!matches(one(s, "match")!, tag)) continue;
        const name = one(s, "name");
        if (name === "grep") {
            const [field, re] = one(s, "regex")!.split(/ (.*)/);
            if (!new RegExp(re!).test(String(record[field!] ?? ""))) return [];
        }
        if (name !== "log_to_metrics") continue;
        const regex = get(s, "regex");
        if (regex.length > 0) {
            const [field, re] = regex[0]!.split(/ (.*)/);
            const v = record[field!];
            if (typeof v !== "string" || !new RegExp(re!).test(v)) continue;
        }
        const mode = one(s, "metric_mode")!;
        const labels = Object.fromEntries(
            get(s, "label_field").map((l) => [l, String(record[l] ?? "")]),
        );
        const vf = one(s, "value_field");
        out.push({
            name: `log_metric_${mode}_${one(s, "metric_name")}`,
            labels,
            value: vf === undefined ? undefined : parseFloat(String(record[vf])),
        });
    }
    return out;
}

const gatewayCfg = {
    enabled: true,
    replicas: 2,
    maxBodySize: "1m",
    rateLimitRps: 5,
} as unknown as GatewayTierConfig;

/** The gateway's `log_format audit` template, joined into one string. */
function gatewayLogFormat(): string {
    const conf = gatewayNginxConf(gatewayCfg);
    const m = /log_format audit escape=json ((?:'[^']*'\s*)+);/.exec(conf);
    assert.ok(m, "the gateway has an audit log_format");
    return [...m[1]!.matchAll(/'([^']*)'/g)].map((x) => x[1]).join("");
}

/** nginx's `$upstream_status_class` map, evaluated like nginx (regexes in order, else default). */
function upstreamClass(status: string): string {
    const conf = gatewayNginxConf(gatewayCfg);
    const block = /map \$upstream_status \$upstream_status_class \{([^}]*)\}/.exec(conf);
    assert.ok(block, "the gateway maps $upstream_status to a class");
    let def = "";
    for (const line of block[1]!.split("\n").map((l) => l.trim())) {
        const d = /^default "(.*)";$/.exec(line);
        if (d) def = d[1]!;
        const r = /^"~(.*)" "(.*)";$/.exec(line);
        if (r && new RegExp(r[1]!).test(status)) return r[2]!;
    }
    return def;
}

/** One gateway audit line as nginx would write it for these variable values. */
function gatewayLine(vars: Record<string, string>): Record<string, unknown> {
    const line = gatewayLogFormat().replace(/\$(\w+)/g, (_, v: string) => {
        assert.ok(v in vars, `sample has no $${v}`);
        return vars[v]!;
    });
    return JSON.parse(line) as Record<string, unknown>;
}

const sampleVars = (upstreamStatus: string, upstreamTime: string, status = "200") => ({
    time_iso8601: "2026-01-01T00:00:00+00:00",
    request_id: "abc",
    api_key_id: "0123456789ab",
    request_method: "POST",
    uri: "/v1/chat/completions",
    status,
    body_bytes_sent: "12",
    request_time: "1.250",
    upstream_status: upstreamStatus,
    upstream_status_class: upstreamClass(upstreamStatus),
    upstream_response_time: upstreamTime,
});

describe("observability: log-derived tier metrics (Fluent Bit)", () => {
    const conf = fluentBitConfig();
    const secs = sections(conf);

    it("tails the guardrails, gateway and egress-proxy container logs, each file set only", () => {
        const paths = secs.filter((s) => s.kind === "INPUT").map((s) => one(s, "path"));
        assert.deepEqual(paths, [
            guardrailsLogGlob,
            gatewayLogGlob,
            egressProxyLogGlob,
            redteamLogGlob,
        ]);
        const id = "0".repeat(64);
        const files = {
            guardrails: `/var/log/containers/guardrails-5d8c7-x2x9z_llm-guardrails_guardrails-${id}.log`,
            gateway: `/var/log/containers/gateway-6f7b9-abcde_llm-gateway_nginx-${id}.log`,
            proxy: `/var/log/containers/egress-proxy-inference-7c9d-qwert_egress-proxy_squid-${id}.log`,
            other: `/var/log/containers/inference-5d8c7-x2x9z_llm-inference_vllm-${id}.log`,
        };
        assert.ok(globRe(guardrailsLogGlob).test(files.guardrails));
        assert.ok(globRe(gatewayLogGlob).test(files.gateway));
        assert.ok(globRe(egressProxyLogGlob).test(files.proxy));
        for (const g of [guardrailsLogGlob, gatewayLogGlob, egressProxyLogGlob]) {
            assert.ok(!globRe(g).test(files.other), `${g} reads the inference tier's logs`);
        }
        assert.ok(!globRe(gatewayLogGlob).test(files.guardrails));
        // The red-team CronJob's pods (`<cronjob>-<schedule time>-<suffix>`), container assess.
        const rt = `/var/log/containers/redteam-assessment-29412345-abcde_ml-pipelines_assess-${id}.log`;
        assert.ok(globRe(redteamLogGlob).test(rt));
        for (const f of Object.values(files)) assert.ok(!globRe(redteamLogGlob).test(f));
    });

    it("every log_to_metrics filter feeds a registered metric, with one Regex and bounded labels", () => {
        const l2m = secs.filter((s) => s.kind === "FILTER" && one(s, "name") === "log_to_metrics");
        assert.equal(l2m.length, 8);
        for (const s of l2m) {
            const mode = one(s, "metric_mode")!;
            const base = `log_metric_${mode}_${one(s, "metric_name")}`;
            const series = mode === "histogram" ? `${base}_bucket` : base;
            assert.ok(isExportedMetric(series), `${series} is not in the registry`);
            // log_to_metrics keeps a record as soon as one Regex matches: more would be ignored.
            assert.ok(get(s, "regex").length <= 1, `${base} has several Regex rules`);
            for (const l of get(s, "label_field")) {
                assert.ok(
                    [
                        "direction",
                        "verdict",
                        "filter_outcome",
                        "upstream_status_class",
                        "identity",
                    ].includes(l),
                    `${base} labels by ${l} (unbounded or sensitive)`,
                );
            }
            if (mode === "gauge") {
                assert.ok(one(s, "value_field"), `${base} has no value_field`);
            }
            if (mode === "histogram") {
                assert.ok(one(s, "value_field"), `${base} has no value_field`);
                const b = get(s, "bucket").map(Number);
                assert.ok(b.length > 0, `${base} uses default buckets`);
                assert.deepEqual(
                    [...b].sort((x, y) => x - y),
                    b,
                );
            }
        }
        assert.deepEqual(
            Object.values(logMetricNames).filter((n) => !isExportedMetric(n)),
            [logMetricNames.gatewayUpstreamSeconds, logMetricNames.outputFilterSeconds],
            "only histogram base names are absent (their series are registered)",
        );
    });

    it("a gateway line feeds the guardrails latency histogram and the status-class counter", () => {
        const ok = metricsFor(conf, "gateway.x", gatewayLine(sampleVars("200", "1.234")));
        assert.deepEqual(ok, [
            { name: logMetricNames.gatewayUpstreamSeconds, labels: {}, value: 1.234 },
            {
                name: logMetricNames.gatewayUpstreamResponses,
                labels: { upstream_status_class: "2xx" },
                value: undefined,
            },
        ]);
        const bad = metricsFor(conf, "gateway.x", gatewayLine(sampleVars("504", "300.001", "504")));
        assert.deepEqual(bad[1]!.labels, { upstream_status_class: "5xx" });
        // nginx answered itself (rate limit): no upstream, nothing observed as a 0 s response.
        assert.deepEqual(metricsFor(conf, "gateway.x", gatewayLine(sampleVars("", "", "429"))), []);
        // A retry's status list is classed by its last attempt.
        assert.equal(upstreamClass("502, 200"), "2xx");
        assert.equal(upstreamClass("200, 503"), "5xx");
        // Health checks and other events are not gateway requests.
        assert.deepEqual(metricsFor(conf, "gateway.x", { event: "other" }), []);
    });

    it("the gateway's log line carries no key, header, body or query string", () => {
        const fmt = gatewayLogFormat();
        const vars = [...fmt.matchAll(/\$(\w+)/g)].map((m) => m[1]!);
        const allowed = [
            "time_iso8601",
            "request_id",
            "api_key_id",
            "request_method",
            "uri",
            "status",
            "body_bytes_sent",
            "request_time",
            "upstream_status",
            "upstream_status_class",
            "upstream_response_time",
        ];
        assert.deepEqual(
            vars.filter((v) => !allowed.includes(v)),
            [],
            "unexpected variables in the audit line",
        );
        assert.doesNotMatch(
            fmt,
            /\$(http_|request_body|args|arg_|cookie_|request_uri|query_string)/,
        );
        assert.match(gatewayNginxConf(gatewayCfg), /log_format audit escape=json/);
    });

    it("an output-filter decision line feeds the output filter histogram by outcome", () => {
        const line = {
            event: "guardrails.decision",
            direction: "output",
            rails: ["mask sensitive data via presidio"],
            verdict: "block",
            entities: { error: "URLError" },
            filter_seconds: 5.01,
            filter_outcome: "error",
        };
        const m = metricsFor(conf, "guardrails.x", line);
        assert.deepEqual(
            m.map((x) => [x.name, x.labels, x.value]),
            [
                [logMetricNames.decisions, { direction: "output", verdict: "block" }, undefined],
                [logMetricNames.outputFilterSeconds, { filter_outcome: "error" }, 5.01],
            ],
        );
        // An input rail's line (no filter fields) is still only a decision.
        const input = { event: "guardrails.decision", direction: "input", verdict: "allow" };
        assert.deepEqual(
            metricsFor(conf, "guardrails.x", input).map((x) => x.name),
            [logMetricNames.decisions],
        );
    });

    it("the guardrails action writes the fields the pipeline reads", () => {
        const src = fs.readFileSync(
            path.join(__dirname, "../../guardrails/default/actions.py"),
            "utf8",
        );
        assert.match(src, /"filter_seconds": round\(time\.monotonic\(\) - started, 4\)/);
        assert.match(src, /_filter_timing\(started, "error"\)/);
        assert.match(src, /_filter_timing\(started, "ok"\)/);
    });

    it("a denied egress-proxy request counts for its identity; allowed ones do not", () => {
        const fmt = squidJsonLogFormat("inference").replace(/^logformat platform_json /, "");
        const line = (status: string) =>
            JSON.parse(
                fmt
                    .replace("%ts.%03tu", "1767225600.123")
                    .replace("%tr", "3")
                    .replace("%>a", "10.0.0.7")
                    .replace("%Ss", status)
                    .replace("%>Hs", "403")
                    .replace("%#rm", "CONNECT")
                    .replace("%#ru", "evil.example.com:443"),
            ) as Record<string, unknown>;
        assert.deepEqual(metricsFor(conf, "egress.x", line("TCP_DENIED")), [
            {
                name: logMetricNames.egressDenied,
                labels: { identity: "inference" },
                value: undefined,
            },
        ]);
        assert.deepEqual(metricsFor(conf, "egress.x", line("TCP_TUNNEL")), []);
    });

    it("Squid logs that JSON line to stdout, with client-controlled fields URL-encoded", () => {
        const squid = renderSquidConfig("inference", [
            "objectstorage.us-ashburn-1.oraclecloud.com",
        ]);
        assert.ok(squid.split("\n").includes("access_log stdio:/dev/stdout platform_json"));
        assert.ok(squid.split("\n").includes(squidJsonLogFormat("inference")));
        const fmt = squidJsonLogFormat("inference");
        assert.match(fmt, /"method":"%#rm"/);
        assert.match(fmt, /"destination":"%#ru"/);
        // No request or reply headers (Proxy-Authorization, cookies) and no user names.
        assert.doesNotMatch(fmt, /%[#"'[/]?[<>]?h\b|%[#"'[/]?u[nlise]\b/);
        assert.throws(() => renderSquidConfig('x","identity":"y', ["a.example.com"]), /DNS label/);
    });
});

describe("observability: tier and egress alerts", () => {
    const rulesOf = (opts: Parameters<typeof alertGroups>[0]): AlertRule[] =>
        alertGroups(opts)
            .flatMap((g) => g.rules)
            .filter(isAlert);

    it("every tier has a latency and a 5xx/error alert, on registered metrics, for every engine", () => {
        for (const engine of egressEngines) {
            const rules = rulesOf({ gpu: true, egressEngine: engine });
            for (const r of rules) {
                for (const n of metricNamesIn(r.expr)) {
                    assert.ok(
                        isExportedMetric(n) || recordedSeries().includes(n),
                        `${r.alert} uses unregistered ${n}`,
                    );
                }
            }
            const names = rules.map((r) => r.alert);
            for (const a of [
                "GatewayLatencyP95High",
                "Gateway5xxRateHigh",
                "GuardrailsLatencyP95High",
                "Guardrails5xxRateHigh",
                "InferenceLatencyP95High",
                "Inference5xxRateHigh",
                "OutputFilterLatencyP95High",
                "OutputFilterErrorRateHigh",
            ]) {
                assert.ok(names.includes(a), `${engine}: missing ${a}`);
            }
        }
    });

    it("guardrails latency and output-filter alerts read the log-derived series they are named after", () => {
        const rules = rulesOf({ gpu: false });
        const expr = (a: string) => rules.find((r) => r.alert === a)!.expr;
        assert.match(
            expr("GuardrailsLatencyP95High"),
            /histogram_quantile\(0\.95, sum by \(le\) \(rate\(log_metric_histogram_gateway_upstream_seconds_bucket\[5m\]\)\)\) > 60$/,
        );
        // The guardrails server counts its own 5xx; the gateway's view of it is Gateway5xxRateHigh.
        assert.match(
            expr("Guardrails5xxRateHigh"),
            /guardrails_http_requests_total\{status_class="5xx"\}/,
        );
        assert.match(expr("OutputFilterLatencyP95High"), /output_filter_seconds_bucket.*> 2$/);
        assert.match(
            expr("OutputFilterErrorRateHigh"),
            /log_metric_histogram_output_filter_seconds_count\{filter_outcome="error"\}/,
        );
    });

    it("denied egress: Squid refusals per identity (proxy), policy drops (cilium), none for Calico Enterprise", () => {
        const proxy = rulesOf({ gpu: false, egressEngine: "proxy" });
        const spike = proxy.find((r) => r.alert === "EgressDenialSpike")!;
        assert.match(
            spike.expr,
            /^sum by \(identity\) \(increase\(log_metric_counter_egress_denied_total\[10m\]\)\) > 10$/,
        );
        assert.ok(!proxy.some((r) => r.alert === "EgressPolicyDropSpike"));

        const cilium = rulesOf({ gpu: false, egressEngine: "cilium" });
        const drops = cilium.find((r) => r.alert === "EgressPolicyDropSpike")!;
        assert.match(
            drops.expr,
            /cilium_drop_count_total\{reason="Policy denied",direction=~"\(\?i\)egress"\}/,
        );
        assert.ok(!cilium.some((r) => r.alert === "EgressDenialSpike"));

        const calico = alertGroups({ gpu: false, egressEngine: "calico-enterprise" });
        assert.ok(!calico.some((g) => g.name === "llm-egress"));
    });

    it("without the log pipeline no alert reads a log-derived series", () => {
        const rules = rulesOf({ gpu: false, logMetrics: false, egressEngine: "proxy" });
        const logDerived = Object.values(logMetricNames).filter(
            (n) => n !== logMetricNames.decisions,
        );
        for (const r of rules) {
            assert.ok(!logDerived.some((n) => r.expr.includes(n)), `${r.alert} needs the pipeline`);
        }
    });

    it("refuses p95 thresholds the log-derived histograms cannot measure", () => {
        const maxGw = ingressTimeBucketsSeconds[ingressTimeBucketsSeconds.length - 1]!;
        const maxOf = outputFilterBucketsSeconds[outputFilterBucketsSeconds.length - 1]!;
        assert.throws(
            () => alertGroups({ gpu: false, thresholds: { guardrailsLatencyP95Seconds: maxGw } }),
            /guardrails p95 latency threshold.*largest bucket/,
        );
        assert.throws(
            () => alertGroups({ gpu: false, thresholds: { outputFilterLatencyP95Seconds: maxOf } }),
            /output filter p95 latency threshold/,
        );
        assert.doesNotThrow(() =>
            alertGroups({
                gpu: false,
                logMetrics: false,
                thresholds: { outputFilterLatencyP95Seconds: maxOf },
            }),
        );
    });
});
