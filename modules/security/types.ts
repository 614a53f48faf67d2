/** Shapes shared by every security rule, whoever runs them (policy pack, offline plan, tests). */
import type { Environment } from "../config/schema";

/** A resource as a rule sees it: its Pulumi type token, name, inputs and engine options. */
export interface ResourceDescription {
    /** Pulumi type token, e.g. `kubernetes:apps/v1:Deployment`, `oci:Kms/key:Key`. */
    readonly type: string;
    /** Pulumi resource name. */
    readonly name: string;
    /** Inputs as registered, with unresolved Outputs as `UNKNOWN` (see values.ts). */
    readonly inputs: Record<string, unknown>;
    /** The `protect` option; undefined when the caller cannot see it (nothing is then checked). */
    readonly protect?: boolean;
    /** The `retainOnDelete` option; undefined when the caller cannot see it (CrossGuard cannot). */
    readonly retainOnDelete?: boolean;
}

/** What the rules know about the stack being checked. */
export interface RuleContext {
    /** The stack's environment; some rules are stricter in `prod`. */
    readonly environment: Environment;
    /**
     * Registries (or registry/path prefixes, e.g. `ghcr.io/data-privacy-stack`) images may come
     * from. Defaults to no restriction (digest pinning is still required).
     */
    readonly allowedRegistries?: readonly string[];
    /**
     * Namespaces whose workloads are exempt from the pod-hardening rules (they are reported as
     * advisory instead). Defaults to the platform's privileged system namespaces.
     */
    readonly privilegedNamespaces?: readonly string[];
}

/** `mandatory` findings fail the plan and block `pulumi up`; `advisory` ones are reported. */
export type Severity = "mandatory" | "advisory";

/** One security rule over single resources. */
export interface Rule {
    /** Stable id, also the CrossGuard policy name. */
    readonly id: string;
    /** What the rule requires, and why, in one sentence. */
    readonly description: string;
    readonly severity: Severity;
    /** True when the rule looks at resources of this Pulumi type token. */
    appliesTo(type: string): boolean;
    /** Violations, each naming the object and the field; `[]` when the resource complies. */
    check(resource: ResourceDescription, ctx: RuleContext): string[];
}

/** One violation of one rule by one resource. */
export interface Finding {
    readonly ruleId: string;
    readonly severity: Severity;
    /** `<type>::<name>` of the offending resource (or `cluster <name>` for cluster-wide rules). */
    readonly resource: string;
    readonly message: string;
}
