// The CrossGuard adapters, called the way the policy analyzer calls them (without the gRPC server
// that `new PolicyPack` would start).
import * as assert from "assert";
import { unknownCheckingProxy } from "@pulumi/policy";
import type { ResourceValidationPolicy, StackValidationArgs } from "@pulumi/policy";
import { rules, UNKNOWN } from "../../modules/security";
import {
    contextFrom,
    defaultDenyCoveragePolicy,
    policies,
    resourcePolicy,
    toRuleValue,
} from "../../policy/policies";
import { workload } from "./fixtures";

/** The engine's sentinel for a string not known during preview. */
const unknownString = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function policyFor(id: string): ResourceValidationPolicy {
    const rule = rules.find((r) => r.id === id);
    assert.ok(rule, id);
    return resourcePolicy(rule);
}

/** Runs a resource policy as the analyzer would: proxied props, options, config and tags. */
async function validate(
    policy: ResourceValidationPolicy,
    resource: { type: string; name: string; props: Record<string, unknown>; protect?: boolean },
    config: Record<string, unknown> = {},
    tags: Record<string, string> = {},
): Promise<string[]> {
    const reported: string[] = [];
    const args = {
        type: resource.type,
        name: resource.name,
        urn: `urn:pulumi:test::p::${resource.type}::${resource.name}`,
        props: unknownCheckingProxy(resource.props),
        opts: {
            protect: resource.protect ?? false,
            ignoreChanges: [],
            aliases: [],
            customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
            additionalSecretOutputs: [],
        },
        stackTags: new Map(Object.entries(tags)),
        getConfig: () => config,
        notApplicable: () => {
            throw new Error("notApplicable");
        },
        isType: () => false,
        asType: () => undefined,
    };
    const validations = [policy.validateResource ?? []].flat();
    for (const v of validations) {
        await v(args as never, (message: string) => reported.push(message));
    }
    return reported;
}

const cluster = (inputs: Record<string, unknown>) => ({
    type: "oci:ContainerEngine/cluster:Cluster",
    name: "oke",
    props: {
        kmsKeyId: "ocid1.key",
        endpointConfig: { subnetId: "s", isPublicIpEnabled: true },
        ...inputs,
    },
});

describe("policy pack adapters", () => {
    it("has one policy per shared rule, same id and enforcement level, plus default-deny coverage", () => {
        assert.strictEqual(policies.length, rules.length + 1);
        for (const rule of rules) {
            const p = policies.find((x) => x.name === rule.id);
            assert.ok(p, rule.id);
            assert.strictEqual(p.enforcementLevel, rule.severity);
        }
        assert.strictEqual(defaultDenyCoveragePolicy.enforcementLevel, "mandatory");
    });

    it("reports the shared rule's violations for a failing resource and nothing for a passing one", async () => {
        const pss = policyFor("k8s-pod-security-restricted");
        const good = workload("Deployment");
        assert.deepStrictEqual(await validate(pss, { ...good, props: good.inputs }), []);
        const bad = workload("Deployment");
        bad.inputs.spec.template.spec.hostPID = true;
        const found = await validate(pss, { ...bad, props: bad.inputs });
        assert.ok(
            found.some((m) => m.includes("spec.template.spec.hostPID")),
            found.join("\n"),
        );
    });

    it("ignores resources of other types", async () => {
        const good = workload("Deployment");
        assert.deepStrictEqual(
            await validate(policyFor("oci-cluster-kms"), { ...good, props: good.inputs }),
            [],
        );
    });

    it("keeps checking known fields when others are unknown during preview", async () => {
        const bad = workload("Deployment");
        bad.inputs.spec.template.spec.containers[0].image = unknownString;
        bad.inputs.spec.template.spec.initContainers[0].image = "ghcr.io/x/y:latest";
        const found = await validate(policyFor("k8s-image-pinned"), { ...bad, props: bad.inputs });
        assert.strictEqual(found.length, 1, found.join("\n"));
        assert.ok(found[0].includes("initContainers[0].image"), found[0]);
    });

    it("treats an unknown KMS key id as set but a missing one as a violation", async () => {
        const kms = policyFor("oci-cluster-kms");
        assert.deepStrictEqual(await validate(kms, cluster({ kmsKeyId: unknownString })), []);
        const missing = await validate(kms, cluster({ kmsKeyId: undefined }));
        assert.strictEqual(missing.length, 1);
    });

    it("converts proxied props to plain data with the UNKNOWN marker", () => {
        const v = toRuleValue(
            unknownCheckingProxy({ a: [1, unknownString], b: { c: unknownString } }),
        );
        assert.deepStrictEqual(v, { a: [1, UNKNOWN], b: { c: UNKNOWN } });
    });

    it("takes the environment from policy config, then the stack tag, else fails closed to prod", async () => {
        const exposure = policyFor("oci-cluster-production-exposure");
        assert.ok((await validate(exposure, cluster({}))).length > 0, "default is prod");
        assert.deepStrictEqual(
            await validate(exposure, cluster({}), {}, { environment: "dev" }),
            [],
        );
        assert.deepStrictEqual(
            await validate(
                exposure,
                cluster({}),
                { environment: "staging" },
                { environment: "prod" },
            ),
            [],
        );
        assert.strictEqual(contextFrom({}, new Map([["environment", "qa"]])).environment, "prod");
        assert.deepStrictEqual(
            contextFrom({ allowedRegistries: ["ghcr.io"] }, new Map()).allowedRegistries,
            ["ghcr.io"],
        );
    });

    it("reads protect from the resource options", async () => {
        const protectedData = policyFor("oci-protected-key-material");
        const key = { type: "oci:Kms/key:Key", name: "secrets", props: { displayName: "k" } };
        assert.deepStrictEqual(await validate(protectedData, { ...key, protect: true }), []);
        const found = await validate(protectedData, { ...key, protect: false });
        assert.ok(
            found.some((m) => m.includes("protect: true")),
            found.join("\n"),
        );
    });

    it("checks default-deny coverage per cluster provider", async () => {
        const resource = (provider: string, type: string, props: Record<string, unknown>) => ({
            type,
            name: String((props.metadata as { name: string }).name),
            urn: `urn:${provider}:${type}`,
            props: unknownCheckingProxy(props),
            provider: {
                type: "pulumi:providers:kubernetes",
                name: provider,
                urn: provider,
                props: {},
            },
            opts: { protect: false },
            dependencies: [],
            propertyDependencies: {},
        });
        const deploy = (provider: string) =>
            resource(provider, "kubernetes:apps/v1:Deployment", {
                metadata: { name: "app", namespace: "llm-inference" },
                spec: {},
            });
        const deny = (provider: string) =>
            resource(provider, "kubernetes:networking.k8s.io/v1:NetworkPolicy", {
                metadata: { name: "default-deny", namespace: "llm-inference" },
                spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
            });
        // Cluster a is covered; cluster b has the same namespace but no policy of its own.
        const reported: string[] = [];
        const args = {
            resources: [deploy("a"), deny("a"), deploy("b")],
            stackTags: new Map(),
            getConfig: () => ({}),
        };
        await defaultDenyCoveragePolicy.validateStack(
            args as unknown as StackValidationArgs,
            (m: string) => reported.push(m),
        );
        assert.strictEqual(reported.length, 1, reported.join("\n"));
        assert.ok(
            reported[0].includes("namespace llm-inference") && reported[0].includes("provider b"),
            reported[0],
        );
    });
});
