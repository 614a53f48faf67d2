/**
 * The checks of a validated configuration that need more than the configuration: the rails folder
 * a cluster names (it must exist, hold only rail files, have a main model and define every flow
 * it references) and the inference autoscaling bounds against the namespace quota. They used to
 * be thrown from inside components (a missing rails folder was a "program error", exit 1); they
 * now run before any resource, through the same error as every other configuration mistake
 * (ConfigValidationError: exit 2 in the plan, a `pulumi.RunError` without stack trace under
 * `pulumi up`), each at the stack-file key that set the value. The components keep the same
 * checks as assertions. Test: test/config/mistakes.test.ts.
 */
import type * as oci from "@pulumi/oci";
import {
    ConfigIssue,
    ConfigValidationError,
    PlatformConfig,
    findStackFile,
    layerKeyPath,
    stackFileLocator,
} from "./config";
import { tierNamespaces } from "./constants/namespaces";
import {
    inferenceQuota,
    inferenceQuotaProblems,
    missingFlows,
    readRailFiles,
    renderedRails,
} from "./k8s/llm";
import { railsRoot } from "./k8s/llm/rails";
import { ClusterLookups, askProvider, judgeAnswers } from "./oci/lookups";

/** Every problem of `cfg` found by the deploy-time checks (empty when there is none). */
export function preflightIssues(
    cfg: PlatformConfig,
    opts: { readonly railsRoot?: string } = {},
): ConfigIssue[] {
    const out: ConfigIssue[] = [];
    const add = (issue: ConfigIssue) => {
        if (
            !out.some(
                (o) =>
                    o.path === issue.path &&
                    o.expected === issue.expected &&
                    o.value === issue.value,
            )
        ) {
            out.push(issue);
        }
    };
    for (const cluster of cfg.clusters) {
        const tiers = cluster.layer.tiers;
        if (tiers.guardrails.enabled) {
            const path = layerKeyPath(cluster, "tiers.guardrails.configId");
            const configId = tiers.guardrails.configId;
            try {
                const files = readRailFiles(configId, opts.railsRoot ?? railsRoot);
                const missing = missingFlows(renderedRails(tiers, files));
                if (missing.length > 0) {
                    add({
                        path,
                        value: configId,
                        expected: `a rails configuration whose flows are all defined: guardrails/${configId} references ${missing.join(", ")}; define them in rails/*.co or fix the name`,
                    });
                }
            } catch (e) {
                add({
                    path,
                    value: configId,
                    expected: `a rails configuration that loads: ${(e as Error).message}`,
                });
            }
        }
        if (tiers.inference.enabled) {
            for (const problem of inferenceQuotaProblems(tiers, inferenceQuota(cluster))) {
                add({
                    path: layerKeyPath(cluster, "tiers.inference.hpa.maxReplicas"),
                    value: tiers.inference.hpa.maxReplicas,
                    expected: `a maximum the ${tierNamespaces.inference} quota of cluster ${cluster.name} holds (${problem})`,
                });
            }
        }
    }
    return out;
}

/**
 * Runs the deploy-time checks and returns `cfg`, or throws a {@link ConfigValidationError} with
 * every problem, placed at the lines of the stack file when it is found beside the program.
 */
export function preflight(cfg: PlatformConfig): PlatformConfig {
    const issues = preflightIssues(cfg);
    if (issues.length === 0) {
        return cfg;
    }
    throw located(cfg, issues);
}

/** The error for `issues`, placed at the lines of the stack file when it is beside the program. */
function located(cfg: PlatformConfig, issues: readonly ConfigIssue[]): ConfigValidationError {
    const e = new ConfigValidationError(issues);
    const file = findStackFile(process.cwd(), cfg.stack);
    return file === undefined ? e : e.withLocations(stackFileLocator(file, cfg.project));
}

/**
 * The provider lookups of every OKE cluster (modules/oci/lookups.ts), asked through
 * `providerFor(region)` and judged before any other resource is declared. Returns the checked
 * answers by cluster name, or throws one {@link ConfigValidationError} with every problem at its
 * stack-file line (exit 2 in the plan, a `pulumi.RunError` without trace under `pulumi up`).
 * Test: test/oci/provider-preflight.test.ts (and under cmd/run: test/real/config/pulumi-run.test.ts).
 */
export async function providerPreflight(
    cfg: PlatformConfig,
    providerFor: (region: string) => oci.Provider,
): Promise<Readonly<Record<string, ClusterLookups>>> {
    const oke = cfg.clusters
        .map((cluster, index) => ({ cluster, index }))
        .filter(({ cluster }) => cluster.target === "oke");
    const answers = await Promise.all(
        oke.map(({ cluster }) => askProvider(cfg, providerFor(cluster.region))),
    );
    const issues: ConfigIssue[] = [];
    const out: Record<string, ClusterLookups> = {};
    oke.forEach(({ cluster, index }, n) => {
        const judged = judgeAnswers(cfg, cluster, index, answers[n]!);
        for (const issue of judged.issues) {
            if (!issues.some((o) => o.path === issue.path && o.expected === issue.expected)) {
                issues.push(issue);
            }
        }
        if (judged.lookups !== undefined) out[cluster.name] = judged.lookups;
    });
    if (issues.length === 0) {
        return out;
    }
    throw located(cfg, issues);
}
