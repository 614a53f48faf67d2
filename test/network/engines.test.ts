/**
 * End to end under the mock runtime, per engine: the NetworkSecurity component declares its
 * objects, the plan's manifest conversion turns them into plain objects, and the reachability
 * analysis (from those objects only) must show exactly the request-path picture of
 * docs/ARCHITECTURE.md and no bypass or
 * exfiltration path.
 */
import { cloudSubnets, clusterIntentInputs, fakeCloud } from "../support/stacks";
import * as assert from "assert";
import { egressProxyImage } from "../../modules/constants/images";
import { ingressControllerMetrics } from "../../modules/constants/ingress";
import { catalog } from "../../modules/k8s/catalog";
import { NetworkSecurity } from "../../modules/k8s/network";
import { buildIntent, isSupplyChainDomain } from "../../modules/k8s/network/intent";
import {
    ReachabilityResult,
    analyzeReachability,
    reachabilityViolations,
    renderReachabilityMarkdown,
} from "../../modules/k8s/network/reachability";
import { imageReference, podSpecViolations } from "../../modules/k8s/workload";
import { isKubernetesObject, toManifest } from "../../tools/plan/manifests";
import { RecordedResource, recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { engines, okeCluster, tierDeployments } from "./fixtures";

/** The request-path picture of docs/ARCHITECTURE.md: its nodes, as groups of workloads, and its arrows. */
const groups: Record<string, readonly string[]> = {
    gw: ["ingress-nginx", "gateway"],
    // The candidate tier is the guardrails tier's second Deployment (pipeline evaluation only).
    guard: ["guardrails", "jailbreak-detection", "candidate-guardrails"],
    infer: ["inference"],
    out: ["presidio-analyzer", "presidio-anonymizer"],
    prom: ["prometheus"],
    kfp: ["kubeflow-pipelines"],
};
const groupOf = (id: string) => Object.keys(groups).find((g) => groups[g].includes(id));
const tierGroups = ["gw", "guard", "infer", "out"];

/**
 * The picture's arrows, with Prometheus scraping exactly the catalog workloads that expose a
 * metrics port (the catalog is the single source: the gateway has one, Presidio has none) and the
 * ingress-nginx controller's metrics port (the gateway tier's client-facing latency and 5xx).
 */
function expectedEdges(): string[] {
    const scraped = Object.values(catalog)
        .filter((w) => w.metricsPort !== undefined)
        .map((w) => `prom->${groupOf(w.id)}`);
    scraped.push(`prom->${groupOf("ingress-nginx")}`);
    const edges = [
        "client->gw",
        "gw->guard",
        "guard->infer",
        "guard->out",
        "infer->objectstorage",
        "infer->kms",
        ...scraped,
        "kfp->guard",
    ];
    return [...new Set(edges)].sort();
}

function observedEdges(r: ReachabilityResult): string[] {
    const edges = new Set<string>();
    for (const c of r.connections) {
        const a = groupOf(c.from);
        const b = groupOf(c.to);
        if (a !== undefined && b !== undefined && a !== b) edges.add(`${a}->${b}`);
    }
    for (const [id, list] of Object.entries(r.externalIngress)) {
        if (groupOf(id) !== undefined && list.some((d) => d.value === "0.0.0.0/0"))
            edges.add(`client->${groupOf(id)}`);
    }
    for (const d of r.egress.inference ?? []) {
        if (d.kind === "domain")
            edges.add(`infer->${d.value.startsWith("objectstorage.") ? "objectstorage" : "kms"}`);
    }
    return [...edges].sort();
}

async function declare(engine: (typeof engines)[number]): Promise<RecordedResource[]> {
    resetRecords();
    const cluster = okeCluster(engine);
    new NetworkSecurity(`e2e-${engine}`, {
        cluster,
        environment: "dev",
        cloud: { ...fakeCloud(cluster.region), ...cloudSubnets(cluster)! },
    });
    await settle();
    return [...recordedResources()];
}

for (const engine of engines) {
    describe(`network engine ${engine}: declared objects and reachability`, () => {
        let resources: RecordedResource[];
        let result: ReachabilityResult;
        before(async () => {
            resources = await declare(engine);
            const manifests = resources.filter(isKubernetesObject).map(toManifest);
            const intent = buildIntent(clusterIntentInputs(okeCluster(engine)));
            result = analyzeReachability([...manifests, ...tierDeployments(intent)]);
        });

        it("has no reachability violation", () => {
            assert.deepStrictEqual(reachabilityViolations(result), []);
        });

        it("shows exactly the request-path flows of docs/ARCHITECTURE.md between its nodes", () => {
            assert.deepStrictEqual(observedEdges(result), expectedEdges());
        });

        it("lets Prometheus, and only it in-cluster, reach the ingress controller's metrics port", () => {
            const metrics = `TCP/${ingressControllerMetrics.port}`;
            const scrapers = result.connections
                .filter((c) => c.to === "ingress-nginx" && c.ports.includes(metrics))
                .map((c) => c.from);
            assert.deepStrictEqual(scrapers, ["prometheus"]);
            for (const d of result.externalIngress["ingress-nginx"] ?? []) {
                assert.ok(!d.ports.includes(metrics), `clients reach ${metrics} from ${d.value}`);
            }
        });

        it("lets nothing outside the picture open connections into the tiers", () => {
            for (const c of result.connections) {
                const to = groupOf(c.to);
                if (to !== undefined && tierGroups.includes(to)) {
                    assert.ok(
                        groupOf(c.from) !== undefined,
                        `${c.from} -> ${c.to} is not in the picture`,
                    );
                }
            }
        });

        it("closes the bypass: the gateway reaches only the guardrails and DNS", () => {
            const fromGateway = result.connections
                .filter((c) => c.from === "gateway")
                .map((c) => c.to);
            assert.deepStrictEqual(fromGateway.sort(), ["guardrails", "kube-dns"]);
            // The candidate tier admits the pipeline's evaluation step only (its policy lives in
            // the pipeline namespace, declared by the Kubeflow component: reachability.test.ts).
            assert.deepStrictEqual(
                result.connections.filter((c) => c.to === "candidate-guardrails"),
                [],
            );
            const intoInference = result.connections
                .filter((c) => c.to === "inference")
                .map((c) => c.from);
            assert.deepStrictEqual(intoInference.sort(), [
                "candidate-guardrails",
                "guardrails",
                "prometheus",
            ]);
            // Prometheus reaches only the metrics-only listener, never the API port.
            assert.deepStrictEqual(
                result.connections.find((c) => c.from === "prometheus" && c.to === "inference")!
                    .ports,
                ["TCP/9400"],
            );
            for (const id of ["presidio-analyzer", "presidio-anonymizer"]) {
                assert.deepStrictEqual(
                    result.connections
                        .filter((c) => c.to === id)
                        .map((c) => c.from)
                        .sort(),
                    ["candidate-guardrails", "guardrails"],
                );
            }
        });

        it("closes exfiltration: inference reaches only its supply chain's OSN endpoints (and the workload-identity endpoint)", () => {
            const dests = result.egress.inference;
            const domains = dests
                .filter((d) => d.kind === "domain")
                .map((d) => d.value)
                .sort();
            assert.deepStrictEqual(domains, [
                "*.kms.us-ashburn-1.oraclecloud.com",
                "objectstorage.us-ashburn-1.oraclecloud.com",
            ]);
            assert.ok(domains.every(isSupplyChainDomain));
            const others = dests.filter((d) => d.kind !== "domain");
            assert.deepStrictEqual(
                others.map((d) => `${d.value} ${d.ports.join()}`),
                ["10.0.0.0/24 TCP/12250"],
            );
            // The tiers that do not need the internet get none.
            for (const id of [
                "gateway",
                "guardrails",
                "candidate-guardrails",
                "jailbreak-detection",
                "presidio-analyzer",
                "presidio-anonymizer",
            ]) {
                assert.deepStrictEqual(result.egress[id], [], id);
            }
        });

        it("covers every platform pod with default deny both ways", () => {
            assert.ok(result.coverage.length >= 12);
            assert.ok(result.coverage.every((c) => c.ingressDeny && c.egressDeny));
        });

        it("writes the report with the matrix and a Mermaid diagram", () => {
            const md = renderReachabilityMarkdown(result);
            assert.match(md, /0 violation\(s\)/);
            assert.match(md, /```mermaid/);
        });

        it("declares engine objects only the engine can enforce", () => {
            const crs = resources.filter(
                (r) =>
                    r.type === "kubernetes:apiextensions.k8s.io:CustomResource" ||
                    /projectcalico|cilium/.test(r.type),
            );
            const apiVersions = [...new Set(crs.map((r) => String(r.inputs.apiVersion)))];
            const expected = {
                proxy: [],
                "calico-enterprise": ["projectcalico.org/v3"],
                cilium: ["cilium.io/v2"],
            }[engine];
            assert.deepStrictEqual(apiVersions, expected);
            const text = JSON.stringify(
                resources
                    .filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                    .map((r) => r.inputs),
            );
            assert.doesNotMatch(text, /"domains"|toFQDNs/);
        });

        it("installs open-source Calico only for the proxy engine, on OKE VCN-native policy-only (no operator)", () => {
            const releases = resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
            assert.strictEqual(releases.length, 0);
            const calico = resources.filter(
                (r) => r.type === "secure-llm-platform:network:CalicoPolicyOnly",
            );
            assert.strictEqual(calico.length, engine === "proxy" ? 1 : 0);
            const daemonSets = resources.filter(
                (r) =>
                    r.type === "kubernetes:apps/v1:DaemonSet" &&
                    (r.inputs.metadata as Record<string, string>).name === "calico-node",
            );
            assert.strictEqual(daemonSets.length, engine === "proxy" ? 1 : 0);
        });

        it("names every object and parents every resource under the component", () => {
            const component = resources.find(
                (r) => r.type === "secure-llm-platform:network:NetworkSecurity",
            )!;
            assert.ok(component);
            for (const r of resources.filter(isKubernetesObject)) {
                assert.ok(
                    (r.inputs.metadata as Record<string, unknown>)?.name,
                    `${r.name} has no metadata.name`,
                );
            }
            for (const r of resources.filter((x) => x !== component)) {
                assert.ok(r.parent !== undefined, `${r.name} has no parent`);
            }
        });
    });
}

describe("network engine proxy: the egress proxies", () => {
    let resources: RecordedResource[];
    before(async () => {
        resources = await declare("proxy");
    });

    it("runs one hardened, digest-pinned Squid per identity with its allowlist mounted", () => {
        const deployments = resources.filter(
            (r) =>
                r.type === "kubernetes:apps/v1:Deployment" &&
                (r.inputs.metadata as Record<string, string>).namespace === "egress-proxy",
        );
        assert.deepStrictEqual(
            deployments.map((d) => (d.inputs.metadata as Record<string, string>).name).sort(),
            ["egress-proxy-external-secrets", "egress-proxy-inference"],
        );
        for (const d of deployments) {
            const spec = d.inputs.spec as Record<string, any>;
            assert.deepStrictEqual(podSpecViolations(spec.template.spec), []);
            assert.strictEqual(
                spec.template.metadata.labels["secure-llm-platform.io/egress-allowlist"],
                (d.inputs.metadata as any).name.replace("egress-proxy-", ""),
            );
            // Our image (images/egress-proxy): the Squid the real suite runs, pinned by digest.
            assert.strictEqual(
                spec.template.spec.containers[0].image,
                imageReference(egressProxyImage),
            );
            assert.match(
                spec.template.spec.containers[0].image,
                /\/egress-proxy:squid-[^@]+@sha256:[0-9a-f]{64}$/,
            );
            assert.ok(spec.replicas >= 2);
        }
        const types = resources.map((r) => r.type);
        assert.ok(types.includes("kubernetes:policy/v1:PodDisruptionBudget"));
        assert.ok(types.includes("kubernetes:core/v1:ServiceAccount"));
    });
});
