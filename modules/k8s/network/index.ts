/**
 * Network security of a cluster (issue 6): the intent rendered as standard NetworkPolicy (always),
 * plus the FQDN egress engine the cluster's config picks: Calico Enterprise domain rules, Cilium
 * `toFQDNs`, or per-identity egress proxies; and open-source Calico where nothing else would
 * enforce NetworkPolicy.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../../config";
import type { TierImage } from "../../config/tiers";
import { tigeraOperatorChart } from "../../constants/charts";
import { placeholderDigest } from "../../constants/images";
import { annotations } from "../../constants/labels";
import { privilegedNamespaces } from "../../constants/namespaces";
import { workloadPorts } from "../../constants/ports";
import { priorityClasses } from "../../constants/scheduling";
import type { CloudClusterInfo } from "../../oci/types";
import type { ClusterLayerArgs } from "../args";
import { HardenedWorkload } from "../workload";
import { NetworkIntent, buildIntent, intentInputs, proxyEnv } from "./intent";
import {
    ProxyInstance,
    allowlistConfigMapAnnotation,
    proxyConfigDir,
    proxyInstances,
    squidConfKey,
} from "./proxy";
import { CalicoPolicyOnly } from "./calico-policy-only";
import {
    clusterCalicoMode,
    calicoOnOkeFlannelGap,
    renderCalicoEnterprise,
    tigeraOperatorValues,
} from "./render-calico";
import { renderCilium } from "./render-cilium";
import { K8sObject, renderKubernetesPolicies } from "./render-k8s";

export {
    analyzeReachability,
    reachabilityViolations,
    renderReachabilityMarkdown,
} from "./reachability";
export type { ReachabilityResult } from "./reachability";
export { buildIntent, intentInputs } from "./intent";
export type { NetworkIntent } from "./intent";

/** Every object the engine-independent and engine-specific renderers produce for an intent (pure). */
export function renderNetworkObjects(intent: NetworkIntent): K8sObject[] {
    const engine =
        intent.engine === "calico-enterprise"
            ? renderCalicoEnterprise(intent)
            : intent.engine === "cilium"
              ? renderCilium(intent)
              : proxyInstances(intent).map((p) => p.configMap);
    return [...renderKubernetesPolicies(intent), ...engine];
}

/**
 * Proxy settings for a container of `identity` on `cluster` (empty unless the engine is `proxy`).
 * Tiers call this for the inference tier's model-loader init container only, never for vLLM.
 */
export function clusterProxyEnv(
    cluster: ClusterConfig,
    identity: string,
    cloud?: Pick<CloudClusterInfo, "subnetCidrs">,
): { name: string; value: string }[] {
    return proxyEnv(buildIntent(intentInputs(cluster, cloud)), identity);
}

/** Default-deny NetworkPolicy, tier flows and the FQDN egress engine (issue 6). */
export class NetworkSecurity extends pulumi.ComponentResource {
    /** The intent the objects were rendered from. */
    public readonly intent: NetworkIntent;

    constructor(name: string, args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:network:NetworkSecurity", name, {}, opts);
        try {
            this.intent = buildIntent(intentInputs(args.cluster, args.cloud));
        } catch (e) {
            throw new pulumi.ResourceError(
                `cluster ${args.cluster.name}: ${(e as Error).message}`,
                this,
            );
        }
        const intent = this.intent;
        const net = args.cluster.layer.networkPolicy;

        const calicoMode = clusterCalicoMode(args.cluster);
        if (calicoMode === "policy-only") {
            // OKE VCN-native: Calico policy-only as OKE documents it (calico-policy-only.ts).
            new CalicoPolicyOnly(`${name}-calico`, {}, { parent: this });
        } else if (calicoMode === "operator") {
            if (args.cluster.target === "oke") {
                pulumi.log.warn(calicoOnOkeFlannelGap(), this);
            }
            new k8s.helm.v3.Release(
                `${name}-calico`,
                {
                    name: "tigera-operator",
                    chart: tigeraOperatorChart.chart,
                    version: tigeraOperatorChart.version,
                    repositoryOpts: { repo: tigeraOperatorChart.repo },
                    namespace: privilegedNamespaces.calico,
                    createNamespace: false,
                    values: tigeraOperatorValues(),
                },
                { parent: this },
            );
        }
        // Policies are inert until an enforcing CNI runs, so they may exist before it.
        const child = { parent: this };

        for (const o of renderKubernetesPolicies(intent)) {
            new k8s.networking.v1.NetworkPolicy(
                `${name}-np-${o.metadata.namespace}-${o.metadata.name}`,
                {
                    metadata: o.metadata,
                    spec: o.spec as unknown as k8s.types.input.networking.v1.NetworkPolicySpec,
                },
                child,
            );
        }
        if (intent.engine === "calico-enterprise" || intent.engine === "cilium") {
            const objects =
                intent.engine === "cilium" ? renderCilium(intent) : renderCalicoEnterprise(intent);
            for (const o of objects) {
                const id = `${o.kind.toLowerCase()}-${o.metadata.namespace ? `${o.metadata.namespace}-` : ""}${o.metadata.name}`;
                new k8s.apiextensions.CustomResource(
                    `${name}-${id}`,
                    { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata, spec: o.spec },
                    child,
                );
            }
        } else {
            const proxies = proxyInstances(intent);
            if (proxies.length > 0 && net.proxyImage.digest === placeholderDigest) {
                pulumi.log.warn(
                    `egress proxy image ${net.proxyImage.repository}:${net.proxyImage.tag}: placeholder digest of an image we build (images/egress-proxy/Dockerfile): build and push it, then set networkPolicy.proxyImage (repository, tag, digest) in the stack config`,
                    this,
                );
            }
            for (const p of proxies) {
                this.egressProxy(name, p, net.proxyImage);
            }
        }
        this.registerOutputs({});
    }

    /** One hardened Squid instance and its allowlist ConfigMap. */
    private egressProxy(name: string, p: ProxyInstance, image: TierImage): void {
        const cm = p.configMap;
        const configMap = new k8s.core.v1.ConfigMap(
            `${name}-proxy-${p.identity}-config`,
            { metadata: cm.metadata, data: cm.data as Record<string, string> },
            { parent: this },
        );
        new HardenedWorkload(
            `${name}-proxy-${p.identity}`,
            {
                workload: p.workload,
                replicas: 2,
                priorityClassName: priorityClasses.platform,
                podAnnotations: {
                    [annotations.configChecksum]: p.checksum,
                    [allowlistConfigMapAnnotation]: cm.metadata.name,
                },
                containers: [
                    {
                        name: "squid",
                        image,
                        command: ["squid", "-N", "-f", `${proxyConfigDir}/${squidConfKey}`],
                        ports: [{ name: "http", containerPort: workloadPorts.egressProxy }],
                        resources: {
                            requests: { cpu: "50m", memory: "64Mi", ephemeralStorage: "64Mi" },
                            limits: { cpu: "500m", memory: "256Mi", ephemeralStorage: "128Mi" },
                        },
                        probes: {
                            readiness: {
                                path: "/squid-internal-static/icons/SN.png",
                                port: "http",
                            },
                            liveness: {
                                path: "/squid-internal-static/icons/SN.png",
                                port: "http",
                                failureThreshold: 6,
                            },
                        },
                        mounts: [
                            { name: "config", mountPath: proxyConfigDir },
                            { name: "run", mountPath: "/var/run/squid", readOnly: false },
                            { name: "spool", mountPath: "/var/spool/squid", readOnly: false },
                        ],
                    },
                ],
                volumes: [
                    { name: "config", configMap: { name: cm.metadata.name } },
                    { name: "run", emptyDir: { sizeLimit: "16Mi" } },
                    { name: "spool", emptyDir: { sizeLimit: "64Mi" } },
                ],
            },
            { parent: this, dependsOn: [configMap] },
        );
    }
}
