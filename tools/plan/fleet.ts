/**
 * Fleet consistency: for a stack with several clusters, every difference between the clusters'
 * rendered platforms once names, regions and addresses are normalized away. A difference in a
 * security-relevant object fails the plan unless a `fleet.exceptions` entry of the stack config
 * names the cluster and the object; an exception that accepts nothing fails it too (a stale
 * exception would silently accept the next difference). Pure: manifests and config in, report out.
 */
import { isDeepStrictEqual } from "util";
import type { ClusterConfig } from "../../modules/config";
import type { Manifest } from "./manifests";

/** What the comparison knows of one cluster. */
export interface FleetMember {
    readonly name: string;
    /** Words that differ by design between clusters: region, OCI region, gateway names. */
    readonly tokens: readonly string[];
    readonly manifests: readonly Manifest[];
}

/** A `fleet.exceptions` entry, as in the stack config. */
export interface FleetExceptionInput {
    readonly name: string;
    readonly cluster: string;
    readonly objects: readonly string[];
    /** When set, only differences at these paths (or below) are accepted, never a missing object. */
    readonly fields?: readonly string[];
    readonly reason: string;
}

/** Security categories; a difference in one of these fails the plan. */
export type SecurityCategory =
    | "network policy"
    | "admission"
    | "RBAC"
    | "Pod Security labels"
    | "pod security context"
    | "RuntimeClass"
    | "egress allowlist"
    | "rails"
    | "gateway config"
    | "secret store"
    | "certificate";

/** One object whose normalized form is not the same on every cluster. */
export interface FleetDifference {
    /** `Kind/namespace/name` or `Kind/name`, normalized. */
    readonly object: string;
    /** Clusters without the object. */
    readonly missingOn: readonly string[];
    /** Clusters whose object differs from the first cluster that has it, with the paths. */
    readonly differsOn: readonly { readonly cluster: string; readonly paths: readonly string[] }[];
    /** Set when the difference touches a security-relevant object or field. */
    readonly category?: SecurityCategory;
    /** The exceptions that accept it (each names a cluster). */
    readonly acceptedBy: readonly string[];
    /** Security-relevant and not accepted for every cluster that differs. */
    readonly violation: boolean;
}

/** The comparison's result. */
export interface FleetReport {
    readonly clusters: readonly string[];
    readonly compared: number;
    readonly differences: readonly FleetDifference[];
    /** One line per failing difference or unused exception, for the plan's problem list. */
    readonly violations: readonly string[];
}

const workloadKinds = new Set([
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
]);

/** Fields of a pod template that decide its isolation (Pod Security, NSA/CISA hardening). */
const podSecurityField =
    /(^|\.)(securityContext|hostNetwork|hostPID|hostIPC|hostUsers|runtimeClassName|serviceAccountName|automountServiceAccountToken|hostPath|shareProcessNamespace|procMount|privileged|capabilities)(\.|\[|$)/;

/** The security category of an object, by kind (and name for the ConfigMaps that are policy). */
export function categoryOf(
    object: string,
    paths?: readonly string[],
): SecurityCategory | undefined {
    const [kindPart] = object.split("/");
    const [group, kind] = kindPart.includes(".") ? splitGroup(kindPart) : ["", kindPart];
    if (kind === "NetworkPolicy" && (group === "" || group === "networking.k8s.io")) {
        return "network policy";
    }
    if (/(^|\.)projectcalico\.org$|^cilium\.io$/.test(group)) {
        return "network policy";
    }
    if (
        group === "admissionregistration.k8s.io" ||
        /AdmissionPolicy|WebhookConfiguration/.test(kind)
    ) {
        return "admission";
    }
    if (
        ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"].includes(
            kind,
        )
    ) {
        return "RBAC";
    }
    if (kind === "RuntimeClass") {
        return "RuntimeClass";
    }
    if (kind === "ClusterSecretStore" || kind === "SecretStore") {
        return "secret store";
    }
    // cert-manager's objects decide the mTLS identities and who signs them (modules/k8s/llm/mtls.ts).
    if (group === "cert-manager.io") {
        return "certificate";
    }
    if (kind === "ConfigMap") {
        const [, ns, name] = object.split("/");
        if (ns === "egress-proxy") {
            return "egress allowlist";
        }
        if (ns === "llm-guardrails") {
            return "rails";
        }
        return ns === "llm-gateway" && name === "gateway-nginx" ? "gateway config" : undefined;
    }
    if (kind === "Namespace") {
        // Only the Pod Security labels; a namespace present on one cluster only is a tier the
        // other lacks, and its workloads are held to the per-cluster rules anyway.
        return paths?.some((p) => p.includes("pod-security.kubernetes.io"))
            ? "Pod Security labels"
            : undefined;
    }
    if (workloadKinds.has(kind)) {
        return paths?.some((p) => podSecurityField.test(p)) ? "pod security context" : undefined;
    }
    return undefined;
}

function splitGroup(kindPart: string): [string, string] {
    const i = kindPart.indexOf(".");
    return [kindPart.slice(i + 1), kindPart.slice(0, i)];
}

/** The object key: `Kind.group/namespace/name` (core kinds without a group). */
export function objectKey(m: Manifest): string {
    const group = m.apiVersion.includes("/") ? m.apiVersion.split("/")[0] : "";
    const kind = group === "" ? m.kind : `${m.kind}.${group}`;
    const name = m.metadata.name ?? "";
    return m.metadata.namespace ? `${kind}/${m.metadata.namespace}/${name}` : `${kind}/${name}`;
}

const ipv4 = /\b(?:\d{1,3}\.){3}\d{1,3}(?:\/\d{1,2})?\b/g;
const ipv6Cidr = /\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?:\/\d{1,3})?\b/gi;
const ocid = /\bocid1\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9-]*\.[a-z0-9]+\b/g;
/** OCI Vault endpoints carry the vault's own prefix (`<id>-crypto.kms.<region>.oraclecloud.com`). */
const vaultEndpoint = /\b[a-z0-9]+-(crypto|management)\.kms\./g;
/** A whole value that is a SHA-256 (config checksums), not an image digest. */
const checksum = /^[0-9a-f]{64}$/;

/** Replaces a cluster's own words, addresses, OCIDs and checksums with placeholders. */
export function normalizer(member: Pick<FleetMember, "name" | "tokens">): (v: unknown) => unknown {
    // Longest first, so `llm-iad.example.com` goes before a region key inside it.
    const words = [member.name, ...member.tokens]
        .filter((w) => w.length >= 3)
        .sort((a, b) => b.length - a.length);
    const str = (s: string): string => {
        if (checksum.test(s)) {
            return "<checksum>";
        }
        // An address becomes `<address>` but keeps its prefix length, and "anywhere" stays
        // literal: allowing 0.0.0.0/0 where the other cluster allows a /16 is a difference.
        const address = (x: string) =>
            x === "0.0.0.0/0" || x === "::/0"
                ? x
                : `<address>${x.includes("/") ? x.slice(x.indexOf("/")) : ""}`;
        let out = s
            .replace(ocid, "<ocid>")
            .replace(vaultEndpoint, "<vault>-$1.kms.")
            .replace(ipv4, address)
            .replace(ipv6Cidr, (x) =>
                x.includes("::") || x.split(":").length > 3 ? address(x) : x,
            );
        for (const w of words) {
            out = out.split(w).join(w === member.name ? "<cluster>" : "<regional>");
        }
        return out;
    };
    const walk = (v: unknown): unknown => {
        if (typeof v === "string") {
            return str(v);
        }
        if (Array.isArray(v)) {
            return v.map(walk);
        }
        if (typeof v === "object" && v !== null) {
            return Object.fromEntries(Object.entries(v).map(([k, x]) => [str(k), walk(x)]));
        }
        return v;
    };
    return walk;
}

/** Leaf paths where two values differ (`spec.rules[0].host`); a whole array when lengths differ. */
export function differingPaths(a: unknown, b: unknown, at = ""): string[] {
    if (isDeepStrictEqual(a, b)) {
        return [];
    }
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
        return a.flatMap((x, i) => differingPaths(x, b[i], `${at}[${i}]`));
    }
    if (isPlain(a) && isPlain(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
        return keys.flatMap((k) => differingPaths(a[k], b[k], at ? `${at}.${k}` : k));
    }
    return [at || "(root)"];
}

function isPlain(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when an exception's pattern (`Kind/ns/name`, `*` wildcards) covers the object key. */
export function matchesPattern(pattern: string, object: string): boolean {
    const rx = new RegExp(
        `^${pattern
            .split("*")
            .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
            .join("[^/]*")}$`,
    );
    // A pattern without a group matches the kind with any group (`NetworkPolicy` = core's).
    const kindless = object.replace(/^([^./]+)\.[^/]+\//, "$1/");
    return rx.test(object) || rx.test(kindless);
}

/** An exception with `fields` covers only differing paths under them, and no missing object. */
function coversFields(
    e: FleetExceptionInput,
    missingOn: readonly string[],
    paths: readonly string[],
): boolean {
    if (e.fields === undefined || e.fields.length === 0) {
        return true;
    }
    const under = (p: string, f: string) =>
        p === f || p.startsWith(`${f}.`) || p.startsWith(`${f}[`);
    return missingOn.length === 0 && paths.every((p) => e.fields!.some((f) => under(p, f)));
}

/** Compares the clusters' rendered platforms. Fewer than two clusters: nothing to compare. */
export function compareFleet(
    members: readonly FleetMember[],
    exceptions: readonly FleetExceptionInput[] = [],
): FleetReport {
    const clusters = members.map((m) => m.name);
    if (members.length < 2) {
        const violations = exceptions.map(
            (e) => `fleet: exception ${e.name} accepts nothing: the stack has one cluster`,
        );
        return { clusters, compared: 0, differences: [], violations };
    }
    const byCluster = members.map((m) => {
        const norm = normalizer(m);
        const objects = new Map<string, unknown>();
        for (const manifest of m.manifests) {
            const n = norm(manifest) as Manifest;
            objects.set(objectKey(n), n);
        }
        return { name: m.name, objects };
    });
    const keys = [...new Set(byCluster.flatMap((c) => [...c.objects.keys()]))].sort();
    const used = new Set<string>();
    const differences: FleetDifference[] = [];
    for (const key of keys) {
        const present = byCluster.filter((c) => c.objects.has(key));
        const missingOn = byCluster.filter((c) => !c.objects.has(key)).map((c) => c.name);
        const reference = present[0];
        const differsOn = present
            .slice(1)
            .map((c) => ({
                cluster: c.name,
                paths: differingPaths(reference.objects.get(key), c.objects.get(key)),
            }))
            .filter((d) => d.paths.length > 0);
        if (missingOn.length === 0 && differsOn.length === 0) {
            continue;
        }
        const paths = differsOn.flatMap((d) => d.paths);
        const category = categoryOf(key, missingOn.length > 0 ? undefined : paths);
        // The clusters that deviate: the one that alone has the object, else those missing it
        // or differing from the first cluster that has it.
        const deviating =
            present.length === 1 && members.length > 2
                ? [reference.name]
                : [...missingOn, ...differsOn.map((d) => d.cluster)];
        const accepting = exceptions.filter(
            (e) =>
                (members.length === 2 || deviating.includes(e.cluster)) &&
                e.objects.some((p) => matchesPattern(p, key)) &&
                coversFields(e, missingOn, paths),
        );
        accepting.forEach((e) => used.add(e.name));
        // Two clusters: an exception on either side accepts it; more: one per deviating cluster.
        const accepted =
            accepting.length > 0 &&
            (members.length === 2 ||
                deviating.every((c) => accepting.some((e) => e.cluster === c)));
        const acceptedBy = accepting.map((e) => e.name);
        differences.push({
            object: key,
            missingOn,
            differsOn,
            category,
            acceptedBy,
            violation: category !== undefined && !accepted,
        });
    }
    const violations = [
        ...differences
            .filter((d) => d.violation)
            .map(
                (d) =>
                    `fleet: ${d.object} (${d.category}) ${describe(d)} and no fleet.exceptions entry accepts it`,
            ),
        ...exceptions
            .filter((e) => !used.has(e.name))
            .map(
                (e) =>
                    `fleet: exception ${e.name} (cluster ${e.cluster}) accepts no difference; remove it or fix its objects`,
            ),
    ];
    return { clusters, compared: keys.length, differences, violations };
}

function describe(d: FleetDifference): string {
    const parts: string[] = [];
    if (d.missingOn.length > 0) {
        parts.push(`is missing on ${d.missingOn.join(", ")}`);
    }
    for (const x of d.differsOn) {
        const shown = x.paths.slice(0, 4).join(", ");
        parts.push(
            `differs on ${x.cluster} at ${shown}${x.paths.length > 4 ? ` (+${x.paths.length - 4})` : ""}`,
        );
    }
    return parts.join("; ");
}

/** The report section. */
export function renderFleetMarkdown(r: FleetReport): string {
    if (r.clusters.length < 2) {
        return "One cluster: nothing to compare.";
    }
    const esc = (s: string) => s.replace(/\|/g, "\\|");
    const lines = [
        `${r.compared} object(s) compared across ${r.clusters.map((c) => `\`${c}\``).join(", ")} ` +
            "after normalizing cluster names, regions, gateway names, addresses, OCIDs and config checksums. " +
            `${r.differences.length} differ; ${r.differences.filter((d) => d.category).length} of them security-relevant; ` +
            `${r.differences.filter((d) => d.violation).length} not accepted by \`fleet.exceptions\`.`,
        "",
    ];
    if (r.differences.length === 0) {
        lines.push("The clusters' platforms are identical.");
        return lines.join("\n");
    }
    lines.push("| object | difference | security | accepted by |", "| --- | --- | --- | --- |");
    for (const d of r.differences) {
        lines.push(
            `| ${esc(d.object)} | ${esc(describe(d))} | ${d.category ?? "no"}${d.violation ? " ✗" : ""} | ${d.acceptedBy.join(", ") || "—"} |`,
        );
    }
    return lines.join("\n");
}

/** The members of a validated stack, from its config and each cluster's rendered objects. */
export function fleetMembers(
    clusters: readonly ClusterConfig[],
    manifests: ReadonlyMap<string, readonly Manifest[]>,
): FleetMember[] {
    return clusters
        .filter((c) => manifests.has(c.name))
        .map((c) => ({
            name: c.name,
            tokens: [
                c.region,
                c.layer.networkPolicy.ociRegion,
                c.layer.tiers.gateway.hostname,
            ].filter((t): t is string => typeof t === "string"),
            manifests: manifests.get(c.name) ?? [],
        }));
}
