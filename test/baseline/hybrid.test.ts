/**
 * Hybrid: the dev OKE cluster plus an existing on-premises cluster without Kata. The same baseline
 * applies there; what the cluster cannot host (Kata, hence tenants and sandboxed tiers) is refused
 * with the key named, or left out where config says so.
 */
import * as assert from "assert";
import type { ClusterConfig } from "../../modules/config";
import { planBaseline } from "../../modules/k8s/baseline/plan";
import { labels } from "../../modules/constants/labels";
import { devRaw, meta, ofType, parse, recordBaseline, refusal, release } from "./helpers";

const kubeconfigKey = "secure-llm-platform:kubeconfig-onprem";

/** An example hybrid stack: what a user would write for an existing cluster without Kata. */
export function hybridRaw(): Record<string, any> {
    const raw = devRaw();
    raw.clusters.push({
        name: "onprem",
        target: "existing",
        region: "fra-dc1",
        kubernetesVersion: "v1.32.4",
        capabilities: { kata: false, kataGpu: false, gpu: true, cni: "calico" },
        networkPolicy: { ociRegion: "eu-frankfurt-1", apiServerCidrs: ["192.168.10.5/32"] },
        baseline: {
            rbac: {
                platformAdmins: [{ kind: "Group", name: "oidc:platform-admins" }],
                auditors: [{ kind: "Group", name: "oidc:auditors" }],
            },
            secrets: {
                existingClusterAuth: {
                    vaultId: "ocid1.vault.oc1.eu-frankfurt-1.aaaaonpremvault",
                    region: "eu-frankfurt-1",
                    userOcid: "ocid1.user.oc1..aaaaesoapikey",
                    tenancyOcid: "ocid1.tenancy.oc1..aaaatenancy",
                    secretName: "oci-api-key",
                },
            },
        },
    });
    raw["kubeconfig-onprem"] = "apiVersion: v1\nkind: Config";
    return raw;
}

describe("baseline: hybrid stack with an existing cluster without Kata", () => {
    let onprem: ClusterConfig;
    let rs: Awaited<ReturnType<typeof recordBaseline>>;

    before(async () => {
        const cfg = parse(hybridRaw(), [kubeconfigKey]);
        onprem = cfg.clusters.find((c) => c.name === "onprem")!;
        rs = await recordBaseline("bl-hybrid", onprem);
    });

    it("plans cleanly: no Kata pieces, no tenant sandbox, GPUs left to the cluster's own stack", () => {
        const plan = planBaseline(onprem);
        assert.strictEqual(plan.installKataDeploy, false);
        assert.deepStrictEqual(plan.kataRuntimeClasses, []);
        assert.strictEqual(plan.installGpuOperator, false);
        assert.strictEqual(onprem.layer.baseline.gpu.devicePluginOwner, "preinstalled");
        assert.ok(
            !release(rs, "kata-deploy") &&
                !release(rs, "gpu-operator") &&
                !release(rs, "dcgm-exporter"),
        );
        assert.deepStrictEqual(ofType(rs, "kubernetes:node.k8s.io/v1:RuntimeClass"), []);
        const policies = ofType(
            rs,
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        ).map((r) => meta(r).name);
        assert.deepStrictEqual(
            policies,
            ["slp-restricted-pods"],
            "the restricted profile applies on every cluster",
        );
        const ns = ofType(rs, "kubernetes:core/v1:Namespace").map((r) => meta(r).name);
        for (const absent of ["kata-system", "gpu-operator", "tigera-operator", "llm-inference"]) {
            assert.ok(!ns.includes(absent), `${absent} must not exist on this cluster`);
        }
    });

    it("keeps the same namespace guard rails, pinned to the existing cluster's version", () => {
        const nss = ofType(rs, "kubernetes:core/v1:Namespace");
        assert.ok(nss.length > 0);
        for (const r of nss) {
            assert.strictEqual(
                meta(r).labels!["pod-security.kubernetes.io/enforce-version"],
                "v1.32",
            );
            assert.ok(meta(r).labels![labels.namespaceRole]);
        }
        assert.strictEqual(ofType(rs, "kubernetes:core/v1:ServiceAccountPatch").length, nss.length);
    });

    it("authenticates External Secrets with an API key from a Secret created out of band, never a literal", () => {
        const [store] = ofType(rs, "kubernetes:external-secrets.io/v1:ClusterSecretStore");
        const oracle = (store.inputs.spec as any).provider.oracle;
        assert.strictEqual(oracle.principalType, "UserPrincipal");
        assert.strictEqual(oracle.vault, "ocid1.vault.oc1.eu-frankfurt-1.aaaaonpremvault");
        assert.deepStrictEqual(oracle.auth.secretRef.privatekey, {
            name: "oci-api-key",
            namespace: "external-secrets",
            key: "privateKey",
        });
        assert.deepStrictEqual(ofType(rs, "kubernetes:core/v1:Secret"), []);
    });

    it("binds non-OCI subjects on an existing cluster", () => {
        const crbs = ofType(rs, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding");
        assert.ok(
            crbs.some((r) => (r.inputs.subjects as any[])[0].name === "oidc:platform-admins"),
        );
    });

    it("refuses tenants there, naming the key", () => {
        const raw = hybridRaw();
        raw.clusters[1].baseline.tenants = [{ name: "alpha" }];
        const issues = refusal(raw, [kubeconfigKey]);
        assert.ok(
            issues.some(
                (i) =>
                    i.startsWith(
                        "secure-llm-platform:clusters[1].baseline.tenants: no tenants on cluster onprem",
                    ) && /capabilities\.kata/.test(i),
            ),
            issues.join("\n"),
        );
    });

    it("refuses a Kata GPU inference tier there, naming the key", () => {
        const raw = hybridRaw();
        raw.clusters[1].tiers = {
            inference: {
                enabled: true,
                runtimeClass: "kata-qemu-nvidia-gpu",
                model: { source: "oci-os://ns/models/llama" },
            },
        };
        const issues = refusal(raw, [kubeconfigKey]);
        assert.ok(
            issues.some((i) =>
                i.startsWith("secure-llm-platform:clusters[1].tiers.inference.runtimeClass"),
            ),
            issues.join("\n"),
        );
    });

    it("refuses OKE's device-plugin add-on on an existing cluster", () => {
        const raw = hybridRaw();
        raw.clusters[1].baseline.gpu = { devicePluginOwner: "oke-addon" };
        assert.ok(
            refusal(raw, [kubeconfigKey]).some((i) =>
                i.startsWith(
                    "secure-llm-platform:clusters[1].baseline.gpu.devicePluginOwner: gpu-operator or preinstalled",
                ),
            ),
        );
    });

    it("installs the GPU operator without sandbox mode when config chooses it (v25.3.0 detects the runtime itself)", async () => {
        const raw = hybridRaw();
        raw.clusters[1].name = "onprem2";
        raw["kubeconfig-onprem2"] = raw["kubeconfig-onprem"];
        delete raw["kubeconfig-onprem"];
        raw.clusters[1].baseline.gpu = { devicePluginOwner: "gpu-operator" };
        const c = parse(raw, ["secure-llm-platform:kubeconfig-onprem2"]).clusters[1];
        const rs2 = await recordBaseline("bl-hybrid-op", c);
        const v = release(rs2, "gpu-operator")!.inputs.values as any;
        assert.strictEqual(v.operator.defaultRuntime, undefined, "v25.3.0 has none");
        assert.strictEqual(v.sandboxWorkloads.enabled, false);
    });

    it("on an existing cluster that offers Kata, admits tenants and expects (not creates) its RuntimeClasses", () => {
        const raw = hybridRaw();
        raw.clusters[1].capabilities.kata = true;
        raw.clusters[1].baseline.tenants = [{ name: "alpha" }];
        const c = parse(raw, [kubeconfigKey]).clusters[1];
        const plan = planBaseline(c);
        assert.deepStrictEqual(plan.kataRuntimeClasses, ["kata-qemu"]);
        assert.strictEqual(
            plan.createRuntimeClasses,
            false,
            "the cluster's own Kata install owns them",
        );
        assert.strictEqual(plan.installKataDeploy, false);
        assert.ok(plan.namespaces.some((n) => n.name === "tenant-alpha" && n.role === "tenant"));
    });
});
