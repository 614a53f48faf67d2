/**
 * Provider lookups run before any resource (modules/oci/lookups.ts, modules/preflight.ts
 * `providerPreflight`): the program's real entry point (index.ts) runs under the Pulumi mocks with
 * the dev stack's configuration, and the mocks answer the lookups from the shipped catalogs
 * (tools/plan/fakes/oci.ts) unless a test changes one answer. A refused answer is a
 * ConfigValidationError (a pulumi.RunError: exit 2 in the plan) naming the key, with a
 * did-you-mean from the provider's answer, and NOTHING but the OCI provider the lookups go
 * through is registered (every registration the mocks receive, newResource, is counted).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigValidationError } from "../../modules/config";
import { planStack } from "../../tools/plan/run-stack";
import {
    InvokeFake,
    installMocks,
    invokeFakes,
    recordedInvokes,
    recordedResources,
    resetRecords,
    settle,
} from "../../tools/plan/mocks";
import { repoRoot, stackRaw } from "../support/stacks";

const project = "secure-llm-platform";
const tokens = {
    clusterOption: "oci:ContainerEngine/getClusterOption:getClusterOption",
    shapes: "oci:Core/getShapes:getShapes",
    nodePoolOption: "oci:ContainerEngine/getNodePoolOption:getNodePoolOption",
    namespace: "oci:ObjectStorage/getNamespace:getNamespace",
    kubeconfig: "oci:ContainerEngine/getClusterKubeConfig:getClusterKubeConfig",
    regions: "oci:Identity/getRegionSubscriptions:getRegionSubscriptions",
};
const fakes = invokeFakes as Record<string, InvokeFake>;

/** Replaces one invoke's answer for the duration of `body`. */
async function answering<T>(
    token: string,
    fake: (original: InvokeFake) => InvokeFake,
    body: () => Promise<T>,
): Promise<T> {
    const original = fakes[token]!;
    fakes[token] = fake(original);
    try {
        return await body();
    } finally {
        fakes[token] = original;
    }
}

/** Runs index.ts's entry point with `raw` as the stack's config. */
async function runProgram(raw: Record<string, unknown>): Promise<unknown> {
    resetRecords();
    pulumi.runtime.setAllConfig(
        Object.fromEntries(
            Object.entries(raw).map(([k, v]) => [
                `${project}:${k}`,
                typeof v === "string" ? v : JSON.stringify(v),
            ]),
        ),
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const main = require("../../index") as () => Promise<unknown>;
    assert.equal(typeof main, "function", "the entry point is an async function");
    try {
        const out = await main();
        await settle();
        return out;
    } finally {
        pulumi.runtime.setAllConfig({});
    }
}

/** The config error `run` rejects with; fails when it resolves or throws something else. */
async function refusal(run: () => Promise<unknown>): Promise<ConfigValidationError> {
    try {
        await run();
    } catch (e) {
        assert.ok(e instanceof ConfigValidationError, `not a config error: ${String(e)}`);
        assert.ok(e instanceof pulumi.RunError, "a RunError: pulumi up prints it without a trace");
        return e;
    }
    assert.fail("the program was accepted");
}

/** Every registration the mocks received is an OCI provider; returns their names. */
function onlyProviders(): string[] {
    const rs = recordedResources();
    const others = rs.filter((r) => r.type !== "pulumi:providers:oci");
    assert.deepEqual(
        others.map((r) => `${r.type} ${r.name}`),
        [],
        "no resource but the OCI providers is registered before the lookups are answered",
    );
    return rs.map((r) => r.name);
}

describe("oci: provider lookups before any resource", function () {
    this.timeout(60000);

    it("plans the dev stack: every lookup is answered while only the OCI provider is registered", async () => {
        // Each lookup's answer records how many registrations had happened when it was asked.
        const seen: { token: string; registered: string[] }[] = [];
        const watch =
            (token: string) =>
            (original: InvokeFake): InvokeFake =>
            (inputs) => {
                seen.push({ token, registered: recordedResources().map((r) => r.type) });
                return original(inputs);
            };
        const out = await answering(tokens.clusterOption, watch(tokens.clusterOption), () =>
            answering(tokens.shapes, watch(tokens.shapes), () =>
                answering(tokens.nodePoolOption, watch(tokens.nodePoolOption), () =>
                    runProgram(stackRaw("dev")),
                ),
            ),
        );
        assert.ok(out && typeof out === "object" && "clusters" in out);
        // dev has one OKE cluster in us-ashburn-1 with 3 ADs: 1 + 3 + 1 lookups.
        assert.deepEqual(
            seen.map((s) => s.token).sort(),
            [
                tokens.nodePoolOption,
                tokens.clusterOption,
                tokens.shapes,
                tokens.shapes,
                tokens.shapes,
            ].sort(),
        );
        for (const s of seen) {
            assert.deepEqual(s.registered, ["pulumi:providers:oci"], s.token);
        }
        const rs = recordedResources();
        assert.ok(rs.length > 100, `the whole platform is declared (${rs.length})`);
        assert.equal(rs[0]!.type, "pulumi:providers:oci");
        // The node pools carry the provider's answers: the GPU pool only where its shape is.
        const gpu = rs.find((r) => r.type === "oci:Core/instancePool:InstancePool");
        const ads = (gpu?.inputs.placementConfigurations as { availabilityDomain: string }[]).map(
            (p) => p.availabilityDomain,
        );
        assert.deepEqual(ads, ["Uocm:US-ASHBURN-AD-1", "Uocm:US-ASHBURN-AD-2"]);
        // The lookups the cloud layer used to make itself are no longer made twice.
        const count = (t: string) => recordedInvokes().filter((i) => i.token === t).length;
        assert.equal(count(tokens.clusterOption), 1);
        assert.equal(count(tokens.namespace), 1);
        assert.equal(count(tokens.kubeconfig), 1, "the kubeconfig needs the cluster: asked after");
    });

    it("refuses a Kubernetes version the region's cluster options do not list, registering nothing else", async () => {
        // The shipped catalog has v1.34.2 (dev's version); this region's answer does not.
        const e = await answering(
            tokens.clusterOption,
            (original) => (inputs) => ({
                ...original(inputs),
                kubernetesVersions: ["v1.33.10", "v1.34.1", "v1.34.10"],
            }),
            () => refusal(() => runProgram(stackRaw("dev"))),
        );
        assert.equal(e.issues.length, 1, e.message);
        assert.equal(e.issues[0]!.path, `${project}:clusters[0].kubernetesVersion`);
        assert.match(
            e.issues[0]!.expected,
            /OKE's cluster options in us-ashburn-1 list: v1\.33\.10, v1\.34\.1, v1\.34\.10 \(did you mean "v1\.34\.1"\?\)/,
        );
        assert.deepEqual(onlyProviders(), ["oci-us-ashburn-1"]);
    });

    it("refuses an AD without the pool's shape, naming the ADs that have it", async () => {
        const raw = stackRaw("dev");
        const gpu = (raw.clusters[0].nodePools as { name: string }[]).findIndex(
            (p) => p.name === "gpu",
        );
        raw.clusters[0].nodePools[gpu].availabilityDomains = [3];
        // The fakes offer bare-metal GPU shapes in AD-1 and AD-2 only.
        const e = await refusal(() => runProgram(raw));
        assert.deepEqual(
            e.issues.map((i) => `${i.path}: ${i.expected}`),
            [
                `${project}:clusters[0].nodePools[${gpu}].availabilityDomains: ADs where BM.GPU.A100-v2.8 is offered: AD-1, AD-2 (not AD 3)`,
            ],
        );
        assert.deepEqual(onlyProviders(), ["oci-us-ashburn-1"]);
    });

    it("refuses a shape no AD of the region offers, with the nearest shape the provider lists", async () => {
        const e = await answering(
            tokens.shapes,
            (original) => (inputs) => {
                const a = original(inputs) as { shapes: { name: string }[] };
                return { ...a, shapes: a.shapes.filter((s) => s.name !== "VM.Standard.E5.Flex") };
            },
            () => refusal(() => runProgram(stackRaw("dev"))),
        );
        const system = e.issues.find((i) => i.path.endsWith("nodePools[0].shape"));
        assert.ok(system, e.message);
        assert.equal(system.value, "VM.Standard.E5.Flex");
        assert.match(system.expected, /did you mean "VM\.Standard\.E\d\.Flex"\?/);
        onlyProviders();
    });

    it("refuses a pool OKE has no node image for, naming imageId and the versions it has", async () => {
        const e = await answering(
            tokens.nodePoolOption,
            (original) => (inputs) => {
                const a = original(inputs) as { sources: { sourceName: string }[] };
                return {
                    ...a,
                    sources: a.sources.filter((s) => !/GPU.*OKE-1\.34/.test(s.sourceName)),
                };
            },
            () => refusal(() => runProgram(stackRaw("dev"))),
        );
        const gpu = e.issues.find((i) => i.path.endsWith(".imageId"));
        assert.ok(gpu, e.message);
        assert.match(
            gpu.expected,
            /no image for Kubernetes v1\.34\.2 fitting shape BM\.GPU\.A100-v2\.8 \(GPU\); their images are for v1\.34\.2, .*v1\.33\.4/,
        );
        onlyProviders();
    });

    it("refuses a cluster region the tenancy is not subscribed to, and a homeRegion that is not its home", async () => {
        const e = await answering(
            tokens.regions,
            () => (inputs) => ({
                tenancyId: inputs.tenancyId,
                regionSubscriptions: [
                    { regionName: "us-phoenix-1", isHomeRegion: true, state: "READY" },
                    { regionName: "us-ashburn-2", isHomeRegion: false, state: "READY" },
                ],
            }),
            () => refusal(() => runProgram(stackRaw("dev"))),
        );
        assert.deepEqual(
            e.issues.map((i) => `${i.path}: ${i.expected}`),
            [
                `${project}:clusters[0].region: a region the tenancy is subscribed to: us-phoenix-1, us-ashburn-2 (did you mean "us-ashburn-2"?)`,
                `${project}:homeRegion: the tenancy's home region, us-phoenix-1 (getRegionSubscriptions): IAM policies, dynamic groups and tag namespaces are created there`,
            ],
        );
        assert.deepEqual(onlyProviders(), ["oci-us-ashburn-1"]);
    });

    it("turns a lookup the provider refuses into an issue of the key it was asked with", async () => {
        const e = await answering(
            tokens.namespace,
            () => () => {
                throw new Error(
                    "404 NotAuthorizedOrNotFound: Authorization failed or requested resource not found",
                );
            },
            () => refusal(() => runProgram(stackRaw("dev"))),
        );
        assert.equal(e.issues.length, 1, e.message);
        assert.equal(e.issues[0]!.path, `${project}:compartmentId`);
        assert.match(
            e.issues[0]!.expected,
            // The mocks drop the error's text (the SDK reads the engine's gRPC `details`); under
            // cmd/run it is quoted: test/real/config/pulumi-run.test.ts.
            /OCI provider of us-ashburn-1 \(ociAuth \w+, profile DEFAULT\) can look up; getNamespace answered: /,
        );
        onlyProviders();
    });

    it("exits 2 through the offline plan, at the stack file's line", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-lookups-"));
        try {
            const text = fs
                .readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8")
                .replace(
                    "          kata: true\n          size: 1",
                    "          kata: true\n          size: 1\n          availabilityDomains: [3]",
                );
            fs.writeFileSync(path.join(dir, "Pulumi.lk.yaml"), text);
            resetRecords();
            const r = await planStack(repoRoot, "lk", path.join(dir, "out"), dir);
            assert.equal(r.exitCode, 2, r.problems.join("\n"));
            const line =
                text.split("\n").findIndex((l) => l.includes("availabilityDomains: [3]")) + 1;
            assert.deepEqual(r.problems, [
                `config: ${path.join(dir, "Pulumi.lk.yaml")}:${line}: ${project}:clusters[0].nodePools[1].availabilityDomains: got [3]; expected ADs where BM.GPU.A100-v2.8 is offered: AD-1, AD-2 (not AD 3)`,
            ]);
            onlyProviders();
        } finally {
            installMocks({ stack: "test" });
            pulumi.runtime.setAllConfig({});
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
