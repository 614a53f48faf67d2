/** Namespaces with Pod Security labels, a token-less default ServiceAccount, quotas and limit ranges. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { QuotaConfig } from "../../config/baseline";
import { annotations, labels, partOfValue } from "../../constants/labels";
import type { NamespacePlan } from "./plan";

/** Pod Security level of a namespace role: everything is `restricted` except named system namespaces. */
export function podSecurityLabels(ns: NamespacePlan, version: string): Record<string, string> {
    // Privileged namespaces still audit and warn at `restricted`, so every exception stays visible.
    const enforce = ns.podSecurity ?? (ns.role === "privileged" ? "privileged" : "restricted");
    const psa = "pod-security.kubernetes.io";
    return {
        [`${psa}/enforce`]: enforce,
        [`${psa}/enforce-version`]: version,
        [`${psa}/audit`]: "restricted",
        [`${psa}/audit-version`]: version,
        [`${psa}/warn`]: "restricted",
        [`${psa}/warn-version`]: version,
    };
}

/** Every label of a platform namespace. */
export function namespaceLabels(ns: NamespacePlan, version: string): Record<string, string> {
    return {
        ...podSecurityLabels(ns, version),
        [labels.namespaceRole]: ns.role,
        [labels.partOf]: partOfValue,
        [labels.managedBy]: "pulumi",
        ...(ns.tenant !== undefined ? { [labels.tenant]: ns.tenant } : {}),
    };
}

/**
 * ResourceQuota `hard` of a namespace. Privileged namespaces cap requests only (their DaemonSets
 * come from upstream charts); tenants may not open load balancers or node ports.
 */
export function quotaHard(ns: NamespacePlan, quota: QuotaConfig): Record<string, string> {
    const hard: Record<string, string> = {
        "requests.cpu": quota.cpu,
        "requests.memory": quota.memory,
        pods: String(quota.pods),
        // Both the runc device plugin (`gpu`) and Kata passthrough (`pgpu`) count against the cap.
        "requests.nvidia.com/gpu": String(quota.gpus),
        "requests.nvidia.com/pgpu": String(quota.gpus),
    };
    if (ns.role !== "privileged") {
        hard["limits.cpu"] = quota.cpu;
        hard["limits.memory"] = quota.memory;
    }
    if (ns.role === "tenant") {
        hard["services.loadbalancers"] = "0";
        hard["services.nodeports"] = "0";
    }
    return hard;
}

/** LimitRange defaults for containers that state no resources. */
export function limitRangeLimits(ns: NamespacePlan): k8s.types.input.core.v1.LimitRangeItem[] {
    const defaultRequest = { cpu: "100m", memory: "128Mi", "ephemeral-storage": "256Mi" };
    if (ns.role === "privileged") {
        return [{ type: "Container", defaultRequest }];
    }
    return [
        {
            type: "Container",
            defaultRequest,
            default: { cpu: "1", memory: "1Gi", "ephemeral-storage": "2Gi" },
        },
    ];
}

/** Arguments for {@link Namespaces}. */
export interface NamespacesArgs {
    /** Namespaces to create. */
    readonly namespaces: readonly NamespacePlan[];
    /** Pod Security version label value, e.g. `v1.34`. */
    readonly podSecurityVersion: string;
}

/** The platform's and the tenants' namespaces, each with its guard rails. */
export class Namespaces extends pulumi.ComponentResource {
    /** Namespace objects by name, for `dependsOn`. */
    public readonly byName: Readonly<Record<string, k8s.core.v1.Namespace>>;

    constructor(name: string, args: NamespacesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:Namespaces", name, {}, opts);
        const byName: Record<string, k8s.core.v1.Namespace> = {};
        for (const plan of args.namespaces) {
            const key = `${name}-${plan.name}`;
            const ns = new k8s.core.v1.Namespace(
                key,
                {
                    metadata: {
                        name: plan.name,
                        labels: namespaceLabels(plan, args.podSecurityVersion),
                        annotations:
                            plan.privilegedReason !== undefined
                                ? { [annotations.privilegedReason]: plan.privilegedReason }
                                : undefined,
                    },
                },
                { parent: this },
            );
            byName[plan.name] = ns;
            const inNs = { parent: this, dependsOn: [ns] };
            new k8s.core.v1.ServiceAccountPatch(
                `${key}-default-sa`,
                {
                    metadata: {
                        name: "default",
                        namespace: plan.name,
                        // The controller manager creates `default`; take ownership of the one field.
                        annotations: { "pulumi.com/patchForce": "true" },
                    },
                    automountServiceAccountToken: false,
                },
                inNs,
            );
            new k8s.core.v1.ResourceQuota(
                `${key}-quota`,
                {
                    metadata: { name: "platform-quota", namespace: plan.name },
                    spec: { hard: quotaHard(plan, plan.quota) },
                },
                inNs,
            );
            new k8s.core.v1.LimitRange(
                `${key}-limits`,
                {
                    metadata: { name: "platform-defaults", namespace: plan.name },
                    spec: { limits: limitRangeLimits(plan) },
                },
                inNs,
            );
        }
        this.byName = byName;
        this.registerOutputs({
            namespaces: Object.values(byName).map((n) => n.metadata.name),
        });
    }
}
