/**
 * Fleet consistency (tools/plan/fleet.ts) on small fixtures: comparison, normalization, categories
 * and exceptions. The real stacks: test/fleet/replication.test.ts (prod), test/fleet/hybrid.test.ts
 * (hybrid), and the plan CLI end to end in test/real/fleet/plan-cli.test.ts.
 */
import { strict as assert } from "assert";
import {
    FleetMember,
    categoryOf,
    compareFleet,
    differingPaths,
    matchesPattern,
    normalizer,
} from "../../tools/plan/fleet";
import type { Manifest } from "../../tools/plan/manifests";

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
                cidr: "<address>/16",
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

    it("an allowlist widened to anywhere, or to a shorter prefix, is a difference", () => {
        const r = compareFleet([
            member("iad", "us-ashburn-1", [
                netpol("app", "10.30.0.0/16"),
                netpol("db", "10.30.1.0/24"),
            ]),
            member("fra", "eu-frankfurt-1", [
                netpol("app", "0.0.0.0/0"),
                netpol("db", "10.31.0.0/16"),
            ]),
        ]);
        assert.deepEqual(
            r.differences.map((d) => [d.object, d.differsOn[0].paths, d.violation]),
            [
                [
                    "NetworkPolicy.networking.k8s.io/app/allow",
                    ["spec.egress[0].to[0].ipBlock.cidr"],
                    true,
                ],
                [
                    "NetworkPolicy.networking.k8s.io/db/allow",
                    ["spec.egress[0].to[0].ipBlock.cidr"],
                    true,
                ],
            ],
        );
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
