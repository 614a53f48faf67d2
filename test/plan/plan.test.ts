import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { analyzeCluster } from "../../tools/plan/analysis";
import { StackReport, parseArgs, renderStack } from "../../tools/plan/cli";
import { diffSnapshots, isEmptyDiff, readSnapshot, summarizeDiff } from "../../tools/plan/diff";
import type { Manifest } from "../../tools/plan/manifests";
import { runPlanCli } from "../support/plan-cli";

const root = path.resolve(__dirname, "..", "..");

const plan = runPlanCli;

describe("offline plan: the dev stack", function () {
    this.timeout(120000);
    let dir: string;
    let result: { code: number; out: string };
    let resources: Record<string, any>[];
    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-plan-"));
        result = await plan(["-s", "dev", "--out", dir, "--json"]);
        resources = JSON.parse(fs.readFileSync(path.join(dir, "dev", "resources.json"), "utf8"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("plans cleanly and writes the files of the contract", () => {
        assert.equal(result.code, 0, result.out);
        for (const f of ["reachability.json"]) {
            assert.ok(fs.existsSync(path.join(dir, "dev", f)), f);
        }
        for (const f of ["resources.json", "report.md", path.join("manifests", "dev-iad.yaml")]) {
            assert.ok(fs.existsSync(path.join(dir, "dev", f)), f);
        }
    });

    it("records every resource with urn, type, name, parent, provider, dependencies and inputs", () => {
        assert.ok(resources.length > 100);
        for (const r of resources) {
            for (const k of [
                "urn",
                "type",
                "name",
                "parent",
                "provider",
                "dependencies",
                "inputs",
            ]) {
                assert.ok(k in r, `${r.urn} lacks ${k}`);
            }
        }
        const types = new Set(resources.map((r) => r.type));
        for (const t of [
            "oci:Core/vcn:Vcn",
            "oci:Kms/vault:Vault",
            "oci:Kms/key:Key",
            "oci:ContainerEngine/cluster:Cluster",
            "oci:ContainerEngine/nodePool:NodePool",
            "oci:Core/instancePool:InstancePool",
            "oci:Identity/policy:Policy",
        ]) {
            assert.ok(types.has(t), `the dev plan has no ${t}`);
        }
        const cluster = resources.find((r) => r.type === "oci:ContainerEngine/cluster:Cluster")!;
        assert.equal(cluster.inputs.type, "ENHANCED_CLUSTER");
        assert.ok(cluster.inputs.kmsKeyId);
    });

    it("protects and retains the vault, keys and model bucket", () => {
        const data = resources.filter((r) =>
            ["oci:Kms/vault:Vault", "oci:Kms/key:Key", "oci:ObjectStorage/bucket:Bucket"].includes(
                r.type,
            ),
        );
        assert.ok(data.length >= 6);
        for (const r of data) {
            assert.ok(r.protect && r.retainOnDelete, `${r.name} is not protected and retained`);
        }
    });

    it("never writes a secret value: kubeconfigs are redacted and outputs are secret", () => {
        const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes")!;
        assert.equal(provider.inputs.kubeconfig, "[secret]");
        const report = fs.readFileSync(path.join(dir, "dev", "report.md"), "utf8");
        assert.match(report, /\| clusters\.dev-iad\.kubeconfig \| yes \|/);
        for (const f of ["resources.json", "report.md", path.join("manifests", "dev-iad.yaml")]) {
            const text = fs.readFileSync(path.join(dir, "dev", f), "utf8");
            assert.ok(!text.includes("generate-token"), `${f} contains the kubeconfig`);
            assert.ok(!text.includes("certificate-authority-data"), `${f} contains the kubeconfig`);
        }
    });

    it("prints one JSON document with the verdict, warnings and no diff on a first plan", () => {
        const doc = JSON.parse(result.out) as { exitCode: number; stacks: StackReport[] };
        assert.equal(doc.exitCode, 0);
        assert.equal(doc.stacks.length, 1);
        const [dev] = doc.stacks;
        assert.equal(dev.stack, "dev");
        assert.equal(dev.verdict, "clean");
        assert.deepEqual(dev.problems, []);
        assert.ok(
            (dev.warnings ?? []).some((w) => /image digest/.test(w)),
            "the program's warnings reach the caller, not only report.md",
        );
        assert.equal(dev.diff, undefined, "nothing to diff against on a first plan");
    });

    it("diffs a later plan against this one: objects, resources and flows", () => {
        const before = readSnapshot(path.join(dir, "dev"))!;
        assert.ok(before.flows.size > 0, "reachability.json lists the allowed flows");
        const same = diffSnapshots(before, before);
        assert.ok(isEmptyDiff(same));
        const gateway = [...before.objects.keys()].find((k) => /: Deployment .*gateway/.test(k))!;
        const flow = [...before.flows].find((f) => / → /.test(f))!;
        const objects = new Map(before.objects);
        objects.set(gateway, objects.get(gateway)!.replace(/"replicas":\d+/, '"replicas":9'));
        objects.delete([...before.objects.keys()].find((k) => /: NetworkPolicy /.test(k))!);
        const resources = new Map(before.resources);
        resources.set("urn:pulumi:dev::p::t::added", "{}");
        const flows = new Set(before.flows);
        flows.delete(flow);
        flows.add("dev-iad: kubeflow/step → llm-inference/inference TCP/8000");
        const d = diffSnapshots(before, { objects, resources, flows });
        assert.deepEqual(d.objects.changed, [gateway]);
        assert.equal(d.objects.removed.length, 1);
        assert.deepEqual(d.resources.added, ["urn:pulumi:dev::p::t::added"]);
        assert.deepEqual(d.flows.added, [
            "dev-iad: kubeflow/step → llm-inference/inference TCP/8000",
        ]);
        assert.deepEqual(d.flows.removed, [flow]);
        assert.match(summarizeDiff(d), /resources \+1 ~0 -0; objects \+0 ~1 -1; flows \+1 -1/);
        const text = renderStack({ ...JSON.parse(result.out).stacks[0], diff: d }).join("\n");
        assert.match(text, /\+ flow dev-iad: kubeflow\/step → llm-inference\/inference TCP\/8000/);
        assert.match(text, /~ object .*gateway/);
    });

    it("writes one schema-valid object per document, each with a name", () => {
        const text = fs.readFileSync(path.join(dir, "dev", "manifests", "dev-iad.yaml"), "utf8");
        const docs = parseAllDocuments(text).map((d) => d.toJSON() as Manifest);
        assert.ok(docs.length > 20);
        for (const d of docs) {
            assert.ok(d.apiVersion && d.kind, JSON.stringify(d).slice(0, 200));
        }
        const report = fs.readFileSync(path.join(dir, "dev", "report.md"), "utf8");
        assert.match(report, /object\(s\) validated against their OpenAPI schema; 0 with errors/);
        assert.match(report, /## Critical path/);
        assert.match(report, /```mermaid/);
    });
});

describe("offline plan: exit codes", function () {
    this.timeout(60000);
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-plan-bad-"));
        const dev = fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8");
        fs.writeFileSync(
            path.join(dir, "Pulumi.bad.yaml"),
            dev.replace("shape: BM.Standard.E4.128", "shape: VM.Standard.E4.Flex"),
        );
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("exits 2 on a bad stack value, naming the key, the value and what is expected", async () => {
        const r = await plan([
            "--stack",
            "bad",
            "--config-dir",
            dir,
            "--out",
            path.join(dir, "out"),
        ]);
        assert.equal(r.code, 2, r.out);
        assert.match(
            r.out,
            /secure-llm-platform:clusters\[0\]\.nodePools\[2\]\.shape: got "VM\.Standard\.E4\.Flex"; expected a bare-metal shape/,
        );
        assert.ok(
            !fs.existsSync(path.join(dir, "out", "bad", "resources.json")),
            "nothing is planned",
        );
    });

    it("exits 2 on a usage error", async () => {
        const r = await plan(["--stack", "dev", "--all"]);
        assert.equal(r.code, 2);
        assert.match(r.out, /exclusive/);
        assert.throws(() => parseArgs(["--frobnicate"]), /unknown option --frobnicate/);
        assert.throws(() => parseArgs(["--stak", "dev"]), /did you mean "--stack"/);
        assert.throws(() => parseArgs(["-s"]), /--stack needs a value/);
        assert.throws(() => parseArgs(["dev"]), /unexpected argument dev/);
        assert.deepEqual(parseArgs([]), {
            stacks: ["dev"],
            out: ".plan",
            configDir: undefined,
            json: false,
        });
        assert.deepEqual(parseArgs(["-s", "prod", "--json"]), {
            stacks: ["prod"],
            out: ".plan",
            configDir: undefined,
            json: true,
        });
    });

    it("answers every usage and I/O error in one line with exit 2, no stack trace", async () => {
        const cases: [string[], RegExp][] = [
            [["--config-dir", path.join(dir, "missing")], /--config-dir .*missing: no such folder/],
            [["-s", "prd"], /no stack prd: .* does not exist \(did you mean "prod"\?\)/],
            [["--out", path.join(root, "package.json", "x")], /--out .*: cannot write there/],
            [["--out", "/proc/slp-plan"], /--out \/proc\/slp-plan: cannot write there/],
        ];
        for (const [args, expected] of cases) {
            const r = await plan(args);
            assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}`);
            assert.match(r.out, expected);
            assert.equal(r.out.trim().split("\n").length, 1, r.out);
            assert.doesNotMatch(r.out, /\n\s+at /);
        }
    });
});

describe("offline plan: verdicts come from the rendered objects", () => {
    const ns = (name: string): Manifest => ({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
    });
    const deploy = (name: string, namespace: string): Manifest => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace },
        spec: {
            selector: { matchLabels: { "app.kubernetes.io/name": name } },
            template: {
                metadata: { labels: { "app.kubernetes.io/name": name } },
                spec: { containers: [] },
            },
        },
    });
    const denyAll = (namespace: string): Manifest => ({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "default-deny", namespace },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    });

    it("fails a namespace whose pods are not covered by a default deny", () => {
        const bare = analyzeCluster("c", [
            ns("llm-inference"),
            deploy("inference", "llm-inference"),
        ]);
        assert.ok(
            bare.violations.some((v) => /default-deny/.test(v)),
            bare.violations.join("\n"),
        );
        const denied = analyzeCluster("c", [
            ns("llm-inference"),
            deploy("inference", "llm-inference"),
            denyAll("llm-inference"),
        ]);
        assert.ok(
            !denied.violations.some((v) => /default-deny/.test(v)),
            denied.violations.join("\n"),
        );
    });
});
