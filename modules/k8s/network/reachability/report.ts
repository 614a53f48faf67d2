/** The reachability section of the plan report (pure Markdown). */
import type { ReachabilityResult } from "./index";
import { isPoliced, reachabilityViolations, unpolicedNamespaces } from "./verdicts";

const mermaidId = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");
const cell = (s: string) => s.replace(/\|/g, "\\|");

/** The report section: matrix, per-workload egress, coverage and a Mermaid diagram of allowed flows. */
export function renderReachabilityMarkdown(result: ReachabilityResult): string {
    const lines: string[] = [];
    const violations = reachabilityViolations(result);
    const ids = result.pods.map((p) => p.id);
    lines.push(
        `Computed from the rendered policies: ${result.pods.length} workload(s), ` +
            `${result.connections.length} allowed connection(s), ${violations.length} violation(s). ` +
            `Pods of system namespaces (${unpolicedNamespaces.join(", ")}) that the platform does ` +
            "not declare itself are shown as destinations only.",
    );
    if (violations.length > 0) {
        lines.push("", ...violations.map((v) => `- ${v}`));
    }
    lines.push("", "#### Who may open connections to whom", "");
    lines.push("Rows open connections to columns; cells list the allowed ports.", "");
    const hasInternet = ids.filter((id) => (result.externalIngress[id] ?? []).length > 0);
    lines.push(`| from \\ to | ${ids.map(cell).join(" | ")} |`);
    lines.push(`| --- | ${ids.map(() => "---").join(" | ")} |`);
    const conn = new Map(result.connections.map((c) => [`${c.from}→${c.to}`, c.ports.join(", ")]));
    lines.push(
        `| (outside the cluster) | ${ids
            .map((id) =>
                hasInternet.includes(id) ? cell(externalIngressSummary(result, id)) : "·",
            )
            .join(" | ")} |`,
    );
    const policed = result.pods.filter(isPoliced).map((p) => p.id);
    for (const a of policed) {
        lines.push(
            `| ${cell(a)} | ${ids.map((b) => (a === b ? "—" : cell(conn.get(`${a}→${b}`) ?? "·"))).join(" | ")} |`,
        );
    }
    lines.push("", "#### Egress outside the cluster", "");
    for (const id of policed) {
        const list = result.egress[id] ?? [];
        const text =
            list.length === 0
                ? "none"
                : list
                      .map(
                          (d) =>
                              `\`${d.value}\` (${d.ports.join(", ")}${d.via ? ` via ${d.via}` : ""})`,
                      )
                      .join(", ");
        lines.push(`- **${id}**: ${text}`);
    }
    lines.push("", "#### Default-deny coverage", "");
    lines.push("| pod | namespace | ingress deny | egress deny |", "| --- | --- | --- | --- |");
    for (const c of result.coverage) {
        lines.push(
            `| ${c.pod} | ${c.namespace} | ${c.ingressDeny ? "yes" : "**no**"} | ${c.egressDeny ? "yes" : "**no**"} |`,
        );
    }
    lines.push(
        "",
        "#### Allowed flows",
        "",
        "DNS to kube-dns is omitted.",
        "",
        "```mermaid",
        "flowchart LR",
    );
    lines.push("  outside((outside the cluster))");
    for (const p of result.pods) {
        lines.push(`  ${mermaidId(p.id)}[${p.id}<br/>${p.namespace}]`);
    }
    for (const id of hasInternet) {
        lines.push(`  outside -->|${externalIngressSummary(result, id)}| ${mermaidId(id)}`);
    }
    const dns = new Set(
        result.pods.filter((p) => p.labels["k8s-app"] === "kube-dns").map((p) => p.id),
    );
    for (const c of result.connections) {
        if (dns.has(c.to)) continue;
        lines.push(`  ${mermaidId(c.from)} -->|${c.ports.join(" ")}| ${mermaidId(c.to)}`);
    }
    const ext = new Map<string, string>();
    for (const id of policed) {
        for (const d of result.egress[id] ?? []) {
            if (d.via !== undefined) continue;
            const key = `${d.kind}:${d.value}`;
            if (!ext.has(key)) {
                ext.set(key, `ext${ext.size}`);
                lines.push(`  ${ext.get(key)}[("${d.value.replace(/"/g, "'")}")]`);
            }
            lines.push(`  ${mermaidId(id)} -.->|${d.ports.join(" ")}| ${ext.get(key)}`);
        }
    }
    for (const p of result.pods.filter((x) => x.proxyAllowlist !== undefined)) {
        for (const d of p.proxyAllowlist!) {
            const key = `domain:${d}`;
            if (!ext.has(key)) {
                ext.set(key, `ext${ext.size}`);
                lines.push(`  ${ext.get(key)}[("${d}")]`);
            }
            lines.push(`  ${mermaidId(p.id)} -.->|allowlist| ${ext.get(key)}`);
        }
    }
    lines.push("```");
    return lines.join("\n");
}

function externalIngressSummary(result: ReachabilityResult, id: string): string {
    return (result.externalIngress[id] ?? [])
        .map((d) => `${d.kind === "any" ? "any" : d.value} ${d.ports.join(" ")}`)
        .join("; ");
}
