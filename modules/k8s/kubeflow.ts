/**
 * Kubeflow Pipelines, the pipeline namespace with the platform's baselines, and the least-privilege
 * rollout identity the promotion pipelines in `pipelines/` run under (issue 8). Declares nothing
 * when `kubeflow.enabled` is false.
 *
 * - `standalone` (default): KFP's pinned kustomize directories. KFP is then single-user, without
 *   authentication, and runs every pipeline in `kubeflow`; the rollout identity is deliberately
 *   not placed there (any KFP user or component could use it), so standalone KFP evaluates but
 *   does not promote.
 * - `full`: the pinned kubeflow/manifests release; the pipeline namespace is a Profile, runs
 *   execute there, and Profile membership is the authority to promote (pipelines/README.md).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubeflowConfig } from "../config/kubeflow";
import { PinnedImage, modelLoaderImage, pipelineImages } from "../constants/images";
import { labelDomain, labels, partOfValue } from "../constants/labels";
import { promotionPolicyConfigMap } from "../constants/rollout";
import { priorityClasses, runtimeClasses } from "../constants/scheduling";
import { clusterSecretStoreName, externalSecretsApiVersion } from "../constants/secrets";
import type { ClusterLayerArgs } from "./args";
import {
    kustomizeSteps,
    storageContainerName,
    storageContainerSpec,
    writeKustomizeWrapper,
} from "./kubeflow/install";
import {
    pipelineLimitRange,
    pipelineNamespaceLabels,
    pipelinePolicies,
    pipelineQuota,
} from "./kubeflow/namespace";
import {
    pipelineRuntimeRole,
    rolloutGuardSpec,
    rolloutRoleName,
    rolloutRoles,
    rolloutServiceAccountName,
    type RoleSpec,
} from "./kubeflow/rbac";
import { buildIntent, intentInputs } from "./network/intent";
import { redteamCronJobSpec, redteamKeySecret, redteamPodArgs } from "./kubeflow/redteam";
import {
    pipelineNamespaces,
    sandboxCaInjection,
    sandboxCertificates,
    sandboxGuardName,
    sandboxGuardSpec,
    sandboxMatchResources,
    sandboxWebhookConfigName,
    sandboxWebhookPodArgs,
    sandboxWebhookService,
    sandboxWarnings,
    sandboxWebhooks,
} from "./kubeflow/sandbox";
import { HardenedWorkload } from "./workload";
import { PipelineMtlsClient, pipelineClientCertificateSpec, pipelineMtlsClients } from "./llm/mtls";
import { sandboxWebhook } from "../constants/sandbox";

export { kustomizeSteps } from "./kubeflow/install";
export { rolloutRoles, pipelineRuntimeRole, rbacViolations } from "./kubeflow/rbac";

/** `repository:tag@digest`. */
export function imageRef(image: PinnedImage): string {
    return `${image.repository}:${image.tag}@${image.digest}`;
}

export { promotionPolicyConfigMap };

/** The cluster's model keys, as the cloud layer hands them over (undefined on existing clusters). */
export interface ClusterModelKeys {
    /** KMS key that wraps model data keys. */
    readonly modelKeyId: pulumi.Input<string>;
    /** Asymmetric KMS key that signs model manifests. */
    readonly signingKeyId: pulumi.Input<string>;
    /** KMS crypto endpoint of the vault holding both. */
    readonly cryptoEndpoint: pulumi.Input<string>;
}

/** Data of {@link promotionPolicyConfigMap}; key names are what the pipeline definitions map to env. */
export function promotionPolicyData(
    cfg: Pick<KubeflowConfig, "promotion" | "trustedModelKeyIds">,
    keys: ClusterModelKeys | undefined,
    ociRegion: string,
): Record<string, pulumi.Input<string>> {
    const clusterModelKeyId = keys?.modelKeyId;
    return {
        "min-attack-block-rate": String(cfg.promotion.minAttackBlockRate),
        "max-benign-block-rate": String(cfg.promotion.maxBenignBlockRate),
        // The KMS keys a promoted model's manifest may name (model-vault --trusted-keys); empty
        // makes promote-model refuse every model rather than trust any key.
        "trusted-key-ids": pulumi
            .output(clusterModelKeyId ?? "")
            .apply((k) => [k, ...cfg.trustedModelKeyIds].filter((x) => x !== "").join(",")),
        "oci-region": ociRegion,
        // What fine-tuning's encrypt step seals a new model with (model-vault encrypt); empty on
        // existing clusters, where that step then refuses for want of a key.
        "model-key-id": pulumi.output(keys?.modelKeyId ?? ""),
        "signing-key-id": pulumi.output(keys?.signingKeyId ?? ""),
        "crypto-endpoint": pulumi.output(keys?.cryptoEndpoint ?? ""),
    };
}

/** Kubeflow Pipelines, the pipeline profile and the rollout identity (issue 8). */
export class Kubeflow extends pulumi.ComponentResource {
    /** Namespace where pipeline runs (and the rollout identity) live; undefined when disabled. */
    public readonly pipelineNamespace?: string;
    /** `system:serviceaccount:<ns>:<name>` of the rollout identity; undefined when disabled. */
    public readonly rolloutIdentity?: string;

    constructor(name: string, args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:kubeflow:Kubeflow", name, {}, opts);
        const cfg: KubeflowConfig = args.cluster.layer.kubeflow;
        if (!cfg.enabled) {
            this.registerOutputs({});
            return;
        }
        const ns = cfg.profileNamespace;
        const child = { parent: this };
        const common = { [labels.partOf]: partOfValue, [labels.managedBy]: "pulumi" };

        // KFP: pinned kustomize refs, applied in order (CRDs before the objects that use them).
        let previous: pulumi.Resource | undefined;
        const installed: pulumi.Resource[] = [];
        for (const step of kustomizeSteps(cfg)) {
            writeKustomizeWrapper(step);
            previous = new k8s.kustomize.v2.Directory(
                `${name}-${step.role}`,
                { directory: step.directory },
                { parent: this, dependsOn: previous ? [previous] : [] },
            );
            installed.push(previous);
        }
        const afterInstall = { parent: this, dependsOn: installed };

        // The `kubeflow` namespace itself (labels, quota, policies) belongs to the baseline and the
        // network intent, like every platform service namespace.

        // The pipeline namespace: a Kubeflow Profile in full mode (its controller owns the
        // namespace, so labels go in by patch), a plain namespace in standalone mode.
        const nsLabels = pipelineNamespaceLabels(args.cluster.kubernetesVersion, cfg.podSecurity);
        let namespace: pulumi.Resource;
        if (cfg.mode === "full") {
            const profile = new k8s.apiextensions.CustomResource(
                `${name}-profile`,
                {
                    apiVersion: "kubeflow.org/v1",
                    kind: "Profile",
                    metadata: { name: ns, labels: common },
                    // parseKubeflow requires the owner in full mode.
                    spec: { owner: { kind: "User", name: cfg.profileOwner ?? "" } },
                },
                afterInstall,
            );
            namespace = new k8s.core.v1.NamespacePatch(
                `${name}-profile-ns`,
                { metadata: { name: ns, labels: nsLabels } },
                { parent: this, dependsOn: [profile] },
            );
        } else {
            namespace = new k8s.core.v1.Namespace(
                `${name}-ns`,
                { metadata: { name: ns, labels: nsLabels } },
                child,
            );
        }
        const inNs = { parent: this, dependsOn: [namespace] };

        new k8s.core.v1.ResourceQuota(
            `${name}-quota`,
            {
                metadata: { name: "pipelines", namespace: ns, labels: common },
                spec: { hard: pipelineQuota(cfg.fineTuneGpus) },
            },
            inNs,
        );
        // Pipelines run at `slp-batch` or below: they may never take the serving tiers' priority.
        new k8s.core.v1.ResourceQuota(
            `${name}-priority-quota`,
            {
                metadata: { name: "no-serving-priority", namespace: ns, labels: common },
                spec: {
                    hard: { pods: "0" },
                    scopeSelector: {
                        matchExpressions: [
                            {
                                scopeName: "PriorityClass",
                                operator: "In",
                                values: [priorityClasses.serving, priorityClasses.platform],
                            },
                        ],
                    },
                },
            },
            inNs,
        );
        new k8s.core.v1.LimitRange(
            `${name}-limits`,
            {
                metadata: { name: "pipelines", namespace: ns, labels: common },
                spec: pipelineLimitRange(),
            },
            inNs,
        );
        const apiServer = buildIntent(intentInputs(args.cluster, args.cloud)).apiServer;
        for (const p of pipelinePolicies({
            apiServerCidrs: apiServer.cidrs,
            apiServerPort: apiServer.port,
        })) {
            new k8s.networking.v1.NetworkPolicy(
                `${name}-netpol-${p.name}`,
                {
                    metadata: {
                        name: p.name,
                        namespace: ns,
                        labels: common,
                        annotations: { [`${labelDomain}/purpose`]: p.purpose },
                    },
                    spec: p.spec,
                },
                inNs,
            );
        }

        // The gates the promotion steps read (KFP `configMapAsEnv`), so a run's parameters cannot
        // lower them. No secrets: rates, a region and key OCIDs only.
        new k8s.core.v1.ConfigMap(
            `${name}-promotion-policy`,
            {
                metadata: { name: promotionPolicyConfigMap, namespace: ns, labels: common },
                data: promotionPolicyData(
                    cfg,
                    args.cloud
                        ? {
                              modelKeyId: args.cloud.keys.models,
                              signingKeyId: args.cloud.keys.signing,
                              cryptoEndpoint: args.cloud.cryptoEndpoint,
                          }
                        : undefined,
                    args.cluster.layer.networkPolicy.ociRegion,
                ),
            },
            inNs,
        );

        // The rollout identity. Its token is mounted on purpose: the promote step exists to call
        // the API server, and the Roles below are all it can do there.
        const sa = new k8s.core.v1.ServiceAccount(
            `${name}-rollout-sa`,
            {
                metadata: { name: rolloutServiceAccountName, namespace: ns, labels: common },
                automountServiceAccountToken: true,
            },
            inNs,
        );
        const subject = { kind: "ServiceAccount", name: rolloutServiceAccountName, namespace: ns };
        const bind = (key: string, role: RoleSpec, deps: pulumi.Resource[]) => {
            const r = new k8s.rbac.v1.Role(
                `${name}-role-${key}`,
                {
                    metadata: { name: role.name, namespace: role.namespace, labels: common },
                    rules: role.rules.map((x) => ({
                        ...x,
                        apiGroups: [...x.apiGroups],
                        resources: [...x.resources],
                        verbs: [...x.verbs],
                        resourceNames: x.resourceNames ? [...x.resourceNames] : undefined,
                    })),
                },
                { parent: this, dependsOn: deps },
            );
            new k8s.rbac.v1.RoleBinding(
                `${name}-binding-${key}`,
                {
                    metadata: { name: role.name, namespace: role.namespace, labels: common },
                    roleRef: {
                        apiGroup: "rbac.authorization.k8s.io",
                        kind: "Role",
                        name: role.name,
                    },
                    subjects: [subject],
                },
                { parent: this, dependsOn: [r, sa] },
            );
        };
        bind("runtime", pipelineRuntimeRole(ns), [namespace]);
        for (const role of rolloutRoles()) {
            bind(role.namespace, role, []);
        }

        // The rollout identity may only roll out: rules, model reference, restart (rolloutGuardSpec).
        const identity = `system:serviceaccount:${ns}:${rolloutServiceAccountName}`;
        const guard = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-rollout-guard`,
            {
                metadata: { name: `${rolloutRoleName}-restart-only`, labels: common },
                spec: rolloutGuardSpec(identity),
            },
            child,
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-rollout-guard-binding`,
            {
                metadata: { name: `${rolloutRoleName}-restart-only`, labels: common },
                spec: {
                    policyName: `${rolloutRoleName}-restart-only`,
                    validationActions: ["Deny"],
                },
            },
            { parent: this, dependsOn: [guard] },
        );

        // Sandboxed steps run under the Kata GPU RuntimeClass or not at all (kubeflow/sandbox.ts):
        // the webhook sets the class, the policy refuses every other outcome.
        const stepNamespaces = pipelineNamespaces(ns);
        for (const w of sandboxWarnings(apiServer.cidrs)) pulumi.log.warn(w, this);
        const sandboxGuard = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-sandbox-guard`,
            {
                metadata: { name: sandboxGuardName, labels: common },
                spec: sandboxGuardSpec(runtimeClasses.kataGpu),
            },
            child,
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-sandbox-guard-binding`,
            {
                metadata: { name: sandboxGuardName, labels: common },
                spec: {
                    policyName: sandboxGuardName,
                    validationActions: ["Deny"],
                    matchResources: sandboxMatchResources(stepNamespaces),
                },
            },
            { parent: this, dependsOn: [sandboxGuard] },
        );
        // The webhook's namespace is the baseline's (restricted, default deny); its CA and
        // serving certificate stay there.
        const sbNs = sandboxWebhook.namespace;
        const certs: pulumi.Resource[] = [];
        for (const c of sandboxCertificates()) {
            certs.push(
                new k8s.apiextensions.CustomResource(
                    `${name}-sandbox-${c.role}`,
                    {
                        apiVersion: "cert-manager.io/v1",
                        kind: c.kind,
                        metadata: { name: c.name, namespace: sbNs, labels: common },
                        spec: c.spec,
                    },
                    { parent: this, dependsOn: certs.slice(-1) },
                ),
            );
        }
        const webhook = new HardenedWorkload(
            `${name}-sandbox-webhook`,
            { ...sandboxWebhookPodArgs(runtimeClasses.kataGpu), replicas: 2 },
            { parent: this, dependsOn: certs },
        );
        // caBundle is cainjector's (it reads the serving Certificate's CA); the program never
        // declares it, so `pulumi up` leaves what cainjector wrote.
        new k8s.admissionregistration.v1.MutatingWebhookConfiguration(
            `${name}-sandbox-runtime`,
            {
                metadata: {
                    name: sandboxWebhookConfigName,
                    labels: common,
                    annotations: sandboxCaInjection(),
                },
                webhooks: sandboxWebhooks({
                    namespaces: stepNamespaces,
                    clientConfig: sandboxWebhookService(),
                }),
            },
            { parent: this, dependsOn: [webhook, sandboxGuard] },
        );

        // The recurring red-team assessment: wherever there is a gateway to assess.
        if (args.cluster.layer.tiers.gateway.enabled) {
            const podArgs = redteamPodArgs(ns, args.cluster.layer.tiers);
            const rtLabels = { ...podArgs.workload.podLabels, [labels.managedBy]: "pulumi" };
            new k8s.core.v1.ServiceAccount(
                `${name}-redteam-sa`,
                {
                    metadata: { name: podArgs.workload.id, namespace: ns, labels: rtLabels },
                    automountServiceAccountToken: false,
                },
                inNs,
            );
            // The key stays in OCI Vault; the pod reads it as a file (never env, never config).
            new k8s.apiextensions.CustomResource(
                `${name}-redteam-key`,
                {
                    apiVersion: externalSecretsApiVersion,
                    kind: "ExternalSecret",
                    metadata: { name: redteamKeySecret, namespace: ns, labels: rtLabels },
                    spec: {
                        refreshInterval: "1h",
                        secretStoreRef: {
                            kind: "ClusterSecretStore",
                            name: clusterSecretStoreName,
                        },
                        target: {
                            name: redteamKeySecret,
                            creationPolicy: "Owner",
                            deletionPolicy: "Retain",
                        },
                        data: [
                            {
                                secretKey: "api-key",
                                remoteRef: { key: cfg.redteam.apiKeySecret },
                            },
                        ],
                    },
                },
                inNs,
            );
            new k8s.batch.v1.CronJob(
                `${name}-redteam`,
                {
                    metadata: { name: podArgs.workload.id, namespace: ns, labels: rtLabels },
                    spec: redteamCronJobSpec(cfg, podArgs),
                },
                inNs,
            );
        }

        // Client identities of the steps that call a guardrails tier over mTLS (llm/mtls.ts): the
        // evaluation step (candidate tier) and the model-promotion smoke test (live tier), from the
        // cluster CA the tiers create, client auth only; the steps mount them as files.
        if (args.cluster.layer.tiers.guardrails.enabled) {
            for (const id of Object.keys(pipelineMtlsClients) as PipelineMtlsClient[]) {
                new k8s.apiextensions.CustomResource(
                    `${name}-${id}-mtls-cert`,
                    {
                        apiVersion: "cert-manager.io/v1",
                        kind: "Certificate",
                        metadata: {
                            name: pipelineMtlsClients[id].secret,
                            namespace: ns,
                            labels: common,
                        },
                        spec: pipelineClientCertificateSpec(id),
                    },
                    inNs,
                );
            }
        }

        if (cfg.kserve.enabled) {
            new k8s.apiextensions.CustomResource(
                `${name}-storage-container`,
                {
                    apiVersion: "serving.kserve.io/v1alpha1",
                    kind: "ClusterStorageContainer",
                    metadata: { name: storageContainerName, labels: common },
                    spec: storageContainerSpec(imageRef(modelLoaderImage)),
                },
                afterInstall,
            );
        }

        this.pipelineNamespace = ns;
        this.rolloutIdentity = identity;
        this.registerOutputs({
            pipelineNamespace: ns,
            rolloutIdentity: identity,
            pipelineImage: imageRef(pipelineImages.pipelineTools),
        });
    }
}
