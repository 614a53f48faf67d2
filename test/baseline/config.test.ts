/** The `baseline` config section: defaults and refusals, each naming the key. */
import * as assert from "assert";
import { devRaw, parse, refusal } from "./helpers";

const group = (name: string) => ({ kind: "Group", name });

describe("baseline config", () => {
    it("defaults: no subjects, no tenants, GPU operator for Kata GPU pools, internal ingress, ESO on", () => {
        const b = parse(devRaw()).clusters[0].layer.baseline;
        assert.deepStrictEqual(b.rbac, {
            platformAdmins: [],
            mlEngineers: [],
            auditors: [],
            clusterAdmins: [],
            breakGlass: false,
        });
        assert.deepStrictEqual(b.tenants, []);
        assert.strictEqual(b.gpu.devicePluginOwner, "gpu-operator");
        assert.deepStrictEqual(b.ingress, { public: false, acme: undefined });
        assert.strictEqual(b.secrets.enabled, true);
    });

    it("refuses RBAC subjects that are not OCI IAM OCIDs of the right kind on OKE", () => {
        const raw = devRaw();
        raw.baseline = {
            rbac: {
                platformAdmins: [group("admins")],
                auditors: [{ kind: "User", name: "ocid1.group.oc1..aaaa" }],
                mlEngineers: [{ kind: "ServiceAccount", name: "x" }],
            },
        };
        const issues = refusal(raw);
        assert.ok(
            issues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.rbac.platformAdmins[0].name: an OCI IAM group OCID",
                ),
            ),
            issues.join("\n"),
        );
        assert.ok(
            issues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.rbac.auditors[0].name: an OCI IAM user OCID",
                ),
            ),
        );
        assert.ok(
            issues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.rbac.mlEngineers[0].kind: one of User | Group",
                ),
            ),
        );
    });

    it("refuses cluster-admin bindings in prod unless breakGlass acknowledges them", () => {
        const raw = devRaw();
        raw.environment = "prod";
        raw.baseline = { rbac: { clusterAdmins: [group("ocid1.group.oc1..aaaaadmins")] } };
        const issues = refusal(raw);
        assert.ok(
            issues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.rbac.clusterAdmins: no cluster-admin bindings in a prod stack",
                ),
            ),
        );
        raw.baseline.rbac.breakGlass = true;
        let remaining: string[] = [];
        try {
            parse(raw);
        } catch {
            remaining = refusal(raw);
        }
        assert.ok(
            !remaining.some((i) => i.includes("baseline.rbac")),
            "breakGlass: true accepts them",
        );
    });

    it("refuses duplicate and malformed tenant names, and tenant GPUs without a Kata GPU runtime", () => {
        const raw = devRaw();
        raw.baseline = { tenants: [{ name: "alpha" }, { name: "alpha" }, { name: "Bad_Name" }] };
        const issues = refusal(raw);
        assert.ok(
            issues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.tenants[1].name: a tenant name unique in the cluster",
                ),
            ),
        );
        assert.ok(
            issues.some((i) =>
                i.startsWith("secure-llm-platform:baseline.tenants[2].name: a DNS label"),
            ),
        );

        const cpuOnly = devRaw();
        cpuOnly.clusters[0].nodePools = cpuOnly.clusters[0].nodePools.filter(
            (p: { role: string }) => p.role !== "gpu",
        );
        cpuOnly.baseline = { tenants: [{ name: "alpha", quota: { gpus: 2 } }] };
        const gpuIssues = refusal(cpuOnly);
        assert.ok(
            gpuIssues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.tenants[0].quota.gpus: 0: tenant workloads run only under Kata",
                ),
            ),
            gpuIssues.join("\n"),
        );
    });

    it("refuses an OKE-add-on device plugin when Kata GPU pools need the operator's sandbox plugin", () => {
        const raw = devRaw();
        raw.baseline = { gpu: { devicePluginOwner: "oke-addon" } };
        const issues = refusal(raw);
        assert.ok(
            issues.some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.gpu.devicePluginOwner: gpu-operator: Kata GPU pools",
                ),
            ),
        );
    });

    it("refuses ACME behind an internal load balancer", () => {
        const raw = devRaw();
        raw.baseline = { ingress: { acme: { email: "ops@example.com" } } };
        assert.ok(
            refusal(raw).some((i) =>
                i.startsWith(
                    "secure-llm-platform:baseline.ingress.acme: no acme with an internal load balancer",
                ),
            ),
        );
        raw.baseline.ingress.public = true;
        const b = parse(raw).clusters[0].layer.baseline;
        assert.strictEqual(
            b.ingress.acme?.server,
            "https://acme-v02.api.letsencrypt.org/directory",
        );
    });

    it("takes quota overrides for platform namespaces only, keeping unset fields at their default", () => {
        const raw = devRaw();
        raw.baseline = { quotas: { "llm-inference": { gpus: 4 }, "tenant-x": { cpu: 1 } } };
        assert.ok(
            refusal(raw).some((i) =>
                i.startsWith("secure-llm-platform:baseline.quotas.tenant-x: a platform namespace"),
            ),
        );
        delete raw.baseline.quotas["tenant-x"];
        assert.deepStrictEqual(parse(raw).clusters[0].layer.baseline.quotas["llm-inference"], {
            cpu: undefined,
            memory: undefined,
            gpus: 4,
            pods: undefined,
        });
    });

    it("reports a misspelt key instead of ignoring it", () => {
        const raw = devRaw();
        raw.baseline = { tenant: [] };
        assert.ok(
            refusal(raw).some((i) =>
                i.startsWith("secure-llm-platform:baseline.tenant: no such key"),
            ),
        );
    });
});
