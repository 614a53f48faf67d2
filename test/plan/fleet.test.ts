/**
 * Fleet consistency (tools/plan/fleet.ts): small fixtures for the comparison, normalization and
 * exceptions, then the plan CLI over the real hybrid stack (clean: its stack file declares each
 * intended difference) and over the same stack with one exception removed and one stale (fails).
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify } from "yaml";
import {
    FleetMember,
    categoryOf,
    compareFleet,
    differingPaths,
    matchesPattern,
    normalizer,
} from "../../tools/plan/fleet";
import type { Manifest } from "../../tools/plan/manifests";

const root = path.resolve(__dirname, "..", "..");

function netpol(ns: string, cidr: string, port = 443): Manifest {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "allow", namespace: ns },
        spec: { egress: [{ to: [{ ipBlock: { cidr } }], ports: [{ port }] }] },
    };
}

function deployment(name: string, runAsNonRoot: boolean, replicas = 2): Manifest {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: "app" },
        spec: {
            replicas,
            template: { spec: { securityContext: { runAsNonRoot }, containers: [{ name }] } },
        },
    };
}

const member = (name: string, region: string, manifests: Manifest[]): FleetMember => ({
    name,
    tokens: [region, `llm-${name}.example.com`],
    manifests,
});

describe("fleet: comparing clusters' rendered platforms", () => {
    it("normalizes names, regions, gateway names, addresses, OCIDs and checksums away", () => {
        const n = normalizer({ name: "iad", tokens: ["us-ashburn-1", "llm-iad.example.com"] });
        assert.deepEqual(
            n({
                host: "llm-iad.example.com",
                url: "https://objectstorage.us-ashburn-1.oraclecloud.com",
                cidr: "10.30.0.0/16",
                key: "ocid1.key.oc1.us-ashburn-1.abc123",
                sum: "a".repeat(64),
                image: `nginx@sha256:${"b".repeat(64)}`,
                "iad-label": "x",
            }),
            {
                host: "<regional>",
                url: "https://objectstorage.<regional>.oraclecloud.com",
                cidr: "<address>",
                key: "<ocid>",
                sum: "<checksum>",
                // An image digest is not a checksum of our config: a different image is a difference.
                image: `nginx@sha256:${"b".repeat(64)}`,
                "<cluster>-label": "x",
            },
        );
    });

    it("two clusters that differ only in region and addresses: nothing to report", () => {
        const r = compareFleet([
            member("iad", "us-ashburn-1", [netpol("app", "10.30.0.0/16")]),
            member("fra", "eu-frankfurt-1", [netpol("app", "10.31.0.0/16")]),
        ]);
        assert.equal(r.compared, 1);
        assert.deepEqual(r.differences, []);
        assert.deepEqual(r.violations, []);
    });

    it("a different port in a NetworkPolicy fails the plan, naming object, cluster and path", () => {
        const r = compareFleet([
            member("iad", "us-ashburn-1", [netpol("app", "10.30.0.0/16")]),
            member("fra", "eu-frankfurt-1", [netpol("app", "10.31.0.0/16", 80)]),
        ]);
        assert.deepEqual(r.violations, [
            "fleet: NetworkPolicy.networking.k8s.io/app/allow (network policy) differs on fra at spec.egress[0].ports[0].port and no fleet.exceptions entry accepts it",
        ]);
    });

    it("replicas differ: listed, not a failure; runAsNonRoot differs: a failure", () => {
        const r = compareFleet([
            member("iad", "us-ashburn-1", [deployment("web", true, 2), deployment("api", true)]),
            member("fra", "eu-frankfurt-1", [deployment("web", true, 3), deployment("api", false)]),
        ]);
        const byObject = Object.fromEntries(r.differences.map((d) => [d.object, d]));
        assert.equal(byObject["Deployment.apps/app/web"].category, undefined);
        assert.equal(byObject["Deployment.apps/app/web"].violation, false);
        assert.deepEqual(byObject["Deployment.apps/app/web"].differsOn, [
            { cluster: "fra", paths: ["spec.replicas"] },
        ]);
        assert.equal(byObject["Deployment.apps/app/api"].category, "pod security context");
        assert.equal(r.violations.length, 1);
        assert.match(r.violations[0], /Deployment\.apps\/app\/api .*securityContext\.runAsNonRoot/);
    });

    it("an object missing on one cluster is a difference; an exception for that cluster accepts it", () => {
        const members = [
            member("cloud", "eu-frankfurt-1", [
                netpol("app", "10.0.0.0/8"),
                netpol("inference", "10.0.0.0/8"),
            ]),
            member("onprem", "fra-dc1", [netpol("app", "10.0.0.0/8")]),
        ];
        const refused = compareFleet(members);
        assert.deepEqual(
            refused.differences.map((d) => [d.object, d.missingOn]),
            [["NetworkPolicy.networking.k8s.io/inference/allow", ["onprem"]]],
        );
        assert.equal(refused.violations.length, 1);
        const accepted = compareFleet(members, [
            {
                name: "no-inference",
                cluster: "onprem",
                objects: ["*/inference/*"],
                reason: "no Kata on premises",
            },
        ]);
        assert.deepEqual(accepted.violations, []);
        assert.deepEqual(accepted.differences[0].acceptedBy, ["no-inference"]);
    });

    it("an exception that accepts nothing fails the plan; `fields` never accepts a missing object", () => {
        const members = [
            member("a", "r-1", [netpol("app", "10.0.0.0/8"), netpol("extra", "10.0.0.0/8")]),
            member("b", "r-2", [netpol("app", "10.0.0.0/8")]),
        ];
        const r = compareFleet(members, [
            { name: "stale", cluster: "b", objects: ["RuntimeClass/*"], reason: "was needed once" },
            {
                name: "labels-only",
                cluster: "b",
                objects: ["NetworkPolicy/extra/*"],
                fields: ["metadata.labels"],
                reason: "only labels may differ",
            },
        ]);
        assert.deepEqual(r.violations.slice(1), [
            "fleet: exception stale (cluster b) accepts no difference; remove it or fix its objects",
            "fleet: exception labels-only (cluster b) accepts no difference; remove it or fix its objects",
        ]);
        assert.match(
            r.violations[0],
            /NetworkPolicy\.networking\.k8s\.io\/extra\/allow \(network policy\) is missing on b/,
        );
    });

    it("classifies the security-relevant kinds and the ConfigMaps that are policy", () => {
        assert.equal(
            categoryOf("GlobalNetworkPolicy.crd.projectcalico.org/deny"),
            "network policy",
        );
        assert.equal(categoryOf("CiliumNetworkPolicy.cilium.io/ns/x"), "network policy");
        assert.equal(
            categoryOf("ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io/x"),
            "admission",
        );
        assert.equal(categoryOf("ClusterRoleBinding.rbac.authorization.k8s.io/x"), "RBAC");
        assert.equal(categoryOf("RuntimeClass.node.k8s.io/kata-qemu"), "RuntimeClass");
        assert.equal(
            categoryOf("ConfigMap/egress-proxy/egress-proxy-inference"),
            "egress allowlist",
        );
        assert.equal(categoryOf("ConfigMap/llm-guardrails/guardrails-rails"), "rails");
        assert.equal(categoryOf("ConfigMap/monitoring/dashboard-x"), undefined);
        assert.equal(
            categoryOf("Namespace/app", ["metadata.labels.pod-security.kubernetes.io/enforce"]),
            "Pod Security labels",
        );
        assert.equal(categoryOf("Namespace/app", ["metadata.labels.team"]), undefined);
    });

    it("patterns: Kind without group, '*' within one segment", () => {
        assert.ok(
            matchesPattern(
                "NetworkPolicy/llm-*/allow-*",
                "NetworkPolicy.networking.k8s.io/llm-guardrails/allow-guardrails",
            ),
        );
        assert.ok(!matchesPattern("NetworkPolicy/*", "NetworkPolicy.networking.k8s.io/ns/name"));
        assert.ok(matchesPattern("*/llm-inference/*", "ServiceAccount/llm-inference/inference"));
        assert.deepEqual(
            differingPaths({ a: [1, 2], b: { c: 1 } }, { a: [1, 2, 3], b: { c: 2 } }),
            ["a", "b.c"],
        );
    });
});

/** Runs the plan CLI and returns its exit code and parsed `--json` document. */
function planJson(args: string[]): Promise<{ code: number; doc: any; out: string }> {
    return new Promise((resolve) => {
        const child = spawn(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                path.join(root, "tools/plan/cli.ts"),
                "--json",
                ...args,
            ],
            { cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" } },
        );
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("exit", (code) => {
            let doc: any;
            try {
                doc = JSON.parse(out.slice(out.indexOf("{")));
            } catch {
                doc = undefined;
            }
            resolve({ code: code ?? -1, doc, out });
        });
    });
}

describe("fleet: the plan CLI over the hybrid stack with one exception removed and one stale", function () {
    this.timeout(180000);
    let dir: string;
    let result: { code: number; doc: any; out: string };
    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-fleet-"));
        const drift = parseYaml(fs.readFileSync(path.join(root, "Pulumi.hybrid.yaml"), "utf8"));
        const fleet = drift.config["secure-llm-platform:fleet"];
        fleet.exceptions = fleet.exceptions.filter((e: any) => e.name !== "onprem-vault-api-key");
        fleet.exceptions.push({
            name: "stale",
            cluster: "onprem-fra",
            objects: ["CiliumNetworkPolicy/*/*"],
            reason: "left over from an older layout",
        });
        fs.writeFileSync(path.join(dir, "Pulumi.hybrid-drift.yaml"), stringify(drift));
        result = await planJson(["--all", "--config-dir", dir, "--out", path.join(dir, "out")]);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("fails (exit 1) naming the unaccepted differences and the stale exception, in --json too", () => {
        assert.equal(result.code, 1, result.out.slice(-2000));
        const s = result.doc.stacks[0];
        assert.equal(s.verdict, "violations");
        const fleet = s.problems.filter((p: string) => p.startsWith("fleet: "));
        assert.deepEqual(fleet, [
            "fleet: ClusterSecretStore.external-secrets.io/oci-vault (secret store) differs on onprem-fra at spec.provider.oracle.auth, spec.provider.oracle.principalType, spec.provider.oracle.serviceAccountRef and no fleet.exceptions entry accepts it",
            "fleet: NetworkPolicy.networking.k8s.io/external-secrets/allow-external-secrets (network policy) differs on onprem-fra at spec.egress and no fleet.exceptions entry accepts it",
            "fleet: exception stale (cluster onprem-fra) accepts no difference; remove it or fix its objects",
        ]);
        assert.deepEqual(s.fleet.violations, fleet);
        assert.deepEqual(s.fleet.clusters, ["cloud-fra", "onprem-fra"]);
    });

    it("report.md has the fleet section with every difference and what accepts it", () => {
        const report = fs.readFileSync(path.join(dir, "out", "hybrid-drift", "report.md"), "utf8");
        assert.match(
            report,
            /## Fleet consistency\n\n\d+ object\(s\) compared across `cloud-fra`, `onprem-fra`/,
        );
        assert.match(
            report,
            /\| ClusterSecretStore\.external-secrets\.io\/oci-vault \| .* \| secret store ✗ \| — \|/,
        );
        assert.match(
            report,
            /\| RuntimeClass\.node\.k8s\.io\/kata-qemu \| is missing on onprem-fra \| RuntimeClass \| onprem-no-inference \|/,
        );
    });
});
