/** `kubeflow` section: Kubeflow Pipelines for MLOps. */
import type { LayerContext } from "./layer";
import { Issues, bool, obj } from "./validate";

/** Kubeflow settings. */
export interface KubeflowConfig {
    /** Install Kubeflow Pipelines. Defaults to false. */
    readonly enabled: boolean;
}

export function parseKubeflow(raw: unknown, path: string, issues: Issues, _ctx: LayerContext): KubeflowConfig {
    const o = obj(raw, path, issues, ["enabled"]);
    return { enabled: bool(o, "enabled", path, issues, false) };
}
