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
    /**
     * The candidate guardrails tier (modules/k8s/llm/index.ts): the same tier builder as the live
     * one, its own ConfigMap. The guardrail-promotion pipeline writes a candidate rule set here and
     * restarts it to evaluate the candidate against the real model and output filter; only the
     * evaluation step ({@link candidateEvaluation}) may reach it. Never behind the gateway.
     */
    guardrailsCandidate: {
        namespace: tierNamespaces.guardrails,
        configMap: "guardrails-rails-candidate",
        deployment: "candidate-guardrails",
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
    /** The candidate's rule set: whatever the last evaluation wrote. */
    guardrailsCandidate: ["data"],
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

/**
 * The guardrail-promotion pipeline's evaluation step (pipelines/slp_pipelines/guardrail_promotion.py
 * labels its pod so): the only pod that may open the candidate guardrails tier.
 */
export const candidateEvaluation = {
    id: "candidate-evaluation",
    podLabels: {
        [labels.name]: "candidate-evaluation",
        [labels.partOf]: partOfValue,
        [labels.component]: "mlops",
    },
} as const;

/**
 * What the candidate tier's entrypoint (images/guardrails/slp_guardrails) does that the live one
 * never does: with {@link candidateServerArg} every chat answer carries a top-level
 * {@link evaluationAuditField} object, `{"rules_sha256", "decisions"}`: the digest of the rule set
 * it loaded (pipelines/bundle.ts `bundleDigest`) and the rails' decision lines of that request. The
 * evaluation classifies each case from it; the live tier is never started with the flag, and the
 * gateway never routes to the candidate.
 */
export const candidateServerArg = "--evaluation-audit";
export const evaluationAuditField = "slp_evaluation";

/** ConfigMap in the pipeline namespace with the promotion gates and keys the pipeline steps read. */
export const promotionPolicyConfigMap = "promotion-policy";
