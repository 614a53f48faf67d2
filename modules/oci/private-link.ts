/**
 * The OCI side of the private link between an on-premises network and an OKE cluster's VCN
 * (issue 16, docs/hybrid.md): a DRG (the region's peering DRG when there is one), the on-premises
 * VPN device as a CPE object, a site-to-site IPSec connection to it with static routes to the
 * on-premises CIDRs, the VCN's routes to them (through {@link OkeNetwork}'s DRG attachment), the
 * NSG rules that admit them to the remote inference entry's port only, and the IAM statements
 * that let External Secrets push each calling cluster's client certificate into the vault and let
 * that cluster's API-key user read exactly that secret.
 *
 * The on-premises side (the VPN device's tunnels, its routes to the VCN) is not OCI's and is
 * configured by hand from the IPSec connection's tunnels (docs/hybrid.md).
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../config";
import { workloadIdentities } from "../constants/identities";
import { okePorts, workloadPorts } from "../constants/ports";
import { clientVaultSecretName } from "../constants/remote";
import { workloadConditions } from "./iam-statements";

/** One on-premises cluster linked to a serving OKE cluster. */
export interface LinkedSite {
    /** The calling (on-premises) cluster. */
    readonly cluster: string;
    /** Its source CIDRs: routed through the DRG, admitted to the entry. */
    readonly cidrs: readonly string[];
    /** Public IPv4 of its VPN device. */
    readonly cpeAddress: string;
    /** OCI user of its External Secrets API key (reads its client certificate). */
    readonly readerUserOcid: string;
}

/** The private links that end in one OKE cluster's VCN. */
export interface ServingLinks {
    readonly cluster: string;
    readonly region: string;
    readonly sites: readonly LinkedSite[];
    /** Every site's CIDRs: routed from the VCN's private subnets to the DRG. */
    readonly routedCidrs: readonly string[];
}

/** The private links of a stack, by serving OKE cluster (stack-file order). Pure. */
export function privateLinkPlan(clusters: readonly ClusterConfig[]): ServingLinks[] {
    const out: ServingLinks[] = [];
    for (const c of clusters) {
        if (c.target !== "oke" || (c.inferenceClients ?? []).length === 0) continue;
        const sites = c.inferenceClients!.map((client) => {
            const site = clusters.find((x) => x.name === client.cluster)!;
            return {
                cluster: client.cluster,
                cidrs: client.cidrs,
                cpeAddress: site.privateLink!.ipsec.cpeAddress,
                readerUserOcid: client.vaultReaderUserOcid,
            };
        });
        out.push({
            cluster: c.name,
            region: c.region,
            sites,
            routedCidrs: [...new Set(sites.flatMap((s) => s.cidrs))],
        });
    }
    return out;
}

/** One NSG rule the link needs (pure data; `nsg` is a role of the cluster's NSGs). */
export interface LinkNsgRule {
    readonly nsg: "lb" | "workers" | "pods";
    readonly cidr: string;
    readonly ports: readonly [number, number];
    readonly description: string;
    readonly key: string;
}

/**
 * The ingress rules that admit the sites to the entry and nothing else (pure). The network load
 * balancer preserves the client's address, so the backends see the on-premises source: with
 * flannel the workers receive it on the NodePort range, with VCN-native pod networking the pods
 * receive it on the entry's port. Stateful rules: replies need no egress rule.
 */
export function linkNsgRules(
    links: ServingLinks,
    podNetworking: "vcn-native" | "flannel",
): LinkNsgRule[] {
    const port = workloadPorts.inferenceEntry;
    const out: LinkNsgRule[] = [];
    links.routedCidrs.forEach((cidr, i) => {
        out.push({
            nsg: "lb",
            cidr,
            ports: [port, port],
            description: `remote inference entry from the private link (${cidr})`,
            key: `lb-in-link-${i}`,
        });
        out.push(
            podNetworking === "vcn-native"
                ? {
                      nsg: "pods",
                      cidr,
                      ports: [port, port],
                      description: `remote inference entry pods from the private link (${cidr})`,
                      key: `pods-in-link-${i}`,
                  }
                : {
                      nsg: "workers",
                      cidr,
                      ports: [okePorts.nodePortMin, okePorts.nodePortMax],
                      description: `remote inference entry NodePort from the private link (${cidr})`,
                      key: `workers-in-link-${i}`,
                  },
        );
    });
    return out;
}

/** Ids the link's IAM statements are scoped to. */
export interface LinkPolicyScope {
    readonly compartmentId: string;
    readonly clusterId: string;
    readonly vaultId: string;
    readonly keyId: string;
    readonly servingCluster: string;
    readonly sites: readonly LinkedSite[];
}

const all = (...conditions: string[]) => `ALL {${conditions.join(", ")}}`;

/**
 * IAM statements of the link (pure): the serving cluster's External Secrets may write only the
 * client-certificate secrets of its sites in its vault (and use the vault key that encrypts them);
 * each site's API-key user may read only its own. `target.secret.name` and `target.vault.id` are
 * Vault policy variables (OCI docs: "Details for Vault, Key Management, and Secret Management").
 */
export function privateLinkStatements(s: LinkPolicyScope): string[] {
    const c = `compartment id ${s.compartmentId}`;
    const eso = workloadConditions(workloadIdentities.externalSecrets, s.clusterId);
    const out: string[] = [
        `Allow any-user to use keys in ${c} where ${all(...eso, `target.key.id = '${s.keyId}'`)}`,
    ];
    for (const site of s.sites) {
        const name = clientVaultSecretName(s.servingCluster, site.cluster);
        const secret = [`target.vault.id = '${s.vaultId}'`, `target.secret.name = '${name}'`];
        out.push(`Allow any-user to manage secret-family in ${c} where ${all(...eso, ...secret)}`);
        if (site.readerUserOcid !== "") {
            out.push(
                `Allow any-user to read secret-bundles in ${c} where ${all(`request.user.id = '${site.readerUserOcid}'`, ...secret)}`,
            );
        }
    }
    return out;
}

/** Arguments for {@link PrivateLinkGateway}. */
export interface PrivateLinkGatewayArgs {
    readonly compartmentId: string;
    readonly links: ServingLinks;
    /** The region's peering DRG, if the stack peers regions; else the gateway creates one. */
    readonly drgId?: pulumi.Input<string>;
    readonly tags: Readonly<Record<string, string>>;
}

/** DRG (unless given), CPE and IPSec connection per site, in the serving cluster's region. */
export class PrivateLinkGateway extends pulumi.ComponentResource {
    /** The DRG the serving VCN attaches to. */
    public readonly drgId: pulumi.Output<string>;
    /** IPSec connection OCID by site (its tunnels' details configure the on-premises device). */
    public readonly ipsecIds: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(
        name: string,
        args: PrivateLinkGatewayArgs,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("secure-llm-platform:oci:PrivateLinkGateway", name, {}, opts);
        const child = { parent: this };
        const tags = { ...args.tags, purpose: "private-link" };
        const { compartmentId } = args;
        this.drgId =
            args.drgId !== undefined
                ? pulumi.output(args.drgId)
                : new oci.core.Drg(
                      `${name}-drg`,
                      { compartmentId, displayName: `${name}`, freeformTags: tags },
                      child,
                  ).id;
        const ipsecIds: Record<string, pulumi.Output<string>> = {};
        for (const site of args.links.sites) {
            const cpe = new oci.core.Cpe(
                `${name}-cpe-${site.cluster}`,
                {
                    compartmentId,
                    ipAddress: site.cpeAddress,
                    displayName: `${name}-${site.cluster}`,
                    freeformTags: tags,
                },
                child,
            );
            // No shared secret here: OCI generates one per tunnel; read it with
            // `oci network ip-sec-psk get` when configuring the device (never in config or state).
            ipsecIds[site.cluster] = new oci.core.Ipsec(
                `${name}-ipsec-${site.cluster}`,
                {
                    compartmentId,
                    cpeId: cpe.id,
                    drgId: this.drgId,
                    staticRoutes: [...site.cidrs],
                    displayName: `${name}-${site.cluster}`,
                    freeformTags: tags,
                },
                child,
            ).id;
        }
        this.ipsecIds = ipsecIds;
        this.registerOutputs({ drgId: this.drgId, ipsecIds });
    }
}

/** Arguments for {@link PrivateLinkAccess}. */
export interface PrivateLinkAccessArgs {
    readonly links: ServingLinks;
    readonly podNetworking: "vcn-native" | "flannel";
    readonly compartmentId: string;
    readonly clusterId: pulumi.Input<string>;
    readonly vaultId: pulumi.Input<string>;
    readonly keyId: pulumi.Input<string>;
    /** NSG ids of the serving cluster by role (lb always; workers or pods by pod networking). */
    readonly nsgIds: Readonly<Partial<Record<"lb" | "workers" | "pods", pulumi.Input<string>>>>;
    /** Provider of the home region (IAM). */
    readonly homeProvider: oci.Provider;
    readonly iamName: string;
}

/** NSG rules and IAM statements of the link, once the serving cluster exists. */
export class PrivateLinkAccess extends pulumi.ComponentResource {
    constructor(name: string, args: PrivateLinkAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:PrivateLinkAccess", name, {}, opts);
        for (const rule of linkNsgRules(args.links, args.podNetworking)) {
            const nsg = args.nsgIds[rule.nsg];
            if (nsg === undefined) {
                throw new pulumi.ResourceError(
                    `private link to ${args.links.cluster}: no ${rule.nsg} NSG to admit ${rule.cidr}`,
                    this,
                );
            }
            new oci.core.NetworkSecurityGroupSecurityRule(
                `${name}-${rule.key}`,
                {
                    networkSecurityGroupId: nsg,
                    direction: "INGRESS",
                    protocol: "6",
                    stateless: false,
                    description: rule.description,
                    source: rule.cidr,
                    sourceType: "CIDR_BLOCK",
                    tcpOptions: {
                        destinationPortRange: { min: rule.ports[0], max: rule.ports[1] },
                    },
                },
                { parent: this },
            );
        }
        new oci.identity.Policy(
            `${name}-policy`,
            {
                compartmentId: args.compartmentId,
                name: args.iamName,
                description: `Client certificates of the remote inference entry of ${args.links.cluster}`,
                statements: pulumi
                    .all([args.clusterId, args.vaultId, args.keyId])
                    .apply(([clusterId, vaultId, keyId]) =>
                        privateLinkStatements({
                            compartmentId: args.compartmentId,
                            clusterId,
                            vaultId,
                            keyId,
                            servingCluster: args.links.cluster,
                            sites: args.links.sites,
                        }),
                    ),
            },
            { parent: this, provider: args.homeProvider },
        );
        this.registerOutputs({});
    }
}
