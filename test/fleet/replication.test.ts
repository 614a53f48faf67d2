import { strict as assert } from "assert";
import { parseConfig, PlatformConfig } from "../../modules/config";
import { isKubernetesObject, providerUrn, toManifest } from "../../tools/plan/manifests";
import { recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { compareFleet, fleetMembers, objectKey, renderFleetMarkdown } from "../../tools/plan/fleet";
import type { Manifest } from "../../tools/plan/manifests";
import { stackRaw } from "../support/stacks";

/** The objects the program declared through a cluster's Kubernetes provider. */
function manifestsOf(cluster: string): Manifest[] {
    const provider = recordedResources().find(
        (r) => r.type === "pulumi:providers:kubernetes" && r.name === `${cluster}-k8s`,
    )!;
    return recordedResources()
        .filter((r) => isKubernetesObject(r) && providerUrn(r.provider) === provider.urn)
        .map(toManifest);
}

function stackConfig(stack: string): PlatformConfig {
    return parseConfig(stackRaw(stack), { stack });
}

describe("fleet: every cluster of a stack gets the same platform", function () {
    this.timeout(60000);
    let cfg: PlatformConfig;
    before(async () => {
        cfg = stackConfig("prod");
        resetRecords();
        const { deployPlatform, platformLookups } = await import("../../modules/platform");
        deployPlatform(cfg, await platformLookups(cfg));
        await settle();
    });

    it("declares the same objects in both prod regions", () => {
        const [a, b] = cfg.clusters.map((c) => manifestsOf(c.name).map(objectKey).sort());
        assert.ok(a.length > 50, `only ${a.length} objects`);
        assert.deepEqual(a, b);
    });

    it("differs only in cluster-specific values (name, region, cloud ids): the plan's fleet check finds nothing", () => {
        const manifests = new Map(cfg.clusters.map((c) => [c.name, manifestsOf(c.name)] as const));
        const report = compareFleet(fleetMembers(cfg.clusters, manifests), cfg.fleet.exceptions);
        assert.ok(report.compared > 50, `only ${report.compared} objects compared`);
        assert.deepEqual(
            report.differences.map((d) => d.object),
            [],
            renderFleetMarkdown(report),
        );
        assert.deepEqual(report.violations, []);
    });

    it("the gateway of each region answers for its own name and the steered name, /v1 and the health path", () => {
        for (const c of cfg.clusters) {
            const ing = manifestsOf(c.name).find((m) => m.kind === "Ingress")! as any;
            const hosts = [c.layer.tiers.gateway.hostname, cfg.globalEntry!.hostname];
            assert.deepEqual(ing.spec.tls, [{ hosts, secretName: "gateway-tls" }]);
            assert.deepEqual(
                ing.spec.rules.map((r: any) => [
                    r.host,
                    r.http.paths.map((p: any) => `${p.pathType} ${p.path}`),
                ]),
                hosts.map((h) => [h, ["Prefix /v1", "Exact /healthz"]]),
            );
        }
    });

    it("gives each cluster its own cloud layer in its own region", () => {
        const clusters = recordedResources().filter(
            (r) => r.type === "oci:ContainerEngine/cluster:Cluster",
        );
        assert.deepEqual(
            clusters.map((c) => c.name).sort(),
            ["prod-fra-cluster", "prod-iad-cluster"].sort(),
        );
        const ociProviders = recordedResources().filter((r) => r.type === "pulumi:providers:oci");
        const regions = new Set(ociProviders.map((p) => p.inputs.region));
        assert.ok(regions.has("us-ashburn-1") && regions.has("eu-frankfurt-1"));
    });
});
