/**
 * Remote inference (issue 16): a cluster without inference names the OKE cluster that serves it
 * (`tiers.guardrails.inferenceFrom`) and the private link between their networks (`privateLink`).
 * Parsed per cluster here; {@link validateRemoteInference} checks the pair once every cluster is read.
 */
import { contains, overlaps, parseCidr } from "./cidr";
import { planSubnets } from "../oci/subnets";
import type { ClusterConfig } from "./schema";
import { didYouMean } from "./suggest";
import { Issues, Raw, isObject, join, obj, patterns, str, strList } from "./validate";

/** The OCI side of a site-to-site IPSec VPN: the customer-premises equipment (CPE) it terminates on. */
export interface IpsecLinkConfig {
    /** Public IPv4 address of the on-premises VPN device (the CPE object's `ipAddress`). */
    readonly cpeAddress: string;
}

/** The private link from a cluster's network to an OKE cluster's VCN. */
export interface PrivateLinkConfig {
    /** The OKE cluster whose VCN the link reaches (the DRG the program creates attaches to it). */
    readonly to: string;
    /**
     * Addresses traffic from this cluster arrives from at the other end (its nodes' CIDRs when
     * pods are SNATed to the node, as Calico's natOutgoing does): routed through the DRG and the
     * only sources the remote inference entry admits.
     */
    readonly cidrs: readonly string[];
    /**
     * Private IPv4 of the remote inference entry's internal network load balancer, in the serving
     * cluster's load balancer subnet; the only address this cluster's guardrails may reach there.
     */
    readonly entryAddress: string;
    /** Site-to-site IPSec VPN over the internet to the DRG. */
    readonly ipsec: IpsecLinkConfig;
}

/** A cluster whose guardrails call another cluster's inference, as the serving cluster sees it. */
export interface InferenceClient {
    /** The calling cluster. */
    readonly cluster: string;
    /** Its {@link PrivateLinkConfig.cidrs}: the only sources the entry admits. */
    readonly cidrs: readonly string[];
    /** The entry's load balancer address it dials. */
    readonly entryAddress: string;
    /** OCI user of its External Secrets API key: allowed to read its client certificate's secret. */
    readonly vaultReaderUserOcid: string;
}

/** Reads `clusters[i].privateLink` (existing clusters only; undefined when absent). */
export function parsePrivateLink(
    raw: unknown,
    path: string,
    issues: Issues,
    target: string,
): PrivateLinkConfig | undefined {
    if (raw === undefined) return undefined;
    if (target !== "existing") {
        issues.add(
            path,
            "(set)",
            "privateLink only on a cluster of target existing (OKE clusters of a stack are connected by peering)",
        );
        return undefined;
    }
    const o: Raw = obj(raw, path, issues, ["to", "cidrs", "entryAddress", "ipsec"]);
    const ipsecPath = join(path, "ipsec");
    if (!isObject(o.ipsec)) {
        issues.add(
            ipsecPath,
            o.ipsec,
            "an object { cpeAddress: <public IPv4 of the on-premises VPN device> } (IPSec is the link type the program creates)",
        );
    }
    const ip = obj(o.ipsec ?? {}, ipsecPath, issues, ["cpeAddress"]);
    const cidrs = strList(o, "cidrs", path, issues, {
        ...patterns.cidr,
        required: true,
    });
    if (Array.isArray(o.cidrs) && o.cidrs.length === 0) {
        issues.add(join(path, "cidrs"), o.cidrs, "at least one on-premises source CIDR");
    }
    return {
        to: str(o, "to", path, issues, {
            ...patterns.dnsLabel,
            required: true,
            default: "invalid",
        }),
        cidrs,
        entryAddress: str(o, "entryAddress", path, issues, {
            ...patterns.entryAddress,
            required: true,
            default: "0.0.0.0",
        }),
        ipsec: {
            cpeAddress: str(ip, "cpeAddress", ipsecPath, issues, {
                ...patterns.cpeAddress,
                required: true,
                default: "0.0.0.0",
            }),
        },
    };
}

/** The load balancer subnet of an OKE cluster's VCN plan (where internal load balancers live). */
export function loadBalancerSubnet(cluster: ClusterConfig): string | undefined {
    if (cluster.network === undefined) return undefined;
    return planSubnets({
        vcnCidr: cluster.network.vcnCidr,
        podNetworking: cluster.network.podNetworking,
        publicEndpoint: false,
        publicLoadBalancers: false,
    }).find((s) => s.role === "lb")?.cidr;
}

/**
 * Cross-cluster checks of remote inference. `path` is the clusters list's path. Refused: a
 * cluster naming itself, a cluster that does not exist, a target without inference or that is not
 * OKE, a cluster serving inference itself while naming another, no private link to the target,
 * an entry address outside the target's load balancer subnet, link CIDRs inside the target's VCN,
 * and a calling cluster without External Secrets (its client certificate comes from the vault).
 */
export function validateRemoteInference(
    clusters: readonly (ClusterConfig & { readonly privateLink?: PrivateLinkConfig })[],
    path: string,
    issues: Issues,
): void {
    const names = clusters.map((c) => c.name);
    clusters.forEach((c, i) => {
        const t = c.layer.tiers;
        const key = `${path}[${i}].tiers.guardrails.inferenceFrom`;
        const from = t.guardrails.inferenceFrom;
        const link = c.privateLink;
        if (link !== undefined && from === undefined) {
            issues.add(
                `${path}[${i}].privateLink`,
                "(set)",
                "tiers.guardrails.inferenceFrom naming the cluster the link reaches (a private link carries only remote inference)",
            );
        }
        // Guardrails without inference and without inferenceFrom are warned about by the tiers
        // (modules/k8s/llm): test fixtures and staged roll-outs use that shape.
        if (from === undefined) return;
        const auth = c.layer.baseline.secrets;
        if (!auth.enabled || auth.existingClusterAuth === undefined) {
            issues.add(
                `${path}[${i}].baseline.secrets.existingClusterAuth`,
                undefined,
                "External Secrets with an API key: the guardrails' client certificate comes from the serving cluster's vault",
            );
        }
        if (!t.guardrails.enabled) {
            issues.add(key, from, "no inferenceFrom while the guardrails are disabled");
            return;
        }
        if (t.inference.enabled) {
            issues.add(
                key,
                from,
                "no inferenceFrom while this cluster serves inference itself (tiers.inference.enabled: true)",
            );
            return;
        }
        if (from === c.name) {
            issues.add(
                key,
                from,
                "another cluster of the stack: a cluster cannot serve its own remote inference",
            );
            return;
        }
        const target = clusters.find((x) => x.name === from);
        if (target === undefined) {
            issues.add(
                key,
                from,
                `the name of a cluster of the stack (${names.join(", ")})${didYouMean(from, names)}`,
            );
            return;
        }
        if (!target.layer.tiers.inference.enabled) {
            issues.add(
                key,
                from,
                `a cluster that serves inference; ${from} has tiers.inference.enabled: false`,
            );
            return;
        }
        if (target.target !== "oke") {
            issues.add(
                key,
                from,
                `an OKE cluster (the program creates the OCI side of the private link); ${from} is target ${target.target}`,
            );
            return;
        }
        if (link === undefined) {
            issues.add(
                `${path}[${i}].privateLink`,
                undefined,
                `a private link to ${from}: { to: ${from}, cidrs: [<on-premises source CIDRs>], entryAddress: <IPv4 in ${from}'s load balancer subnet>, ipsec: { cpeAddress: <VPN device IPv4> } }`,
            );
            return;
        }
        if (link.to !== from) {
            issues.add(
                `${path}[${i}].privateLink.to`,
                link.to,
                `${from}, the cluster tiers.guardrails.inferenceFrom names: there is no private link to ${from}`,
            );
            return;
        }
        // One entry per serving cluster: every caller dials the same load balancer address.
        const first = clusters.find(
            (x) => x.layer.tiers.guardrails.inferenceFrom === from && x.privateLink?.to === from,
        );
        if (
            first !== undefined &&
            first !== c &&
            first.privateLink!.entryAddress !== link.entryAddress
        ) {
            issues.add(
                `${path}[${i}].privateLink.entryAddress`,
                link.entryAddress,
                `${first.privateLink!.entryAddress}, the address ${first.name} gives ${from}'s entry (one entry per serving cluster)`,
            );
        }
        const lb = loadBalancerSubnet(target);
        const address = parseCidr(`${link.entryAddress}/32`);
        const lbCidr = lb === undefined ? undefined : parseCidr(lb);
        // 0.0.0.0 is the parser's stand-in for an address already refused.
        const valid = link.entryAddress !== "0.0.0.0";
        if (valid && address !== undefined && lbCidr !== undefined && !contains(lbCidr, address)) {
            issues.add(
                `${path}[${i}].privateLink.entryAddress`,
                link.entryAddress,
                `an address in ${from}'s load balancer subnet ${lb}`,
            );
        }
        const vcn = target.network === undefined ? undefined : parseCidr(target.network.vcnCidr);
        link.cidrs.forEach((cidr, j) => {
            const c2 = parseCidr(cidr);
            if (vcn !== undefined && c2 !== undefined && overlaps(vcn, c2)) {
                issues.add(
                    `${path}[${i}].privateLink.cidrs[${j}]`,
                    cidr,
                    `an on-premises CIDR outside ${from}'s VCN ${target.network!.vcnCidr}`,
                );
            }
        });
    });
}

/** The clusters with {@link ClusterConfig.inferenceClients} filled in (after validation). Pure. */
export function withInferenceClients<T extends ClusterConfig>(clusters: readonly T[]): T[] {
    return clusters.map((c) => {
        const clients: InferenceClient[] = clusters
            .filter(
                (x) =>
                    x.layer.tiers.guardrails.inferenceFrom === c.name &&
                    x.privateLink !== undefined,
            )
            .map((x) => ({
                cluster: x.name,
                cidrs: x.privateLink!.cidrs,
                entryAddress: x.privateLink!.entryAddress,
                vaultReaderUserOcid: x.layer.baseline.secrets.existingClusterAuth?.userOcid ?? "",
            }));
        return clients.length === 0 ? c : { ...c, inferenceClients: clients };
    });
}
