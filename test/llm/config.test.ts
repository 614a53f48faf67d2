import { strict as assert } from "assert";
import {
    modelLoaderMemory,
    parseQuantity,
    unverifiedImageDigests,
} from "../../modules/config/tiers";
import { inferenceWorkload } from "../../modules/k8s/llm/tiers";
import { inferenceQuotaProblems } from "../../modules/k8s/llm";
import { parse, stackRaw, tierIssues } from "./helpers";

/** The dev stack with `tiers` set at stack level. */
function withTiers(tiers: Record<string, unknown>, env = "dev"): Record<string, any> {
    const raw = stackRaw();
    raw.environment = env;
    raw.tiers = tiers;
    if (env === "prod") {
        // Prod refuses a stack whose critical alerts reach nobody.
        raw.observability = {
            alerting: {
                receivers: [{ name: "oncall", type: "pagerduty", secretName: "oncall-key" }],
            },
        };
    }
    return raw;
}

/** The dev stack without its GPU pool (so no Kata GPU runtime). */
function withoutGpuPool(tiers: Record<string, unknown>): Record<string, any> {
    const raw = withTiers(tiers);
    raw.clusters[0].nodePools = raw.clusters[0].nodePools.filter((p: any) => p.role !== "gpu");
    return raw;
}

describe("tiers config", () => {
    it("defaults: inference sandboxed under Kata GPU with one GPU, masking the common PII entities", () => {
        const t = parse(stackRaw()).clusters[0].layer.tiers;
        assert.equal(t.inference.enabled, true);
        assert.equal(t.inference.runtimeClass, "kata-qemu-nvidia-gpu");
        assert.equal(t.inference.gpus, 1);
        assert.equal(t.inference.allowUnsandboxed, false);
        assert.ok(t.inference.hpa.maxReplicas >= t.inference.hpa.minReplicas);
        assert.deepEqual(t.outputFilter.entities.slice(0, 3), [
            "PERSON",
            "EMAIL_ADDRESS",
            "PHONE_NUMBER",
        ]);
        assert.equal(t.gateway.auth.mode, "apiKeys");
        assert.equal(t.guardrails.configId, "default");
        assert.equal(t.guardrails.streaming, true);
        for (const i of [
            t.gateway.image,
            t.guardrails.image,
            t.inference.image,
            t.outputFilter.analyzerImage,
        ]) {
            assert.match(i.digest, /^sha256:[0-9a-f]{64}$/);
        }
    });

    it("refuses a privileged or root container asked for in config, saying it is not configurable", () => {
        const issues = tierIssues(
            withTiers({
                inference: { securityContext: { privileged: true } },
                guardrails: { runAsUser: 0, privileged: true },
                gateway: { hostNetwork: true },
            }),
        );
        for (const key of [
            "tiers.inference.securityContext",
            "tiers.guardrails.runAsUser",
            "tiers.guardrails.privileged",
            "tiers.gateway.hostNetwork",
        ]) {
            const line = issues.find((l) => l.includes(`${key}:`));
            assert.ok(line, `expected an issue for ${key}, got ${issues.join("\n")}`);
            assert.match(line, /not configurable/);
        }
    });

    it("refuses a Kata GPU runtime on a cluster without one, naming the capability", () => {
        const issues = tierIssues(withoutGpuPool({ inference: { enabled: true } }));
        const line = issues.find((l) => l.includes("tiers.inference.runtimeClass:"));
        assert.ok(line, issues.join("\n"));
        assert.match(line, /capabilities\.kataGpu/);
    });

    it("does not place inference on a cluster that cannot sandbox it unless asked", () => {
        const t = parse(withoutGpuPool({})).clusters[0].layer.tiers;
        assert.equal(t.inference.enabled, false);
    });

    it("runs unsandboxed (runc) only with allowUnsandboxed, and never in prod", () => {
        const none = { inference: { runtimeClass: "none" } };
        assert.ok(
            tierIssues(withTiers(none)).some((l) =>
                l.startsWith("secure-llm-platform:tiers.inference.allowUnsandboxed:"),
            ),
        );
        const prod = tierIssues(
            withTiers({ inference: { runtimeClass: "none", allowUnsandboxed: true } }, "prod"),
        );
        assert.ok(
            prod.some((l) => /prod never runs inference unsandboxed/.test(l)),
            prod.join("\n"),
        );
    });

    it("refuses more than one GPU per pod under Kata GPU passthrough", () => {
        assert.ok(
            tierIssues(withTiers({ inference: { gpus: 2 } })).some((l) =>
                l.includes("tiers.inference.gpus"),
            ),
        );
    });

    it("refuses an unpinned image, a tag change without digest and an explicit placeholder digest", () => {
        const issues = tierIssues(
            withTiers({
                gateway: { image: { digest: "latest" } },
                guardrails: { image: { repository: "iad.ocir.io/ns/guardrails", tag: "0.24.1" } },
                inference: { image: { digest: `sha256:${"0".repeat(64)}` } },
            }),
        );
        assert.ok(issues.some((l) => l.includes("tiers.gateway.image.digest")));
        assert.ok(issues.some((l) => l.includes("tiers.guardrails.image.digest")));
        assert.ok(
            issues.some((l) => l.includes("tiers.inference.image.digest") && /placeholder/.test(l)),
        );
    });

    it("refuses entities Presidio does not know and requests above limits", () => {
        const issues = tierIssues(
            withTiers({
                outputFilter: { entities: ["PERSON", "SOCIAL_SECURITY"] },
                gateway: { resources: { requests: { cpu: "2" }, limits: { cpu: "1" } } },
            }),
        );
        assert.ok(issues.some((l) => l.includes("tiers.outputFilter.entities[1]")));
        assert.ok(issues.some((l) => l.includes("tiers.gateway.resources.requests.cpu")));
    });

    it("refuses a model volume that does not fit the memory limit", () => {
        const issues = tierIssues(withTiers({ inference: { model: { sizeGi: 200 } } }));
        assert.ok(issues.some((l) => l.includes("tiers.inference.model.sizeGi")));
    });

    it("sizes the model loader's memory for the model it writes into tmpfs, within the tier limit", () => {
        // tmpfs pages are charged to the writer: 512Mi OOM-killed the loader of a 40Gi model.
        assert.equal(modelLoaderMemory(40), "41472Mi");
        const t = parse(withTiers({ inference: { model: { sizeGi: 40 } } })).clusters[0].layer
            .tiers;
        const spec = inferenceWorkload(t.inference, {
            region: "us-ashburn-1",
            metricsImage: t.gateway.image,
            metricsConfigMap: "m",
        });
        const loader = spec.initContainers![0];
        assert.equal(loader.resources.limits.memory, "41472Mi");
        assert.equal(loader.resources.requests.memory, "41472Mi");
        // 96Gi limit: a 96Gi model leaves no room for the loader's working set.
        const issues = tierIssues(withTiers({ inference: { model: { sizeGi: 96 } } }));
        assert.ok(
            issues.some((l) => l.includes("tiers.inference.model.sizeGi") && /loader/.test(l)),
        );
    });

    it("counts the loader's memory in the quota check (the pod requests the larger of init and app)", () => {
        const t = parse(
            withTiers({ inference: { model: { sizeGi: 90 }, hpa: { maxReplicas: 4 } } }),
        ).clusters[0].layer.tiers;
        const p = inferenceQuotaProblems(t, { cpu: "64", memory: "300Gi", gpus: 8 });
        assert.ok(
            p.some((l) => /memory request 92672Mi exceeds/.test(l)),
            p.join("; "),
        );
    });

    it("runs prod inference with at least two replicas that never share a node", () => {
        const issues = tierIssues(withTiers({ inference: { replicas: 1 } }, "prod"));
        assert.ok(
            issues.some((l) => l.includes("tiers.inference.replicas") && /at least 2/.test(l)),
        );
        const prod = parse(withTiers({}, "prod")).clusters[0].layer.tiers;
        assert.equal(prod.inference.replicas, 2);
        assert.ok(prod.inference.hpa.minReplicas >= 2);
        const spec = inferenceWorkload(prod.inference, {
            region: "us-ashburn-1",
            metricsImage: prod.gateway.image,
            metricsConfigMap: "m",
        });
        assert.equal(spec.spreadRequired, true);
    });

    it("refuses OIDC until the gateway can validate tokens", () => {
        const issues = tierIssues(
            withTiers({
                gateway: {
                    auth: {
                        mode: "oidc",
                        oidc: {
                            issuerUrl: "https://id.example",
                            clientId: "c",
                            clientSecretName: "s",
                        },
                    },
                },
            }),
        );
        assert.ok(
            issues.some((l) => l.includes("tiers.gateway.auth.mode") && /not implemented/.test(l)),
        );
    });

    it("lists placeholder and unverified digests so the plan can warn about them", () => {
        const t = parse(stackRaw()).clusters[0].layer.tiers;
        const u = unverifiedImageDigests(t);
        assert.ok(u.some((x) => x.tier === "guardrails" && /placeholder/.test(x.reason)));
        const pinned = withTiers({
            guardrails: {
                image: {
                    repository: "iad.ocir.io/ns/guardrails",
                    tag: "0.24.1",
                    digest: `sha256:${"1".repeat(64)}`,
                },
            },
        });
        assert.ok(
            !unverifiedImageDigests(parse(pinned).clusters[0].layer.tiers).some(
                (x) => x.tier === "guardrails",
            ),
        );
    });

    it("keeps the inference HPA within the namespace quota", () => {
        const t = parse(withTiers({ inference: { hpa: { minReplicas: 1, maxReplicas: 4 } } }))
            .clusters[0].layer.tiers;
        assert.deepEqual(inferenceQuotaProblems(t, { cpu: "64", memory: "512Gi", gpus: 8 }), []);
        const p = inferenceQuotaProblems(t, { cpu: "64", memory: "512Gi", gpus: 2 });
        assert.equal(p.length, 1);
        assert.match(p[0], /maxReplicas 4 × 1 GPU exceeds/);
    });

    it("parses Kubernetes quantities", () => {
        assert.equal(parseQuantity("500m"), 0.5);
        assert.equal(parseQuantity("2Gi"), 2 * 1024 ** 3);
        assert.equal(parseQuantity("lots"), undefined);
    });
});
