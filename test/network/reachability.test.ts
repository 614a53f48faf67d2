import * as assert from "assert";
import { clusterIntentInputs } from "../support/stacks";
import { renderNetworkObjects } from "../../modules/k8s/network";
import { buildIntent } from "../../modules/k8s/network/intent";
import {
    analyzeReachability,
    reachabilityViolations,
    renderReachabilityMarkdown,
} from "../../modules/k8s/network/reachability";
import { pipelinePolicies } from "../../modules/k8s/kubeflow/namespace";
import { okeCluster, tierDeployments } from "./fixtures";

type M = Record<string, unknown>;

const np = (namespace: string, name: string, spec: M): M => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace },
    spec,
});
const inference = { "app.kubernetes.io/name": "inference" };

/** A clean cluster rendered by an engine, plus the tiers' Deployments. */
function rendered(engine: "cilium" | "calico-enterprise" | "proxy", extra: M[] = []): M[] {
    const intent = buildIntent(clusterIntentInputs(okeCluster(engine)));
    return [...renderNetworkObjects(intent), ...tierDeployments(intent), ...extra];
}

const violations = (ms: M[]) => reachabilityViolations(analyzeReachability(ms));

describe("network: reachability analysis of hand-made manifests", () => {
    it("is clean for the rendered policies", () => {
        assert.deepStrictEqual(violations(rendered("cilium")), []);
        assert.deepStrictEqual(violations(rendered("calico-enterprise")), []);
    });

    it("fails when an allow-all policy lets the gateway reach inference directly", () => {
        const allowAll = np("llm-inference", "allow-all", {
            podSelector: {},
            policyTypes: ["Ingress", "Egress"],
            ingress: [{}],
            egress: [{}],
        });
        const gatewayOut = np("llm-gateway", "gateway-anywhere", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [{ to: [{ namespaceSelector: {} }] }],
        });
        const v = violations(rendered("cilium", [allowAll, gatewayOut]));
        assert.ok(
            v.some((x) =>
                /gateway.*can connect to llm-inference\/inference.*bypass the guardrails/.test(x),
            ),
            v.join("\n"),
        );
        // The allow-all egress also opens the internet to inference.
        assert.ok(
            v.some((x) => /inference pod .* may reach anywhere/.test(x)),
            v.join("\n"),
        );
    });

    it("fails when Prometheus or another pod may open the inference API or the output filter", () => {
        // What used to be allowed: Prometheus scraping vLLM's API port.
        const inferenceIn = np("llm-inference", "api-from-anywhere", {
            podSelector: { matchLabels: inference },
            policyTypes: ["Ingress"],
            ingress: [
                { from: [{ namespaceSelector: {} }], ports: [{ protocol: "TCP", port: 8000 }] },
            ],
        });
        const presidioIn = np("llm-output-filter", "from-anywhere", {
            podSelector: {},
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ namespaceSelector: {} }] }],
        });
        const monitoringOut = np("monitoring", "prometheus-anywhere", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [{ to: [{ namespaceSelector: {} }] }],
        });
        const v = violations(rendered("cilium", [inferenceIn, presidioIn, monitoringOut]));
        for (const re of [
            /prometheus can connect to llm-inference\/inference on TCP\/8000 .*bypass/,
            /can connect to llm-output-filter\/presidio-analyzer .*only the guardrails may reach the output filter/,
        ]) {
            assert.ok(
                v.some((x) => re.test(x)),
                `${re}\n${v.join("\n")}`,
            );
        }
        // The metrics-only port stays open to Prometheus without a violation.
        assert.ok(!violations(rendered("cilium")).some((x) => /prometheus/.test(x)));
    });

    it("does not count a one-sided allow: both the source's egress and the destination's ingress must allow", () => {
        const gatewayOut = np("llm-gateway", "gateway-anywhere", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [{ to: [{ namespaceSelector: {} }] }],
        });
        assert.ok(!violations(rendered("cilium", [gatewayOut])).some((x) => /bypass/.test(x)));
        const inferenceIn = np("llm-inference", "from-anywhere", {
            podSelector: { matchLabels: inference },
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ namespaceSelector: {} }] }],
        });
        assert.ok(!violations(rendered("cilium", [inferenceIn])).some((x) => /bypass/.test(x)));
        assert.ok(
            violations(rendered("cilium", [gatewayOut, inferenceIn])).some((x) => /bypass/.test(x)),
        );
    });

    it("fails on a 0.0.0.0/0 ipBlock for inference", () => {
        const open = np("llm-inference", "internet", {
            podSelector: { matchLabels: inference },
            policyTypes: ["Egress"],
            egress: [
                {
                    to: [{ ipBlock: { cidr: "0.0.0.0/0" } }],
                    ports: [{ protocol: "TCP", port: 443 }],
                },
            ],
        });
        const v = violations(rendered("proxy", [open]));
        assert.ok(
            v.some((x) =>
                /may reach 0\.0\.0\.0\/0 \(TCP\/443.*allowed by NetworkPolicy llm-inference\/internet/.test(
                    x,
                ),
            ),
            v.join("\n"),
        );
    });

    it("fails on a non-OSN domain for inference, in Cilium and in Calico objects", () => {
        const cnp = {
            apiVersion: "cilium.io/v2",
            kind: "CiliumNetworkPolicy",
            metadata: { name: "hf", namespace: "llm-inference" },
            spec: {
                endpointSelector: { matchLabels: inference },
                egress: [
                    {
                        toFQDNs: [{ matchName: "huggingface.co" }],
                        toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }],
                    },
                ],
            },
        };
        assert.ok(
            violations(rendered("cilium", [cnp])).some((x) => /may reach huggingface\.co/.test(x)),
        );
        const calico = {
            apiVersion: "projectcalico.org/v3",
            kind: "NetworkPolicy",
            metadata: { name: "platform-egress.hf", namespace: "llm-inference" },
            spec: {
                tier: "platform-egress",
                selector: "app.kubernetes.io/name == 'inference'",
                types: ["Egress"],
                egress: [{ action: "Allow", destination: { domains: ["huggingface.co"] } }],
            },
        };
        assert.ok(
            violations(rendered("calico-enterprise", [calico])).some((x) =>
                /may reach huggingface\.co/.test(x),
            ),
        );
        // A Calico Allow with no destination is allow-anywhere.
        const anywhere = { ...calico, spec: { ...calico.spec, egress: [{ action: "Allow" }] } };
        assert.ok(
            violations(rendered("calico-enterprise", [anywhere])).some((x) =>
                /inference pod .* may reach anywhere/.test(x),
            ),
        );
        // Domains in a GlobalNetworkSet selected by an Allow count too.
        const set = {
            apiVersion: "projectcalico.org/v3",
            kind: "GlobalNetworkSet",
            metadata: { name: "hf", labels: { set: "hf" } },
            spec: { allowedEgressDomains: ["cdn-lfs.hf.co"] },
        };
        const viaSet = {
            ...calico,
            spec: {
                ...calico.spec,
                egress: [{ action: "Allow", destination: { selector: "set == 'hf'" } }],
            },
        };
        assert.ok(
            violations(rendered("calico-enterprise", [set, viaSet])).some((x) =>
                /may reach cdn-lfs\.hf\.co/.test(x),
            ),
        );
    });

    it("fails when the inference proxy's allowlist holds another domain", () => {
        const ms = rendered("proxy", [
            {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "egress-proxy-inference", namespace: "egress-proxy" },
                spec: {
                    template: {
                        metadata: {
                            labels: {
                                "app.kubernetes.io/name": "egress-proxy",
                                "app.kubernetes.io/part-of": "secure-llm-platform",
                                "app.kubernetes.io/component": "egress-proxy",
                                "secure-llm-platform.io/egress-allowlist": "inference",
                            },
                            annotations: {
                                "secure-llm-platform.io/egress-allowlist-configmap":
                                    "egress-proxy-inference",
                            },
                        },
                        spec: {
                            containers: [
                                { name: "squid", ports: [{ name: "http", containerPort: 3128 }] },
                            ],
                        },
                    },
                },
            },
        ]);
        const clean = analyzeReachability(ms);
        assert.deepStrictEqual(reachabilityViolations(clean), []);
        assert.ok(
            clean.egress.inference.some(
                (d) => d.via === "egress-proxy-inference" && d.value.startsWith("objectstorage."),
            ),
        );
        const tampered = ms.map((m) =>
            m.kind === "ConfigMap" && (m.metadata as M).name === "egress-proxy-inference"
                ? {
                      ...m,
                      data: {
                          ...(m.data as M),
                          "allowlist.txt":
                              "objectstorage.us-ashburn-1.oraclecloud.com\npastebin.com\n",
                      },
                  }
                : m,
        );
        const v = violations(tampered);
        assert.ok(
            v.some((x) => /may reach pastebin\.com .*via egress-proxy-inference/.test(x)),
            v.join("\n"),
        );
    });

    it("fails when a platform pod is not under a default deny in both directions", () => {
        const ms = rendered("cilium").filter(
            (m) =>
                !(
                    (m.metadata as M).name === "default-deny" &&
                    (m.metadata as M).namespace === "llm-output-filter"
                ),
        );
        const v = violations(ms);
        // The per-pod allow policies still isolate presidio, but only a deny-by-default policy covers
        // pods nobody wrote an allow for yet: its absence is what is reported.
        assert.ok(
            v.some((x) =>
                /llm-output-filter\/presidio-analyzer is not under a default-deny/.test(x),
            ),
            v.join("\n"),
        );
        // A pod in a namespace nobody wrote policies for is unrestricted and uncovered.
        const stray = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "debug", namespace: "llm-gateway-extra" },
            spec: {
                template: {
                    metadata: { labels: { app: "debug" } },
                    spec: { containers: [{ name: "sh" }] },
                },
            },
        };
        const r = analyzeReachability([...rendered("cilium"), stray]);
        assert.ok(
            reachabilityViolations(r).some((x) =>
                /llm-gateway-extra\/debug .* for ingress and egress/.test(x),
            ),
        );
        assert.strictEqual(r.egress.debug[0].kind, "any");
    });

    it("polices every pod the platform declares, even in privileged namespaces, but not system peers", () => {
        const ds = {
            apiVersion: "apps/v1",
            kind: "DaemonSet",
            metadata: { name: "kata-deploy", namespace: "kata-system" },
            spec: {
                template: {
                    metadata: { labels: { name: "kata-deploy" } },
                    spec: { containers: [{ name: "k" }] },
                },
            },
        };
        const r = analyzeReachability(rendered("cilium", [ds]));
        const v = reachabilityViolations(r);
        assert.deepStrictEqual(
            v.filter((x) => /default-deny/.test(x)).map((x) => x.split(" is not")[0]),
            ["reachability: pod kata-system/kata-deploy"],
        );
        // kube-dns is known (DNS destination) but is the cluster's, not the platform's.
        assert.ok(r.pods.some((p) => p.id === "kube-dns"));
        assert.ok(!r.coverage.some((c) => c.pod === "kube-dns"));
    });

    it("lets only the pipeline's evaluation step open the candidate tier, which reaches what the live tier reaches", () => {
        const intent = buildIntent(clusterIntentInputs(okeCluster("cilium")));
        const pipeline = pipelinePolicies({
            apiServerCidrs: ["10.0.0.0/28"],
            apiServerPort: 6443,
        }).map((p) => np("ml-pipelines", p.name, p.spec as unknown as M));
        const ms = [...renderNetworkObjects(intent), ...tierDeployments(intent), ...pipeline];
        const r = analyzeReachability(ms);
        assert.deepStrictEqual(reachabilityViolations(r), []);
        const into = (id: string) =>
            r.connections
                .filter((c) => c.to === id)
                .map((c) => `${c.from} ${c.ports.join()}`)
                .sort();
        assert.deepStrictEqual(into("candidate-guardrails"), ["candidate-evaluation TCP/8000"]);
        const from = (id: string) =>
            r.connections
                .filter((c) => c.from === id)
                .map((c) => c.to)
                .sort();
        // The evaluation step reaches the candidate tier (and DNS), never inference or Presidio.
        assert.deepStrictEqual(from("candidate-evaluation"), ["candidate-guardrails", "kube-dns"]);
        assert.deepStrictEqual(from("candidate-guardrails"), [
            "inference",
            "jailbreak-detection",
            "kube-dns",
            "presidio-analyzer",
            "presidio-anonymizer",
        ]);
        assert.ok(!from("gateway").includes("candidate-guardrails"));
        // An allow-all in the guardrails namespace and a gateway egress to anywhere: the plan fails.
        const open = np("llm-guardrails", "allow-all", {
            podSelector: {},
            policyTypes: ["Ingress"],
            ingress: [{}],
        });
        const gatewayOut = np("llm-gateway", "gateway-anywhere", {
            podSelector: {},
            policyTypes: ["Egress"],
            egress: [{ to: [{ namespaceSelector: {} }] }],
        });
        const v = violations([...ms, open, gatewayOut]);
        assert.ok(
            v.some((x) =>
                /llm-gateway\/gateway can connect to llm-guardrails\/candidate-guardrails on TCP\/8000: the candidate tier serves unpromoted rules/.test(
                    x,
                ),
            ),
            v.join("\n"),
        );
    });

    it("renders a matrix, egress lists and a Mermaid diagram", () => {
        const md = renderReachabilityMarkdown(analyzeReachability(rendered("cilium")));
        assert.match(md, /\| from \\ to \| gateway \| guardrails \|/);
        assert.match(md, /^\| guardrails \| · \| — \| TCP\/1337 \| · \| TCP\/8000 \|/m);
        assert.match(md, /- \*\*inference\*\*: .*objectstorage\.us-ashburn-1\.oraclecloud\.com/);
        assert.match(md, /```mermaid\nflowchart LR\n/);
        assert.match(md, /guardrails -->\|TCP\/8000\| inference/);
        assert.doesNotMatch(md, /gateway -->\|[^|]*\| inference/);
    });
});
