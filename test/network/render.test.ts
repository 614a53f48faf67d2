import * as assert from "assert";
import { clusterIntentInputs } from "../support/stacks";
import { serviceNamespaces, tierNamespaces } from "../../modules/constants/namespaces";
import { renderNetworkObjects } from "../../modules/k8s/network";
import { buildIntent, isSupplyChainDomain, proxyEnv } from "../../modules/k8s/network/intent";
import { proxyRefusedIpv4Cidrs } from "../../modules/k8s/network/non-public";
import {
    proxyInstances,
    renderSquidConfig,
    squidDeniedDestinations,
} from "../../modules/k8s/network/proxy";
import { renderCalicoEnterprise } from "../../modules/k8s/network/render-calico";
import { renderCilium } from "../../modules/k8s/network/render-cilium";
import { K8sObject } from "../../modules/k8s/network/render-k8s";
import { parseConfig } from "../../modules/config";
import { engines, okeCluster, okeClusterRaw } from "./fixtures";

type Any = Record<string, any>;
const netpols = (objs: K8sObject[]) =>
    objs.filter(
        (o) => o.kind === "NetworkPolicy" && o.apiVersion === "networking.k8s.io/v1",
    ) as Any[];

/** Every string value anywhere in an object. */
function strings(v: unknown, out: string[] = []): string[] {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
    else if (typeof v === "object" && v !== null) Object.values(v).forEach((x) => strings(x, out));
    return out;
}

describe("network: rendering follows the namespaces that exist", () => {
    it("renders no policy into the namespace of a disabled tier (the API server would refuse it)", () => {
        const cluster = okeCluster("proxy");
        const tiers = cluster.layer.tiers;
        const inputs = clusterIntentInputs({
            ...cluster,
            layer: {
                ...cluster.layer,
                tiers: { ...tiers, inference: { ...tiers.inference, enabled: false } },
            },
        });
        const objects = renderNetworkObjects(buildIntent(inputs));
        const inInference = netpols(objects).filter(
            (p) => p.metadata.namespace === tierNamespaces.inference,
        );
        assert.deepEqual(
            inInference.map((p) => p.metadata.name),
            [],
        );
        assert.ok(
            netpols(objects).some((p) => p.metadata.namespace === tierNamespaces.guardrails),
            "the enabled tiers keep their policies",
        );
    });
});

describe("network: rendering, for every engine", () => {
    for (const engine of engines) {
        describe(engine, () => {
            const intent = buildIntent(clusterIntentInputs(okeCluster(engine)));
            const objects = renderNetworkObjects(intent);
            const nps = netpols(objects);

            it("puts every platform namespace under default deny for ingress and egress", () => {
                // The egress-proxy namespace exists only where the proxy engine runs.
                const expected = [
                    ...Object.values(tierNamespaces),
                    ...Object.values(serviceNamespaces).filter(
                        (ns) => engine === "proxy" || ns !== serviceNamespaces.egressProxy,
                    ),
                ];
                for (const ns of expected) {
                    assert.ok(
                        nps.some(
                            (p) =>
                                p.metadata.namespace === ns &&
                                Object.keys(p.spec.podSelector).length === 0 &&
                                p.spec.policyTypes.includes("Ingress") &&
                                p.spec.policyTypes.includes("Egress") &&
                                p.spec.ingress === undefined &&
                                p.spec.egress === undefined,
                        ),
                        `no default deny in ${ns}`,
                    );
                }
            });

            it("allows DNS only to kube-dns in kube-system, on port 53", () => {
                for (const p of nps) {
                    for (const rule of p.spec.egress ?? []) {
                        const toDns = (rule.ports ?? []).some((x: Any) => x.port === 53);
                        if (!toDns) continue;
                        assert.deepStrictEqual(rule.to, [
                            {
                                namespaceSelector: {
                                    matchLabels: { "kubernetes.io/metadata.name": "kube-system" },
                                },
                                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                            },
                        ]);
                    }
                }
            });

            it("gives every workload a per-pod policy with at least one ingress and one egress rule (Polaris)", () => {
                const authored = intent.workloads.filter(
                    (x) => x.source === "catalog" || x.source === "egress-proxy",
                );
                assert.ok(authored.length >= 6);
                for (const w of authored) {
                    const own = nps.filter(
                        (p) =>
                            p.metadata.namespace === w.namespace &&
                            Object.entries(p.spec.podSelector.matchLabels ?? {}).length > 0 &&
                            Object.entries(p.spec.podSelector.matchLabels).every(
                                ([k, v]) => w.podLabels[k] === v,
                            ),
                    );
                    assert.ok(
                        own.some(
                            (p) =>
                                (p.spec.ingress ?? []).length >= 1 &&
                                (p.spec.egress ?? []).length >= 1,
                        ),
                        `${w.id} has no per-pod policy with ingress and egress rules`,
                    );
                }
            });

            it("lets nothing but the guardrails tiers and Prometheus (metrics port) in to inference; only the guardrails tiers to Presidio; only the evaluation step to the candidate", () => {
                const callers = (id: string) =>
                    intent.flows
                        .filter((f) => f.to === id)
                        .map((f) => f.from)
                        .sort();
                assert.deepStrictEqual(callers("inference"), [
                    "candidate-guardrails",
                    "guardrails",
                    "prometheus",
                ]);
                assert.deepStrictEqual(
                    intent.flows
                        .filter((f) => f.to === "inference")
                        .map((f) => `${f.from}:${f.port}`)
                        .sort(),
                    ["candidate-guardrails:8000", "guardrails:8000", "prometheus:9400"],
                );
                for (const id of ["presidio-analyzer", "presidio-anonymizer"]) {
                    assert.deepStrictEqual(callers(id), ["candidate-guardrails", "guardrails"]);
                }
                // Unpromoted rules: the evaluation step only; no gateway, no Prometheus.
                assert.deepStrictEqual(
                    intent.flows
                        .filter((f) => f.to === "candidate-guardrails")
                        .map((f) => `${f.from}:${f.port}`),
                    ["candidate-evaluation:8000"],
                );
                // No pipeline step reaches inference or the rails' backends itself.
                assert.deepStrictEqual(
                    intent.flows
                        .filter(
                            (f) =>
                                f.from === "kubeflow-pipelines" ||
                                f.from === "candidate-evaluation",
                        )
                        .map((f) => `${f.from}->${f.to}`)
                        .sort(),
                    [
                        "candidate-evaluation->candidate-guardrails",
                        "kubeflow-pipelines->guardrails",
                    ],
                );
                assert.deepStrictEqual(
                    callers("guardrails").filter((c) => c === "gateway"),
                    ["gateway"],
                );
                assert.ok(!intent.flows.some((f) => f.from === "gateway" && f.to !== "guardrails"));
            });

            it("gives inference exactly the region's Object Storage and KMS endpoints, and no ipBlock beyond the control plane", () => {
                assert.deepStrictEqual(intent.egress.inference, [
                    "*.kms.us-ashburn-1.oraclecloud.com",
                    "objectstorage.us-ashburn-1.oraclecloud.com",
                ]);
                assert.ok(intent.egress.inference.every(isSupplyChainDomain));
                const inferencePolicy = nps.find((p) => p.metadata.name === "allow-inference")!;
                const blocks = (inferencePolicy.spec.egress as Any[]).flatMap((r) =>
                    (r.to ?? []).filter((t: Any) => t.ipBlock),
                );
                assert.deepStrictEqual(
                    blocks.map((b: Any) => b.ipBlock.cidr),
                    ["10.0.0.0/24"],
                );
            });

            it("never emits '*' as a domain", () => {
                for (const domains of Object.values(intent.egress)) {
                    assert.ok(!domains.includes("*"));
                }
            });
        });
    }

    it("proxy: emits no domain rules, and only the proxies may leave the cluster, on 443, away from private ranges", () => {
        const intent = buildIntent(clusterIntentInputs(okeCluster("proxy")));
        const objects = renderNetworkObjects(intent);
        assert.ok(!objects.some((o) => /projectcalico|cilium/.test(o.apiVersion)));
        const text = JSON.stringify(objects.filter((o) => o.kind === "NetworkPolicy"));
        assert.doesNotMatch(text, /domains|toFQDNs|oraclecloud/);
        for (const p of netpols(objects)) {
            for (const rule of p.spec.egress ?? []) {
                for (const to of rule.to ?? []) {
                    if (to.ipBlock?.cidr === "0.0.0.0/0") {
                        assert.match(p.metadata.name, /^allow-egress-proxy-/);
                        assert.deepStrictEqual(rule.ports, [{ protocol: "TCP", port: 443 }]);
                        assert.ok(
                            to.ipBlock.except.includes("169.254.0.0/16"),
                            "instance metadata must stay unreachable",
                        );
                        // One list: what the NetworkPolicy cuts out is what Squid refuses (IPv4).
                        assert.deepStrictEqual(to.ipBlock.except, [...proxyRefusedIpv4Cidrs]);
                    }
                    // No IPv6 destination is opened at all, so no IPv6 except list is needed.
                    assert.ok(!String(to.ipBlock?.cidr ?? "").includes(":"), JSON.stringify(to));
                }
            }
        }
        const proxies = proxyInstances(intent);
        // ...and every proxy's Squid refuses that same IPv4 list plus the IPv6 ranges.
        for (const px of proxies) {
            const acl = (px.configMap.data as Record<string, string>)["squid.conf"].match(
                /^acl private_dst dst (.*)$/m,
            );
            assert.ok(acl, px.identity);
            const ranges = acl[1].split(" ");
            assert.deepStrictEqual(ranges, squidDeniedDestinations());
            assert.deepStrictEqual(
                ranges.filter((r) => !r.includes(":")),
                [...proxyRefusedIpv4Cidrs],
            );
        }
        assert.deepStrictEqual(proxies.map((p) => p.identity).sort(), [
            "external-secrets",
            "inference",
        ]);
        const inferenceProxy = proxies.find((p) => p.identity === "inference")!;
        assert.deepStrictEqual(inferenceProxy.configMap.data, {
            "allowlist.txt":
                "*.kms.us-ashburn-1.oraclecloud.com\nobjectstorage.us-ashburn-1.oraclecloud.com\n",
            "squid.conf": renderSquidConfig("inference", intent.egress.inference),
        });
        // Each identity reaches only its own proxy.
        const toProxies = intent.flows.filter((f) => f.to.startsWith("egress-proxy-"));
        assert.deepStrictEqual(toProxies.map((f) => `${f.from}->${f.to}`).sort(), [
            "external-secrets->egress-proxy-external-secrets",
            "inference->egress-proxy-inference",
        ]);
        assert.ok(
            proxyEnv(intent, "inference").some(
                (e) =>
                    e.name === "HTTPS_PROXY" &&
                    /egress-proxy-inference\.egress-proxy/.test(e.value),
            ),
        );
        assert.deepStrictEqual(proxyEnv(intent, "gateway"), []);
        assert.deepStrictEqual(
            proxyEnv(buildIntent(clusterIntentInputs(okeCluster("cilium"))), "inference"),
            [],
        );
    });

    it("proxy: Squid allows only CONNECT to 443 of the allowlist", () => {
        const conf = renderSquidConfig("inference", [
            "*.kms.us-ashburn-1.oraclecloud.com",
            "objectstorage.us-ashburn-1.oraclecloud.com",
        ]);
        assert.match(
            conf,
            /^acl allowlist dstdomain -n \.kms\.us-ashburn-1\.oraclecloud\.com objectstorage\.us-ashburn-1\.oraclecloud\.com$/m,
        );
        const access = conf.split("\n").filter((l) => l.startsWith("http_access"));
        assert.deepStrictEqual(access.slice(-4), [
            "http_access deny wildcard_apex",
            "http_access deny private_dst",
            "http_access allow CONNECT tls_port allowlist",
            "http_access deny all",
        ]);
        assert.throws(() => renderSquidConfig("x", []), /empty allowlist/);
        // Access log: one JSON line per request on stdout, counted by the decision-log metrics.
        assert.ok(conf.split("\n").includes("access_log stdio:/dev/stdout platform_json"));
        assert.match(
            conf,
            /^logformat platform_json \{"event":"egress\.access","identity":"inference",/m,
        );
    });

    it("calico-enterprise: domain Allows in a tier that ends in Pass, before the Kubernetes policies", () => {
        const intent = buildIntent(
            clusterIntentInputs(
                okeCluster("calico-enterprise", { alertReceiverDomains: ["hooks.slack.com"] }),
            ),
        );
        const objs = renderCalicoEnterprise(intent) as Any[];
        const tier = objs.find((o) => o.kind === "Tier")!;
        assert.strictEqual(tier.spec.defaultAction, "Pass");
        assert.ok(tier.spec.order < 1000000, "must come before the default tier");
        const pass = objs.find((o) => o.kind === "GlobalNetworkPolicy")!;
        assert.deepStrictEqual(
            [pass.spec.ingress, pass.spec.egress],
            [[{ action: "Pass" }], [{ action: "Pass" }]],
        );
        assert.ok(
            objs
                .filter((o) => o.kind === "NetworkPolicy")
                .every((o) => o.spec.order < pass.spec.order),
        );
        const inf = objs.find(
            (o) => o.metadata.name === "platform-egress.allow-inference-domains",
        )!;
        assert.strictEqual(inf.metadata.namespace, "llm-inference");
        assert.match(inf.spec.selector, /app\.kubernetes\.io\/name == 'inference'/);
        assert.deepStrictEqual(inf.spec.types, ["Egress"]);
        assert.deepStrictEqual(inf.spec.egress, [
            {
                action: "Allow",
                protocol: "TCP",
                destination: { domains: intent.egress.inference, ports: [443] },
            },
        ]);
        const am = objs.find(
            (o) => o.metadata.name === "platform-egress.allow-alertmanager-domains",
        )!;
        assert.deepStrictEqual(am.spec.egress[0].destination.domains, ["hooks.slack.com"]);
        // Never an Allow without a destination (that would be allow-anywhere).
        for (const o of objs) {
            for (const r of o.spec.egress ?? []) {
                if (r.action === "Allow") assert.ok((r.destination?.domains ?? []).length > 0);
            }
        }
        assert.throws(
            () => renderCalicoEnterprise(buildIntent(clusterIntentInputs(okeCluster("proxy")))),
            /only enforced by Calico Enterprise/,
        );
    });

    it("cilium: toFQDNs with the DNS proxy rule, names and patterns kept apart", () => {
        const intent = buildIntent(clusterIntentInputs(okeCluster("cilium")));
        const objs = renderCilium(intent) as Any[];
        const inf = objs.find((o) => o.metadata.name === "inference-fqdn-egress")!;
        assert.deepStrictEqual(
            inf.spec.endpointSelector.matchLabels["app.kubernetes.io/name"],
            "inference",
        );
        const [dns, fqdn] = inf.spec.egress;
        assert.deepStrictEqual(dns.toEndpoints[0].matchLabels, {
            "k8s:io.kubernetes.pod.namespace": "kube-system",
            "k8s-app": "kube-dns",
        });
        assert.deepStrictEqual(dns.toPorts[0].rules, { dns: [{ matchPattern: "*" }] });
        assert.deepStrictEqual(fqdn.toFQDNs, [
            { matchPattern: "*.kms.us-ashburn-1.oraclecloud.com" },
            { matchName: "objectstorage.us-ashburn-1.oraclecloud.com" },
        ]);
        assert.deepStrictEqual(fqdn.toPorts, [{ ports: [{ port: "443", protocol: "TCP" }] }]);
        assert.ok(
            !strings(objs).includes("*.") &&
                !objs.some((o) => JSON.stringify(o).includes('"matchName":"*"')),
        );
        assert.throws(
            () => renderCilium(buildIntent(clusterIntentInputs(okeCluster("proxy")))),
            /only enforced by Cilium/,
        );
    });
});

describe("network: intent follows the cluster's other sections", () => {
    it("existing cluster: endpoints of the configured OCI region, no OKE-only flows, configured API server", () => {
        const cfg = parseConfig(
            {
                environment: "dev",
                clusters: [
                    {
                        name: "onprem",
                        target: "existing",
                        region: "fra-dc1",
                        capabilities: { cni: "calico", gpu: true, kata: true, kataGpu: true },
                        networkPolicy: {
                            ociRegion: "eu-frankfurt-1",
                            apiServerCidrs: ["192.168.10.0/28"],
                        },
                        tiers: { inference: { model: { source: "oci-os://ns/models/llama" } } },
                    },
                ],
                "kubeconfig-onprem": "apiVersion: v1",
            },
            { stack: "test", secretKeys: ["secure-llm-platform:kubeconfig-onprem"] },
        );
        const intent = buildIntent(clusterIntentInputs(cfg.clusters[0]));
        assert.deepStrictEqual(intent.egress.inference, [
            "*.kms.eu-frankfurt-1.oraclecloud.com",
            "objectstorage.eu-frankfurt-1.oraclecloud.com",
        ]);
        assert.ok(
            !intent.cidrEgress.some((c) => c.ports.includes(12250)),
            "workload identity is OKE-only",
        );
        // External Secrets is off on an existing cluster without API-key auth: no allowlist for it.
        assert.strictEqual(intent.egress["external-secrets"], undefined);
        const apiPolicy = renderNetworkObjects(intent).find(
            (o) => o.metadata.name === "allow-kube-apiserver",
        ) as Any;
        assert.deepStrictEqual(apiPolicy.spec.egress[0].to, [
            { ipBlock: { cidr: "192.168.10.0/28" } },
        ]);
        assert.strictEqual(cfg.clusters[0].layer.networkPolicy.installCalico, false);
    });

    it("the pipeline sandbox webhook admits only the API server, on its TLS port, and exists only with Kubeflow", () => {
        const intent = buildIntent(clusterIntentInputs(okeCluster("cilium")));
        assert.ok(intent.apiServer.cidrs.length > 0);
        assert.deepStrictEqual(
            intent.cidrIngress
                .filter((c) => c.to === "sandbox-webhook")
                .map((c) => ({ cidrs: c.cidrs, ports: c.ports })),
            [{ cidrs: intent.apiServer.cidrs, ports: [8443] }],
        );
        assert.ok(!intent.flows.some((f) => f.to === "sandbox-webhook"), "no pod may call it");
        const policy = renderNetworkObjects(intent).find(
            (o) =>
                o.metadata.name === "allow-sandbox-webhook" &&
                o.metadata.namespace === serviceNamespaces.sandboxAdmission,
        ) as Any;
        assert.deepStrictEqual(policy.spec.ingress, [
            {
                from: intent.apiServer.cidrs.map((cidr) => ({ ipBlock: { cidr } })),
                ports: [{ protocol: "TCP", port: 8443 }],
            },
        ]);
        assert.ok(intent.platformNamespaces.includes(serviceNamespaces.sandboxAdmission));
        const noKubeflow = parseConfig(
            {
                environment: "dev",
                tenancyId: "ocid1.tenancy.oc1..aaaaaaaanetworktest",
                compartmentId: "ocid1.compartment.oc1..aaaaaaaanetworktest",
                homeRegion: "us-ashburn-1",
                clusters: [okeClusterRaw("cilium")],
            },
            { stack: "test" },
        );
        const off = buildIntent(clusterIntentInputs(noKubeflow.clusters[0]));
        assert.ok(!off.workloads.some((w) => w.id === "sandbox-webhook"));
        assert.ok(!off.platformNamespaces.includes(serviceNamespaces.sandboxAdmission));
    });

    it("cert-manager may reach its ACME directory's host, and nothing when the private CA is used", () => {
        assert.strictEqual(
            buildIntent(clusterIntentInputs(okeCluster("cilium"))).egress["cert-manager"],
            undefined,
        );
        const cfg = parseConfig(
            {
                environment: "dev",
                tenancyId: "ocid1.tenancy.oc1..aaaaaaaanetworktest",
                compartmentId: "ocid1.compartment.oc1..aaaaaaaanetworktest",
                homeRegion: "us-ashburn-1",
                baseline: { ingress: { public: true, acme: { email: "ops@example.com" } } },
                clusters: [okeClusterRaw("cilium")],
            },
            { stack: "test" },
        );
        assert.deepStrictEqual(
            buildIntent(clusterIntentInputs(cfg.clusters[0])).egress["cert-manager"],
            ["acme-v02.api.letsencrypt.org"],
        );
    });
});
