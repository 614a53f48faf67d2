import { strict as assert } from "assert";
import { parseConfig, PlatformConfig } from "../../modules/config";
import { isKubernetesObject, providerUrn, toManifest } from "../../tools/plan/manifests";
import { recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { stackRaw } from "../support/stacks";

function stackConfig(stack: string): PlatformConfig {
    return parseConfig(stackRaw(stack), { stack });
}

/** Every Kubernetes object of each cluster, keyed `Kind ns/name`, with cluster-specific values masked. */
function objectsByCluster(cfg: PlatformConfig): Map<string, Map<string, string>> {
    const providers = recordedResources().filter((r) => r.type === "pulumi:providers:kubernetes");
    const out = new Map<string, Map<string, string>>();
    for (const c of cfg.clusters) {
        const provider = providers.find((p) => p.name === `${c.name}-k8s`)!;
        // Cluster-specific: its name, region, cloud ids and addresses inside its own VCN.
        const vcnPrefix = c.network!.vcnCidr.split(".").slice(0, 2).join(".") + ".";
        const mask = (text: string) =>
            text
                .replace(/ocid1\.[a-z0-9]+\.oc1\.[a-z0-9-]*\.[A-Za-z0-9]+/g, "<ocid>")
                .replace(/[a-z0-9]{10}-(crypto|management)\.kms/g, "<vault>-$1.kms")
                // A checksum of mounted config that holds the values above; the config itself is compared.
                .replace(/(config-checksum":")[0-9a-f]{64}/g, "$1<sha256>")
                .split(c.name)
                .join("<cluster>")
                .split(c.region)
                .join("<region>")
                .split(`"${vcnPrefix}`)
                .join('"<vcn>.');
        const objects = new Map<string, string>();
        for (const r of recordedResources()) {
            if (isKubernetesObject(r) && providerUrn(r.provider) === provider.urn) {
                const m = toManifest(r);
                objects.set(
                    `${m.kind} ${m.metadata.namespace ?? ""}/${m.metadata.name}`,
                    mask(JSON.stringify(m)),
                );
            }
        }
        out.set(c.name, objects);
    }
    return out;
}

describe("fleet: every cluster of a stack gets the same platform", function () {
    this.timeout(60000);
    let cfg: PlatformConfig;
    let objects: Map<string, Map<string, string>>;
    before(async () => {
        cfg = stackConfig("prod");
        resetRecords();
        const { deployPlatform } = await import("../../modules/platform");
        deployPlatform(cfg);
        await settle();
        objects = objectsByCluster(cfg);
    });

    it("declares the same objects in both prod regions", () => {
        const [a, b] = cfg.clusters.map((c) => objects.get(c.name)!);
        assert.ok(a.size > 50, `only ${a.size} objects`);
        assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    });

    it("differs only in cluster-specific values (name, region, cloud ids)", () => {
        const [a, b] = cfg.clusters.map((c) => objects.get(c.name)!);
        const differing = [...a.keys()].filter((k) => a.get(k) !== b.get(k));
        assert.deepEqual(
            differing,
            [],
            differing.map((k) => `${k}\n  ${a.get(k)}\n  ${b.get(k)}`).join("\n"),
        );
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
