/**
 * Promotion: write one rollout target's ConfigMap, then restart the Deployment that reads it. The
 * guardrail evaluation stages its candidate the same way on the candidate guardrails tier.
 * These are exactly the calls the rollout Role allows (modules/k8s/kubeflow/rbac.ts): `get` and
 * `update` of the ConfigMap, `patch` of the Deployment's restart annotation (any other Deployment
 * change is refused by the ValidatingAdmissionPolicy bound to the rollout identity).
 */
import { labelDomain } from "../../modules/constants/labels";
import { modelSourceKey, rolloutTargets } from "../../modules/constants/rollout";
import { restartAnnotation } from "../../modules/k8s/kubeflow/rbac";
import { RefusedError, RuleBundle, bundleDigest, changedCode } from "../bundle";
import type { KubeApi, KubeObject } from "./kube";

type Target = (typeof rolloutTargets)[keyof typeof rolloutTargets];

/** Annotation on a promoted ConfigMap: the digest of what was promoted. */
export const promotedDigestAnnotation = `${labelDomain}/promoted-sha256`;
export { restartAnnotation };

/** Keys of the `inference-model` ConfigMap the inference tier's model loader reads. */
export const inferenceModelKeys = {
    /** `oci-os://namespace/bucket/prefix` of the encrypted model (model-vault layout). */
    sourceUri: modelSourceKey,
} as const;

const configMapPath = (t: Target) => `/api/v1/namespaces/${t.namespace}/configmaps/${t.configMap}`;
const deploymentPath = (t: Target) =>
    `/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.deployment}`;

/** Replaces a target ConfigMap's data (optimistic concurrency on resourceVersion), then restarts. */
async function replaceAndRestart(
    api: KubeApi,
    t: Target,
    dataFor: (current: Record<string, string>) => Record<string, string>,
    now: Date,
): Promise<void> {
    // Both objects must exist before anything changes: new rules without a restart would sit
    // unused until some unrelated rollout picked them up.
    await api.get(deploymentPath(t));
    const current = await api.get(configMapPath(t));
    const data = dataFor(current.data ?? {});
    const digest = bundleDigest(data);
    const next = {
        ...current,
        metadata: {
            ...current.metadata,
            annotations: {
                ...(current.metadata?.annotations ?? {}),
                [promotedDigestAnnotation]: digest,
            },
        },
        data,
    };
    delete (next as Record<string, unknown>).binaryData;
    await api.put(configMapPath(t), next);
    await api.patch(deploymentPath(t), {
        spec: {
            template: { metadata: { annotations: { [restartAnnotation]: now.toISOString() } } },
        },
    });
}

/**
 * Refuses a rule set that changes code (`*.py`, executed by the server) compared with the live
 * tier's rails: pipelines ship rules, not code. The one check for evaluation (before the candidate
 * tier is written) and promotion.
 */
export async function refuseCodeChanges(api: KubeApi, bundle: RuleBundle): Promise<void> {
    const deployed = (await api.get(configMapPath(rolloutTargets.guardrailsRules))).data ?? {};
    const code = changedCode(deployed, bundle);
    if (code.length > 0) {
        throw new RefusedError(
            `the rule set changes code (${code.join(", ")}); pipelines promote rules only, ship code through review and pulumi up`,
        );
    }
}

/**
 * Writes a candidate rule set into the candidate guardrails tier and restarts it, after
 * {@link refuseCodeChanges}; returns its digest (what the tier's answers must report).
 */
export async function stageCandidate(
    api: KubeApi,
    bundle: RuleBundle,
    now = new Date(),
): Promise<string> {
    await refuseCodeChanges(api, bundle);
    await replaceAndRestart(api, rolloutTargets.guardrailsCandidate, () => ({ ...bundle }), now);
    return bundleDigest(bundle);
}

/**
 * Promotes a guardrail rule set that the evaluation step certified. Refuses when the bundle is not
 * the one evaluated (digest mismatch) or when it changes code files (`*.py`) of the deployed rails.
 */
export async function promoteRules(
    api: KubeApi,
    bundle: RuleBundle,
    expectedSha256: string,
    now = new Date(),
): Promise<string> {
    const digest = bundleDigest(bundle);
    if (digest !== expectedSha256) {
        throw new RefusedError(
            `the rule set's digest ${digest} is not the evaluated one ${expectedSha256}; refusing to promote what was not evaluated`,
        );
    }
    await refuseCodeChanges(api, bundle);
    await replaceAndRestart(api, rolloutTargets.guardrailsRules, () => ({ ...bundle }), now);
    return digest;
}

const ociUri = /^oci-os:\/\/[a-z0-9][a-z0-9-]{0,62}\/[A-Za-z0-9._-]{1,256}(\/[A-Za-z0-9._\-/]*)?$/;

/**
 * Points the inference tier at a model that `model-vault verify` accepted, and restarts it.
 * Returns the source it replaced ("" when there was none), for a rollback.
 */
export async function promoteModel(
    api: KubeApi,
    sourceUri: string,
    now = new Date(),
): Promise<string> {
    if (!ociUri.test(sourceUri) || sourceUri.includes("..")) {
        throw new RefusedError(
            `model source ${JSON.stringify(sourceUri)} is not oci-os://<namespace>/<bucket>/<prefix>`,
        );
    }
    let previous = "";
    // Other keys of the model reference (served name, limits) belong to the tier: keep them.
    await replaceAndRestart(
        api,
        rolloutTargets.inferenceModel,
        (cur) => {
            previous = cur[inferenceModelKeys.sourceUri] ?? "";
            return { ...cur, [inferenceModelKeys.sourceUri]: sourceUri };
        },
        now,
    );
    return previous;
}

/** Whether a Deployment's latest pod template runs on every replica (`kubectl rollout status`). */
export function rolledOut(d: KubeObject): boolean {
    const meta = (d.metadata ?? {}) as { generation?: number };
    const spec = (d.spec ?? {}) as { replicas?: number };
    const st = (d.status ?? {}) as {
        observedGeneration?: number;
        replicas?: number;
        updatedReplicas?: number;
        availableReplicas?: number;
    };
    const want = spec.replicas ?? 1;
    return (
        (st.observedGeneration ?? 0) >= (meta.generation ?? 1) &&
        (st.updatedReplicas ?? 0) === want &&
        (st.replicas ?? 0) === want &&
        (st.availableReplicas ?? 0) === want
    );
}

/**
 * Waits until target `t`'s Deployment runs its latest pod template on every replica: refuses when
 * `otherWrite` finds its ConfigMap rewritten meanwhile (another run), fails after `timeoutMs`.
 */
async function waitForRollout(
    api: KubeApi,
    t: Target,
    otherWrite: (cm: KubeObject) => string | undefined,
    timeoutMs: number,
    pollMs: number,
    hint = "",
): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const other = otherWrite(await api.get(configMapPath(t)));
        if (other !== undefined) throw new RefusedError(other);
        if (rolledOut(await api.get(deploymentPath(t)))) return;
        if (Date.now() + pollMs > deadline) {
            throw new Error(
                `${t.namespace}/${t.deployment} did not finish rolling out within ${Math.round(timeoutMs / 1000)} s${hint}`,
            );
        }
        await new Promise((r) => setTimeout(r, pollMs));
    }
}

/**
 * Waits until the inference tier serves `sourceUri` on every replica: refuses when the model
 * reference no longer names it (another promotion came in between), fails after `timeoutMs`.
 */
export async function waitForModelRollout(
    api: KubeApi,
    sourceUri: string,
    timeoutMs: number,
    pollMs = 5000,
): Promise<void> {
    const t = rolloutTargets.inferenceModel;
    await waitForRollout(
        api,
        t,
        (cm) => {
            const source = cm.data?.[inferenceModelKeys.sourceUri];
            return source === sourceUri
                ? undefined
                : `${t.namespace}/${t.configMap} now names ${JSON.stringify(source ?? "")}, not the model this run promoted; not testing someone else's rollout`;
        },
        timeoutMs,
        pollMs,
    );
}

/**
 * Waits until the candidate tier runs its restarted pod (ready: the rails loaded): refuses when
 * its ConfigMap meanwhile holds another rule set (another evaluation run), fails after `timeoutMs`
 * (a rule set that does not load keeps the new pod unready: its `guardrails.config_error` log
 * line says why).
 */
export async function waitForCandidate(
    api: KubeApi,
    sha256: string,
    timeoutMs: number,
    pollMs = 5000,
): Promise<void> {
    const t = rolloutTargets.guardrailsCandidate;
    await waitForRollout(
        api,
        t,
        (cm) => {
            const now = cm.metadata?.annotations?.[promotedDigestAnnotation];
            return now === sha256
                ? undefined
                : `${t.namespace}/${t.configMap} now holds rule set ${now ?? "(unknown)"}, not this run's ${sha256}: another evaluation is running; retry when it is done`;
        },
        timeoutMs,
        pollMs,
        `; if the candidate rules do not load, the ${t.deployment} pod's guardrails.config_error line says why`,
    );
}
