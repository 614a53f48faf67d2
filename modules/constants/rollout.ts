/**
 * Objects that MLOps pipelines promote into (issue 8). The rollout identity may update exactly
 * these and nothing else; the tiers read them. One place, so RBAC and tiers agree.
 */
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
