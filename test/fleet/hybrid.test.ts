/**
 * Fleet consistency over the real hybrid stack, rendered in-process with the plan's mocks: the
 * on-premises cluster legitimately differs from the cloud one (no inference tier, API-key Vault
 * access, its own Kubernetes minor, CNI and cert-manager), and the stack file says so in
 * `fleet.exceptions`; remove one and the plan's check fails. The plan CLI's use of the same
 * check (exit code, report, --json) is tested in test/plan/fleet.test.ts.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, PlatformConfig } from "../../modules/config";
import { compareFleet, fleetMembers } from "../../tools/plan/fleet";
import { isKubernetesObject, Manifest, providerUrn, toManifest } from "../../tools/plan/manifests";
import { recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { stackRaw } from "../support/stacks";

const kubeconfigKey = "secure-llm-platform:kubeconfig-onprem-fra";

describe("fleet: the hybrid stack's clusters differ only where its config says", function () {
    this.timeout(60000);
    let cfg: PlatformConfig;
    let manifests: Map<string, Manifest[]>;
    before(async () => {
        const raw = stackRaw("hybrid");
        raw["kubeconfig-onprem-fra"] = "apiVersion: v1\nkind: Config";
        cfg = parseConfig(raw, { stack: "hybrid", secretKeys: [kubeconfigKey] });
        // The existing cluster's provider reads its kubeconfig from the stack's config.
        pulumi.runtime.setConfig(kubeconfigKey, "apiVersion: v1\nkind: Config");
        resetRecords();
        const { deployPlatform, platformLookups } = await import("../../modules/platform");
        deployPlatform(cfg, await platformLookups(cfg));
        await settle();
        const providers = recordedResources().filter(
            (r) => r.type === "pulumi:providers:kubernetes",
        );
        manifests = new Map(
            cfg.clusters.map((c) => {
                const urn = providers.find((p) => p.name === `${c.name}-k8s`)!.urn;
                const objects = recordedResources().filter(
                    (r) => isKubernetesObject(r) && providerUrn(r.provider) === urn,
                );
                return [c.name, objects.map(toManifest)] as const;
            }),
        );
    });

    it("every security-relevant difference is accepted by a named exception, and every exception is used", () => {
        const r = compareFleet(fleetMembers(cfg.clusters, manifests), cfg.fleet.exceptions);
        assert.deepEqual(r.violations, []);
        const security = r.differences.filter((d) => d.category !== undefined);
        assert.ok(security.length >= 10, `${security.length} security-relevant differences`);
        const used = new Set(r.differences.flatMap((d) => d.acceptedBy));
        assert.deepEqual([...used].sort(), cfg.fleet.exceptions.map((e) => e.name).sort());
        const inference = r.differences.find(
            (d) => d.object === "NetworkPolicy.networking.k8s.io/llm-inference/default-deny",
        )!;
        assert.deepEqual(
            [inference.missingOn, inference.acceptedBy],
            [["onprem-fra"], ["onprem-no-inference"]],
        );
    });

    it("the tiers' mTLS certificates are the same on both clusters; a changed one fails the check", () => {
        const r = compareFleet(fleetMembers(cfg.clusters, manifests), cfg.fleet.exceptions);
        // Identities are Service hosts, the same everywhere: no tier Certificate differs.
        assert.deepEqual(
            r.differences
                .filter((d) =>
                    /^Certificate\.cert-manager\.io\/llm-(gateway|guardrails|output-filter)\//.test(
                        d.object,
                    ),
                )
                .map((d) => d.object),
            [],
        );
        // The on-premises gateway's certificate lost its server use: a security difference.
        const changed = new Map(manifests);
        changed.set(
            "onprem-fra",
            manifests.get("onprem-fra")!.map((m) =>
                m.kind === "Certificate" && m.metadata.name === "gateway-mtls"
                    ? ({
                          ...m,
                          spec: {
                              ...(m as any).spec,
                              usages: ["client auth", "digital signature"],
                          },
                      } as Manifest)
                    : m,
            ),
        );
        const bad = compareFleet(fleetMembers(cfg.clusters, changed), cfg.fleet.exceptions);
        assert.deepEqual(
            bad.violations.filter((v) => v.includes("gateway-mtls")),
            [
                "fleet: Certificate.cert-manager.io/llm-gateway/gateway-mtls (certificate) differs on onprem-fra at spec.usages and no fleet.exceptions entry accepts it",
            ],
        );
    });

    it("without the Vault exception, the Vault store and its egress policy fail the check", () => {
        const exceptions = cfg.fleet.exceptions.filter((e) => e.name !== "onprem-vault-api-key");
        const r = compareFleet(fleetMembers(cfg.clusters, manifests), exceptions);
        assert.deepEqual(r.violations, [
            "fleet: ClusterSecretStore.external-secrets.io/oci-vault (secret store) differs on onprem-fra at spec.provider.oracle.auth, spec.provider.oracle.principalType, spec.provider.oracle.serviceAccountRef and no fleet.exceptions entry accepts it",
            "fleet: NetworkPolicy.networking.k8s.io/external-secrets/allow-external-secrets (network policy) differs on onprem-fra at spec.egress and no fleet.exceptions entry accepts it",
        ]);
    });

    it("the Pod Security version exception covers only the version labels, not the level", () => {
        const onprem = manifests.get("onprem-fra")!.map((m) =>
            m.kind === "Namespace" && m.metadata.name === "llm-gateway"
                ? {
                      ...m,
                      metadata: {
                          ...m.metadata,
                          labels: {
                              ...(m.metadata.labels as Record<string, string>),
                              "pod-security.kubernetes.io/enforce": "baseline",
                          },
                      },
                  }
                : m,
        );
        const r = compareFleet(
            fleetMembers(cfg.clusters, new Map([...manifests, ["onprem-fra", onprem]])),
            cfg.fleet.exceptions,
        );
        assert.equal(r.violations.length, 1);
        assert.match(
            r.violations[0],
            /^fleet: Namespace\/llm-gateway \(Pod Security labels\) differs on onprem-fra at .*pod-security\.kubernetes\.io\/enforce[, ]/,
        );
    });
});
