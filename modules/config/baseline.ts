/** `baseline` section: namespaces, RBAC subjects, tenants, GPU stack, secrets, ingress. */
import type { LayerContext } from "./layer";
import { Issues, obj } from "./validate";

/** In-cluster baseline settings. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BaselineConfig {}

export function parseBaseline(raw: unknown, path: string, issues: Issues, _ctx: LayerContext): BaselineConfig {
    obj(raw, path, issues, []);
    return {};
}
