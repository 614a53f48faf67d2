/**
 * Remote peering between the regions of a stack (issue 9): one DRG per region, every OKE VCN
 * attached to its region's DRG (in {@link OkeNetwork}), one remote peering connection pair per pair
 * of regions, and route rules from each VCN's private subnets to the other regions' VCN CIDRs.
 *
 * Routing only: the clusters' NSGs admit no traffic from or to a peer VCN, so cross-cluster ports
 * stay closed until a rule opens them explicitly.
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../config";

/** One remote peering connection pair; the requestor names the acceptor (`peerId`). */
export interface PeeringPair {
    /** Region whose RPC sets `peerId` and `peerRegionName` (establishes the connection). */
    readonly requestor: string;
    /** Region whose RPC is created first and accepts. */
    readonly acceptor: string;
}

/** What one OKE cluster needs for peering. */
export interface ClusterPeering {
    readonly cluster: string;
    readonly region: string;
    /** VCN CIDRs of the OKE clusters in other regions, routed through this region's DRG. */
    readonly peerCidrs: readonly string[];
}

/** The peering of a stack, derived from its clusters. */
export interface PeeringPlan {
    /** Regions with at least one OKE cluster, in stack-file order; one DRG each. */
    readonly regions: readonly string[];
    /** One pair per unordered pair of regions; the earlier region in {@link regions} requests. */
    readonly pairs: readonly PeeringPair[];
    /** Per OKE cluster, in stack-file order. */
    readonly clusters: readonly ClusterPeering[];
}

/**
 * Plans the peering of a stack's OKE clusters (clusters of target `existing` are ignored). Clusters
 * of the same region share a DRG and get no routes to each other: only other regions are routed.
 */
export function peeringPlan(clusters: readonly ClusterConfig[]): PeeringPlan {
    const oke = clusters.filter((c) => c.target === "oke" && c.network !== undefined);
    const regions: string[] = [];
    for (const c of oke) {
        if (!regions.includes(c.region)) {
            regions.push(c.region);
        }
    }
    const pairs: PeeringPair[] = [];
    for (let a = 0; a < regions.length; a++) {
        for (let b = a + 1; b < regions.length; b++) {
            pairs.push({ requestor: regions[a]!, acceptor: regions[b]! });
        }
    }
    return {
        regions,
        pairs,
        clusters: oke.map((c) => ({
            cluster: c.name,
            region: c.region,
            peerCidrs: oke.filter((o) => o.region !== c.region).map((o) => o.network!.vcnCidr),
        })),
    };
}

/** Arguments for {@link RegionPeering}. */
export interface RegionPeeringArgs {
    /** Compartment of the DRGs and remote peering connections. */
    readonly compartmentId: string;
    /** The plan from {@link peeringPlan}; needs at least 2 regions. */
    readonly plan: PeeringPlan;
    /** The OCI provider of a region (resources are created in the region of their provider). */
    readonly providerFor: (region: string) => oci.Provider;
    /** Freeform tags for every resource. */
    readonly tags: Readonly<Record<string, string>>;
}

/** DRGs (one per region) and the remote peering connections between them. */
export class RegionPeering extends pulumi.ComponentResource {
    /** DRG OCID by region. */
    public readonly drgIds: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(name: string, args: RegionPeeringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:RegionPeering", name, {}, opts);
        const { plan, compartmentId } = args;
        if (plan.regions.length < 2) {
            throw new pulumi.ResourceError(
                `peering needs OKE clusters in at least 2 regions, found ${plan.regions.length}; set peering.enabled to false`,
                this,
            );
        }
        const tags = { ...args.tags, purpose: "peering" };
        const inRegion = (region: string) => ({ parent: this, provider: args.providerFor(region) });

        const drgIds: Record<string, pulumi.Output<string>> = {};
        for (const region of plan.regions) {
            drgIds[region] = new oci.core.Drg(
                `${name}-drg-${region}`,
                { compartmentId, displayName: `${name}-${region}`, freeformTags: tags },
                inRegion(region),
            ).id;
        }
        for (const { requestor, acceptor } of plan.pairs) {
            const pairName = `${name}-rpc-${requestor}-${acceptor}`;
            const accepting = new oci.core.RemotePeeringConnection(
                `${pairName}-acceptor`,
                {
                    compartmentId,
                    drgId: drgIds[acceptor]!,
                    displayName: `${name}-to-${requestor}`,
                    freeformTags: tags,
                },
                inRegion(acceptor),
            );
            // Setting peerId establishes the connection (the acceptor must exist first).
            new oci.core.RemotePeeringConnection(
                `${pairName}-requestor`,
                {
                    compartmentId,
                    drgId: drgIds[requestor]!,
                    displayName: `${name}-to-${acceptor}`,
                    peerId: accepting.id,
                    peerRegionName: acceptor,
                    freeformTags: tags,
                },
                inRegion(requestor),
            );
        }
        this.drgIds = drgIds;
        this.registerOutputs({ drgIds });
    }
}
