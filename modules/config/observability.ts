/** `observability` section: Prometheus, Grafana, alert routing, OCI Logging. */
import type { LayerContext } from "./layer";
import { Issues, bool, join, list, num, obj, patterns, ranges, str } from "./validate";

export const receiverTypes = ["webhook", "slack", "pagerduty"] as const;
export type ReceiverType = (typeof receiverTypes)[number];

/** One Alertmanager receiver; its URL or key lives in OCI Vault, never in the stack file. */
export interface AlertReceiverConfig {
    /** Receiver name, also the route target. */
    readonly name: string;
    readonly type: ReceiverType;
    /** Name of the OCI Vault secret holding the webhook URL (webhook, slack) or routing key (pagerduty). */
    readonly secretName: string;
}

/** Alertmanager routing. */
export interface AlertingConfig {
    /**
     * Receivers; empty means alerts are only visible in Alertmanager/Grafana, which prod refuses.
     * Defaults to none.
     */
    readonly receivers: readonly AlertReceiverConfig[];
    /** Receiver of every alert not routed elsewhere. Defaults to the first receiver. */
    readonly defaultReceiver?: string;
    /** Receiver for `severity: critical` alerts. Defaults to `defaultReceiver`. */
    readonly criticalReceiver?: string;
    /** Labels alerts are grouped by. Defaults to alertname, namespace, severity. */
    readonly groupBy: readonly string[];
    /** Minutes before a firing alert is sent again. Defaults to 240. */
    readonly repeatIntervalMinutes: number;
}

/** OCI Logging (OKE clusters only). */
export interface LoggingConfig {
    /** Days OCI Logging keeps the custom guardrail decision log (30..180, step 30). Defaults to 90. */
    readonly retentionDays: number;
    /** Ship guardrail decision logs to OCI Logging. Defaults to true. */
    readonly decisionLogs: boolean;
}

/** Grafana settings. */
export interface GrafanaConfig {
    /** OCI Vault secret holding Grafana's admin password. Defaults to `grafana-admin-password`. */
    readonly adminSecretName: string;
    /** Keep Grafana's database on a volume. Defaults to true. */
    readonly persistence: boolean;
    /** Size of Grafana's volume, in GiB. Defaults to 10. */
    readonly storageGi: number;
}

/** Observability settings. */
export interface ObservabilityConfig {
    /** Install the monitoring stack. Defaults to true. */
    readonly enabled: boolean;
    /** Days Prometheus keeps samples. Defaults to 15. */
    readonly retentionDays: number;
    /** Size of Prometheus' volume, in GiB. Defaults to 50. */
    readonly storageGi: number;
    /** StorageClass of the Prometheus, Alertmanager and Grafana volumes. Defaults to `oci-bv`. */
    readonly storageClass: string;
    readonly grafana: GrafanaConfig;
    readonly alerting: AlertingConfig;
    readonly logging: LoggingConfig;
}

/** OCI Logging accepts 30, 60, …, 180 days (`retentionDuration`, @pulumi/oci `logging/log.d.ts`). */
export const logRetentionChoices = [30, 60, 90, 120, 150, 180] as const;

/** True when OCI Logging accepts `days` as a log's retention. */
export function isValidLogRetention(days: number): boolean {
    return (logRetentionChoices as readonly number[]).includes(days);
}

const k8sName = patterns.k8sName;
const vaultSecretName = patterns.vaultSecretName;

function parseReceiver(item: unknown, p: string, issues: Issues): AlertReceiverConfig | undefined {
    const r = obj(item, p, issues, ["name", "type", "secretName"], true);
    const name = str(r, "name", p, issues, { required: true, ...k8sName });
    const type = str(r, "type", p, issues, { required: true, oneOf: receiverTypes });
    const secretName = str(r, "secretName", p, issues, { required: true, ...vaultSecretName });
    if (name === undefined || type === undefined || secretName === undefined) {
        return undefined;
    }
    return { name, type, secretName };
}

/**
 * Prod must route critical alerts to a person: a receiver with an integration (every receiver
 * type here has one; Alertmanager's built-in `null` receiver, used when none is configured, has
 * none).
 */
function requireOnCall(cfg: AlertingConfig, path: string, issues: Issues, ctx: LayerContext): void {
    if (ctx.environment !== "prod" || cfg.criticalReceiver !== undefined) {
        return;
    }
    issues.add(
        join(path, "receivers"),
        cfg.receivers.length === 0 ? "(none)" : cfg.receivers.map((r) => r.name).join(", "),
        `in a prod stack, at least one receiver (${receiverTypes.join(", ")}) whose URL or routing key is an OCI Vault secret (secretName), so critical alerts reach a person (cluster ${ctx.clusterName}); set criticalReceiver to the on-call one`,
    );
}

function parseAlerting(raw: unknown, path: string, issues: Issues): AlertingConfig {
    const o = obj(raw, path, issues, [
        "receivers",
        "defaultReceiver",
        "criticalReceiver",
        "groupBy",
        "repeatIntervalMinutes",
    ]);
    const seen = new Set<string>();
    const receivers = list(o, "receivers", path, issues, (item, p) => {
        const r = parseReceiver(item, p, issues);
        if (r !== undefined && seen.has(r.name)) {
            issues.add(join(p, "name"), r.name, "a receiver name used only once");
            return undefined;
        }
        if (r !== undefined) {
            seen.add(r.name);
        }
        return r;
    });
    const names = receivers.map((r) => r.name);
    const known = (key: string): string | undefined => {
        const v = str(o, key, path, issues, k8sName);
        if (v !== undefined && !names.includes(v)) {
            issues.add(
                join(path, key),
                v,
                `the name of a receiver in ${join(path, "receivers")}: ${names.join(", ") || "(none defined)"}`,
            );
            return undefined;
        }
        return v;
    };
    const defaultReceiver = known("defaultReceiver") ?? receivers[0]?.name;
    const criticalReceiver = known("criticalReceiver") ?? defaultReceiver;
    const groupBy = list(o, "groupBy", path, issues, (item, p) => {
        if (typeof item !== "string" || !patterns.prometheusLabel.pattern.test(item)) {
            issues.add(p, item, patterns.prometheusLabel.expected);
            return undefined;
        }
        return item;
    });
    return {
        receivers,
        defaultReceiver,
        criticalReceiver,
        groupBy: o.groupBy === undefined ? ["alertname", "namespace", "severity"] : groupBy,
        repeatIntervalMinutes: num(o, "repeatIntervalMinutes", path, issues, {
            ...ranges.alertRepeatMinutes,
            default: 240,
        }),
    };
}

export function parseObservability(
    raw: unknown,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): ObservabilityConfig {
    const o = obj(raw, path, issues, [
        "enabled",
        "retentionDays",
        "storageGi",
        "storageClass",
        "grafana",
        "alerting",
        "logging",
    ]);
    const gp = join(path, "grafana");
    const g = obj(o.grafana, gp, issues, ["adminSecretName", "persistence", "storageGi"]);
    const lp = join(path, "logging");
    const l = obj(o.logging, lp, issues, ["retentionDays", "decisionLogs"]);
    let logRetention = num(l, "retentionDays", lp, issues, {
        ...ranges.logRetentionDays,
        default: 90,
    });
    if (!isValidLogRetention(logRetention)) {
        issues.add(
            join(lp, "retentionDays"),
            logRetention,
            `one of ${logRetentionChoices.join(", ")} (OCI Logging keeps logs in 30-day steps)`,
        );
        logRetention = 90;
    }
    const enabled = bool(o, "enabled", path, issues, true);
    const ap = join(path, "alerting");
    const alerting = parseAlerting(o.alerting, ap, issues);
    if (enabled) {
        requireOnCall(alerting, ap, issues, ctx);
    }
    return {
        enabled,
        retentionDays: num(o, "retentionDays", path, issues, {
            ...ranges.prometheusRetentionDays,
            default: 15,
        }),
        storageGi: num(o, "storageGi", path, issues, {
            ...ranges.prometheusStorageGi,
            default: 50,
        }),
        storageClass: str(o, "storageClass", path, issues, { default: "oci-bv", ...k8sName }),
        grafana: {
            adminSecretName: str(g, "adminSecretName", gp, issues, {
                default: "grafana-admin-password",
                ...vaultSecretName,
            }),
            persistence: bool(g, "persistence", gp, issues, true),
            storageGi: num(g, "storageGi", gp, issues, { ...ranges.grafanaStorageGi, default: 10 }),
        },
        alerting,
        logging: {
            retentionDays: logRetention,
            decisionLogs: bool(l, "decisionLogs", lp, issues, true),
        },
    };
}
