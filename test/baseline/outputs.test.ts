import { strict as assert } from "assert";
import type { ClusterConfig } from "../../modules/config";
import { recordedOutputs, RecordedResource } from "../../tools/plan/mocks";
import { devRaw, fakeCloud, parse, recordBaseline } from "./helpers";

/** The outputs the one component of `type` registered (the mocks record registerOutputs). */
function outputsOf(rs: readonly RecordedResource[], type: string): Record<string, unknown> {
    const found = rs.filter((r) => r.type === type);
    assert.equal(found.length, 1, `one ${type}`);
    const out = recordedOutputs().get(found[0].urn);
    assert.ok(out !== undefined, `${type} registered no outputs`);
    return out;
}

describe("baseline components register what they created as outputs", () => {
    let rs: RecordedResource[];
    before(async () => {
        const raw = devRaw();
        raw.baseline = { tenants: [{ name: "alpha" }] };
        const cluster: ClusterConfig = parse(raw).clusters[0];
        rs = await recordBaseline("bl-out", cluster, fakeCloud("us-ashburn-1"));
    });

    it("AdmissionPolicies: the policy names", () => {
        assert.deepEqual(outputsOf(rs, "secure-llm-platform:baseline:AdmissionPolicies"), {
            policies: ["slp-restricted-pods", "slp-tenant-sandbox"],
        });
    });

    it("Namespaces: every namespace it created", () => {
        const { namespaces } = outputsOf(rs, "secure-llm-platform:baseline:Namespaces") as {
            namespaces: string[];
        };
        const created = rs
            .filter((r) => r.type === "kubernetes:core/v1:Namespace")
            .map((r) => (r.inputs.metadata as { name: string }).name);
        assert.ok(created.length > 0);
        assert.deepEqual([...namespaces].sort(), [...created].sort());
    });

    it("PriorityClasses and TenantIsolation: what they created", () => {
        const { priorityClasses } = outputsOf(rs, "secure-llm-platform:baseline:PriorityClasses");
        assert.deepEqual(
            priorityClasses,
            rs
                .filter((r) => r.type === "kubernetes:scheduling.k8s.io/v1:PriorityClass")
                .map((r) => (r.inputs.metadata as { name: string }).name),
        );
        const { networkPolicies } = outputsOf(
            rs,
            "secure-llm-platform:baseline:TenantIsolation",
        ) as {
            networkPolicies: string[];
        };
        assert.ok(networkPolicies.length > 0);
        assert.ok(
            networkPolicies.every((n) => n.startsWith("tenant-alpha/")),
            String(networkPolicies),
        );
    });

    it("ExternalSecrets: the name of its store", () => {
        const { store } = outputsOf(rs, "secure-llm-platform:baseline:ExternalSecrets");
        assert.equal(typeof store, "string");
        assert.ok(
            rs.some(
                (r) =>
                    /ClusterSecretStore|SecretStore/.test(r.type) &&
                    (r.inputs.metadata as { name: string }).name === store,
            ),
        );
    });
});
