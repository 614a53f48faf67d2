/**
 * The Kata sandbox of sandboxed pipeline steps (the fine-tune step), as admission policies.
 *
 * KFP 2.16.0 cannot set `runtimeClassName` (kfp-kubernetes 2.16.0 has no field for it; its
 * platform spec offers node selectors, tolerations, labels, volumes, security context, timeouts).
 * The step carries the sandbox label and the Kata GPU RuntimeClass's own node selector and
 * tolerations (pipelines/slp_pipelines/platform.py `sandbox`), and:
 *
 * - {@link sandboxGuardSpec}, a ValidatingAdmissionPolicy in the pipeline namespace, refuses a
 *   sandbox-labelled Pod whose `runtimeClassName` is not the Kata GPU class: the run fails closed
 *   rather than fine-tuning outside the sandbox. Always declared with Kubeflow.
 * - {@link sandboxMutationSpec}, a MutatingAdmissionPolicy (admissionregistration.k8s.io/v1beta1),
 *   gives such a Pod the RuntimeClass and its pod overhead. Kubernetes 1.34 ships it **off**
 *   (`kube-apiserver -h` of v1.34.2: "MutatingAdmissionPolicy=true|false (BETA - default=false)",
 *   and the v1beta1 API group is not served unless `--runtime-config` enables it), so it is
 *   declared only when `kubeflow.sandboxMutation` is true: on a control plane whose operator turned
 *   both on. No OKE setting for API server feature gates was found (not verified), so on OKE 1.34 the sandboxed
 *   step is refused until KFP can set the class or the cluster serves the mutation API.
 *
 * The mutation sets only the class: the pod then has the class's overhead as the RuntimeClass
 * admission plugin fills it in (observed on the real API server,
 * test/real/apiserver/pipeline-sandbox.test.ts), so the overhead keeps one home.
 */
import { sandboxLabel } from "./namespace";

/** Name of the validating policy (and its binding). */
export const sandboxGuardName = "slp-pipeline-sandbox";
/** Name of the mutating policy (and its binding). */
export const sandboxMutationName = "slp-pipeline-sandbox-runtime";

const podsOnCreate = {
    resourceRules: [
        { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] },
    ],
};

/** Only the sandbox-labelled pods of the pipeline namespace. */
export function sandboxMatchResources(namespace: string) {
    return {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        objectSelector: { matchExpressions: [{ key: sandboxLabel, operator: "Exists" }] },
    };
}

/** The validating policy: a sandbox-labelled Pod runs under `runtimeClass`, or is refused. */
export function sandboxGuardSpec(runtimeClass: string) {
    return {
        failurePolicy: "Fail",
        matchConstraints: podsOnCreate,
        validations: [
            {
                expression: `has(object.spec.runtimeClassName) && object.spec.runtimeClassName == '${runtimeClass}'`,
                message: `sandboxed pipeline steps (label ${sandboxLabel}) must run under RuntimeClass ${runtimeClass}; KFP 2.16 cannot set it: enable kubeflow.sandboxMutation where the API server serves MutatingAdmissionPolicy`,
                reason: "Forbidden",
            },
        ],
    };
}

/** The mutating policy: a sandbox-labelled Pod without a RuntimeClass gets `runtimeClass`. */
export function sandboxMutationSpec(runtimeClass: string) {
    return {
        failurePolicy: "Fail",
        reinvocationPolicy: "Never",
        matchConstraints: podsOnCreate,
        matchConditions: [
            { name: "no-runtime-class", expression: "!has(object.spec.runtimeClassName)" },
        ],
        mutations: [
            {
                patchType: "ApplyConfiguration",
                applyConfiguration: {
                    expression: `Object{spec: Object.spec{runtimeClassName: "${runtimeClass}"}}`,
                },
            },
        ],
    };
}
