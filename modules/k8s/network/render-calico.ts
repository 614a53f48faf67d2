/**
 * Calico, pure: the Calico Enterprise / Calico Cloud rendering of the domain allowlists
 * (open-source Calico has no domain rules and would treat a domains-only Allow as allow-anywhere,
 * so this renderer refuses any other engine); which open-source Calico install a cluster gets
 * (issue 13: policy-only on OKE VCN-native, calico-policy-only.ts; the tigera-operator elsewhere)
 * and the operator's Helm values.
 */
import type { ClusterConfig } from "../../config";
import { withChartImages } from "../../constants/chart-images";
import { labels } from "../../constants/labels";
import { okePorts } from "../../constants/ports";
import type { NetworkIntent } from "./intent";
import type { K8sObject } from "./render-k8s";

/** The tier that holds the FQDN allows; it sits before the `default` tier of Kubernetes policies. */
export const egressTier = { name: "platform-egress", order: 100 } as const;

const managed = { [labels.managedBy]: "pulumi", [labels.partOf]: "secure-llm-platform" };

/** A Calico selector expression that matches exactly `podLabels`. */
export function calicoSelector(podLabels: Readonly<Record<string, string>>): string {
    return Object.entries(podLabels)
        .map(([k, v]) => `${k} == '${v}'`)
        .join(" && ");
}

/**
 * The tier and its policies:
 * - `Tier platform-egress` (order 100, `defaultAction: Pass`), so traffic its policies do not allow
 *   goes on to the Kubernetes NetworkPolicies (default deny) instead of being dropped here;
 * - per workload with an allowlist, `platform-egress.allow-<id>-domains`: Allow TCP 443 to the
 *   domains, for that workload's pods only;
 * - `platform-egress.pass` (last in the tier): an explicit Pass both ways, for Calico versions that
 *   ignore `defaultAction` (a tier that selects a pod and takes no action drops the packet).
 */
export function renderCalicoEnterprise(intent: NetworkIntent): K8sObject[] {
    if (intent.engine !== "calico-enterprise") {
        throw new Error(
            `Calico domain rules are only enforced by Calico Enterprise/Cloud, not by engine ${intent.engine}; refusing to render them`,
        );
    }
    const byId = new Map(intent.workloads.map((w) => [w.id, w]));
    const out: K8sObject[] = [
        {
            apiVersion: "projectcalico.org/v3",
            kind: "Tier",
            metadata: { name: egressTier.name, labels: { ...managed } },
            spec: { order: egressTier.order, defaultAction: "Pass" },
        },
    ];
    for (const [id, domains] of Object.entries(intent.egress)) {
        const w = byId.get(id)!;
        out.push({
            apiVersion: "projectcalico.org/v3",
            kind: "NetworkPolicy",
            metadata: {
                name: `${egressTier.name}.allow-${id}-domains`,
                namespace: w.namespace,
                labels: { ...managed },
            },
            spec: {
                tier: egressTier.name,
                order: 100,
                selector: calicoSelector(w.podLabels),
                types: ["Egress"],
                egress: [
                    {
                        action: "Allow",
                        protocol: "TCP",
                        destination: { domains: [...domains], ports: [okePorts.https] },
                    },
                ],
            },
        });
    }
    out.push({
        apiVersion: "projectcalico.org/v3",
        kind: "GlobalNetworkPolicy",
        metadata: { name: `${egressTier.name}.pass`, labels: { ...managed } },
        spec: {
            tier: egressTier.name,
            order: 10000,
            selector: "all()",
            types: ["Ingress", "Egress"],
            ingress: [{ action: "Pass" }],
            egress: [{ action: "Pass" }],
        },
    });
    return out;
}

/**
 * Helm values of the open-source Calico operator (tigera-operator chart): the Installation only.
 * The chart's other custom resources stay off: the Calico API server (the platform writes only
 * Kubernetes NetworkPolicy with it), and Goldmane and Whisker (a flow aggregator and its web UI,
 * pods and a listener the platform has no use for).
 */
export function tigeraOperatorValues(): Record<string, unknown> {
    // The operator's image from the chart image catalog (the Calico images it starts are not
    // settable here; modules/images.ts names them).
    return withChartImages("tigera-operator", {
        installation: { enabled: true, kubernetesProvider: "" },
        apiServer: { enabled: false },
        goldmane: { enabled: false },
        whisker: { enabled: false },
    });
}

/** How open-source Calico comes onto a cluster, if the program installs it. */
export type CalicoInstallMode = "policy-only" | "operator" | "none";

/**
 * The one rule for which Calico install a cluster gets (issue 13):
 * - `policy-only` on OKE with VCN-native pod networking: OKE's "Example: Installing Calico and
 *   Setting Up Network Policies"
 *   (docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengsettingupcalico.htm, section
 *   "Installing Calico alongside the OCI VCN-Native Pod Networking CNI plugin") applies Calico's
 *   policy-only manifest without its CNI install; the program authors that install
 *   (calico-policy-only.ts) instead of running the tigera-operator, whose Installation cannot
 *   express it (see {@link calicoOnOkeFlannelGap} for the operator's limits);
 * - `operator` elsewhere (existing clusters with `installCalico`, and OKE flannel clusters): the
 *   tigera-operator chart, as before;
 * - `none` when `installCalico` is false.
 */
export function calicoInstallMode(c: {
    readonly target: "oke" | "existing";
    readonly podNetworking?: string;
    readonly installCalico: boolean;
}): CalicoInstallMode {
    if (!c.installCalico) return "none";
    return c.target === "oke" && c.podNetworking === "vcn-native" ? "policy-only" : "operator";
}

/** {@link calicoInstallMode} of a configured cluster. */
export function clusterCalicoMode(
    cluster: Pick<ClusterConfig, "target" | "network" | "layer">,
): CalicoInstallMode {
    return calicoInstallMode({
        target: cluster.target,
        podNetworking: cluster.network?.podNetworking,
        installCalico: cluster.layer.networkPolicy.installCalico,
    });
}

/**
 * Why an OKE flannel cluster's Calico is still not what OKE documents (a known gap, warned by the
 * plan). The OKE page above (as published in 2026) says Kubernetes Engine does not support the
 * Calico policy engine alongside the flannel CNI plugin ("causes network issues"): it documents
 * replacing flannel with Calico as the CNI, on enhanced clusters, after disabling the flannel
 * cluster add-on and deleting its DaemonSet, for nodes created afterwards only. An earlier
 * revision of the page (updated 2025-01-09) applied the policy-only manifest with
 * `CALICO_MANAGE_CNI=true` instead, also after disabling flannel. The program does neither: it
 * does not disable the flannel add-on, so the operator's Installation (Calico CNI and IPAM) would
 * run beside flannel. The tigera-operator the chart v3.31.5 runs (tigera/operator v1.40.8)
 * cannot express a policy-only install either:
 * - `api/v1/installation_types.go`: `cni.type` is one of Calico (the operator installs Calico's CNI
 *   binaries and config), GKE, AmazonVPC, AzureVNET (the CRD's enum; test/charts checks it);
 * - `pkg/render/node.go` `nodeEnvVars`: the only interface prefixes it sets are eni (AmazonVPC), gke
 *   and azv (AzureVNET), as calico-node env; `api/v1/calico_node_types.go`: calico-node's
 *   containers and init containers can override only `resources`, so no env can be added;
 * - `pkg/controller/migration/convert/network.go` `getCNIPlugin` refuses to adopt a manifest
 *   install whose prefix is not eni, azv, gke or cali.
 */
export function calicoOnOkeFlannelGap(): string {
    return (
        "OKE does not support the Calico policy engine alongside the flannel CNI plugin; it documents replacing flannel with Calico as the CNI " +
        "(enhanced cluster, flannel add-on disabled, new nodes only), which this program does not do: the tigera-operator's Calico CNI would run beside flannel. " +
        "Use network.podNetworking vcn-native (Calico policy-only, as OKE documents) or do not apply this stack to a live cluster (issue 13)"
    );
}
