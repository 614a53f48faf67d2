/** `observability` section: Prometheus, Grafana, alerts, OCI Logging. */
import type { LayerContext } from "./layer";
import { Issues, bool, obj } from "./validate";

/** Observability settings. */
export interface ObservabilityConfig {
    /** Install the monitoring stack. Defaults to true. */
    readonly enabled: boolean;
}

export function parseObservability(
    raw: unknown,
    path: string,
    issues: Issues,
    _ctx: LayerContext,
): ObservabilityConfig {
    const o = obj(raw, path, issues, ["enabled"]);
    return { enabled: bool(o, "enabled", path, issues, true) };
}
