/**
 * What the charts create (modules/k8s/chart-contents.ts) against what we author: every chart-made
 * pod meets the Pod Security level of its namespace, no object is declared both by us and by a
 * chart, and every flow the charts need is in the cluster's network intent.
 */
import { clusterIntentInputs } from "../support/stacks";
import { strict as assert } from "assert";
import type { ClusterConfig } from "../../modules/config";
import {
    ChartContents,
    ChartFlow,
    ChartPod,
    PodSecurityLevel,
    chartContents,
    levelRank,
} from "../../modules/k8s/chart-contents";
import { kataDeployValues } from "../../modules/k8s/baseline/kata";
import { kubePrometheusStackValues } from "../../modules/k8s/observability/values";
import {
    NetworkIntent,
    buildIntent,
    isPrivilegedNamespace,
    proxyEnv,
} from "../../modules/k8s/network/intent";
import { contains, parseCidr } from "../../modules/config/cidr";
import { okeCluster } from "../network/fixtures";
import { Declared, DeclaredRelease, declaredByStacks } from "./support";

/** Namespaces an operator creates for its own pods, with the level it labels them. */
const operatorNamespaces: Readonly<Record<string, PodSecurityLevel>> = {
    // The Tigera operator creates calico-system and labels it privileged (calico-node).
    "calico-system": "privileged",
};

const contentsOf = (r: DeclaredRelease): ChartContents | undefined =>
    chartContents({
        name: r.releaseName,
        chart: r.chart,
        version: r.version,
        namespace: r.namespace,
        values: r.values,
    });

const where = (r: DeclaredRelease) => `${r.stack}/${r.cluster} ${r.releaseName}`;

/** Enforce levels of the namespaces a cluster declares. */
function namespaceLevels(d: Declared, stack: string, cluster: string): Map<string, string> {
    return new Map(
        d.objects
            .filter(
                (o) => o.stack === stack && o.cluster === cluster && o.object.kind === "Namespace",
            )
            .map((o) => [
                o.object.metadata.name as string,
                o.object.metadata.labels?.["pod-security.kubernetes.io/enforce"] as string,
            ]),
    );
}

/** Why `pod` does not fit its namespace on the cluster, or undefined when it does. */
function misfit(pod: ChartPod, levels: Map<string, string>): string | undefined {
    const ns = levels.get(pod.namespace) ?? operatorNamespaces[pod.namespace];
    if (ns === undefined) return `namespace ${pod.namespace} is neither ours nor an operator's`;
    if (levelRank[pod.level] > levelRank[ns as PodSecurityLevel]) {
        return `${pod.level} pod (${pod.why ?? "?"}) in a ${ns} namespace`;
    }
    return undefined;
}

/** The intent workload whose pods a chart pod is, if any. */
function workloadOf(intent: NetworkIntent, pod: ChartPod): string | undefined {
    return intent.workloads.find(
        (w) =>
            w.namespace === pod.namespace &&
            Object.keys(w.podLabels).length > 0 &&
            Object.entries(w.podLabels).every(([k, v]) => pod.podLabels[k] === v),
    )?.id;
}

/** Why the intent does not allow `f`, or undefined when it does. */
function flowGap(intent: NetworkIntent, c: ChartContents, f: ChartFlow): string | undefined {
    const pod = (name: string) => c.pods.find((p) => p.name === name);
    const policed = (ns: string) => intent.platformNamespaces.includes(ns);
    const apiServerOpen = (ns: string) =>
        intent.chartNamespaces.some((n) => n.namespace === ns && n.apiServer);
    const end = f.from === "kube-apiserver" ? f.to : f.from;
    const p = pod(end);
    if (f.from === "kube-apiserver" || f.to === "kube-apiserver") {
        if (p === undefined) {
            const id = f.from === "kube-apiserver" ? f.to : f.from;
            const w = intent.workloads.find((x) => x.id === id);
            if (w === undefined) return `no pod or workload ${id}`;
            return !policed(w.namespace) || apiServerOpen(w.namespace)
                ? undefined
                : `${w.namespace} is policed without API server access`;
        }
        return !policed(p.namespace) || apiServerOpen(p.namespace)
            ? undefined
            : `${p.namespace} is policed without API server access`;
    }
    const from = p === undefined ? f.from : (workloadOf(intent, p) ?? f.from);
    if (f.to === "egress-proxy") {
        return intent.flows.some((x) => x.from === from && x.to.startsWith("egress-proxy-"))
            ? undefined
            : `no flow from ${from} to an egress proxy`;
    }
    if (f.to === "oci-vault") {
        return intent.egress[from] !== undefined ? undefined : `${from} has no egress allowlist`;
    }
    if (f.to === "kubelet" || f.to === "node-exporter") {
        return intent.cidrEgress.some(
            (x) => x.from === from && x.ports.includes(f.port as number) && x.cidrs.length > 0,
        )
            ? undefined
            : `${from} may not reach node addresses on ${f.port}`;
    }
    const target = pod(f.to);
    const to = target === undefined ? f.to : (workloadOf(intent, target) ?? f.to);
    return intent.flows.some((x) => x.from === from && x.to === to && x.port === f.port)
        ? undefined
        : `no flow ${from} → ${to}:${f.port}`;
}

describe("charts: what the charts create, next to what we author", function () {
    this.timeout(120000);
    let d: Declared;
    before(async () => {
        d = await declaredByStacks();
    });

    it("describes every release every stack installs", () => {
        assert.deepEqual(
            d.releases.filter((r) => contentsOf(r) === undefined).map(where),
            [],
            "releases of charts (or pins) modules/k8s/chart-contents.ts does not describe",
        );
    });

    it("every chart-made pod meets the Pod Security level of its namespace", () => {
        const problems: string[] = [];
        for (const r of d.releases) {
            const levels = namespaceLevels(d, r.stack, r.cluster);
            for (const pod of contentsOf(r)!.pods) {
                const why = misfit(pod, levels);
                if (why)
                    problems.push(`${where(r)}: ${pod.kind} ${pod.namespace}/${pod.name}: ${why}`);
            }
        }
        assert.deepEqual(problems, []);
    });

    it("charts put nothing in kube-system but the CoreDNS scrape Service (cert-manager's leases in its own namespace)", () => {
        const inKubeSystem = d.releases.flatMap((r) =>
            contentsOf(r)!
                .objects.filter((o) => o.namespace === "kube-system")
                .map((o) => `${r.chart.split("/").pop()} ${o.kind} ${o.name}`),
        );
        assert.deepEqual([...new Set(inKubeSystem)], ["kube-prometheus-stack Service kps-coredns"]);
        const cm = d.releases.filter((r) => r.chart === "cert-manager");
        assert.ok(cm.length > 0, "a stack installs cert-manager from Helm");
        for (const r of cm) {
            assert.deepEqual(
                contentsOf(r)!
                    .objects.filter((o) => o.name.endsWith(":leaderelection"))
                    .map((o) => o.namespace),
                ["cert-manager", "cert-manager", "cert-manager", "cert-manager"],
            );
        }
    });

    it("no object is declared both by us and by a chart", () => {
        const problems: string[] = [];
        for (const r of d.releases) {
            const ours = d.objects.filter((o) => o.stack === r.stack && o.cluster === r.cluster);
            for (const o of contentsOf(r)!.objects) {
                const clash = ours.find(
                    (x) =>
                        x.object.kind === o.kind &&
                        (x.object.metadata.namespace ?? "") === o.namespace &&
                        (o.name.startsWith("*.")
                            ? String(x.object.metadata.name).endsWith(o.name.slice(1))
                            : x.object.metadata.name === o.name),
                );
                if (clash) problems.push(`${where(r)}: ${o.kind} ${o.namespace}/${o.name}`);
            }
        }
        assert.deepEqual(problems, []);
    });

    it("every flow the charts need is in the cluster's network intent", () => {
        const problems: string[] = [];
        for (const r of d.releases) {
            const cluster = d.clusters.get(`${r.stack}/${r.cluster}`) as ClusterConfig;
            const intent = buildIntent(clusterIntentInputs(cluster));
            const c = contentsOf(r)!;
            for (const f of c.flows) {
                const gap = flowGap(intent, c, f);
                if (gap) problems.push(`${where(r)}: ${f.from} → ${f.to} (${f.purpose}): ${gap}`);
            }
        }
        assert.deepEqual(problems, []);
    });

    it("policed chart namespaces hold no privileged pod, privileged ones are not policed", () => {
        for (const r of d.releases) {
            for (const pod of contentsOf(r)!.pods) {
                if (pod.level === "privileged") {
                    assert.ok(
                        isPrivilegedNamespace(pod.namespace) || pod.namespace in operatorNamespaces,
                        `${where(r)}: ${pod.name}`,
                    );
                }
            }
        }
    });

    it("External Secrets' controller goes out through its egress proxy and reaches the API server and cluster directly", () => {
        const eso = d.releases.filter((r) => r.chart === "external-secrets");
        assert.ok(eso.length > 0);
        for (const r of eso) {
            const intent = buildIntent(
                clusterIntentInputs(d.clusters.get(`${r.stack}/${r.cluster}`)!),
            );
            const env = Object.fromEntries(
                ((r.values.extraEnv ?? []) as { name: string; value: string }[]).map((e) => [
                    e.name,
                    e.value,
                ]),
            );
            const proxy = intent.flows.find(
                (f) => f.from === "external-secrets" && f.to.startsWith("egress-proxy-"),
            );
            assert.ok(proxy, `${where(r)}: no proxy flow`);
            assert.match(env.HTTPS_PROXY ?? "", new RegExp(`^http://${proxy.to}\\.`), where(r));
            const noProxy = (env.NO_PROXY ?? "").split(",");
            for (const cidr of [...intent.apiServer.cidrs, ...intent.clusterCidrs]) {
                assert.ok(
                    noProxy.some((n) => parseCidr(n) && contains(parseCidr(n)!, parseCidr(cidr)!)),
                    `${where(r)}: ${cidr} would go through the proxy`,
                );
            }
            for (const w of ["webhook", "certController"]) {
                assert.equal((r.values[w] as Record<string, unknown>).extraEnv, undefined, w);
            }
        }
    });

    it("an API server outside the private ranges is listed in NO_PROXY itself", () => {
        const base = buildIntent(clusterIntentInputs(okeCluster("proxy")));
        const intent = { ...base, apiServer: { cidrs: ["203.0.113.16/28"], port: 6443 } };
        const noProxy = proxyEnv(intent, "external-secrets").find((e) => e.name === "NO_PROXY");
        assert.ok(noProxy?.value.split(",").includes("203.0.113.16/28"), noProxy?.value);
    });

    describe("would have caught the findings of issue 13", () => {
        const kata = (values: Record<string, unknown>) =>
            chartContents({
                name: "kata-deploy",
                chart: "oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy",
                version: "3.29.0",
                namespace: "kata-system",
                values,
            })!;
        it("kata-deploy's older env.* layout leaves the chart's RuntimeClasses on, the same names as ours", () => {
            const old = {
                env: { shims: "qemu qemu-nvidia-gpu", createRuntimeClasses: "false" },
            };
            const names = kata(old)
                .objects.filter((o) => o.kind === "RuntimeClass")
                .map((o) => o.name);
            assert.ok(names.includes("kata-qemu") && names.includes("kata-qemu-nvidia-gpu"));
            const now = kata(kataDeployValues(["kata-qemu", "kata-qemu-nvidia-gpu"]));
            assert.deepEqual(
                now.objects.filter((o) => o.kind === "RuntimeClass"),
                [],
            );
        });

        it("Grafana with persistence and the chart's chown init container is not restricted", () => {
            const cfg = {
                retentionDays: 15,
                storageClass: "oci-bv",
                storageGi: 50,
                grafana: { persistence: true, storageGi: 10, adminSecretName: "g" },
                alerting: { receivers: [], groupBy: [], repeatIntervalMinutes: 60 },
            } as never;
            const values = kubePrometheusStackValues(cfg) as Record<string, any>;
            const grafana = (v: Record<string, any>) =>
                chartContents({
                    name: "kube-prometheus-stack",
                    chart: "kube-prometheus-stack",
                    version: "82.16.0",
                    namespace: "monitoring",
                    values: v,
                })!.pods.find((p) => p.name === "kube-prometheus-stack-grafana")!;
            assert.equal(grafana(values).level, "restricted");
            const withChown = { ...values.grafana };
            delete withChown.initChownData;
            assert.equal(grafana({ ...values, grafana: withChown }).level, "baseline");
        });
    });
});

describe("charts: the plan's reachability sees the chart-made pods", function () {
    this.timeout(120000);
    it("External Secrets' webhook accepts the API server and its controller leaves only through the proxy", async () => {
        const d = await declaredByStacks();
        const { chartPodManifests } = await import("../../tools/plan/charts");
        const { analyzeReachability } = await import("../../modules/k8s/network/reachability");
        const on = (r: { stack: string; cluster: string }) =>
            r.stack === "hybrid" && r.cluster === "onprem-fra";
        const manifests = d.objects.filter(on).map((o) => o.object) as never[];
        const releases = d.releases.filter(on).map((r) => ({
            urn: r.resource,
            type: "kubernetes:helm.sh/v3:Release",
            name: r.resource,
            custom: true,
            dependencies: [],
            protect: false,
            retainOnDelete: false,
            ignoreChanges: [],
            replaceOnChanges: [],
            inputs: {
                name: r.releaseName,
                chart: r.chart,
                version: r.version,
                namespace: r.namespace,
                values: r.values,
            },
        }));
        const chartPods = chartPodManifests(releases, manifests);
        assert.ok(chartPods.some((p) => p.metadata.name === "external-secrets-webhook"));
        assert.ok(!chartPods.some((p) => p.metadata.namespace === "kata-system"));
        const reach = analyzeReachability([...manifests, ...chartPods]);
        const apiServer =
            d.clusters.get("hybrid/onprem-fra")!.layer.networkPolicy.apiServerCidrs[0];
        assert.ok(
            (reach.externalIngress["external-secrets-webhook"] ?? []).some(
                (x) => x.value === apiServer,
            ),
            JSON.stringify(reach.externalIngress["external-secrets-webhook"]),
        );
        const out = reach.egress["external-secrets"] ?? [];
        assert.ok(out.length > 0);
        for (const x of out) {
            assert.ok(
                x.value === apiServer || x.via?.startsWith("egress-proxy-"),
                JSON.stringify(x),
            );
        }
        assert.deepEqual(
            reach.coverage.filter((c) => !c.ingressDeny || !c.egressDeny).map((c) => c.pod),
            [],
        );
    });
});
