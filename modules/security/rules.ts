/**
 * The platform's one set of security rules. The CrossGuard pack (`policy/`), the offline plan
 * (`npm run plan`) and the tests all run exactly these; nothing here needs the Pulumi runtime.
 *
 * Per-resource rules see a {@link ResourceDescription}; the cluster-wide default-deny check sees
 * every manifest of one cluster ({@link checkDefaultDenyCoverage}). Values that are unresolved
 * Outputs arrive as {@link UNKNOWN} and never count as violations (see values.ts).
 */
import { kubernetesRules } from "./kubernetes";
import { ociRules } from "./oci";
import type { Rule } from "./types";

export { checkDefaultDenyCoverage, defaultDenyRule, deniedDirections } from "./coverage";
export type { ManifestLike } from "./coverage";
export * from "./contexts";
export * from "./kubernetes";
export * from "./oci";
export type { Finding, ResourceDescription, Rule, RuleContext, Severity } from "./types";
export { UNKNOWN, isUnknown, plainInputs } from "./values";

/** Every per-resource rule, Kubernetes first. Rule ids are unique and stable. */
export const rules: readonly Rule[] = [...kubernetesRules, ...ociRules];
