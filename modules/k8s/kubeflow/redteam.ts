/**
 * The recurring red-team assessment, as data: a CronJob in the pipeline namespace that replays
 * pipelines/redteam through the gateway against the live rails (`slp-pipeline assess`), prints one
 * JSON result line (rates, counts, gates; never a prompt or an answer) that the decision-log
 * metrics turn into gauges, and fails the Job when the rates miss the promotion gates.
 *
 * A CronJob the program owns rather than a KFP recurring run: it exists in every stack with
 * Kubeflow whatever the KFP mode, it is declared and reviewed like every other object, and its pod
 * goes through the one hardened workload builder.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { KubeflowConfig } from "../../config/kubeflow";
import type { TiersConfig } from "../../config/tiers";
import { pipelineImages } from "../../constants/images";
import { promotionPolicyConfigMap, redteamAssessment } from "../../constants/rollout";
import { priorityClasses } from "../../constants/scheduling";
import { Workload, WorkloadId, catalog } from "../catalog";
import { pipelineMtlsClients, pipelineMtlsDir } from "../llm/mtls";
import { HardenedWorkloadArgs, buildPodSpec } from "../workload";

/** Secret (synced from OCI Vault) with the API key the assessment presents; key `api-key`. */
export const redteamKeySecret = "redteam-api-key";
/** Where that Secret is mounted. */
export const redteamKeyDir = "/var/run/secrets/redteam";

/**
 * The gateway URL the assessment calls: the gateway Service over mTLS (its name is the gateway's
 * certificate's, modules/k8s/llm/mtls.ts), as ingress-nginx does for clients.
 */
export function gatewayUrl(): string {
    const g = catalog.gateway;
    return `https://${g.serviceHost}:${g.ports[0].port}`;
}

/** The pod of the assessment, through the workload builder. */
export function redteamPodArgs(
    namespace: string,
    tiers: Pick<TiersConfig, "guardrails" | "inference">,
): HardenedWorkloadArgs {
    // Not a catalog workload (its namespace is configurable): the builder needs only these fields.
    const workload: Workload = {
        id: redteamAssessment.id as WorkloadId,
        namespace,
        component: "mlops",
        podLabels: redteamAssessment.podLabels,
        ports: [],
        serviceHost: `${redteamAssessment.id}.${namespace}.svc.cluster.local`,
    };
    const image = pipelineImages.pipelineTools;
    return {
        workload,
        runToCompletion: true,
        priorityClassName: priorityClasses.batch,
        containers: [
            {
                name: redteamAssessment.container,
                image: { repository: image.repository, tag: image.tag, digest: image.digest },
                command: ["slp-pipeline", "assess"],
                args: [
                    "--url",
                    gatewayUrl(),
                    "--api-key-file",
                    `${redteamKeyDir}/api-key`,
                    "--tls-dir",
                    pipelineMtlsDir,
                    "--model",
                    tiers.inference.model.name,
                    "--attacks",
                    "/app/pipelines/redteam/attacks.jsonl",
                    "--benign",
                    "/app/pipelines/redteam/benign.jsonl",
                ],
                configMapEnv: {
                    MIN_ATTACK_BLOCK_RATE: {
                        configMap: promotionPolicyConfigMap,
                        key: "min-attack-block-rate",
                    },
                    MAX_BENIGN_BLOCK_RATE: {
                        configMap: promotionPolicyConfigMap,
                        key: "max-benign-block-rate",
                    },
                },
                resources: {
                    requests: { cpu: "50m", memory: "64Mi", ephemeralStorage: "16Mi" },
                    limits: { cpu: "500m", memory: "256Mi", ephemeralStorage: "64Mi" },
                },
                mounts: [
                    { name: "api-key", mountPath: redteamKeyDir },
                    // Its client certificate to the gateway (cert-manager, modules/k8s/kubeflow.ts).
                    { name: "mtls", mountPath: pipelineMtlsDir, readOnly: true },
                ],
            },
        ],
        volumes: [
            { name: "api-key", secret: { secretName: redteamKeySecret } },
            {
                name: "mtls",
                secret: { secretName: pipelineMtlsClients["redteam-assessment"].secret },
            },
        ],
    };
}

/** The CronJob spec around that pod. */
export function redteamCronJobSpec(
    cfg: Pick<KubeflowConfig, "redteam">,
    podArgs: HardenedWorkloadArgs,
): k8s.types.input.batch.v1.CronJobSpec {
    return {
        schedule: cfg.redteam.schedule,
        timeZone: "Etc/UTC",
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
            spec: {
                // A failed assessment is a finding to look at, not something to retry until it passes.
                backoffLimit: 0,
                activeDeadlineSeconds: 1800,
                ttlSecondsAfterFinished: 86400,
                template: {
                    metadata: {
                        labels: { ...podArgs.workload.podLabels },
                        // Full mode: no Istio sidecar, which would keep the Job from completing.
                        annotations: { "sidecar.istio.io/inject": "false" },
                    },
                    spec: buildPodSpec(podArgs),
                },
            },
        },
    };
}
