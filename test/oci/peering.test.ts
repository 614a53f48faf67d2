import { strict as assert } from "assert";
import { parseConfig, PlatformConfig } from "../../modules/config";
import { peeringPlan } from "../../modules/oci/peering";
import {
    RecordedResource,
    recordedResources,
    resetRecords,
    settle,
    unwrapSecrets,
} from "../../tools/plan/mocks";

const compartmentId = "ocid1.compartment.oc1..aaaapeering";
const tenancyId = "ocid1.tenancy.oc1..aaaapeering";

function okeCluster(name: string, region: string, vcnCidr: string): Record<string, unknown> {
    return {
        name,
        region,
        network: { vcnCidr },
        nodePools: [
            {
                name: "system",
                role: "system",
                shape: "VM.Standard.E5.Flex",
                ocpus: 2,
                memoryGbs: 16,
            },
        ],
    };
}

function config(clusters: Record<string, unknown>[], peering = true): PlatformConfig {
    return parseConfig(
        {
            environment: "staging",
            compartmentId,
            tenancyId,
            homeRegion: "us-ashburn-1",
            tags: { team: "ml-platform" },
            peering: { enabled: peering },
            clusters,
        },
        { stack: "peertest" },
    );
}

describe("remote peering plan", () => {
    it("plans one DRG per region, one RPC pair per region pair, routes to other regions only", () => {
        const cfg = config([
            okeCluster("iad1", "us-ashburn-1", "10.40.0.0/16"),
            okeCluster("fra1", "eu-frankfurt-1", "10.41.0.0/16"),
            okeCluster("iad2", "us-ashburn-1", "10.42.0.0/16"),
        ]);
        const plan = peeringPlan(cfg.clusters);
        assert.deepEqual(plan.regions, ["us-ashburn-1", "eu-frankfurt-1"]);
        assert.deepEqual(plan.pairs, [{ requestor: "us-ashburn-1", acceptor: "eu-frankfurt-1" }]);
        const routes = Object.fromEntries(plan.clusters.map((c) => [c.cluster, c.peerCidrs]));
        assert.deepEqual(routes, {
            iad1: ["10.41.0.0/16"],
            fra1: ["10.40.0.0/16", "10.42.0.0/16"],
            iad2: ["10.41.0.0/16"],
        });
    });

    it("pairs every two of three regions exactly once", () => {
        const cfg = config([
            okeCluster("a", "us-ashburn-1", "10.40.0.0/16"),
            okeCluster("b", "eu-frankfurt-1", "10.41.0.0/16"),
            okeCluster("c", "ap-tokyo-1", "10.42.0.0/16"),
        ]);
        const pairs = peeringPlan(cfg.clusters).pairs.map((p) =>
            [p.requestor, p.acceptor].sort().join("+"),
        );
        assert.deepEqual(pairs.sort(), [
            "ap-tokyo-1+eu-frankfurt-1",
            "ap-tokyo-1+us-ashburn-1",
            "eu-frankfurt-1+us-ashburn-1",
        ]);
    });
});

describe("remote peering under mocks", function () {
    this.timeout(30000);
    let resources: RecordedResource[];
    const regionOf = (r: RecordedResource): string | undefined => {
        const urn = r.provider?.split("::").slice(0, -1).join("::");
        const provider = resources.find((p) => p.urn === urn);
        return provider?.inputs.region as string | undefined;
    };
    const byName = (name: string) => {
        const found = resources.find((r) => r.name === name);
        assert.ok(found, `no resource named ${name}`);
        return found;
    };

    before(async () => {
        resetRecords();
        const { deployPlatform, platformLookups } = await import("../../modules/platform");
        const cfg = config([
            okeCluster("peer-iad", "us-ashburn-1", "10.50.0.0/16"),
            okeCluster("peer-fra", "eu-frankfurt-1", "10.51.0.0/16"),
        ]);
        deployPlatform(cfg, await platformLookups(cfg));
        await settle();
        resources = recordedResources().map((r) => ({
            ...r,
            inputs: unwrapSecrets(r.inputs) as Record<string, unknown>,
        }));
    });

    it("creates one DRG in each region, with the stack's tags", () => {
        const drgs = resources.filter((r) => r.type === "oci:Core/drg:Drg");
        assert.deepEqual(drgs.map(regionOf).sort(), ["eu-frankfurt-1", "us-ashburn-1"]);
        for (const drg of drgs) {
            assert.equal(drg.inputs.compartmentId, compartmentId);
            assert.equal((drg.inputs.freeformTags as Record<string, string>).team, "ml-platform");
        }
    });

    it("attaches each VCN to the DRG of its own region", () => {
        const drgs = resources.filter((r) => r.type === "oci:Core/drg:Drg");
        for (const [cluster, region] of [
            ["peer-iad", "us-ashburn-1"],
            ["peer-fra", "eu-frankfurt-1"],
        ]) {
            const att = byName(`${cluster}-net-drg-attachment`);
            assert.equal(att.type, "oci:Core/drgAttachment:DrgAttachment");
            const drg = drgs.find((d) => d.id === att.inputs.drgId);
            assert.ok(drg, "attachment names a DRG of the stack");
            assert.equal(regionOf(drg), region);
            assert.equal(regionOf(att), region);
            const vcn = byName(`${cluster}-net-vcn`);
            assert.deepEqual(att.inputs.networkDetails, { id: vcn.id, type: "VCN" });
        }
    });

    it("connects the regions with an RPC pair: the requestor names the acceptor and its region", () => {
        const rpcs = resources.filter(
            (r) => r.type === "oci:Core/remotePeeringConnection:RemotePeeringConnection",
        );
        assert.equal(rpcs.length, 2);
        const requestor = rpcs.find((r) => r.inputs.peerId !== undefined)!;
        const acceptor = rpcs.find((r) => r.inputs.peerId === undefined)!;
        assert.ok(requestor && acceptor);
        assert.equal(requestor.inputs.peerId, acceptor.id);
        assert.equal(requestor.inputs.peerRegionName, regionOf(acceptor));
        assert.notEqual(regionOf(requestor), regionOf(acceptor));
        const drgs = resources.filter((r) => r.type === "oci:Core/drg:Drg");
        for (const rpc of rpcs) {
            const drg = drgs.find((d) => d.id === rpc.inputs.drgId)!;
            assert.equal(regionOf(drg), regionOf(rpc), "an RPC sits on the DRG of its own region");
        }
    });

    it("routes only the peer VCN through the DRG, after the attachment exists", () => {
        for (const [cluster, peerCidr] of [
            ["peer-iad", "10.51.0.0/16"],
            ["peer-fra", "10.50.0.0/16"],
        ]) {
            const rt = byName(`${cluster}-net-private-rt`);
            const att = byName(`${cluster}-net-drg-attachment`);
            const rules = rt.inputs.routeRules as Record<string, unknown>[];
            const viaDrg = rules.filter((r) => r.networkEntityId === att.inputs.drgId);
            assert.deepEqual(
                viaDrg.map((r) => [r.destination, r.destinationType]),
                [[peerCidr, "CIDR_BLOCK"]],
            );
            assert.ok(rt.dependencies.includes(att.urn), "route rule waits for the DRG attachment");
            // Every private subnet (workers, pods, control plane) uses this route table.
            for (const role of ["cp", "workers", "pods"]) {
                assert.equal(byName(`${cluster}-net-${role}`).inputs.routeTableId, rt.id);
            }
        }
    });

    it("opens no NSG rule to a peer VCN (routing only)", () => {
        const rules = resources.filter(
            (r) =>
                r.type ===
                "oci:Core/networkSecurityGroupSecurityRule:NetworkSecurityGroupSecurityRule",
        );
        assert.ok(rules.length > 0);
        for (const r of rules) {
            for (const cidr of ["10.50.0.0/16", "10.51.0.0/16"]) {
                const own = r.name.startsWith(cidr === "10.50.0.0/16" ? "peer-iad" : "peer-fra");
                if (!own) {
                    assert.notEqual(r.inputs.source, cidr, r.name);
                    assert.notEqual(r.inputs.destination, cidr, r.name);
                }
            }
        }
    });
});
