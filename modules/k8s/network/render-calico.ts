/**
 * Calico Enterprise / Calico Cloud rendering of the domain allowlists (pure).
 * Open-source Calico has no domain rules and would treat a domains-only Allow as allow-anywhere,
 * so this renderer refuses any other engine.
 */
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

/**
 * Why the operator-installed Calico is not yet what OKE documents (a known gap, reported by the
 * plan). OKE's "Example: Installing Calico and Setting Up Network Policies"
 * (docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengsettingupcalico.htm, section
 * "Installing Calico alongside the OCI VCN-Native Pod Networking CNI plugin") applies Calico's
 * policy-only manifest without its CNI install and with `FELIX_INTERFACEPREFIX=oci`,
 * `NO_DEFAULT_POOLS=true`, `FELIX_CHAININSERTMODE=Append`, `FELIX_IPTABLESMANGLEALLOWACTION=Return`
 * (and `FELIX_IPTABLESBACKEND=NFT` on Oracle Linux 8); for flannel, the same manifest with
 * `CALICO_MANAGE_CNI=true`. The tigera-operator the chart v3.31.5 runs (tigera/operator v1.40.8)
 * cannot express that:
 * - `api/v1/installation_types.go`: `cni.type` is one of Calico (the operator installs Calico's CNI
 *   binaries and config), GKE, AmazonVPC, AzureVNET (the CRD's enum; test/charts checks it);
 * - `pkg/render/node.go` `nodeEnvVars`: the only interface prefixes it sets are eni (AmazonVPC), gke
 *   and azv (AzureVNET), as calico-node env; `api/v1/calico_node_types.go`: calico-node's
 *   containers and init containers can override only `resources`, so no env can be added;
 * - `pkg/controller/migration/convert/network.go` `getCNIPlugin` refuses to adopt a manifest
 *   install whose prefix is not eni, azv, gke or cali;
 * - a FelixConfiguration `interfacePrefix: oci` would not do either: calico-node names a pod's
 *   host-side interface from the `FELIX_INTERFACEPREFIX` environment variable only
 *   (projectcalico/calico `libcalico-go/lib/backend/k8s/conversion/workload_endpoint_default.go`,
 *   `VethNameForWorkload`), so its workload endpoints would never match OCI's interfaces.
 * Replacing the operator with an authored policy-only install (calico-node DaemonSet, RBAC, the
 * crd.projectcalico.org CRDs) is the way out; it is not done: calico-node cannot run here to test
 * it, its image digest cannot be checked here, and the CRDs cannot be committed (issue 13).
 */
export function calicoOnOkeGap(podNetworking: string | undefined): string {
    return (
        `open-source Calico is installed by the tigera-operator chart, whose Installation puts Calico CNI and IPAM on the nodes; ` +
        `OKE documents Calico policy-only for ${podNetworking ?? "its"} pod networking (calico-policy-only manifest` +
        (podNetworking === "flannel"
            ? ", CALICO_MANAGE_CNI=true)"
            : ", no CNI install, FELIX_INTERFACEPREFIX=oci, NO_DEFAULT_POOLS=true, FELIX_CHAININSERTMODE=Append, FELIX_IPTABLESMANGLEALLOWACTION=Return)") +
        ", which the operator's Installation cannot express: do not apply this stack to a live OKE cluster until the Calico install is replaced (issue 13)"
    );
}
