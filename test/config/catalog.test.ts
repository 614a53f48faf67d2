import { strict as assert } from "assert";
import { ConfigValidationError, parseConfig } from "../../modules/config";
import { ocidKind } from "../../modules/config/ocids";
import { isOciRegion, ociRegions } from "../../modules/config/regions";
import { stackRaw } from "../support/stacks";

function refusal(raw: Record<string, unknown>): ConfigValidationError {
    try {
        parseConfig(raw, { stack: "catalog" });
    } catch (e) {
        if (e instanceof ConfigValidationError) {
            return e;
        }
        throw e;
    }
    assert.fail("expected the configuration to be refused");
}

function issueAt(e: ConfigValidationError, key: string) {
    const found = e.issues.find((i) => i.path === `secure-llm-platform:${key}`);
    assert.ok(found, `${key} not reported; got ${e.message}`);
    return found;
}

const clusters = (raw: Record<string, unknown>) => raw.clusters as Record<string, any>[];

describe("config: catalog checks before any resource", () => {
    it("accepts every shipped stack", () => {
        for (const stack of ["dev", "staging", "prod", "hybrid"]) {
            const raw = stackRaw(stack);
            const secretKeys = Object.keys(raw)
                .filter((k) => k.startsWith("kubeconfig"))
                .map((k) => `secure-llm-platform:${k}`);
            parseConfig(raw, { stack, secretKeys });
        }
    });

    it("refuses a misspelt region before any resource, with a did-you-mean", () => {
        const raw = stackRaw("dev");
        clusters(raw)[0].region = "eu-frankfrut-1";
        raw.homeRegion = "us-ashburn-2";
        const e = refusal(raw);
        assert.match(issueAt(e, "clusters[0].region").expected, /did you mean "eu-frankfurt-1"/);
        assert.match(issueAt(e, "homeRegion").expected, /did you mean "us-ashburn-1"/);
        assert.ok(ociRegions.length > 40 && isOciRegion("us-chicago-1"));
    });

    it("refuses a Kubernetes version OKE does not offer, with a did-you-mean", () => {
        const raw = stackRaw("dev");
        clusters(raw)[0].kubernetesVersion = "v1.34.3";
        const e = refusal(raw);
        const issue = issueAt(e, "clusters[0].kubernetesVersion");
        assert.equal(issue.value, "v1.34.3");
        assert.match(
            issue.expected,
            /a Kubernetes version OKE offers: v1\.32\.1, v1\.32\.10, .*v1\.34\.10/,
        );
        assert.match(issue.expected, /did you mean "v1\.34\.2"\?/);
        // Versions are ordered numerically, not as text.
        assert.ok(issue.expected.indexOf("v1.34.2") < issue.expected.indexOf("v1.34.10"));
    });

    it("leaves the Kubernetes version of an existing cluster to that cluster", () => {
        const raw = stackRaw("hybrid");
        const onprem = clusters(raw).find((c) => c.target === "existing")!;
        assert.equal(onprem.kubernetesVersion, "v1.33.4");
        const secretKeys = Object.keys(raw)
            .filter((k) => k.startsWith("kubeconfig"))
            .map((k) => `secure-llm-platform:${k}`);
        parseConfig(raw, { stack: "hybrid", secretKeys });
    });

    it("takes a pool's availability domains as distinct numbers 1 to 3", () => {
        const raw = stackRaw("dev");
        clusters(raw)[0].nodePools[0].availabilityDomains = [3, 1];
        const secretKeys = Object.keys(raw)
            .filter((k) => k.startsWith("kubeconfig"))
            .map((k) => `secure-llm-platform:${k}`);
        const cfg = parseConfig(raw, { stack: "dev", secretKeys });
        assert.deepEqual(cfg.clusters[0].nodePools[0].availabilityDomains, [1, 3]);
        for (const bad of [[], [4], [1, 1], ["AD-1"]]) {
            clusters(raw)[0].nodePools[0].availabilityDomains = bad;
            const issue = issueAt(refusal(raw), "clusters[0].nodePools[0].availabilityDomains");
            assert.match(issue.expected, /distinct availability domain numbers 1, 2 or 3/);
        }
    });

    it("refuses a shape the catalog does not list, with a did-you-mean", () => {
        const raw = stackRaw("dev");
        clusters(raw)[0].nodePools[0].shape = "VM.Standard.E5.Flx";
        const e = refusal(raw);
        assert.match(
            issueAt(e, "clusters[0].nodePools[0].shape").expected,
            /did you mean "VM\.Standard\.E5\.Flex"/,
        );
    });

    it("refuses an OCID of the wrong kind, naming the key", () => {
        const raw = stackRaw("dev");
        raw.compartmentId = "ocid1.vault.oc1.us-ashburn-1.aaaavault";
        raw.vault = { ...(raw.vault as object), existingVaultId: "ocid1.key.oc1.iad.aaaakey" };
        clusters(raw)[0].nodePools[0].imageId = "ocid1.compartment.oc1..aaaacomp";
        const e = refusal(raw);
        assert.match(issueAt(e, "compartmentId").expected, /a compartment OCID or a tenancy OCID/);
        assert.match(issueAt(e, "vault.existingVaultId").expected, /a vault OCID/);
        assert.match(issueAt(e, "clusters[0].nodePools[0].imageId").expected, /an image OCID/);
        assert.equal(ocidKind("ocid1.image.oc1.iad.aaaa"), "image");
    });
});
