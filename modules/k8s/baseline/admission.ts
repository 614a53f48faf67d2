/**
 * ValidatingAdmissionPolicies (CEL, in the API server): the restricted profile for every pod and
 * pod template in the platform's and tenants' namespaces, and the Kata sandbox for tenant pods.
 * They hold for whatever is deployed later by hand, not only for what this program deploys.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labels, partOfValue } from "../../constants/labels";
import { workloadKinds } from "../../security/pods";
import {
    CelValidation,
    podMatchConditions,
    podVariables,
    restrictedPodValidations,
    sandboxValidation,
} from "./cel";
import type { NamespaceRole } from "./plan";

/** Policy names. */
export const admissionPolicyNames = {
    restricted: "slp-restricted-pods",
    tenantSandbox: "slp-tenant-sandbox",
} as const;

/**
 * Namespace roles the restricted policy covers. Privileged system namespaces (kata-deploy, GPU
 * operator, node exporter, Calico) are left out by label, so the policy cannot lock them out.
 */
export const restrictedRoles: readonly NamespaceRole[] = ["tier", "service", "tenant"];

/** Selector of namespaces whose role is one of `roles`. */
export function roleSelector(roles: readonly NamespaceRole[]) {
    return {
        matchExpressions: [{ key: labels.namespaceRole, operator: "In", values: [...roles] }],
    };
}

/** API group and resource of each kind that carries a pod template (modules/security/pods.ts). */
export const workloadResources: Readonly<Record<string, { group: string; resource: string }>> = {
    Pod: { group: "", resource: "pods" },
    ReplicationController: { group: "", resource: "replicationcontrollers" },
    Deployment: { group: "apps", resource: "deployments" },
    StatefulSet: { group: "apps", resource: "statefulsets" },
    DaemonSet: { group: "apps", resource: "daemonsets" },
    ReplicaSet: { group: "apps", resource: "replicasets" },
    Job: { group: "batch", resource: "jobs" },
    CronJob: { group: "batch", resource: "cronjobs" },
};

/**
 * Pods and `kubectl debug` ephemeral containers (an UPDATE of the subresource), then the pod
 * templates of every workload kind, so a Deployment that could never start a pod is refused.
 */
export function podRules() {
    const byGroup = new Map<string, string[]>();
    for (const kind of workloadKinds.filter((k) => k !== "Pod")) {
        const r = workloadResources[kind];
        if (r === undefined) {
            throw new Error(`no API resource known for workload kind ${kind}`);
        }
        byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r.resource]);
    }
    return [
        {
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["pods", "pods/ephemeralcontainers"],
        },
        ...[...byGroup.entries()].map(([group, resources]) => ({
            apiGroups: [group],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources,
        })),
    ];
}

/** The spec of a pod policy. */
export function podPolicySpec(
    roles: readonly NamespaceRole[],
    validations: readonly CelValidation[],
) {
    return {
        failurePolicy: "Fail",
        matchConstraints: { namespaceSelector: roleSelector(roles), resourceRules: podRules() },
        matchConditions: podMatchConditions.map((c) => ({ ...c })),
        variables: podVariables.map((v) => ({ ...v })),
        validations: validations.map((v) => ({
            expression: v.expression,
            message: v.message,
            reason: v.reason,
        })),
    };
}

/** Arguments for {@link AdmissionPolicies}. */
export interface AdmissionPoliciesArgs {
    /** Kata RuntimeClasses tenant pods may use; the sandbox policy exists only when there are tenants. */
    readonly tenantRuntimeClasses: readonly string[];
    /** Whether the cluster has tenants. */
    readonly hasTenants: boolean;
}

/** The platform's ValidatingAdmissionPolicies and their bindings (Deny). */
export class AdmissionPolicies extends pulumi.ComponentResource {
    /** The ValidatingAdmissionPolicies created, by key (`restricted`, `tenant-sandbox`). */
    public readonly policies: Readonly<
        Record<string, k8s.admissionregistration.v1.ValidatingAdmissionPolicy>
    >;

    constructor(name: string, args: AdmissionPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:AdmissionPolicies", name, {}, opts);
        const meta = { [labels.partOf]: partOfValue, [labels.managedBy]: "pulumi" };
        const created: Record<string, k8s.admissionregistration.v1.ValidatingAdmissionPolicy> = {};
        const policy = (
            key: string,
            policyName: string,
            roles: readonly NamespaceRole[],
            validations: readonly CelValidation[],
        ) => {
            const p = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                `${name}-${key}`,
                {
                    metadata: { name: policyName, labels: meta },
                    spec: podPolicySpec(roles, validations),
                },
                { parent: this },
            );
            created[key] = p;
            new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                `${name}-${key}-binding`,
                {
                    metadata: { name: policyName, labels: meta },
                    spec: {
                        policyName,
                        validationActions: ["Deny"],
                        matchResources: { namespaceSelector: roleSelector(roles) },
                    },
                },
                { parent: this, dependsOn: [p] },
            );
        };
        policy(
            "restricted",
            admissionPolicyNames.restricted,
            restrictedRoles,
            restrictedPodValidations,
        );
        if (args.hasTenants) {
            policy(
                "tenant-sandbox",
                admissionPolicyNames.tenantSandbox,
                ["tenant"],
                [sandboxValidation(args.tenantRuntimeClasses)],
            );
        }
        this.policies = created;
        this.registerOutputs({
            policies: Object.values(created).map((p) => p.metadata.name),
        });
    }
}
