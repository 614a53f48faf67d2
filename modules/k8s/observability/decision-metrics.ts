/**
 * Guardrail decision metrics. The NeMo Guardrails server exports no block or redaction counters
 * (its opt-in Prometheus exporter carries only `guardrails.nonstream.*` admission-queue metrics),
 * so a Fluent Bit DaemonSet counts the guardrails' JSON decision log lines with `log_to_metrics`.
 *
 * Decision log contract (one JSON object per line on the guardrails container's stdout):
 * `{"event": "guardrails.decision", "request_id": "...", "config_id": "...",
 *   "direction": "input" | "output", "rails": ["..."], "verdict": "allow" | "block" | "redact"}`.
 * Prompt text and secrets are never part of it.
 */
import type * as k8s from "@pulumi/kubernetes";
import { labels, partOfValue } from "../../constants/labels";
import { tierNamespaces } from "../../constants/namespaces";
import { images } from "../../constants/images";
import { decisionMetrics } from "./monitors";

/** Host path glob of the guardrails containers' log files. */
export const guardrailsLogGlob = `/var/log/containers/guardrails-*_${tierNamespaces.guardrails}_*.log`;

/** Fluent Bit configuration (classic format): tail → JSON → keep decisions → count → expose. */
export function fluentBitConfig(): string {
    return [
        "[SERVICE]",
        "    Flush         5",
        "    Log_Level     info",
        "    Parsers_File  /fluent-bit/etc/custom/parsers.conf",
        "    HTTP_Server   On",
        "    HTTP_Listen   0.0.0.0",
        `    HTTP_Port     ${decisionMetrics.healthPort}`,
        "    Health_Check  On",
        "",
        "[INPUT]",
        "    Name              tail",
        `    Path              ${guardrailsLogGlob}`,
        "    Tag               guardrails.*",
        "    multiline.parser  cri",
        "    Read_from_Head    false",
        "    Mem_Buf_Limit     16MB",
        "    Skip_Long_Lines   On",
        "",
        "[FILTER]",
        "    Name          parser",
        "    Match         guardrails.*",
        "    Key_Name      log",
        "    Parser        decision_json",
        "    Reserve_Data  Off",
        "",
        "[FILTER]",
        "    Name   grep",
        "    Match  guardrails.*",
        "    Regex  event ^guardrails\\.decision$",
        "",
        "[FILTER]",
        "    Name                log_to_metrics",
        "    Match               guardrails.*",
        "    Tag                 decision_metrics",
        "    Metric_Mode         counter",
        "    Metric_Name         guardrails_decisions_total",
        "    Metric_Description  Guardrail decisions by direction and verdict",
        "    Label_Field         direction",
        "    Label_Field         verdict",
        "",
        "[OUTPUT]",
        "    Name   prometheus_exporter",
        "    Match  decision_metrics",
        "    Host   0.0.0.0",
        `    Port   ${decisionMetrics.port.port}`,
        "",
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
