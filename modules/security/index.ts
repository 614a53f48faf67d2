/**
 * Runs the shared security rules ({@link rules}) over registered resources and cluster manifests,
 * for the offline plan and the tests. Mandatory findings make the plan exit 1.
 */
import { checkDefaultDenyCoverage, defaultDenyRule, ManifestLike } from "./coverage";
import { rules } from "./rules";
import type { Finding, ResourceDescription, Rule, RuleContext } from "./types";
import { plainInputs } from "./values";

export * from "./rules";

/**
 * Every finding of every rule over the resources (secret envelopes are unwrapped first; messages
 * never quote env values). Resources registered by the mock runtime fit as they are.
 */
export function evaluateResources(
    resources: readonly ResourceDescription[],
    ctx: RuleContext,
    ruleSet: readonly Rule[] = rules,
): Finding[] {
    const findings: Finding[] = [];
    for (const r of resources) {
        const applicable = ruleSet.filter((rule) => rule.appliesTo(r.type));
        if (applicable.length === 0) {
            continue;
        }
        const plain: ResourceDescription = {
            ...r,
            inputs: plainInputs(r.inputs) as Record<string, unknown>,
        };
        for (const rule of applicable) {
            for (const message of rule.check(plain, ctx)) {
                findings.push({
                    ruleId: rule.id,
                    severity: rule.severity,
                    resource: `${r.type}::${r.name}`,
                    message,
                });
            }
        }
    }
    return findings;
}

/** Default-deny coverage findings for the manifests of one cluster. */
export function evaluateClusterManifests(
    cluster: string,
    manifests: readonly ManifestLike[],
): Finding[] {
    return checkDefaultDenyCoverage(manifests.map((m) => plainInputs(m) as ManifestLike)).map(
        (message) => ({
            ruleId: defaultDenyRule.id,
            severity: defaultDenyRule.severity,
            resource: `cluster ${cluster}`,
            message,
        }),
    );
}

/** True when any finding is mandatory (the plan then exits 1). */
export function hasMandatory(findings: readonly Finding[]): boolean {
    return findings.some((f) => f.severity === "mandatory");
}
