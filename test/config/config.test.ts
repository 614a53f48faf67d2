import { strict as assert } from "assert";
import { ConfigValidationError, PlatformConfig, parseConfig } from "../../modules/config";
import { parseCidr, subnet, formatCidr, overlaps } from "../../modules/config/cidr";
import { stackRaw } from "../support/stacks";

function devRaw(): Record<string, unknown> {
    return stackRaw("dev");
}

function issuesOf(raw: Record<string, unknown>, secretKeys: string[] = []): ConfigValidationError {
    try {
        parseConfig(raw, { stack: "test", secretKeys });
    } catch (e) {
        if (e instanceof ConfigValidationError) {
            return e;
        }
        throw e;
    }
    assert.fail("expected the configuration to be refused");
}

function clusters(raw: Record<string, unknown>): Record<string, any>[] {
    return raw.clusters as Record<string, any>[];
}

describe("stack configuration", () => {
    let dev: PlatformConfig;
    before(() => {
        dev = parseConfig(devRaw(), { stack: "dev" });
    });

    it("accepts the dev stack and applies defaults", () => {
        assert.equal(dev.environment, "dev");
        assert.equal(dev.clusters.length, 1);
        const c = dev.clusters[0];
        assert.equal(c.target, "oke");
        assert.equal(c.endpoint.public, false, "private API endpoint by default");
        assert.equal(c.network?.podNetworking, "vcn-native");
        assert.equal(dev.vault.protectionMode, "HSM");
        assert.equal(dev.vault.rotationDays, 90);
    });

    it("derives what an OKE cluster can host from its pools", () => {
        const c = dev.clusters[0];
        assert.deepEqual(
            { kata: c.capabilities.kata, kataGpu: c.capabilities.kataGpu },
            { kata: true, kataGpu: true },
        );
        const kataPools = c.nodePools.filter((p) => p.kata);
        assert.ok(kataPools.every((p) => p.shape.startsWith("BM.")));
        assert.ok(
            kataPools.every((p) => p.kataMode === "self-managed"),
            "virtualization is off by default on these shapes",
        );
    });

    it("refuses a VM shape for a Kata pool, naming the key", () => {
        const raw = devRaw();
        clusters(raw)[0].nodePools[2].shape = "VM.Standard.E5.Flex";
        clusters(raw)[0].nodePools[2].ocpus = 8;
        clusters(raw)[0].nodePools[2].memoryGbs = 64;
        const e = issuesOf(raw);
        const issue = e.issues.find(
            (i) => i.path === "secure-llm-platform:clusters[0].nodePools[2].shape",
        );
        assert.ok(issue, e.message);
        assert.equal(issue.value, "VM.Standard.E5.Flex");
        assert.match(issue.expected, /bare-metal shape/);
        assert.match(
            e.message,
            /clusters\[0\]\.nodePools\[2\]\.shape: got "VM\.Standard\.E5\.Flex"; expected a bare-metal shape/,
        );
    });

    it("refuses a managed Kata pool on a shape whose virtualization is off by default", () => {
        const raw = devRaw();
        clusters(raw)[0].nodePools[2].kataMode = "managed";
        const e = issuesOf(raw);
        assert.ok(
            e.issues.some(
                (i) =>
                    i.path.endsWith("nodePools[2].kataMode") && /platformConfig/.test(i.expected),
            ),
        );
    });

    it("reports every problem at once, each with key, value and expectation", () => {
        const raw = devRaw();
        raw.environment = "production";
        raw.homeRegion = "Ashburn";
        clusters(raw)[0].region = "us_ashburn_1";
        clusters(raw)[0].network.podsCidr = "10.0.128.0/17";
        clusters(raw)[0].nodePools[0].sise = 3;
        const e = issuesOf(raw);
        const paths = e.issues.map((i) => i.path);
        for (const p of [
            "secure-llm-platform:environment",
            "secure-llm-platform:homeRegion",
            "secure-llm-platform:clusters[0].region",
            "secure-llm-platform:clusters[0].network.podsCidr",
            "secure-llm-platform:clusters[0].nodePools[0].sise",
        ]) {
            assert.ok(paths.includes(p), `missing ${p} in ${paths.join(", ")}`);
        }
        const env = e.issues.find((i) => i.path === "secure-llm-platform:environment")!;
        assert.equal(env.value, "production");
        assert.equal(env.expected, "one of dev | staging | prod");
    });

    it("refuses overlapping VCNs and duplicate names across clusters", () => {
        const raw = devRaw();
        const second = JSON.parse(JSON.stringify(clusters(raw)[0]));
        second.region = "eu-frankfurt-1";
        second.network.vcnCidr = "10.0.0.0/18";
        raw.clusters = [clusters(raw)[0], second];
        const e = issuesOf(raw);
        assert.ok(
            e.issues.some((i) => i.path.endsWith("clusters[1].name") && /unique/.test(i.expected)),
        );
        assert.ok(
            e.issues.some(
                (i) => i.path.endsWith("clusters[1].network.vcnCidr") && /overlap/.test(i.expected),
            ),
        );
    });

    it("refuses peering unless OKE clusters span two regions, and accepts it when they do", () => {
        const single = devRaw();
        single.peering = { enabled: true };
        const e = issuesOf(single);
        const issue = e.issues.find((i) => i.path === "secure-llm-platform:peering.enabled");
        assert.ok(issue, e.message);
        assert.match(issue.expected, /at least 2 OKE clusters in at least 2 regions/);

        const sameRegion = devRaw();
        const twin = JSON.parse(JSON.stringify(clusters(sameRegion)[0]));
        twin.name = "twin";
        twin.network.vcnCidr = "10.99.0.0/16";
        sameRegion.clusters = [clusters(sameRegion)[0], twin];
        sameRegion.peering = { enabled: true };
        assert.ok(
            issuesOf(sameRegion).issues.some(
                (i) => i.path === "secure-llm-platform:peering.enabled",
            ),
        );

        const two = JSON.parse(JSON.stringify(sameRegion)) as Record<string, unknown>;
        clusters(two)[1].region = "eu-frankfurt-1";
        assert.equal(parseConfig(two, { stack: "test" }).peering.enabled, true);
        assert.equal(dev.peering.enabled, false, "peering is off by default");
        two.peering = { enabled: "yes" };
        assert.ok(
            issuesOf(two).issues.some((i) => i.path === "secure-llm-platform:peering.enabled"),
        );
    });

    it("refuses public API endpoints, software keys and unsigned images in prod", () => {
        const raw = devRaw();
        raw.environment = "prod";
        raw.vault = { protectionMode: "SOFTWARE" };
        clusters(raw)[0].endpoint = { public: true, allowedCidrs: ["198.51.100.0/24"] };
        clusters(raw)[0].imageSigning = false;
        const e = issuesOf(raw);
        const paths = e.issues.map((i) => i.path);
        assert.ok(paths.includes("secure-llm-platform:clusters[0].endpoint.public"));
        assert.ok(paths.includes("secure-llm-platform:vault.protectionMode"));
        assert.ok(paths.includes("secure-llm-platform:clusters[0].imageSigning"));
    });

    it("turns image signature verification on by default in prod", () => {
        const raw = devRaw();
        raw.environment = "prod";
        // Prod also needs a receiver for critical alerts.
        raw.observability = {
            alerting: {
                receivers: [{ name: "oncall", type: "pagerduty", secretName: "oncall-key" }],
            },
        };
        assert.equal(parseConfig(raw, { stack: "prod" }).clusters[0].imageSigning, true);
        assert.equal(dev.clusters[0].imageSigning, false);
    });

    it("refuses an existing cluster whose kubeconfig is not a secret", () => {
        const raw = devRaw();
        raw.clusters = [
            clusters(raw)[0],
            {
                name: "onprem",
                target: "existing",
                region: "fra-dc1",
                capabilities: { kata: false, cni: "calico" },
                networkPolicy: { ociRegion: "eu-frankfurt-1", apiServerCidrs: ["192.168.10.0/28"] },
            },
        ];
        raw["kubeconfig-onprem"] = "apiVersion: v1\nkind: Config";
        const plain = issuesOf(raw);
        assert.ok(
            plain.issues.some(
                (i) =>
                    i.path === "secure-llm-platform:kubeconfig-onprem" && /secret/.test(i.expected),
            ),
        );
        const ok = parseConfig(raw, {
            stack: "t",
            secretKeys: ["secure-llm-platform:kubeconfig-onprem"],
        });
        assert.equal(ok.clusters[1].kubeconfigKey, "kubeconfig-onprem");
        assert.equal(ok.clusters[1].capabilities.kata, false);
    });

    it("refuses OKE-only keys on an existing cluster and a missing kubeconfig", () => {
        const raw = devRaw();
        raw.clusters = [
            {
                name: "edge",
                target: "existing",
                region: "edge-1",
                nodePools: [],
                capabilities: { cni: "cilium" },
            },
        ];
        const e = issuesOf(raw);
        assert.ok(e.issues.some((i) => i.path.endsWith("clusters[0].nodePools")));
        assert.ok(e.issues.some((i) => i.path === "secure-llm-platform:kubeconfig-edge"));
    });

    it("requires a system pool and GPU shapes for GPU pools", () => {
        const raw = devRaw();
        clusters(raw)[0].nodePools[0].role = "kata";
        clusters(raw)[0].nodePools[1].shape = "BM.Standard.E4.128";
        const e = issuesOf(raw);
        assert.ok(
            e.issues.some(
                (i) => i.path.endsWith("clusters[0].nodePools") && /role system/.test(i.expected),
            ),
        );
        assert.ok(
            e.issues.some(
                (i) => i.path.endsWith("nodePools[1].shape") && /GPU shape/.test(i.expected),
            ),
        );
    });

    it("merges per-cluster overrides over stack-level sections", () => {
        const raw = devRaw();
        raw.tiers = { guardrails: { replicas: 3 } };
        clusters(raw)[0].tiers = { guardrails: { replicas: 5 } };
        const cfg = parseConfig(raw, { stack: "t" });
        assert.equal(cfg.clusters[0].layer.tiers.guardrails.replicas, 5);
    });
});

describe("CIDR arithmetic", () => {
    it("carves sub-blocks like cidrsubnet() and detects overlap", () => {
        const vcn = parseCidr("10.0.0.0/16")!;
        assert.equal(formatCidr(subnet(vcn, 8, 3)), "10.0.3.0/24");
        assert.equal(formatCidr(subnet(vcn, 2, 3)), "10.0.192.0/18");
        assert.ok(overlaps(vcn, parseCidr("10.0.200.0/24")!));
        assert.ok(!overlaps(vcn, parseCidr("10.1.0.0/16")!));
        assert.equal(parseCidr("10.0.0.1/16"), undefined, "host bits set");
        assert.throws(() => subnet(vcn, 2, 4));
    });
});
