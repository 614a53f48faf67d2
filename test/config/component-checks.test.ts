/**
 * The configuration-dependent checks that components throw (`throw` under modules/) are all
 * reached first by the configuration path: each row changes a shipped stack so that a component
 * would throw, and the stack is refused by parseConfig or preflight (ConfigValidationError: exit
 * 2, the key named) before any resource. The components keep their throws as assertions.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { YAMLSeq, parseDocument } from "yaml";
import { ConfigValidationError, parseConfig } from "../../modules/config";
import { preflightIssues } from "../../modules/preflight";
import { stackRaw } from "../support/stacks";

type Raw = Record<string, any>;

/** The `path: expected` lines of a refused stack (parse, then preflight). */
function refused(raw: Raw, railsRoot?: string): string[] {
    const secretKeys = ["secure-llm-platform:kubeconfig-onprem-fra"];
    try {
        const cfg = parseConfig(raw, { stack: "t", secretKeys });
        return preflightIssues(cfg, { railsRoot }).map((i) => `${i.path}: ${i.expected}`);
    } catch (e) {
        assert.ok(e instanceof ConfigValidationError, String(e));
        return e.issues.map((i) => `${i.path}: ${i.expected}`);
    }
}

const rows: {
    component: string;
    stack: string;
    edit: (raw: Raw) => void;
    refusedAt: RegExp;
}[] = [
    {
        component: "oci/logging.ts AuditLogging: retention OCI Logging refuses",
        stack: "dev",
        edit: (r) => (r.observability = { logging: { retentionDays: 45 } }),
        refusedAt: /observability\.logging\.retentionDays: one of 30, 60/,
    },
    {
        component: "oci/index.ts OkeCluster: compartmentId/tenancyId missing",
        stack: "dev",
        edit: (r) => delete r.tenancyId,
        refusedAt: /:tenancyId: a tenancy OCID/,
    },
    {
        component: "oci/index.ts OkeCluster: Kata pool shape whose platform type is unknown",
        stack: "dev",
        edit: (r) => (r.clusters[0].nodePools[2].shape = "BM.Standard.A1.160"),
        refusedAt: /nodePools\[2\]\.shape: a bare-metal shape whose platform type is known/,
    },
    {
        component: "oci/peering.ts RegionPeering: fewer than 2 regions",
        stack: "prod",
        edit: (r) => (r.clusters[1].region = r.clusters[0].region),
        refusedAt: /:peering\.enabled: false, or at least 2 OKE clusters in at least 2 regions/,
    },
    {
        component: "oci/subnets.ts planSubnets: VCN smaller than /20",
        stack: "dev",
        edit: (r) => (r.clusters[0].network.vcnCidr = "10.0.0.0/24"),
        refusedAt: /network\.vcnCidr: a block of \/20 or larger/,
    },
    {
        component: "oci/subnets.ts planSubnets: VCN CIDR not a block",
        stack: "dev",
        edit: (r) => (r.clusters[0].network.vcnCidr = "10.0.0.1/16"),
        refusedAt: /network\.vcnCidr: a valid IPv4 CIDR block with no host bits set/,
    },
    {
        component: "k8s/kubeflow/install.ts kustomizeSteps: version not a release tag",
        stack: "dev",
        edit: (r) => (r.kubeflow = { ...r.kubeflow, version: "main;rm -rf" }),
        refusedAt: /kubeflow\.version: a kubeflow\/pipelines release tag/,
    },
    {
        component: "k8s/baseline/plan.ts podSecurityVersion: version not v1.NN.P",
        stack: "dev",
        edit: (r) => (r.clusters[0].kubernetesVersion = "1.34"),
        refusedAt: /kubernetesVersion: a Kubernetes version such as v1\.34\.2/,
    },
    {
        component: "k8s/llm/index.ts: inference on an existing cluster without model.source",
        stack: "hybrid",
        edit: (r) => {
            r.clusters[1].capabilities = { ...r.clusters[1].capabilities, kataGpu: true };
            r.clusters[1].tiers = { inference: { enabled: true } };
        },
        refusedAt: /clusters\[1\]\.tiers\.inference\.model\.source: oci-os:\/\//,
    },
    {
        component: "k8s/baseline/secrets.ts: External Secrets on an existing cluster without auth",
        stack: "hybrid",
        edit: (r) => (r.clusters[1].baseline = { secrets: { enabled: true } }),
        refusedAt: /clusters\[1\]\.baseline\.secrets\.existingClusterAuth: an object/,
    },
    {
        component: "k8s/workload.ts HardenedWorkload: HPA bounds",
        stack: "dev",
        edit: (r) => (r.tiers = { inference: { hpa: { minReplicas: 3, maxReplicas: 2 } } }),
        refusedAt: /tiers\.inference\.hpa\.maxReplicas: at least minReplicas \(3\)/,
    },
    {
        component: "k8s/workload.ts imageReference: image not pinned by digest",
        stack: "dev",
        edit: (r) => (r.tiers = { gateway: { image: { tag: "latest" } } }),
        refusedAt: /tiers\.gateway\.image\.digest: sha256:<64 hex digits>/,
    },
    {
        component: "k8s/network/intent.ts checkDomains: an allowlist entry no engine enforces",
        stack: "dev",
        edit: (r) => (r.networkPolicy = { extraEgress: { gateway: ["*"] } }),
        refusedAt: /networkPolicy\.extraEgress\.gateway\[0\]: a named domain/,
    },
    {
        component: "k8s/llm/index.ts: inference HPA beyond the namespace GPU quota",
        stack: "dev",
        edit: (r) =>
            (r.baseline = { ...r.baseline, quotas: { "llm-inference": { gpus: 1 } } }) &&
            (r.tiers = { inference: { hpa: { minReplicas: 1, maxReplicas: 4 } } }),
        refusedAt:
            /tiers\.inference\.hpa\.maxReplicas: a maximum the llm-inference quota of cluster \S+ holds/,
    },
    {
        component: "k8s/llm/rails.ts readRailFiles: rails folder missing (was exit 1)",
        stack: "dev",
        edit: (r) => (r.tiers = { guardrails: { configId: "missing" } }),
        refusedAt:
            /:tiers\.guardrails\.configId: a rails configuration that loads: rails configuration missing not found/,
    },
];

describe("component checks reached first by the configuration path", () => {
    for (const row of rows) {
        it(row.component, () => {
            const raw = stackRaw(row.stack);
            row.edit(raw);
            const lines = refused(raw);
            assert.ok(
                lines.some((l) => row.refusedAt.test(l)),
                `${row.refusedAt}\n${lines.join("\n") || "(accepted)"}`,
            );
        });
    }

    describe("rails folders", () => {
        let root: string;
        const rails = (name: string, files: Record<string, string>) => {
            for (const [f, text] of Object.entries(files)) {
                fs.mkdirSync(path.dirname(path.join(root, name, f)), { recursive: true });
                fs.writeFileSync(path.join(root, name, f), text);
            }
        };
        const base = fs.readFileSync(
            path.join(__dirname, "..", "..", "guardrails", "default", "config.yml"),
            "utf8",
        );
        before(() => {
            root = fs.mkdtempSync(path.join(os.tmpdir(), "slp-rails-"));
            rails("stray", { "config.yml": base, "notes.txt": "x" });
            rails("nomain", { "config.yml": "models: []\n" });
            const withFlow = parseDocument(base);
            (withFlow.getIn(["rails", "input", "flows"]) as YAMLSeq).add("no such flow");
            rails("flows", { "config.yml": withFlow.toString() });
        });
        after(() => fs.rmSync(root, { recursive: true, force: true }));

        for (const [id, message] of [
            ["stray", /notes\.txt is not a rail file/],
            ["nomain", /has no model of type main/],
            ["flows", /whose flows are all defined: .*no such flow/],
        ] as const) {
            it(`refuses a rails folder (${id}) at tiers.guardrails.configId`, () => {
                const raw = stackRaw("dev");
                raw.tiers = { guardrails: { configId: id } };
                const lines = refused(raw, root);
                assert.equal(lines.length, 1, lines.join("\n"));
                assert.match(lines[0], /^secure-llm-platform:tiers\.guardrails\.configId: /);
                assert.match(lines[0], message);
            });
        }
    });
});
