/**
 * The gateway, guardrails, inference and output-filter tiers (issue 4). Request path:
 * client → ingress-nginx (TLS, body limit, rate limit) → gateway (API key, per-key rate limit)
 * → guardrails (input rails) → inference (vLLM) → guardrails (output rails, Presidio masking).
 */
import { createHash } from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { TiersConfig } from "../../config/tiers";
import { modelLoaderMemory, parseQuantity, unverifiedImageDigests } from "../../config/tiers";
import { clusterIssuerName, ingressClassName } from "../../constants/ingress";
import { annotations } from "../../constants/labels";
import { tierNamespaces } from "../../constants/namespaces";
import {
    candidateServerArg,
    promotedFields,
    railsCodeDigestAnnotation,
    rolloutTargets,
} from "../../constants/rollout";
import { clusterSecretStoreName, externalSecretsApiVersion } from "../../constants/secrets";
import type { ClusterLayerArgs } from "../args";
import { gatewayHealthPath } from "../../oci/steering";
import { defaultQuota } from "../baseline/plan";
import { catalog } from "../catalog";
import { clusterProxyEnv } from "../network";
import { HardenedWorkload, HardenedWorkloadComponentArgs, buildWorkloadLabels } from "../workload";
import { workloadPorts } from "../../constants/ports";
import {
    ClusterMtls,
    MtlsServer,
    MtlsSidecar,
    ProxyListener,
    ingressClientCertificateSpec,
    ingressMtlsClient,
    loopbackUrl,
    mtlsNames,
    sidecarResources,
    sidecarRunScript,
    tierCertificate,
    tierClientListener,
    tierIdentity,
    tierSidecarConf,
    withMtlsSidecar,
} from "./mtls";
import {
    InferenceEntry,
    InferenceUplink,
    UplinkTarget,
    inferenceListener,
    remoteNames,
    uplinkBaseUrl,
} from "./remote";
import {
    configMapKey,
    missingFlows,
    railsChecksum,
    readRailFiles,
    renderRailFiles,
    type RailFiles,
} from "./rails";
import {
    apiKeysMapTemplate,
    gatewayKeysSecret,
    gatewayNginxConf,
    gatewayRunScript,
    gatewayWorkload,
    guardrailsWorkload,
    inferenceMetricsNginxConf,
    inferenceWorkload,
    jailbreakWorkload,
    modelSourceKey,
    presidioWorkload,
} from "./tiers";

export { missingFlows, railsChecksum, readRailFiles, renderRailFiles } from "./rails";

/**
 * The rendered rail files of a tiers config. Inference and the output filter are reached through
 * the guardrails pod's mTLS sidecar on loopback (the same addresses on every cluster, local or
 * remote inference: mtls.ts, remote.ts), and so are the jailbreak heuristics.
 */
export function renderedRails(tiers: TiersConfig, files?: RailFiles): RailFiles {
    const g = tiers.guardrails;
    return renderRailFiles(files ?? readRailFiles(g.configId), {
        configId: g.configId,
        inferenceBaseUrl: uplinkBaseUrl,
        modelName: tiers.inference.model.name,
        jailbreakEndpoint: `${loopbackUrl(workloadPorts.guardrailsToJailbreak)}${jailbreakPath}`,
        presidioAnalyzerUrl: loopbackUrl(workloadPorts.guardrailsToAnalyzer),
        presidioAnonymizerUrl: loopbackUrl(workloadPorts.guardrailsToAnonymizer),
        entities: tiers.outputFilter.entities,
    });
}

/** The one route of the jailbreak heuristics server the rails call (POST; the sidecar forwards only it). */
export const jailbreakPath = "/heuristics";

/**
 * The loopback client listeners of the guardrails' sidecar (pure): inference (local, or the
 * remote entry when `remote` is set) and the output filter, each only where it exists (nginx
 * resolves every upstream name at start).
 */
export function guardrailsClientListeners(
    tiers: TiersConfig,
    remote?: UplinkTarget,
): ProxyListener[] {
    const out: ProxyListener[] = [];
    if (remote !== undefined || tiers.inference.enabled) out.push(inferenceListener(remote));
    if (tiers.guardrails.jailbreakDetection.enabled) {
        out.push(
            tierClientListener("jailbreak-detection", workloadPorts.guardrailsToJailbreak, {
                method: "POST",
                path: jailbreakPath,
            }),
        );
    }
    if (tiers.outputFilter.enabled) {
        out.push(
            tierClientListener("presidio-analyzer", workloadPorts.guardrailsToAnalyzer, {
                method: "POST",
                path: "/analyze",
            }),
            tierClientListener("presidio-anonymizer", workloadPorts.guardrailsToAnonymizer, {
                method: "POST",
                path: "/anonymize",
            }),
        );
    }
    return out;
}

/** A namespace's quota, as the baseline sets it (built-in default, then config overrides). */
interface Quota {
    readonly cpu: string;
    readonly memory: string;
    readonly gpus: number;
}

/** The inference namespace's quota: the built-in default with the cluster's overrides. */
export function inferenceQuota(cluster: ClusterLayerArgs["cluster"]): Quota {
    const ns = tierNamespaces.inference;
    const override = Object.fromEntries(
        Object.entries(cluster.layer.baseline.quotas?.[ns] ?? {}).filter(
            ([, v]) => v !== undefined,
        ),
    );
    return { ...defaultQuota(ns, "tier", cluster), ...override };
}

/** Reasons the inference HPA could outgrow its namespace quota (empty when it fits). Pure. */
export function inferenceQuotaProblems(tiers: TiersConfig, quota: Quota): string[] {
    const inf = tiers.inference;
    const max = inf.hpa.maxReplicas;
    const out: string[] = [];
    if (max * inf.gpus > quota.gpus) {
        out.push(
            `tiers.inference.hpa.maxReplicas ${max} × ${inf.gpus} GPU exceeds the ${tierNamespaces.inference} ` +
                `quota of ${quota.gpus} GPUs; lower maxReplicas or raise baseline.quotas.${tierNamespaces.inference}.gpus`,
        );
    }
    // A pod's memory request is the larger of its init container's and the sum of the others'.
    const servingMemory = (parseQuantity(inf.resources.requests.memory) ?? 0) + sidecarMemoryBytes;
    const loader = modelLoaderMemory(inf.model.sizeGi);
    const podMemory =
        parseQuantity(loader)! > servingMemory ? loader : inf.resources.requests.memory;
    for (const [key, req, cap] of [
        ["cpu", inf.resources.requests.cpu, quota.cpu],
        ["memory", podMemory, quota.memory],
    ] as const) {
        const r = parseQuantity(req);
        const c = parseQuantity(cap);
        if (r !== undefined && c !== undefined && r * max > c) {
            out.push(
                `tiers.inference.hpa.maxReplicas ${max} × ${key} request ${req} exceeds the ` +
                    `${tierNamespaces.inference} quota of ${cap}; lower maxReplicas or raise the quota`,
            );
        }
    }
    return out;
}

/** Memory requests of the inference pod's sidecars: metrics (tiers.ts) and mTLS (mtls.ts). */
const sidecarMemoryBytes = 16 * 1024 ** 2 + (parseQuantity(sidecarResources.requests.memory) ?? 0);

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The gateway, guardrails, inference and output-filter tiers (issue 4). */
export class LlmTiers extends pulumi.ComponentResource {
    /** In-cluster URL clients of the gateway reach (behind the ingress). */
    public readonly endpoint?: string;
    /** Checksum of the rails configuration on the guardrails pod template. */
    public readonly railsChecksum?: string;
    /** The remote inference the guardrails (live and candidate) call, if another cluster's. */
    private uplink?: UplinkTarget;
    /** The cluster CA (mtls.ts); none when no tier runs. */
    private readonly mtls?: ClusterMtls;
    /** Each tier's certificate, which its pods wait for. */
    private readonly certificates: Partial<Record<string, pulumi.Resource[]>> = {};

    constructor(name: string, args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:llm:LlmTiers", name, {}, opts);
        const tiers = args.cluster.layer.tiers;
        const child = { parent: this };

        const unverified = unverifiedImageDigests(tiers);
        if (unverified.length > 0) {
            pulumi.log.warn(
                `${args.cluster.name}: ${unverified.length} tier image digest(s) not verified:\n` +
                    unverified
                        .map((u) => `  - tiers.${u.tier}: ${u.image}: ${u.reason}`)
                        .join("\n"),
                this,
            );
        }

        const clients = args.cluster.inferenceClients ?? [];
        const anyTier =
            tiers.gateway.enabled ||
            tiers.guardrails.enabled ||
            tiers.inference.enabled ||
            tiers.outputFilter.enabled;
        // The cluster CA of every tier hop (mtls.ts).
        this.mtls = anyTier
            ? new ClusterMtls(`${name}-mtls`, { clusterName: args.cluster.name }, child)
            : undefined;

        if (tiers.outputFilter.enabled) {
            for (const which of ["presidio-analyzer", "presidio-anonymizer"] as const) {
                const sidecar = this.sidecar(name, which, tiers, tierSidecarConf(which));
                new HardenedWorkload(
                    `${name}-${which}`,
                    withMtlsSidecar(presidioWorkload(tiers.outputFilter, which), sidecar),
                    { parent: this, dependsOn: this.certificates[which] },
                );
            }
        }

        if (
            tiers.guardrails.enabled &&
            !tiers.inference.enabled &&
            !tiers.guardrails.inferenceFrom
        ) {
            pulumi.log.warn(
                `${args.cluster.name}: the guardrails have no inference to call (tiers.inference.enabled is false and ` +
                    "tiers.guardrails.inferenceFrom is not set): every request they accept fails",
                this,
            );
        }
        if (tiers.guardrails.enabled) {
            const files = renderedRails(tiers);
            const missing = missingFlows(files);
            if (missing.length > 0) {
                throw new pulumi.ResourceError(
                    `guardrails/${tiers.guardrails.configId}: flows referenced but not defined: ` +
                        `${missing.join(", ")}; define them in rails/*.co or fix the name`,
                    this,
                );
            }
            const checksum = railsChecksum(files);
            this.railsChecksum = checksum;
            const target = rolloutTargets.guardrailsRules;
            const rails = new k8s.core.v1.ConfigMap(
                `${name}-rails`,
                {
                    metadata: {
                        name: target.configMap,
                        namespace: target.namespace,
                        labels: buildWorkloadLabels(catalog.guardrails),
                        annotations: {
                            [annotations.configChecksum]: checksum,
                            [railsCodeDigestAnnotation]: railsChecksum(
                                Object.fromEntries(
                                    Object.entries(files).filter(([p]) => p.endsWith(".py")),
                                ),
                            ),
                        },
                    },
                    data: Object.fromEntries(
                        Object.entries(files).map(([p, c]) => [configMapKey(p), c]),
                    ),
                },
                {
                    ...child,
                    // Promotions own the rules (modules/constants/rollout.ts); code is the repo's.
                    ignoreChanges: [...promotedFields.guardrailsRules],
                    replaceOnChanges: [`metadata.annotations["${railsCodeDigestAnnotation}"]`],
                    deleteBeforeReplace: true,
                },
            );
            const guardrails = guardrailsWorkload(tiers.guardrails, rails.metadata.name, checksum);
            new HardenedWorkload(`${name}-guardrails`, this.guardrailsPod(name, args, guardrails), {
                parent: this,
                dependsOn: this.certificates.guardrails,
            });
            if (args.cluster.layer.kubeflow.enabled) {
                this.candidateTier(name, args, rails, checksum);
            }
            if (tiers.guardrails.jailbreakDetection.enabled) {
                const id = "jailbreak-detection";
                const sidecar = this.sidecar(name, id, tiers, tierSidecarConf(id));
                new HardenedWorkload(
                    `${name}-jailbreak`,
                    withMtlsSidecar(
                        jailbreakWorkload(tiers.guardrails.jailbreakDetection),
                        sidecar,
                    ),
                    { parent: this, dependsOn: this.certificates[id] },
                );
            }
        }

        if (tiers.inference.enabled) {
            // Checked with the configuration (modules/preflight.ts); asserted here.
            const problems = inferenceQuotaProblems(tiers, inferenceQuota(args.cluster));
            if (problems.length > 0) {
                throw new pulumi.ResourceError(problems.join("; "), this);
            }
            const source =
                tiers.inference.model.source !== undefined
                    ? pulumi.output(tiers.inference.model.source)
                    : args.cloud
                      ? pulumi.interpolate`oci-os://${args.cloud.modelBucket.namespace}/${args.cloud.modelBucket.name}/${tiers.inference.model.name}`
                      : undefined;
            if (source === undefined) {
                throw new pulumi.ResourceError(
                    `cluster ${args.cluster.name}: set tiers.inference.model.source (oci-os://<namespace>/<bucket>/<prefix>)`,
                    this,
                );
            }
            const target = rolloutTargets.inferenceModel;
            const model = new k8s.core.v1.ConfigMap(
                `${name}-inference-model`,
                {
                    metadata: {
                        name: target.configMap,
                        namespace: target.namespace,
                        labels: buildWorkloadLabels(catalog.inference),
                    },
                    data: { [modelSourceKey]: source, name: tiers.inference.model.name },
                },
                { ...child, ignoreChanges: [...promotedFields.inferenceModel] },
            );
            const metricsConf = inferenceMetricsNginxConf();
            const metricsMap = new k8s.core.v1.ConfigMap(
                `${name}-inference-metrics`,
                {
                    metadata: {
                        name: "inference-metrics-nginx",
                        namespace: tierNamespaces.inference,
                        labels: buildWorkloadLabels(catalog.inference),
                    },
                    data: { "nginx.conf": metricsConf },
                },
                child,
            );
            const spec = inferenceWorkload(tiers.inference, {
                metricsImage: tiers.gateway.image,
                metricsConfigMap: metricsMap.metadata.name,
                // An existing cluster's region is a location label; its OCI region is config's.
                region: args.cloud?.region ?? args.cluster.layer.networkPolicy.ociRegion,
                cryptoEndpoint: args.cloud?.cryptoEndpoint,
                trustedKeyIds: args.cloud
                    ? pulumi.interpolate`${args.cloud.keys.models},${args.cloud.keys.signing}`
                    : undefined,
                // Under the proxy engine, only the model loader may use the egress proxy.
                loaderProxyEnv: clusterProxyEnv(args.cluster, catalog.inference.id, args.cloud),
            });
            const sidecar = this.sidecar(name, "inference", tiers, tierSidecarConf("inference"));
            new HardenedWorkload(
                `${name}-inference`,
                withMtlsSidecar(
                    {
                        ...spec,
                        podAnnotations: {
                            [annotations.configChecksum]: source.apply((s) =>
                                sha256(s + metricsConf),
                            ),
                        },
                    },
                    sidecar,
                ),
                { parent: this, dependsOn: [model, ...(this.certificates.inference ?? [])] },
            );
        }

        if (tiers.inference.enabled && clients.length > 0) {
            const cloud = args.cloud;
            new InferenceEntry(
                `${name}-remote-entry`,
                {
                    cluster: args.cluster,
                    clients,
                    issuer: this.mtls!.issuer,
                    image: tiers.gateway.image,
                    resources: tiers.gateway.resources,
                    vault: cloud && {
                        vaultId: cloud.vaultId,
                        region: cloud.region,
                        compartmentId: cloud.compartmentId,
                        keyId: cloud.keys.secrets,
                        loadBalancerNsgId: cloud.loadBalancerNsgId,
                    },
                },
                child,
            );
        }

        if (tiers.gateway.enabled) {
            this.endpoint = `https://${tiers.gateway.hostname}/v1`;
            this.gateway(name, tiers, args.globalHostname);
        }
        this.registerOutputs({ endpoint: this.endpoint, railsChecksum: this.railsChecksum });
    }

    /**
     * The candidate guardrails tier (modules/constants/rollout.ts `guardrailsCandidate`): the
     * live tier's builder with its own ConfigMap, which starts as the repository's rules and
     * then belongs to the guardrail-promotion pipeline's evaluation step. One replica: a
     * candidate is served seconds after its restart, at the cost of one CPU pod; only the
     * evaluation step may reach it (network intent), never the gateway.
     */
    private candidateTier(
        name: string,
        args: ClusterLayerArgs,
        live: k8s.core.v1.ConfigMap,
        checksum: string,
    ): void {
        const target = rolloutTargets.guardrailsCandidate;
        const w = catalog[target.deployment];
        const rails = new k8s.core.v1.ConfigMap(
            `${name}-candidate-rails`,
            {
                metadata: {
                    name: target.configMap,
                    namespace: target.namespace,
                    labels: buildWorkloadLabels(w),
                    annotations: live.metadata.annotations,
                },
                data: live.data,
            },
            {
                parent: this,
                ignoreChanges: [...promotedFields.guardrailsCandidate],
                replaceOnChanges: [`metadata.annotations["${railsCodeDigestAnnotation}"]`],
                deleteBeforeReplace: true,
            },
        );
        const spec = guardrailsWorkload(
            args.cluster.layer.tiers.guardrails,
            rails.metadata.name,
            checksum,
            { workload: w, replicas: 1, args: [candidateServerArg] },
        );
        // Its own identity (certificate CN candidate-guardrails...): its server listener admits
        // only the evaluation step; its loopback clients are the live tier's, as themselves.
        const tiers = args.cluster.layer.tiers;
        const id = "candidate-guardrails" satisfies typeof target.deployment;
        const sidecar = this.sidecar(
            name,
            id,
            tiers,
            tierSidecarConf(id, guardrailsClientListeners(tiers, this.uplink)),
            this.uplink !== undefined,
        );
        new HardenedWorkload(`${name}-${w.id}`, withMtlsSidecar(spec, sidecar), {
            parent: this,
            dependsOn: this.certificates[id],
        });
    }

    /**
     * A tier's certificate (its identity, mtls.ts) and the sidecar's ConfigMap (nginx.conf and the
     * run script); `remote` mounts the uplink's client certificate too.
     */
    private sidecar(
        name: string,
        id: MtlsServer,
        tiers: TiersConfig,
        conf: string,
        remote = false,
    ): MtlsSidecar {
        const w = catalog[id];
        const labels = buildWorkloadLabels(w);
        // The guardrails tiers call inference and the output filter too.
        const uses =
            id === "guardrails" || id === "candidate-guardrails"
                ? (["server", "client"] as const)
                : (["server"] as const);
        this.certificates[id] = [
            tierCertificate(`${name}-${id}-mtls-cert`, w, uses, labels, {
                parent: this,
                dependsOn: [this.mtls!.issuer],
            }),
        ];
        const script = sidecarRunScript(remote);
        const map = new k8s.core.v1.ConfigMap(
            `${name}-${id}-mtls`,
            {
                metadata: { name: mtlsNames.configMap(id), namespace: w.namespace, labels },
                data: { "nginx.conf": conf, "run-nginx.sh": script },
            },
            { parent: this },
        );
        return {
            image: tiers.gateway.image,
            configMap: map.metadata.name,
            checksum: sha256(conf + script),
            secret: mtlsNames.certificate(id),
            remoteSecret: remote ? remoteNames.uplinkSecret : undefined,
            port: { name: w.ports[0].name, containerPort: w.ports[0].port },
        };
    }

    /**
     * The guardrails pod with its mTLS sidecar: the server listener for the gateway, the loopback
     * clients to inference (local, or the remote entry when their inference is another cluster's)
     * and to the output filter. The candidate tier gets the same client listeners under its own
     * identity ({@link candidateTier}).
     */
    private guardrailsPod(
        name: string,
        args: ClusterLayerArgs,
        spec: HardenedWorkloadComponentArgs,
    ): HardenedWorkloadComponentArgs {
        const tiers = args.cluster.layer.tiers;
        const from = tiers.guardrails.inferenceFrom;
        const link = args.cluster.privateLink;
        let remote: UplinkTarget | undefined;
        if (from !== undefined) {
            if (link === undefined || args.remoteInference === undefined) {
                throw new pulumi.ResourceError(
                    `cluster ${args.cluster.name}: tiers.guardrails.inferenceFrom ${from} needs privateLink and the serving cluster's vault`,
                    this,
                );
            }
            remote = {
                servingCluster: from,
                address: link.entryAddress,
                port: workloadPorts.inferenceEntry,
            };
            new InferenceUplink(
                `${name}-uplink`,
                { cluster: args.cluster, target: remote, vault: args.remoteInference },
                { parent: this },
            );
        }
        this.uplink = remote;
        const conf = tierSidecarConf("guardrails", guardrailsClientListeners(tiers, remote));
        return withMtlsSidecar(
            spec,
            this.sidecar(name, "guardrails", tiers, conf, remote !== undefined),
        );
    }

    private gateway(name: string, tiers: TiersConfig, globalHostname?: string): void {
        const g = tiers.gateway;
        const w = catalog.gateway;
        const objectLabels = buildWorkloadLabels(w);
        const child = { parent: this };
        const keys = new k8s.apiextensions.CustomResource(
            `${name}-gateway-api-keys`,
            {
                apiVersion: externalSecretsApiVersion,
                kind: "ExternalSecret",
                metadata: { name: gatewayKeysSecret, namespace: w.namespace, labels: objectLabels },
                spec: {
                    refreshInterval: "1h",
                    secretStoreRef: { kind: "ClusterSecretStore", name: clusterSecretStoreName },
                    target: {
                        name: gatewayKeysSecret,
                        creationPolicy: "Owner",
                        deletionPolicy: "Retain",
                        template: {
                            engineVersion: "v2",
                            type: "Opaque",
                            data: { "api-keys.map": apiKeysMapTemplate },
                        },
                    },
                    data: [{ secretKey: "keys", remoteRef: { key: g.auth.apiKeysSecret } }],
                },
            },
            child,
        );
        const conf = gatewayNginxConf(g);
        const script = gatewayRunScript();
        const confMap = new k8s.core.v1.ConfigMap(
            `${name}-gateway-conf`,
            {
                metadata: { name: "gateway-nginx", namespace: w.namespace, labels: objectLabels },
                data: { "nginx.conf": conf, "run-gateway.sh": script },
            },
            child,
        );
        // The gateway's identity: server towards its callers, client towards the guardrails (mtls.ts).
        const cert = tierCertificate(
            `${name}-gateway-mtls-cert`,
            w,
            ["server", "client"],
            objectLabels,
            { parent: this, dependsOn: [this.mtls!.issuer] },
        );
        // ingress-nginx's client certificate, in the gateway's namespace (proxy-ssl-secret below).
        const ingressCert = new k8s.apiextensions.CustomResource(
            `${name}-ingress-nginx-mtls-cert`,
            {
                apiVersion: "cert-manager.io/v1",
                kind: "Certificate",
                metadata: {
                    name: ingressMtlsClient.secret,
                    namespace: w.namespace,
                    labels: objectLabels,
                },
                spec: ingressClientCertificateSpec(),
            },
            { parent: this, dependsOn: [this.mtls!.issuer] },
        );
        const gateway = new HardenedWorkload(
            `${name}-gateway`,
            gatewayWorkload(g, confMap.metadata.name, sha256(conf + script)),
            { parent: this, dependsOn: [keys, cert] },
        );
        new k8s.networking.v1.Ingress(
            `${name}-gateway-ingress`,
            {
                metadata: {
                    name: w.id,
                    namespace: w.namespace,
                    labels: objectLabels,
                    annotations: {
                        "cert-manager.io/cluster-issuer": clusterIssuerName,
                        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                        "nginx.ingress.kubernetes.io/proxy-body-size": g.maxBodySize,
                        "nginx.ingress.kubernetes.io/limit-rps": String(g.rateLimitRps),
                        "nginx.ingress.kubernetes.io/limit-burst-multiplier": "2",
                        "nginx.ingress.kubernetes.io/proxy-buffering": "off",
                        "nginx.ingress.kubernetes.io/proxy-read-timeout": "300",
                        ...gatewayBackendTlsAnnotations(w.namespace),
                    },
                },
                spec: gatewayIngressSpec(g.hostname, globalHostname, w.id, w.ports[0].name),
            },
            { parent: this, dependsOn: [gateway, ingressCert] },
        );
    }
}

/**
 * ingress-nginx's backend TLS annotations of the gateway Ingress (pure): HTTPS to the gateway,
 * ingress-nginx's client certificate presented, the gateway's name and the cluster CA verified,
 * TLS 1.3. Names, values and risk levels from kubernetes/ingress-nginx controller-v1.14.1
 * (chart 4.14.1): internal/ingress/annotations/proxyssl/main.go (proxy-ssl-secret Medium, its
 * Secret in the Ingress's namespace with tls.crt, tls.key, ca.crt; proxy-ssl-name High;
 * proxy-ssl-verify, -verify-depth, -server-name, -protocols Low; protocols matching
 * `^(TLSv1\.2|TLSv1\.3| )*$`) and backendprotocol/main.go (backend-protocol Low, HTTPS). The
 * controller runs with annotations-risk-level High (modules/k8s/baseline/ingress.ts), so all pass.
 */
export function gatewayBackendTlsAnnotations(namespace: string): Record<string, string> {
    const p = "nginx.ingress.kubernetes.io";
    return {
        [`${p}/backend-protocol`]: "HTTPS",
        [`${p}/proxy-ssl-secret`]: `${namespace}/${ingressMtlsClient.secret}`,
        [`${p}/proxy-ssl-verify`]: "on",
        [`${p}/proxy-ssl-verify-depth`]: "1",
        [`${p}/proxy-ssl-name`]: tierIdentity("gateway"),
        [`${p}/proxy-ssl-server-name`]: "on",
        [`${p}/proxy-ssl-protocols`]: "TLSv1.3",
    };
}

/**
 * The gateway Ingress: `/v1` for the region's own name and, when the cluster is behind the steered
 * entry, `/v1` for the global name too plus the health path OCI's monitor probes on both. One TLS entry with both names, so
 * cert-manager's ingress-shim issues one certificate whose dnsNames cover both (cert-manager
 * docs, "Securing Ingress Resources": the Certificate takes its dnsNames from `spec.tls[].hosts`).
 * The health path answers only nginx's own `ok` (modules/k8s/llm/tiers.ts `location = /healthz`):
 * no API key, nothing reaches the guardrails or the inference.
 */
export function gatewayIngressSpec(
    hostname: string,
    globalHostname: string | undefined,
    service: string,
    port: string,
): Record<string, unknown> {
    const hosts = globalHostname === undefined ? [hostname] : [hostname, globalHostname];
    const backend = { service: { name: service, port: { name: port } } };
    return {
        ingressClassName,
        tls: [{ hosts, secretName: "gateway-tls" }],
        rules: hosts.map((host) => ({
            host,
            http: {
                paths: [
                    { path: "/v1", pathType: "Prefix", backend },
                    ...(globalHostname === undefined
                        ? []
                        : [{ path: gatewayHealthPath, pathType: "Exact", backend }]),
                ],
            },
        })),
    };
}
