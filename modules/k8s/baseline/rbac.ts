/**
 * RBAC for people: platform admins, ML engineers and auditors, bound to subjects from config. Every
 * rule names its API groups, resources and verbs (CIS 5.1.3: no wildcards); nobody but the subjects
 * config lists under `clusterAdmins` is bound to `cluster-admin`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { RbacConfig, RbacSubject, TenantConfig } from "../../config/baseline";
import { exceptionAnnotations, labels, partOfValue } from "../../constants/labels";
import { tenantNamespace } from "./plan";

/** A PolicyRule with everything spelled out. */
export interface Rule {
    readonly apiGroups: readonly string[];
    readonly resources: readonly string[];
    readonly verbs: readonly string[];
}

/** ClusterRoles the platform authors. */
export const roleNames = {
    platformAdmin: "slp-platform-admin",
    mlEngineer: "slp-ml-engineer",
    auditor: "slp-auditor",
} as const;

const read = ["get", "list", "watch"] as const;
const write = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
] as const;

const rule = (apiGroups: string[], resources: string[], verbs: readonly string[]): Rule => ({
    apiGroups,
    resources,
    verbs: [...verbs],
});

/**
 * Read-only view of everything the platform runs, secrets excluded. Pod logs are excluded too
 * (they may carry prompts and completions).
 */
function auditorRules(): Rule[] {
    return [
        rule(
            [""],
            [
                "pods",
                "services",
                "endpoints",
                "configmaps",
                "serviceaccounts",
                "persistentvolumeclaims",
                "persistentvolumes",
                "namespaces",
                "nodes",
                "events",
                "resourcequotas",
                "limitranges",
            ],
            read,
        ),
        rule(["apps"], ["deployments", "statefulsets", "daemonsets", "replicasets"], read),
        rule(["batch"], ["jobs", "cronjobs"], read),
        rule(["autoscaling"], ["horizontalpodautoscalers"], read),
        rule(["policy"], ["poddisruptionbudgets"], read),
        rule(["networking.k8s.io"], ["networkpolicies", "ingresses", "ingressclasses"], read),
        rule(
            ["rbac.authorization.k8s.io"],
            ["roles", "rolebindings", "clusterroles", "clusterrolebindings"],
            read,
        ),
        rule(["node.k8s.io"], ["runtimeclasses"], read),
        rule(["scheduling.k8s.io"], ["priorityclasses"], read),
        rule(
            ["admissionregistration.k8s.io"],
            [
                "validatingadmissionpolicies",
                "validatingadmissionpolicybindings",
                "validatingwebhookconfigurations",
                "mutatingwebhookconfigurations",
            ],
            read,
        ),
        rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], read),
        rule(
            ["external-secrets.io"],
            ["externalsecrets", "secretstores", "clustersecretstores"],
            read,
        ),
        rule(["cert-manager.io"], ["certificates", "issuers", "clusterissuers"], read),
        rule(
            ["monitoring.coreos.com"],
            ["servicemonitors", "podmonitors", "prometheusrules"],
            read,
        ),
        rule(["serving.kserve.io"], ["inferenceservices"], read),
    ];
}

/**
 * Deploys workloads in the namespaces it is bound in. No secrets (read or write), no exec, attach
 * or port-forward, no ExternalSecrets (one could copy any vault secret into a readable Secret),
 * no RBAC, no namespaces.
 */
function mlEngineerRules(): Rule[] {
    return [
        rule(["apps"], ["deployments", "statefulsets"], write),
        rule(["apps"], ["replicasets"], read),
        rule(["batch"], ["jobs", "cronjobs"], write),
        rule([""], ["configmaps", "services", "persistentvolumeclaims"], write),
        rule([""], ["pods"], ["get", "list", "watch", "delete"]),
        rule([""], ["pods/log"], ["get", "list"]),
        rule([""], ["events", "serviceaccounts", "resourcequotas", "limitranges"], read),
        rule(["autoscaling"], ["horizontalpodautoscalers"], write),
        rule(["policy"], ["poddisruptionbudgets"], write),
        rule(["networking.k8s.io"], ["ingresses"], write),
        rule(["networking.k8s.io"], ["networkpolicies"], read),
        rule(["serving.kserve.io"], ["inferenceservices"], write),
        rule(["monitoring.coreos.com"], ["servicemonitors", "podmonitors"], write),
        rule(["external-secrets.io"], ["externalsecrets"], read),
    ];
}

/**
 * Runs the platform day to day, without reading Secrets. Admission policies, webhooks and CRDs are read-only (only the
 * program's own identity, or a break-glass cluster-admin, changes them), and so are cluster-wide
 * RBAC objects; pods/exec is left to break-glass.
 */
function platformAdminRules(): Rule[] {
    return [
        rule(
            [""],
            [
                "pods",
                "services",
                "configmaps",
                "serviceaccounts",
                "persistentvolumeclaims",
                "namespaces",
                "resourcequotas",
                "limitranges",
            ],
            write,
        ),
        // Secret values live in OCI Vault and arrive through External Secrets: admins may clean
        // up a Secret but never read one (CIS 5.1.2; `list` and `watch` return values too).
        rule([""], ["secrets"], ["delete"]),
        rule([""], ["pods/log", "events", "endpoints", "nodes", "persistentvolumes"], read),
        rule(["apps"], ["deployments", "statefulsets", "daemonsets", "replicasets"], write),
        rule(["batch"], ["jobs", "cronjobs"], write),
        rule(["autoscaling"], ["horizontalpodautoscalers"], write),
        rule(["policy"], ["poddisruptionbudgets"], write),
        rule(["networking.k8s.io"], ["networkpolicies", "ingresses"], write),
        rule(["networking.k8s.io"], ["ingressclasses"], read),
        rule(["rbac.authorization.k8s.io"], ["roles", "rolebindings"], write),
        rule(["rbac.authorization.k8s.io"], ["clusterroles", "clusterrolebindings"], read),
        rule(["node.k8s.io"], ["runtimeclasses"], write),
        rule(["scheduling.k8s.io"], ["priorityclasses"], write),
        rule(
            ["admissionregistration.k8s.io"],
            [
                "validatingadmissionpolicies",
                "validatingadmissionpolicybindings",
                "validatingwebhookconfigurations",
                "mutatingwebhookconfigurations",
            ],
            read,
        ),
        rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], read),
        rule(["external-secrets.io"], ["externalsecrets"], write),
        rule(["external-secrets.io"], ["secretstores", "clustersecretstores"], read),
        rule(["cert-manager.io"], ["certificates", "issuers"], write),
        rule(["cert-manager.io"], ["clusterissuers"], read),
        rule(
            ["monitoring.coreos.com"],
            ["servicemonitors", "podmonitors", "prometheusrules"],
            write,
        ),
        rule(["serving.kserve.io"], ["inferenceservices"], write),
    ];
}

/** Every ClusterRole the platform authors, by name. */
export function platformRoles(): Record<string, Rule[]> {
    return {
        [roleNames.platformAdmin]: platformAdminRules(),
        [roleNames.mlEngineer]: mlEngineerRules(),
        [roleNames.auditor]: auditorRules(),
    };
}

/** RBAC subjects as Kubernetes writes them. */
export function toSubjects(subjects: readonly RbacSubject[]): k8s.types.input.rbac.v1.Subject[] {
    return subjects.map((s) => ({
        kind: s.kind,
        name: s.name,
        apiGroup: "rbac.authorization.k8s.io",
    }));
}

/** Arguments for {@link PlatformRbac}. */
export interface PlatformRbacArgs {
    /** Subjects from config. */
    readonly rbac: RbacConfig;
    /** Tenants, whose ML engineers are bound in the tenant namespace only. */
    readonly tenants: readonly TenantConfig[];
    /** Namespaces where `rbac.mlEngineers` deploy (the enabled tier namespaces). */
    readonly mlEngineerNamespaces: readonly string[];
    /** Namespace objects by name; bindings wait for theirs. */
    readonly namespaces: Readonly<Record<string, k8s.core.v1.Namespace>>;
}

/** ClusterRoles and their bindings. */
export class PlatformRbac extends pulumi.ComponentResource {
    constructor(name: string, args: PlatformRbacArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:baseline:PlatformRbac", name, {}, opts);
        const meta = { [labels.partOf]: partOfValue, [labels.managedBy]: "pulumi" };
        const roles: Record<string, k8s.rbac.v1.ClusterRole> = {};
        for (const [roleName, rules] of Object.entries(platformRoles())) {
            roles[roleName] = new k8s.rbac.v1.ClusterRole(
                `${name}-${roleName}`,
                {
                    metadata: { name: roleName, labels: meta },
                    rules: rules.map((r) => ({
                        apiGroups: [...r.apiGroups],
                        resources: [...r.resources],
                        verbs: [...r.verbs],
                    })),
                },
                { parent: this },
            );
        }
        const clusterBinding = (
            key: string,
            roleName: string,
            subjects: readonly RbacSubject[],
            extra?: Record<string, string>,
        ) => {
            if (subjects.length === 0) {
                return;
            }
            new k8s.rbac.v1.ClusterRoleBinding(
                `${name}-${key}`,
                {
                    metadata: { name: key, labels: meta, annotations: extra },
                    roleRef: {
                        apiGroup: "rbac.authorization.k8s.io",
                        kind: "ClusterRole",
                        name: roleName,
                    },
                    subjects: toSubjects(subjects),
                },
                { parent: this, dependsOn: roles[roleName] ? [roles[roleName]] : [] },
            );
        };
        const namespaceBinding = (namespace: string, subjects: readonly RbacSubject[]) => {
            if (subjects.length === 0) {
                return;
            }
            const ns = args.namespaces[namespace];
            new k8s.rbac.v1.RoleBinding(
                `${name}-${namespace}-ml-engineers`,
                {
                    metadata: { name: "slp-ml-engineers", namespace, labels: meta },
                    roleRef: {
                        apiGroup: "rbac.authorization.k8s.io",
                        kind: "ClusterRole",
                        name: roleNames.mlEngineer,
                    },
                    subjects: toSubjects(subjects),
                },
                { parent: this, dependsOn: [roles[roleNames.mlEngineer], ...(ns ? [ns] : [])] },
            );
        };

        clusterBinding("slp-platform-admins", roleNames.platformAdmin, args.rbac.platformAdmins);
        clusterBinding("slp-auditors", roleNames.auditor, args.rbac.auditors);
        // Only what config explicitly lists; the annotation tells reviewers and the policy pack so.
        clusterBinding("slp-cluster-admins", "cluster-admin", args.rbac.clusterAdmins, {
            [exceptionAnnotations.requestedByConfig]: "true",
        });
        for (const ns of args.mlEngineerNamespaces) {
            namespaceBinding(ns, args.rbac.mlEngineers);
        }
        for (const t of args.tenants) {
            namespaceBinding(tenantNamespace(t.name), t.mlEngineers);
        }
        this.registerOutputs({});
    }
}
