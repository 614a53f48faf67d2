/**
 * The plan's verdicts beyond schemas: the shared security rules (modules/security, the same rules
 * the CrossGuard pack and the tests run) over every registration, and per cluster the default-deny
 * coverage and the reachability computed from the rendered policies (modules/k8s/network).
 */
import type { Environment } from "../../modules/config";
import {
    analyzeReachability,
    reachabilityViolations,
    renderReachabilityMarkdown,
} from "../../modules/k8s/network/reachability";
import { renderProtectionMarkdown } from "../../modules/k8s/network/protection";
import {
    ClusterReachability,
    crossClusterEdges,
    crossClusterViolations,
    renderCrossClusterMarkdown,
} from "../../modules/k8s/network/reachability/cross-cluster";
import { evaluateClusterManifests, evaluateResources } from "../../modules/security";
import type { Finding } from "../../modules/security/types";
import type { Manifest } from "./manifests";
import type { RecordedResource } from "./mocks";

/** Verdicts and report text for one cluster. */
export interface ClusterAnalysis {
    readonly cluster: string;
    readonly violations: readonly string[];
    readonly markdown: string;
    /** Every allowed flow, one line each (`from → to ports`), for the next plan's diff. */
    readonly flows: readonly string[];
    /** The cluster's objects and reachability, for the cross-cluster verdicts. */
    readonly reachability: ClusterReachability;
}

/** Verdicts and report text for the whole stack. */
export interface StackAnalysis {
    readonly violations: readonly string[];
    readonly policyMarkdown: string;
    readonly notes: readonly string[];
}

const mandatory = (f: Finding) => f.severity === "mandatory";
const line = (f: Finding) => `policy ${f.ruleId}: ${f.resource}: ${f.message}`;

function findingsMarkdown(findings: readonly Finding[]): string {
    if (findings.length === 0) {
        return "No findings.";
    }
    const esc = (s: string) => s.replace(/\|/g, "\\|");
    return [
        "| severity | rule | resource | finding |",
        "| --- | --- | --- | --- |",
        ...[...findings]
            .sort(
                (a, b) => a.severity.localeCompare(b.severity) || a.ruleId.localeCompare(b.ruleId),
            )
            .map((f) => `| ${f.severity} | ${f.ruleId} | ${esc(f.resource)} | ${esc(f.message)} |`),
    ].join("\n");
}

/**
 * Default-deny coverage and reachability of one cluster, from its rendered objects and the pods
 * its Helm charts make (`chartPods`, stand-ins built from the chart catalog: labels only).
 */
export function analyzeCluster(
    cluster: string,
    manifests: readonly Manifest[],
    chartPods: readonly Manifest[] = [],
): ClusterAnalysis {
    const coverage = evaluateClusterManifests(cluster, [...manifests, ...chartPods]);
    const reach = analyzeReachability([...manifests, ...chartPods]);
    const violations = [
        ...coverage.filter(mandatory).map(line),
        ...reachabilityViolations(reach).map((v) => `reachability: ${v}`),
    ];
    const markdown = [
        `${manifests.length} Kubernetes object(s) in \`manifests/${cluster}.yaml\`.`,
        "",
        "### Default-deny coverage",
        "",
        coverage.length === 0
            ? "Every namespace with workloads denies by default in both directions."
            : findingsMarkdown(coverage),
        "",
        "### Reachability (computed from the rendered policies)",
        "",
        renderReachabilityMarkdown(reach),
        "",
        "#### How each flow is protected in transit",
        "",
        renderProtectionMarkdown(reach, [...manifests, ...chartPods]),
    ].join("\n");
    return {
        cluster,
        violations,
        markdown,
        flows: flowLines(reach),
        reachability: { cluster, manifests: [...manifests, ...chartPods], result: reach },
    };
}

/** The allowed flows of a reachability result as stable one-line strings. */
export function flowLines(reach: ReturnType<typeof analyzeReachability>): string[] {
    const ports = (p: readonly string[]) => p.join(",");
    const external = (d: { kind: string; value: string; ports: readonly string[]; via?: string }) =>
        `${d.kind}:${d.value} ${ports(d.ports)}${d.via ? ` via ${d.via}` : ""}`;
    return [
        ...reach.connections.map((c) => `${c.from} → ${c.to} ${ports(c.ports)}`),
        ...Object.entries(reach.egress).flatMap(([pod, ds]) =>
            ds.map((d) => `${pod} → ${external(d)}`),
        ),
        ...Object.entries(reach.externalIngress).flatMap(([pod, ds]) =>
            ds.map((d) => `${external(d)} → ${pod}`),
        ),
    ].sort();
}

/** The shared security rules over every registration of the stack. */
export function analyzeStack(
    resources: readonly RecordedResource[],
    config: Record<string, string>,
): StackAnalysis {
    const environment = (config["secure-llm-platform:environment"] ?? "dev") as Environment;
    const findings = evaluateResources(resources, { environment });
    const advisories = findings.filter((f) => !mandatory(f)).length;
    return {
        violations: findings.filter(mandatory).map(line),
        policyMarkdown:
            `${findings.filter(mandatory).length} mandatory and ${advisories} advisory finding(s) ` +
            `from the shared rule set (modules/security; the same rules run in \`pulumi preview --policy-pack policy\`). ` +
            "Objects inside Helm releases and kustomize directories are not expanded offline and are not checked here.\n\n" +
            findingsMarkdown(findings),
        notes: [],
    };
}

/** Cross-cluster verdicts and report section (issue 16), for a stack with several clusters. */
export function analyzeCrossCluster(clusters: readonly ClusterReachability[]): {
    readonly violations: readonly string[];
    readonly markdown: string;
    /** One line per cross-cluster edge, for the next plan's diff. */
    readonly flows: readonly string[];
} {
    return {
        violations: crossClusterViolations(clusters),
        markdown: renderCrossClusterMarkdown(clusters),
        flows: crossClusterEdges(clusters).map(
            (e) =>
                `${e.fromCluster}/${e.fromPod} → ${e.toCluster} ${e.service} ${e.address}:${e.port}`,
        ),
    };
}
