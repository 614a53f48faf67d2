/**
 * The rollout identity of the MLOps pipelines: what "promotion" may do, as plain data.
 *
 * Promotion = replace the content of one ConfigMap (the guardrails rules, or the inference model
 * reference) and restart the Deployment that reads it; the guardrail evaluation does the same on
 * the candidate guardrails tier (its ConfigMap and Deployment, exactly as narrowly). Both tiers read their ConfigMap at start
 * (NeMo Guardrails loads rails once; the model loader runs as an init container), and the
 * checksum annotation that rolls them is computed by Pulumi, so a pipeline-only rollout needs the
 * restart. The restart is a `patch` of `spec.template.metadata.annotations`; because `update` of
 * a ConfigMap and `patch` of a Deployment could otherwise rewrite anything in them,
 * {@link rolloutGuardSpec} is a ValidatingAdmissionPolicy matched on this identity only: it
 * refuses every change beyond the rules data, the model reference and the restart annotation.
 * Nothing else is granted: no Secrets, no `pods/exec`, no create/delete, no RBAC objects, no
 * wildcards.
 */
import { labelDomain } from "../../constants/labels";
import { modelSourceKey, rolloutTargets } from "../../constants/rollout";

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

/** Annotation promotion sets on a promoted ConfigMap: the digest of what was promoted. */
export const promotedDigestAnnotation = `${labelDomain}/promoted-sha256`;

/** Name of the Role (and RoleBinding) in each target namespace. */
export const rolloutRoleName = "slp-rollout";

/**
 * The Roles that make up promotion: one per target namespace, each limited by `resourceNames`
 * to that namespace's target ConfigMaps and Deployments (the guardrails namespace holds the live
 * and the candidate tier). `get` reads before writing (optimistic concurrency on
 * `resourceVersion`); ConfigMaps get `update` (the steps replace `data` whole); Deployments get
 * only `patch` (the restart annotation). Every verb here is used by pipelines/promote/promote.ts,
 * and test/kubeflow checks there is none to spare.
 */
export function rolloutRoles(): RoleSpec[] {
    const namespaces = [...new Set(Object.values(rolloutTargets).map((t) => t.namespace))];
    return namespaces.map((namespace) => {
        const here = Object.values(rolloutTargets).filter((t) => t.namespace === namespace);
        return {
            namespace,
            name: rolloutRoleName,
            rules: [
                {
                    apiGroups: [""],
                    resources: ["configmaps"],
                    verbs: ["get", "update"],
                    resourceNames: here.map((t) => t.configMap),
                },
                {
                    apiGroups: ["apps"],
                    resources: ["deployments"],
                    verbs: ["get", "patch"],
                    resourceNames: here.map((t) => t.deployment),
                },
            ],
        };
    });
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
    /** Stable id, used by tests. */
    readonly id: string;
    readonly expression: string;
    readonly message: string;
    readonly reason: "Forbidden";
}

const quote = (s: string) => `'${s}'`;
const list = (items: readonly string[]) => `[${items.map(quote).join(", ")}]`;

/** The map at `path`, or `{}` when any part of it is absent. */
function mapAt(root: string, path: readonly string[]): string {
    const d = dyn(root);
    const checks = path.map((_, i) => `has(${[d, ...path.slice(0, i + 1)].join(".")})`);
    return `${checks.join(" && ")} ? ${[d, ...path].join(".")} : {}`;
}

/**
 * `dyn(x)`: the API server type-checks every expression against the schema of each kind the
 * policy matches (ConfigMap and Deployment), where `object.spec` of a ConfigMap is an undefined
 * field and a struct such as `object.metadata` cannot be iterated (`status.typeChecking` of the real
 * kube-apiserver v1.34.2). At run time the objects are maps either way.
 */
function dyn(x: string): string {
    return `dyn(${x})`;
}

/** Maps `a` and `b` (CEL maps) are equal except for the keys in `except` (a CEL list). */
function equalExcept(a: string, b: string, except: string): string {
    const [x, y] = [dyn(a), dyn(b)];
    return (
        `${x}.all(k, k in ${except} || (k in ${y} && ${y}[k] == ${x}[k])) && ` +
        `${y}.all(k, k in ${except} || k in ${x})`
    );
}

/** Request targets the object `name` in namespace `ns`. */
const isObject = (ns: string, name: string) =>
    `request.namespace == ${quote(ns)} && request.name == ${quote(name)}`;

// Written by the API server on every change, or compared field by field elsewhere.
const serverManagedMetadata = ["resourceVersion", "generation", "managedFields", "annotations"];

/**
 * The ValidatingAdmissionPolicy over everything the rollout identity `identity` sends to
 * ConfigMaps and Deployments. The API server hands admission the whole new object whatever the
 * client sent (update, strategic merge patch, server-side apply), so each validation compares
 * `object` with `oldObject` field by field: what is allowed to differ is exactly what
 * pipelines/promote/promote.ts writes — the rules ConfigMaps' `data` (live and candidate tier), the model reference key
 * of the inference ConfigMap, the promoted-digest annotation on either, and the restart
 * annotation of a tier's pod template (an RFC 3339 time, as kubectl writes it). Everything
 * else — `spec.paused`, replicas, strategy, minReadySeconds, the pod template's spec (image,
 * command, securityContext, volumes, ServiceAccount), labels, other annotations, binaryData,
 * immutable, other objects, create, delete and subresources such as `scale` — is refused.
 */
export function rolloutGuardSpec(identity: string) {
    return {
        failurePolicy: "Fail",
        matchConstraints: {
            resourceRules: [
                {
                    apiGroups: ["apps"],
                    apiVersions: ["v1"],
                    operations: ["*"],
                    resources: ["deployments", "deployments/*"],
                },
                {
                    apiGroups: [""],
                    apiVersions: ["v1"],
                    operations: ["*"],
                    resources: ["configmaps", "configmaps/*"],
                },
            ],
        },
        matchConditions: [
            { name: "rollout-identity", expression: `request.userInfo.username == '${identity}'` },
        ],
        variables: [
            {
                name: "mainUpdate",
                expression:
                    "request.operation == 'UPDATE' && (!has(request.subResource) || request.subResource == '')",
            },
            { name: "newAnnotations", expression: mapAt("object", ["metadata", "annotations"]) },
            { name: "oldAnnotations", expression: mapAt("oldObject", ["metadata", "annotations"]) },
            { name: "newData", expression: mapAt("object", ["data"]) },
            { name: "oldData", expression: mapAt("oldObject", ["data"]) },
            { name: "newTemplate", expression: mapAt("object", ["spec", "template", "metadata"]) },
            {
                name: "oldTemplate",
                expression: mapAt("oldObject", ["spec", "template", "metadata"]),
            },
            {
                name: "newTemplateAnnotations",
                expression: mapAt("object", ["spec", "template", "metadata", "annotations"]),
            },
            {
                name: "oldTemplateAnnotations",
                expression: mapAt("oldObject", ["spec", "template", "metadata", "annotations"]),
            },
        ],
        validations: rolloutGuardValidations.map(({ expression, message, reason }) => ({
            expression,
            message,
            reason,
        })),
    };
}

const targets = Object.values(rolloutTargets);
const model = rolloutTargets.inferenceModel;

/** The guard's validations, in the policy's order, with ids tests map refusals to. */
export const rolloutGuardValidations: readonly CelValidation[] = [
    {
        id: "updateOnly",
        expression: "variables.mainUpdate",
        message:
            "the rollout identity may only update the rollout targets: no create, delete or subresource (scale, status)",
        reason: "Forbidden",
    },
    {
        id: "targetsOnly",
        expression:
            `request.resource.resource == 'configmaps' ? (${targets.map((t) => `(${isObject(t.namespace, t.configMap)})`).join(" || ")}) : ` +
            `(${targets.map((t) => `(${isObject(t.namespace, t.deployment)})`).join(" || ")})`,
        message: `the rollout identity may change only ${targets
            .map((t) => `${t.namespace}/${t.configMap} and ${t.namespace}/${t.deployment}`)
            .join(", ")}`,
        reason: "Forbidden",
    },
    {
        id: "metadata",
        expression:
            `!variables.mainUpdate || ((${equalExcept("object.metadata", "oldObject.metadata", list(serverManagedMetadata))}) && ` +
            `${equalExcept(
                "variables.newAnnotations",
                "variables.oldAnnotations",
                `(request.resource.resource == 'configmaps' ? ${list([promotedDigestAnnotation])} : [])`,
            )})`,
        message: `the rollout identity may not change labels, annotations (but ${promotedDigestAnnotation} on a ConfigMap), owners or finalizers`,
        reason: "Forbidden",
    },
    {
        id: "configMapData",
        expression: `!variables.mainUpdate || request.resource.resource != 'configmaps' || (${equalExcept("object", "oldObject", list(["metadata", "data"]))})`,
        message:
            "the rollout identity may change only a ConfigMap's data (not binaryData or immutable)",
        reason: "Forbidden",
    },
    {
        id: "modelReference",
        expression:
            `!variables.mainUpdate || request.resource.resource != 'configmaps' || !(${isObject(model.namespace, model.configMap)}) || ` +
            `(${quote(modelSourceKey)} in variables.newData && ${equalExcept("variables.newData", "variables.oldData", list([modelSourceKey]))})`,
        message: `in ${model.namespace}/${model.configMap} the rollout identity may only set data.${modelSourceKey} (the model reference)`,
        reason: "Forbidden",
    },
    {
        id: "deploymentSpec",
        expression: `!variables.mainUpdate || request.resource.resource != 'deployments' || (${equalExcept("dyn(object).spec", "dyn(oldObject).spec", list(["template"]))})`,
        message:
            "the rollout identity may only restart a Deployment: paused, replicas, strategy, minReadySeconds, selector and the rest of spec must not change",
        reason: "Forbidden",
    },
    {
        id: "podTemplate",
        expression:
            "!variables.mainUpdate || request.resource.resource != 'deployments' || (" +
            `dyn(object).spec.template.spec == dyn(oldObject).spec.template.spec && ` +
            `${equalExcept("variables.newTemplate", "variables.oldTemplate", list(["annotations"]))} && ` +
            `${equalExcept("variables.newTemplateAnnotations", "variables.oldTemplateAnnotations", list([restartAnnotation]))})`,
        message: `the rollout identity may change only the ${restartAnnotation} annotation of a Deployment's pod template (not its image, command, securityContext, volumes, labels or other annotations)`,
        reason: "Forbidden",
    },
    {
        id: "restartTime",
        expression:
            `!variables.mainUpdate || !(${quote(restartAnnotation)} in variables.newTemplateAnnotations) || ` +
            // A literal dot as `[.]`: the API server's CEL parser refuses a backslash before `.` as
            // an invalid string escape (found by the real kube-apiserver; @bufbuild/cel accepts it).
            `variables.newTemplateAnnotations[${quote(restartAnnotation)}].matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$')`,
        message: `${restartAnnotation} must be an RFC 3339 time`,
        reason: "Forbidden",
    },
];
