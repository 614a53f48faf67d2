import * as assert from "assert";
import { analyzeReachability } from "../../modules/k8s/network/reachability";
import {
    checkDefaultDenyCoverage,
    deniedDirections,
    evaluateClusterManifests,
    UNKNOWN,
} from "../../modules/security";

const deployment = (namespace: string, name = "app") => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: { template: { spec: { containers: [{ name: "c" }] } } },
});

const netpol = (
    namespace: string,
    spec: Record<string, unknown>,
    apiVersion = "networking.k8s.io/v1",
) => ({
    apiVersion,
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace },
    spec,
});

const defaultDeny = (namespace: string) =>
    netpol(namespace, { podSelector: {}, policyTypes: ["Ingress", "Egress"] });

describe("security rules: default-deny coverage", () => {
    it("passes when every namespace with workloads denies both directions", () => {
        const manifests = [
            deployment("llm-inference"),
            defaultDeny("llm-inference"),
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "empty" } },
            // An allow policy next to the deny does not break coverage.
            netpol("llm-inference", {
                podSelector: { matchLabels: { app: "x" } },
                policyTypes: ["Ingress"],
                ingress: [{}],
            }),
        ];
        assert.deepStrictEqual(checkDefaultDenyCoverage(manifests), []);
    });

    it("names the namespace, its workloads and the missing direction", () => {
        const found = checkDefaultDenyCoverage([deployment("llm-guardrails", "guardrails")]);
        assert.strictEqual(found.length, 1);
        assert.ok(
            found[0].includes("namespace llm-guardrails") &&
                found[0].includes("Ingress and Egress"),
            found[0],
        );
        assert.ok(found[0].includes("Deployment guardrails"), found[0]);
    });

    it("does not count ingress-only, selective, rule-carrying or Calico policies as default deny", () => {
        const cases = [
            netpol("ns", { podSelector: {} }), // policyTypes defaults to Ingress only
            netpol("ns", {
                podSelector: { matchLabels: { app: "x" } },
                policyTypes: ["Ingress", "Egress"],
            }),
            netpol("ns", {
                podSelector: {},
                policyTypes: ["Ingress", "Egress"],
                egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }],
            }),
            netpol(
                "ns",
                { selector: "all()", types: ["Ingress", "Egress"] },
                "projectcalico.org/v3",
            ),
        ];
        for (const policy of cases) {
            const found = checkDefaultDenyCoverage([deployment("ns"), policy]);
            assert.strictEqual(found.length, 1, JSON.stringify(policy));
            assert.ok(found[0].includes("Egress"), found[0]);
        }
    });

    it("names exactly the direction a one-way deny leaves open", () => {
        const egressOnly = checkDefaultDenyCoverage([
            deployment("ns"),
            netpol("ns", { podSelector: {}, policyTypes: ["Egress"] }),
        ]);
        assert.deepStrictEqual(egressOnly.length, 1);
        assert.ok(egressOnly[0].includes("for Ingress ("), egressOnly[0]);
        const ingressOnly = checkDefaultDenyCoverage([
            deployment("ns"),
            netpol("ns", { podSelector: {} }),
        ]);
        assert.ok(ingressOnly[0].includes("for Egress ("), ingressOnly[0]);
    });

    it("accepts the two directions from two separate deny policies", () => {
        const manifests = [
            deployment("ns"),
            netpol("ns", { podSelector: {}, policyTypes: ["Ingress"] }),
            netpol("ns", { podSelector: {}, policyTypes: ["Egress"] }),
        ];
        assert.deepStrictEqual(checkDefaultDenyCoverage(manifests), []);
    });

    it("does not let a policy in another namespace cover a workload", () => {
        const found = checkDefaultDenyCoverage([
            deployment("a"),
            defaultDeny("b"),
            { ...deployment("a"), metadata: { name: "no-ns" } },
        ]);
        assert.deepStrictEqual(
            found.map((m) => m.split(":")[0]),
            ["namespace a", "namespace default"],
        );
    });

    it("reads policyTypes as the API server defaults them (SetDefaults_NetworkPolicy)", () => {
        const dirs = (spec: Record<string, unknown>) => [...deniedDirections(netpol("ns", spec))];
        // An empty list is defaulted like an absent one: Ingress, plus Egress only with egress rules.
        assert.deepStrictEqual(dirs({ podSelector: {}, policyTypes: [] }), ["Ingress"]);
        assert.deepStrictEqual(dirs({ podSelector: {}, egress: [] }), ["Ingress"]);
        assert.deepStrictEqual(dirs({ podSelector: {}, egress: [{}] }), ["Ingress"]);
        assert.deepStrictEqual(dirs({ podSelector: {}, policyTypes: ["Egress"] }), ["Egress"]);
        assert.deepStrictEqual(dirs({ podSelector: { matchExpressions: [] } }), ["Ingress"]);
    });

    it("does not take rules or selectors unknown during preview for a default deny", () => {
        const dirs = (spec: Record<string, unknown>) => [...deniedDirections(netpol("ns", spec))];
        assert.deepStrictEqual(
            dirs({ podSelector: {}, policyTypes: ["Ingress", "Egress"], egress: UNKNOWN }),
            ["Ingress"],
        );
        assert.deepStrictEqual(
            dirs({ podSelector: UNKNOWN, policyTypes: ["Ingress", "Egress"] }),
            [],
        );
    });

    it("is the same test as the reachability coverage table: a selective deny covers nothing", () => {
        const labelled = {
            ...deployment("ns"),
            spec: {
                template: {
                    metadata: { labels: { "app.kubernetes.io/name": "app" } },
                    spec: { containers: [{ name: "c" }] },
                },
            },
        };
        const selective = netpol("ns", {
            podSelector: { matchLabels: { "app.kubernetes.io/name": "app" } },
            policyTypes: ["Ingress", "Egress"],
        });
        for (const [manifests, covered] of [
            [[labelled, selective], false],
            [[labelled, defaultDeny("ns")], true],
        ] as const) {
            const table = analyzeReachability(manifests).coverage.find((c) => c.pod === "app")!;
            assert.strictEqual(table.ingressDeny && table.egressDeny, covered);
            assert.strictEqual(checkDefaultDenyCoverage(manifests).length === 0, covered);
        }
    });

    it("reports cluster findings as mandatory, with the cluster named", () => {
        const findings = evaluateClusterManifests("fra-1", [deployment("x")]);
        assert.strictEqual(findings.length, 1);
        assert.strictEqual(findings[0].severity, "mandatory");
        assert.strictEqual(findings[0].resource, "cluster fra-1");
        assert.strictEqual(findings[0].ruleId, "k8s-default-deny-coverage");
    });
});
