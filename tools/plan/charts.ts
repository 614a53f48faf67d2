/**
 * The report's account of what the Helm releases add to a cluster next to the objects the program
 * authors: pods with their Pod Security level, objects that could collide, and the flows the
 * charts need, from the catalog in modules/k8s/chart-contents.ts.
 */
import { chartContents } from "../../modules/k8s/chart-contents";
import {
    HostNetworkFlow,
    calicoHostNetworkFlows,
} from "../../modules/k8s/network/calico-policy-only";
import type { Manifest } from "./manifests";
import type { RecordedResource } from "./mocks";
import { unwrapSecrets } from "./mocks";

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
    const esc = (x: string) => x.replace(/\|/g, "\\|");
    return [
        `| ${headers.join(" | ")} |`,
        `| ${headers.map(() => "---").join(" | ")} |`,
        ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
    ].join("\n");
}

/**
 * The pods the charts make on a cluster, as minimal Deployments for the reachability analysis
 * (namespace and labels are all it reads): those in namespaces we declare that are not
 * privileged (privileged system namespaces are not policed), hooks excluded (they run once).
 */
export function chartPodManifests(
    releases: readonly RecordedResource[],
    manifests: readonly Manifest[],
): Manifest[] {
    const policed = new Set(
        manifests
            .filter(
                (m) =>
                    m.kind === "Namespace" &&
                    (m.metadata.labels as Record<string, string> | undefined)?.[
                        "pod-security.kubernetes.io/enforce"
                    ] !== "privileged",
            )
            .map((m) => String(m.metadata.name)),
    );
    return releases.flatMap((r) => {
        const i = unwrapSecrets(r.inputs) as Record<string, unknown>;
        const c = chartContents({
            name: String(i.name),
            chart: String(i.chart),
            version: String(i.version),
            namespace: String(i.namespace),
            values: (i.values ?? {}) as Record<string, unknown>,
        });
        return (c?.pods ?? [])
            .filter((p) => p.hook === undefined && policed.has(p.namespace))
            .map(
                (p): Manifest => ({
                    apiVersion: "apps/v1",
                    kind: "Deployment",
                    metadata: { name: p.name, namespace: p.namespace },
                    spec: {
                        template: {
                            metadata: { labels: { ...p.podLabels } },
                            spec: { containers: [{ name: "chart" }] },
                        },
                    },
                }),
            );
    });
}

/** Markdown for the Helm releases of one cluster; `authored` is how many objects we declare there. */
export function chartsMarkdown(releases: readonly RecordedResource[], authored: number): string {
    const lines = ["### What the charts add", ""];
    if (releases.length === 0) {
        return [...lines, "No Helm release on this cluster."].join("\n");
    }
    const described = releases.map((r) => {
        const i = unwrapSecrets(r.inputs) as Record<string, unknown>;
        return {
            i,
            c: chartContents({
                name: String(i.name),
                chart: String(i.chart),
                version: String(i.version),
                namespace: String(i.namespace),
                values: (i.values ?? {}) as Record<string, unknown>,
            }),
        };
    });
    const known = described.flatMap((d) => (d.c ? [d.c] : []));
    const pods = known.flatMap((c) => c.pods.map((p) => ({ c, p })));
    lines.push(
        `Next to the ${authored} object(s) the program declares here, ${releases.length} Helm release(s) ` +
            `add ${pods.length} pod template(s) (${pods.filter((x) => x.p.operatorMade).length} started by operators at run time) ` +
            "and the objects and flows below (catalog: modules/k8s/chart-contents.ts, read from the pinned charts' templates).",
        "",
        table(
            ["release", "chart", "namespace", "pods", "objects"],
            described.map(({ i, c }) => [
                String(i.name),
                `${String(i.chart).split("/").pop()} ${String(i.version)}`,
                String(i.namespace),
                c ? String(c.pods.length) : "not described",
                c ? String(c.objects.length) : "not described",
            ]),
        ),
        "",
        "#### Pods",
        "",
        table(
            ["namespace", "workload", "Pod Security", "runs", "from"],
            pods.map(({ p }) => [
                p.namespace,
                `${p.kind} ${p.name}`,
                p.why ? `${p.level}: ${p.why}` : p.level,
                p.hook ? `hook ${p.hook}` : p.operatorMade ? "operator-made" : "always",
                p.source,
            ]),
        ),
        "",
        "#### Objects others could collide with",
        "",
        table(
            ["release", "kind", "namespace", "name"],
            known.flatMap((c) =>
                c.objects.map((o) => [c.release, o.kind, o.namespace || "(cluster)", o.name]),
            ),
        ),
        "",
        "#### Flows the charts need",
        "",
        table(
            ["release", "from", "to", "port", "purpose"],
            known.flatMap((c) =>
                c.flows.map((f) => [c.release, f.from, f.to, String(f.port), f.purpose]),
            ),
        ),
    );
    return lines.join("\n");
}

/**
 * Markdown for the host-network components the program itself authors on a cluster (the Calico
 * policy-only install's calico-node): their connections are outside NetworkPolicy, so the
 * reachability analysis cannot show them; they come from the component's own table.
 */
export function hostNetworkMarkdown(manifests: readonly Manifest[]): string {
    const lines = ["### Host-network components the program authors", ""];
    const rows = hostNetworkFlowsOf(manifests);
    if (rows.length === 0) {
        return [...lines, "None on this cluster."].join("\n");
    }
    return [
        ...lines,
        "Outside NetworkPolicy (host network): the nodes' network security groups govern these connections.",
        "",
        table(
            ["namespace", "from", "to", "port", "purpose"],
            rows.map((f) => [f.namespace, f.from, f.to, String(f.port), f.purpose]),
        ),
    ].join("\n");
}

/** The host-network flows of the authored components present in `manifests`. */
export function hostNetworkFlowsOf(manifests: readonly Manifest[]): readonly HostNetworkFlow[] {
    return calicoHostNetworkFlows.filter((f) =>
        manifests.some(
            (m) =>
                m.kind === "DaemonSet" &&
                m.metadata.name === f.from &&
                m.metadata.namespace === f.namespace,
        ),
    );
}
