/**
 * Objects that MLOps pipelines promote into (issue 8). The rollout identity may update exactly
 * these and nothing else; the tiers read them. One place, so RBAC and tiers agree.
 */
import { labelDomain, labels, partOfValue } from "./labels";
import { tierNamespaces } from "./namespaces";

export const rolloutTargets = {
    /** ConfigMap holding the guardrails rail files (config.yml, prompts, Colang flows, actions). */
    guardrailsRules: {
        namespace: tierNamespaces.guardrails,
        configMap: "guardrails-rails",
        deployment: "guardrails",
    },
    /** ConfigMap holding the inference model reference: key {@link modelSourceKey} (an `oci-os://` URI). */
    inferenceModel: {
        namespace: tierNamespaces.inference,
        configMap: "inference-model",
        deployment: "inference",
    },
} as const;

/** Key of the model source URI in the `inference-model` ConfigMap (tiers read it, pipelines write it). */
export const modelSourceKey = "source";

/**
 * Who owns what a promotion writes: the pipeline. Pulumi creates these fields from the repository
 * and then ignores them (`ignoreChanges`), so the next `pulumi up` keeps what was promoted; a
 * rollback is another promotion (of the previous rule set or model). Property paths as Pulumi
 * resource options take them.
 */
export const promotedFields = {
    /** The whole rule set: a promotion may add and drop files, so no key is Pulumi's after creation. */
    guardrailsRules: ["data"],
    /** Only the model reference; the tier's other keys (served name) stay Pulumi's. */
    inferenceModel: [`data.${modelSourceKey}`],
} as const;

/**
 * Annotation on the rails ConfigMap: SHA-256 of its code files (`*.py`, which the server executes
 * and pipelines may not promote). Pulumi replaces the ConfigMap when it changes, so code ships
 * through review and `pulumi up`, and that redeploys the repository's rule set whole.
 */
export const railsCodeDigestAnnotation = `${labelDomain}/code-sha256`;

/**
 * The recurring red-team assessment (modules/k8s/kubeflow/redteam.ts): a CronJob in the pipeline
 * namespace whose pods may reach the gateway and nothing else of the platform.
 */
export const redteamAssessment = {
    id: "redteam-assessment",
    podLabels: {
        [labels.name]: "redteam-assessment",
        [labels.partOf]: partOfValue,
        [labels.component]: "mlops",
    },
    /** Container name; the decision-log metrics tail this container's log files. */
    container: "assess",
} as const;

/** ConfigMap in the pipeline namespace with the promotion gates and keys the pipeline steps read. */
export const promotionPolicyConfigMap = "promotion-policy";
