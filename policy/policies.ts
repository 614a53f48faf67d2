/**
 * CrossGuard adapters over the shared security rules (`modules/security`): one
 * ResourceValidationPolicy per rule plus a StackValidationPolicy for default-deny coverage. Kept
 * apart from `index.ts` so tests can call the validators without starting the policy gRPC server.
 */
import * as policy from "@pulumi/policy";
import type {
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { environments, type Environment } from "../modules/config/schema";
import {
    checkDefaultDenyCoverage,
    defaultDenyRule,
    ManifestLike,
    ResourceDescription,
    Rule,
    RuleContext,
    rules,
    UNKNOWN,
} from "../modules/security/rules";

/**
 * The engine's "unknown during preview" sentinels (`@pulumi/policy/proxy.js`), in case a value
 * reaches us without the unknown-checking proxy around it.
 */
const unknownSentinels = new Set([
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58",
    "e48ece36-62e2-4504-bad9-02848725956a",
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

const UnknownValueError = (
    policy as unknown as { UnknownValueError?: new (...a: never[]) => Error }
).UnknownValueError;

function isUnknownAccess(e: unknown): boolean {
    return (
        (UnknownValueError !== undefined && e instanceof UnknownValueError) ||
        (e as Error)?.constructor?.name === "UnknownValueError"
    );
}

/**
 * Copies CrossGuard props into plain data, replacing every value the engine does not know yet with
 * the rules' UNKNOWN marker. Reading through the unknown-checking proxy would otherwise abort the
 * whole policy for the resource ("can't run policy during preview") at the first unknown field,
 * even when that field does not matter.
 */
export function toRuleValue(v: unknown): unknown {
    if (typeof v === "string" && unknownSentinels.has(v)) {
        return UNKNOWN;
    }
    if (typeof v !== "object" || v === null) {
        return v;
    }
    const read = (k: string | number): unknown => {
        try {
            return toRuleValue((v as Record<string | number, unknown>)[k]);
        } catch (e) {
            if (isUnknownAccess(e)) {
                return UNKNOWN;
            }
            throw e;
        }
    };
    if (Array.isArray(v)) {
        return Array.from({ length: v.length }, (_, i) => read(i));
    }
    return Object.fromEntries(Object.keys(v).map((k) => [k, read(k)]));
}

/** Policy config every adapter accepts (set with `--policy-pack-config`). */
export interface SecurityPolicyConfig {
    /** `dev`, `staging` or `prod`. Defaults to the stack tag `environment`, else `prod`. */
    readonly environment?: Environment;
    /** Registries images may come from. Defaults to any (digests are still required). */
    readonly allowedRegistries?: string[];
    /** Namespaces exempt from pod hardening. Defaults to the platform's privileged namespaces. */
    readonly privilegedNamespaces?: string[];
}

export const configSchema: PolicyConfigSchema = {
    properties: {
        environment: { type: "string", enum: [...environments] },
        allowedRegistries: { type: "array", items: { type: "string" } },
        privilegedNamespaces: { type: "array", items: { type: "string" } },
    },
};

/** The rule context from a policy's config and the stack tags; fails closed to `prod`. */
export function contextFrom(
    config: SecurityPolicyConfig,
    stackTags: ReadonlyMap<string, string>,
): RuleContext {
    const tag = stackTags.get("environment");
    const environment =
        config.environment ??
        ((environments as readonly string[]).includes(tag ?? "") ? (tag as Environment) : "prod");
    return {
        environment,
        allowedRegistries: config.allowedRegistries,
        privilegedNamespaces: config.privilegedNamespaces,
    };
}

/**
 * The rule's view of a resource. CrossGuard exposes `protect` but not `retainOnDelete`, so the
 * latter stays undefined here (checked by the offline plan only).
 */
export function describe(args: {
    type: string;
    name: string;
    props: Record<string, unknown>;
    opts?: { protect?: boolean };
}): ResourceDescription {
    return {
        type: args.type,
        name: args.name,
        inputs: toRuleValue(args.props) as Record<string, unknown>,
        protect: args.opts?.protect,
    };
}

/** The CrossGuard policy that runs one shared rule. */
export function resourcePolicy(rule: Rule): ResourceValidationPolicy {
    return {
        name: rule.id,
        description: rule.description,
        enforcementLevel: rule.severity,
        configSchema,
        validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
            if (!rule.appliesTo(args.type)) {
                return;
            }
            const ctx = contextFrom(args.getConfig<SecurityPolicyConfig>(), args.stackTags);
            for (const message of rule.check(describe(args), ctx)) {
                report(message);
            }
        },
    };
}

/** Kubernetes objects of a stack as manifests, apiVersion and kind filled in from the type token. */
function toManifest(r: PolicyResource): ManifestLike | undefined {
    const m = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/.exec(r.type);
    if (m === null) {
        return undefined;
    }
    const props = toRuleValue(r.props) as Record<string, unknown>;
    const apiVersion = m[1].startsWith("core/") ? m[1].slice("core/".length) : m[1];
    return { apiVersion, kind: m[2], ...props };
}

/** Default-deny coverage over each cluster of the stack (Kubernetes objects grouped by provider). */
export const defaultDenyCoveragePolicy: StackValidationPolicy = {
    name: defaultDenyRule.id,
    description: defaultDenyRule.description,
    enforcementLevel: defaultDenyRule.severity,
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
        const clusters = new Map<string, ManifestLike[]>();
        for (const r of args.resources) {
            const manifest = toManifest(r);
            if (manifest !== undefined) {
                const key = r.provider?.urn ?? "default";
                clusters.set(key, [...(clusters.get(key) ?? []), manifest]);
            }
        }
        for (const [provider, manifests] of clusters) {
            for (const message of checkDefaultDenyCoverage(manifests)) {
                report(clusters.size > 1 ? `${message} (cluster provider ${provider})` : message);
            }
        }
    },
};

/** Every policy of the pack: one per shared rule, then the stack-wide coverage check. */
export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
    ...rules.map(resourcePolicy),
    defaultDenyCoveragePolicy,
];
