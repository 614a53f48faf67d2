/**
 * The rollout identity of the MLOps pipelines: what "promotion" may do, as plain data.
 *
 * Promotion = replace the content of one ConfigMap (the guardrails rules, or the inference model
 * reference) and restart the Deployment that reads it. Both tiers read their ConfigMap at start
 * (NeMo Guardrails loads rails once; the model loader runs as an init container), and the
 * checksum annotation that rolls them is computed by Pulumi, so a pipeline-only rollout needs the
 * restart. The restart is a `patch` of `spec.template.metadata.annotations`; because `patch` on a
 * Deployment could otherwise rewrite the whole pod spec, {@link rolloutGuard} is
 * enforced by a ValidatingAdmissionPolicy bound to this identity only: it rejects any change
 * other than the restart annotation. Nothing else is granted: no Secrets, no `pods/exec`, no
 * create/delete, no RBAC objects, no wildcards.
 */
import { rolloutTargets } from "../../constants/rollout";

/** One RBAC policy rule (rbac.authorization.k8s.io/v1). */
export interface PolicyRule {
    readonly apiGroups: readonly string[];
    readonly resources: readonly string[];
    readonly verbs: readonly string[];
    readonly resourceNames?: readonly string[];
}

/** A namespaced Role to declare, and why it exists. */
export interface RoleSpec {
    readonly namespace: string;
    readonly name: string;
    readonly rules: readonly PolicyRule[];
}

/** ServiceAccount the promotion pipelines run under. */
export const rolloutServiceAccountName = "slp-rollout";

/** Annotation the restart step sets (the same key `kubectl rollout restart` uses). */
export const restartAnnotation = "kubectl.kubernetes.io/restartedAt";

/** Name of the Role (and RoleBinding) in each target namespace. */
export const rolloutRoleName = "slp-rollout";

/**
 * The Roles that make up promotion: one per target namespace, each limited by `resourceNames`
 * to that namespace's ConfigMap and Deployment. `get` reads before writing (optimistic
 * concurrency on `resourceVersion`); ConfigMaps get `update` (the promote step replaces `data`
 * whole); Deployments get only `patch` (the restart annotation). Every verb here is used by
 * pipelines/promote/promote.ts, and test/kubeflow checks there is none to spare.
 */
export function rolloutRoles(): RoleSpec[] {
    return Object.values(rolloutTargets).map((t) => ({
        namespace: t.namespace,
        name: rolloutRoleName,
        rules: [
            {
                apiGroups: [""],
                resources: ["configmaps"],
                verbs: ["get", "update"],
                resourceNames: [t.configMap],
            },
            {
                apiGroups: ["apps"],
                resources: ["deployments"],
                verbs: ["get", "patch"],
                resourceNames: [t.deployment],
            },
        ],
    }));
}

/**
 * What a pipeline step needs in its own namespace to run at all: Argo's executor (≥ 3.4) reports
 * step outputs as `WorkflowTaskResult`s. Nothing else (KFP parameters go through the KFP API and
 * ML Metadata, not the Kubernetes API).
 */
export function pipelineRuntimeRole(namespace: string): RoleSpec {
    return {
        namespace,
        name: `${rolloutServiceAccountName}-runtime`,
        rules: [
            {
                apiGroups: ["argoproj.io"],
                resources: ["workflowtaskresults"],
                verbs: ["create", "patch"],
            },
        ],
    };
}

/** Verbs and resources the rollout identity must never hold, whatever the rule. */
export const forbidden = {
    verbs: ["*", "escalate", "bind", "impersonate", "delete", "deletecollection", "create"],
    resources: [
        "*",
        "secrets",
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "serviceaccounts/token",
    ],
    apiGroups: ["*", "rbac.authorization.k8s.io", "admissionregistration.k8s.io"],
} as const;

/**
 * Every way a set of rules is broader than promotion allows, as sentences. Empty means fine.
 * The runtime role may `create` WorkflowTaskResults; pass `allowCreateOn` for that.
 */
export function rbacViolations(
    rules: readonly PolicyRule[],
    allowCreateOn: readonly string[] = [],
): string[] {
    const out: string[] = [];
    for (const r of rules) {
        const where = `${r.apiGroups.join(",")}/${r.resources.join(",")}`;
        for (const g of r.apiGroups) {
            if ((forbidden.apiGroups as readonly string[]).includes(g)) {
                out.push(`${where}: API group ${g} is not allowed`);
            }
        }
        for (const res of r.resources) {
            if ((forbidden.resources as readonly string[]).includes(res)) {
                out.push(`${where}: resource ${res} is not allowed`);
            }
        }
        for (const v of r.verbs) {
            const createOk =
                v === "create" && r.resources.every((res) => allowCreateOn.includes(res));
            if ((forbidden.verbs as readonly string[]).includes(v) && !createOk) {
                out.push(`${where}: verb ${v} is not allowed`);
            }
        }
    }
    return out;
}

/** A CEL expression with the message shown when it is false. */
export interface CelValidation {
    readonly expression: string;
    readonly message: string;
}

/**
 * The ValidatingAdmissionPolicy applied to Deployment updates by the rollout identity:
 * everything except the restart annotation must stay as it was, so `patch` can only restart the
 * tier, never change its image, ServiceAccount, volumes, replicas or labels.
 */
export function rolloutGuard(): {
    variables: { name: string; expression: string }[];
    validations: CelValidation[];
} {
    const orEmpty = (o: string, field: string) =>
        `has(${o}.spec.template.metadata.${field}) ? ${o}.spec.template.metadata.${field} : {}`;
    const onlyRestartChanged = (a: string, b: string) =>
        `variables.${a}.all(k, k == '${restartAnnotation}' || (k in variables.${b} && variables.${b}[k] == variables.${a}[k]))`;
    return {
        variables: [
            { name: "newAnnotations", expression: orEmpty("object", "annotations") },
            { name: "oldAnnotations", expression: orEmpty("oldObject", "annotations") },
            { name: "newLabels", expression: orEmpty("object", "labels") },
            { name: "oldLabels", expression: orEmpty("oldObject", "labels") },
        ],
        validations: [
            {
                expression: "object.spec.template.spec == oldObject.spec.template.spec",
                message:
                    "the rollout identity may only restart this Deployment; its pod spec must not change",
            },
            {
                expression:
                    "object.spec.replicas == oldObject.spec.replicas && object.spec.selector == oldObject.spec.selector",
                message: "the rollout identity may not change replicas or the selector",
            },
            {
                expression: "variables.newLabels == variables.oldLabels",
                message:
                    "the rollout identity may not change pod labels (network policies and monitors select on them)",
            },
            {
                expression: `${onlyRestartChanged("newAnnotations", "oldAnnotations")} && ${onlyRestartChanged("oldAnnotations", "newAnnotations")}`,
                message: `the rollout identity may only change the ${restartAnnotation} pod annotation`,
            },
        ],
    };
}
