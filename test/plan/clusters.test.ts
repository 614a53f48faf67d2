import { strict as assert } from "assert";
import { clustersFromProviders } from "../../tools/plan/run-stack";

const provider = (name: string) => ({
    type: "pulumi:providers:kubernetes",
    urn: `urn:pulumi:dev::secure-llm-platform::pulumi:providers:kubernetes::${name}`,
});

describe("plan: clusters from the providers the platform declared", () => {
    it("maps each cluster to its provider's URN, whatever the provider is called", () => {
        const a = provider("first-provider");
        const b = provider("something-else");
        const { clusters, problems } = clustersFromProviders(
            new Map([
                ["fra", b.urn],
                ["iad", a.urn],
            ]),
            [a, { type: "kubernetes:core/v1:Namespace", urn: "urn:x" }, b],
        );
        assert.deepEqual(problems, []);
        // In the order the providers were registered, not the map's.
        assert.deepEqual(clusters, [
            { name: "iad", providerUrn: a.urn },
            { name: "fra", providerUrn: b.urn },
        ]);
    });

    it("ignores providers no cluster names, and reports a cluster whose provider was not registered", () => {
        const stray = provider("iad-k8s");
        const { clusters, problems } = clustersFromProviders(
            new Map([["iad", provider("missing").urn]]),
            [stray],
        );
        assert.deepEqual(clusters, []);
        assert.equal(problems.length, 1);
        assert.match(
            problems[0],
            /cluster iad: its Kubernetes provider .*missing was never registered/,
        );
    });
});
