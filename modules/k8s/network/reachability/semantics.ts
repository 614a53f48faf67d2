/**
 * Policy semantics (pure, no platform knowledge): what the NetworkPolicy, CiliumNetworkPolicy and
 * Calico v3 objects of a cluster allow, one pod and one direction at a time.
 *
 * A connection A→B on a port is allowed iff A's egress allows it and B's ingress allows it. Each
 * side follows standard NetworkPolicy rules: a pod selected by no policy of a direction is
 * unrestricted in that direction; otherwise the union of the selecting policies' rules applies.
 * CiliumNetworkPolicies join that union (and isolate the pods they select). Calico v3 policies are
 * read as extra Allows only (their Deny/Pass and tier order are not modelled), which can only
 * over-state reachability, never hide it. An `ipBlock` is assumed to match pod IPs when it overlaps
 * the pod CIDRs (by default every private range), since Calico and Cilium enforce it on pod IPs.
 */
import { Cidr, contains, overlaps, parseCidr } from "../../../config/cidr";

export type Obj = Record<string, unknown>;

/** A pod (one per workload) the analysis found. */
export interface PodInfo {
    /** Display id: `app.kubernetes.io/name`, else the object name; unique within the result. */
    readonly id: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly ports: readonly PortSpec[];
    /** `manifest`: from a workload object; `catalog`/`peer`: known to exist but installed elsewhere. */
    readonly source: "manifest" | "catalog" | "peer";
    /** For egress proxies: the domains their allowlist ConfigMap names. */
    readonly proxyAllowlist?: readonly string[];
}

export interface PortSpec {
    readonly port: number | "*";
    readonly protocol: string;
    readonly name?: string;
}

/** An allowed pod-to-pod connection. */
export interface Connection {
    readonly from: string;
    readonly to: string;
    /** `TCP/8000`, or `*` for every port. */
    readonly ports: readonly string[];
}

/** A destination outside the pod network. */
export interface ExternalDestination {
    readonly kind: "domain" | "cidr" | "any";
    /** Domain, CIDR (with `except …`), or a description for `any`. */
    readonly value: string;
    /** `TCP/443`, or `*`. */
    readonly ports: readonly string[];
    /** The egress proxy it goes through, if any. */
    readonly via?: string;
    /** The object that allows it. */
    readonly source: string;
}

// ---------------------------------------------------------------------------------------------
// Selectors

export const obj = (v: unknown): Obj =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {};
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const strMap = (v: unknown): Record<string, string> =>
    Object.fromEntries(Object.entries(obj(v)).filter(([, x]) => typeof x === "string")) as Record<
        string,
        string
    >;

/** Kubernetes label selector semantics; `undefined` matches nothing, `{}` everything. */
function selects(
    selector: unknown,
    lbls: Readonly<Record<string, string>>,
    stripCilium = false,
): boolean {
    if (selector === undefined || selector === null) return false;
    const s = obj(selector);
    const norm = (k: string) => (stripCilium ? k.replace(/^(k8s|any):/, "") : k);
    for (const [k, v] of Object.entries(strMap(s.matchLabels))) {
        if (stripCilium && norm(k) === "io.kubernetes.pod.namespace") continue;
        if (lbls[norm(k)] !== v) return false;
    }
    for (const e of arr(s.matchExpressions).map(obj)) {
        const key = norm(String(e.key));
        const values = arr(e.values).map(String);
        const has = key in lbls;
        switch (e.operator) {
            case "In":
                if (!has || !values.includes(lbls[key])) return false;
                break;
            case "NotIn":
                if (has && values.includes(lbls[key])) return false;
                break;
            case "Exists":
                if (!has) return false;
                break;
            case "DoesNotExist":
                if (has) return false;
                break;
            default:
                return false;
        }
    }
    return true;
}

/** Namespace named by a Cilium selector's `io.kubernetes.pod.namespace` label, if any. */
function ciliumNamespace(selector: unknown): string | undefined {
    const m = strMap(obj(selector).matchLabels);
    return m["k8s:io.kubernetes.pod.namespace"] ?? m["io.kubernetes.pod.namespace"];
}

/**
 * A Calico selector, for the subset the platform writes (`k == 'v' && …`, `all()`, `has(k)`).
 * Anything else is taken to select every pod: over-stating reachability is the safe error.
 */
function calicoSelects(expr: unknown, lbls: Readonly<Record<string, string>>): boolean {
    if (typeof expr !== "string" || expr.trim() === "" || expr.trim() === "all()") return true;
    for (const term of expr.split("&&").map((t) => t.trim())) {
        let m = /^([\w./-]+)\s*==\s*['"]([^'"]*)['"]$/.exec(term);
        if (m) {
            if (lbls[m[1]] !== m[2]) return false;
            continue;
        }
        m = /^has\(([\w./-]+)\)$/.exec(term);
        if (m) {
            if (!(m[1] in lbls)) return false;
            continue;
        }
        return true;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Ports

interface RulePort {
    readonly protocol: string;
    readonly port?: number | string;
    readonly endPort?: number;
}

/** Ports of a rule; undefined = every port. */
type Ports = readonly RulePort[] | undefined;

function k8sPorts(rule: Obj): Ports {
    const ps = arr(rule.ports).map(obj);
    if (ps.length === 0) return undefined;
    return ps.map((p) => ({
        protocol: typeof p.protocol === "string" ? p.protocol : "TCP",
        port: typeof p.port === "number" || typeof p.port === "string" ? p.port : undefined,
        endPort: typeof p.endPort === "number" ? p.endPort : undefined,
    }));
}

function ciliumPorts(rule: Obj): Ports {
    const out: RulePort[] = [];
    for (const tp of arr(rule.toPorts).map(obj)) {
        for (const p of arr(tp.ports).map(obj)) {
            const n = Number(p.port);
            const proto = typeof p.protocol === "string" ? p.protocol : "ANY";
            const port = Number.isFinite(n) && n > 0 ? n : undefined;
            if (proto === "ANY") {
                out.push({ protocol: "TCP", port }, { protocol: "UDP", port });
            } else {
                out.push({ protocol: proto, port });
            }
        }
    }
    return arr(rule.toPorts).length === 0 ? undefined : out;
}

function calicoPorts(rule: Obj, side: Obj): Ports {
    const ports = arr(side.ports);
    const protocol = typeof rule.protocol === "string" ? rule.protocol : undefined;
    if (ports.length === 0) {
        return protocol === undefined ? undefined : [{ protocol }];
    }
    return ports.map((p) => {
        const text = String(p);
        const range = /^(\d+):(\d+)$/.exec(text);
        return range
            ? { protocol: protocol ?? "TCP", port: Number(range[1]), endPort: Number(range[2]) }
            : { protocol: protocol ?? "TCP", port: typeof p === "number" ? p : text };
    });
}

function portMatches(ports: Ports, candidate: PortSpec): boolean {
    if (ports === undefined) return true;
    return ports.some((p) => {
        if (p.protocol !== candidate.protocol) return false;
        if (p.port === undefined) return true;
        if (candidate.port === "*") return false;
        if (typeof p.port === "string")
            return p.port === candidate.name || Number(p.port) === candidate.port;
        return p.endPort !== undefined
            ? candidate.port >= p.port && candidate.port <= p.endPort
            : candidate.port === p.port;
    });
}

export function describePorts(ports: Ports): string[] {
    if (ports === undefined) return ["*"];
    return ports.map((p) =>
        p.port === undefined
            ? `${p.protocol}/*`
            : `${p.protocol}/${p.port}${p.endPort ? `-${p.endPort}` : ""}`,
    );
}

export const portKey = (p: PortSpec) => (p.port === "*" ? "*" : `${p.protocol}/${p.port}`);

// ---------------------------------------------------------------------------------------------
// Rules, normalized across APIs

/** Who a rule's peer entry matches: pods (relative to the policy), CIDRs, domains or anything. */
interface Peer {
    readonly pods?: (pod: PodInfo) => boolean;
    readonly cidr?: { readonly cidr: string; readonly except: readonly string[] };
    readonly domains?: readonly string[];
    /** Matches everything: every pod and the whole internet. */
    readonly any?: boolean;
}

interface Rule {
    readonly peers: readonly Peer[];
    readonly ports: Ports;
    readonly source: string;
}

/** A policy's view of one pod in one direction. */
interface Policy {
    readonly source: string;
    readonly kind: "k8s" | "cilium" | "calico";
    readonly selects: (pod: PodInfo) => boolean;
    /** True when selecting a pod restricts it in that direction. */
    readonly isolates: boolean;
    readonly rules: readonly Rule[];
}

export interface Policies {
    readonly ingress: Policy[];
    readonly egress: Policy[];
}

export const nameOf = (m: Obj) => String(obj(m.metadata).name ?? "(unnamed)");
export const nsOf = (m: Obj) =>
    typeof obj(m.metadata).namespace === "string" ? String(obj(m.metadata).namespace) : undefined;
const describeObj = (m: Obj) => `${m.kind} ${nsOf(m) ? `${nsOf(m)}/` : ""}${nameOf(m)}`;

export function readPolicies(
    manifests: readonly Obj[],
    nsLabels: (ns: string) => Record<string, string>,
): Policies {
    const out: Policies = { ingress: [], egress: [] };
    const netSets = manifests.filter(
        (m) => m.kind === "NetworkSet" || m.kind === "GlobalNetworkSet",
    );

    for (const m of manifests) {
        const spec = obj(m.spec);
        const ns = nsOf(m) ?? "default";
        const source = describeObj(m);
        if (m.apiVersion === "networking.k8s.io/v1" && m.kind === "NetworkPolicy") {
            const sel = (p: PodInfo) =>
                p.namespace === ns && selects(spec.podSelector ?? {}, p.labels);
            const types = networkPolicyTypes(spec);
            const peersOf = (entries: unknown): Peer[] => {
                const list = arr(entries).map(obj);
                if (entries === undefined || list.length === 0) return [{ any: true }];
                return list.map((e) => {
                    if (e.ipBlock !== undefined) {
                        const b = obj(e.ipBlock);
                        return {
                            cidr: { cidr: String(b.cidr), except: arr(b.except).map(String) },
                        };
                    }
                    const nsSel = e.namespaceSelector;
                    const podSel = e.podSelector ?? {};
                    return {
                        pods: (p: PodInfo) =>
                            (nsSel === undefined
                                ? p.namespace === ns
                                : selects(nsSel, nsLabels(p.namespace))) &&
                            selects(podSel, p.labels),
                    };
                });
            };
            for (const [dir, type, side] of [
                ["ingress", "Ingress", "from"],
                ["egress", "Egress", "to"],
            ] as const) {
                if (!types.has(type)) continue;
                out[dir].push({
                    source,
                    kind: "k8s",
                    selects: sel,
                    isolates: true,
                    rules: arr(spec[dir])
                        .map(obj)
                        .map((r) => ({ peers: peersOf(r[side]), ports: k8sPorts(r), source })),
                });
            }
        } else if (
            m.apiVersion === "cilium.io/v2" &&
            (m.kind === "CiliumNetworkPolicy" || m.kind === "CiliumClusterwideNetworkPolicy")
        ) {
            const clusterwide = m.kind === "CiliumClusterwideNetworkPolicy";
            const specs = [spec, ...arr(m.specs).map(obj)].filter((s) => Object.keys(s).length > 0);
            for (const s of specs) {
                const sel = (p: PodInfo) =>
                    (clusterwide || p.namespace === ns) &&
                    selects(s.endpointSelector ?? {}, p.labels, true);
                const peersOf = (r: Obj, dir: "to" | "from"): Peer[] => {
                    const peers: Peer[] = [];
                    for (const e of arr(r[`${dir}Endpoints`])) {
                        const pinned = ciliumNamespace(e);
                        peers.push({
                            pods: (p: PodInfo) =>
                                (pinned !== undefined
                                    ? p.namespace === pinned
                                    : clusterwide || p.namespace === ns) &&
                                selects(e, p.labels, true),
                        });
                    }
                    for (const c of arr(r[`${dir}CIDR`]))
                        peers.push({ cidr: { cidr: String(c), except: [] } });
                    for (const c of arr(r[`${dir}CIDRSet`]).map(obj)) {
                        peers.push({
                            cidr: { cidr: String(c.cidr), except: arr(c.except).map(String) },
                        });
                    }
                    if (dir === "to") {
                        const fqdns = arr(r.toFQDNs).map(obj);
                        if (fqdns.length > 0) {
                            peers.push({
                                domains: fqdns.map((f) => String(f.matchName ?? f.matchPattern)),
                            });
                        }
                    }
                    for (const ent of arr(r[`${dir}Entities`]).map(String)) {
                        if (["all", "world", "internet"].includes(ent)) peers.push({ any: true });
                        else if (ent === "cluster") peers.push({ pods: () => true });
                    }
                    // A rule with only ports applies to every peer.
                    return peers.length === 0 ? [{ any: true }] : peers;
                };
                for (const dir of ["ingress", "egress"] as const) {
                    const rules = arr(s[dir]).map(obj);
                    const denyRules = arr(s[`${dir}Deny`]);
                    if (s[dir] === undefined && denyRules.length === 0) continue;
                    out[dir].push({
                        source,
                        kind: "cilium",
                        selects: sel,
                        isolates: true,
                        rules: rules.map((r) => ({
                            peers: peersOf(r, dir === "egress" ? "to" : "from"),
                            ports: ciliumPorts(r),
                            source,
                        })),
                    });
                }
            }
        } else if (
            m.apiVersion === "projectcalico.org/v3" &&
            (m.kind === "NetworkPolicy" || m.kind === "GlobalNetworkPolicy")
        ) {
            const global = m.kind === "GlobalNetworkPolicy";
            const sel = (p: PodInfo) =>
                (global
                    ? spec.namespaceSelector === undefined ||
                      calicoSelects(spec.namespaceSelector, nsLabels(p.namespace))
                    : p.namespace === ns) && calicoSelects(spec.selector, p.labels);
            for (const dir of ["ingress", "egress"] as const) {
                const rules: Rule[] = [];
                for (const r of arr(spec[dir]).map(obj)) {
                    if (r.action !== "Allow") continue;
                    const side = obj(dir === "egress" ? r.destination : r.source);
                    const peers: Peer[] = [];
                    const domains = arr(side.domains).map(String);
                    const nets = arr(side.nets).map(String);
                    if (domains.length > 0) peers.push({ domains });
                    for (const n of nets) peers.push({ cidr: { cidr: n, except: [] } });
                    if (typeof side.selector === "string") {
                        // Network sets first (their domains and nets), then pods.
                        for (const set of netSets) {
                            if (calicoSelects(side.selector, strMap(obj(set.metadata).labels))) {
                                const ss = obj(set.spec);
                                const d = arr(ss.allowedEgressDomains).map(String);
                                if (d.length > 0) peers.push({ domains: d });
                                for (const n of arr(ss.nets))
                                    peers.push({ cidr: { cidr: String(n), except: [] } });
                            }
                        }
                        const nsSel = side.namespaceSelector;
                        peers.push({
                            pods: (p: PodInfo) =>
                                (nsSel === undefined
                                    ? global || p.namespace === ns
                                    : calicoSelects(nsSel, nsLabels(p.namespace))) &&
                                calicoSelects(side.selector, p.labels),
                        });
                    }
                    if (peers.length === 0) peers.push({ any: true });
                    rules.push({ peers, ports: calicoPorts(r, side), source });
                }
                if (rules.length > 0) {
                    out[dir].push({
                        source,
                        kind: "calico",
                        selects: sel,
                        isolates: false,
                        rules,
                    });
                }
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function cidrMatchesPods(
    block: { cidr: string; except: readonly string[] },
    podCidrs: readonly Cidr[],
): boolean {
    const c = parseCidr(block.cidr);
    if (c === undefined) return true;
    const except = block.except.map(parseCidr).filter((x): x is Cidr => x !== undefined);
    return podCidrs.some((pc) => overlaps(c, pc) && !except.some((e) => contains(e, pc)));
}

/** The policies of one cluster, read once, and the CIDRs pod IPs come from. */
export interface PolicyModel {
    readonly policies: Policies;
    readonly podCidrs: readonly Cidr[];
}

/** The labels of a namespace: its object's labels (when declared) and `kubernetes.io/metadata.name`. */
export function namespaceLabels(manifests: readonly Obj[]): (ns: string) => Record<string, string> {
    const nsObjects = new Map(
        manifests
            .filter((m) => m.kind === "Namespace")
            .map((m) => [nameOf(m), strMap(obj(m.metadata).labels)]),
    );
    return (ns: string) => ({
        ...(nsObjects.get(ns) ?? {}),
        "kubernetes.io/metadata.name": ns,
    });
}

/** Reads the policies of a cluster's manifests; `podCidrs` as in {@link cidrMatchesPods}. */
export function readPolicyModel(
    manifests: readonly Obj[],
    podCidrs: readonly string[],
): PolicyModel {
    return {
        policies: readPolicies(manifests, namespaceLabels(manifests)),
        podCidrs: podCidrs.map(parseCidr).filter((x): x is Cidr => x !== undefined),
    };
}

function peerMatchesPod(model: PolicyModel, peer: Peer, pod: PodInfo): boolean {
    return (
        peer.any === true ||
        (peer.pods !== undefined && peer.pods(pod)) ||
        (peer.cidr !== undefined && cidrMatchesPods(peer.cidr, model.podCidrs))
    );
}

/** Whether `self`'s policies of a direction let it talk to `other` on `port`. */
export function allowed(
    model: PolicyModel,
    dir: "ingress" | "egress",
    self: PodInfo,
    other: PodInfo,
    port: PortSpec,
): boolean {
    const selecting = model.policies[dir].filter((p) => p.selects(self));
    if (!selecting.some((p) => p.isolates)) return true;
    return selecting.some((p) =>
        p.rules.some(
            (r) =>
                portMatches(r.ports, port) &&
                r.peers.some((peer) => peerMatchesPod(model, peer, other)),
        ),
    );
}

/** The ports worth probing on a pod: its container ports and the numeric ports its ingress rules name. */
export function candidatePorts(model: PolicyModel, pod: PodInfo): PortSpec[] {
    const out = new Map<string, PortSpec>(pod.ports.map((p) => [portKey(p), p]));
    for (const pol of model.policies.ingress.filter((p) => p.selects(pod))) {
        for (const r of pol.rules) {
            for (const rp of r.ports ?? []) {
                if (typeof rp.port === "number") {
                    const p = { port: rp.port, protocol: rp.protocol };
                    if (!out.has(portKey(p))) out.set(portKey(p), p);
                }
            }
        }
    }
    if (out.size === 0) out.set("*", { port: "*", protocol: "TCP" });
    return [...out.values()];
}

/** The ports on which `a` may open connections to `b` (both sides' policies agree), as `TCP/8000` or `*`. */
export function allowedPorts(model: PolicyModel, a: PodInfo, b: PodInfo): string[] {
    return candidatePorts(model, b)
        .filter(
            (port) => allowed(model, "egress", a, b, port) && allowed(model, "ingress", b, a, port),
        )
        .map(portKey);
}

/** The peers outside the pod network a pod's policies of a direction allow (`any` when none isolates it). */
export function externalPeers(
    model: PolicyModel,
    dir: "ingress" | "egress",
    pod: PodInfo,
): ExternalDestination[] {
    const selecting = model.policies[dir].filter((p) => p.selects(pod));
    if (!selecting.some((p) => p.isolates)) {
        return [
            {
                kind: "any",
                value: `anywhere (no ${dir} policy selects the pod)`,
                ports: ["*"],
                source: "(none)",
            },
        ];
    }
    const out: ExternalDestination[] = [];
    for (const pol of selecting) {
        for (const r of pol.rules) {
            const ports = describePorts(r.ports);
            for (const peer of r.peers) {
                if (peer.any) out.push({ kind: "any", value: "anywhere", ports, source: r.source });
                if (peer.cidr) {
                    const ex =
                        peer.cidr.except.length > 0 ? ` except ${peer.cidr.except.join(", ")}` : "";
                    out.push({
                        kind: "cidr",
                        value: `${peer.cidr.cidr}${ex}`,
                        ports,
                        source: r.source,
                    });
                }
                for (const d of peer.domains ?? [])
                    out.push({ kind: "domain", value: d, ports, source: r.source });
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Default deny

export type Direction = "Ingress" | "Egress";

/**
 * The directions a NetworkPolicy spec governs: its `policyTypes`, or when that is empty what the
 * API server defaults it to (`SetDefaults_NetworkPolicy`, networking/v1 defaults.go: Ingress, plus
 * Egress when the policy has egress rules).
 */
export function networkPolicyTypes(spec: Obj): ReadonlySet<Direction> {
    const types = arr(spec.policyTypes).map(String);
    if (types.length > 0) {
        return new Set(types.filter((t): t is Direction => t === "Ingress" || t === "Egress"));
    }
    return new Set<Direction>(arr(spec.egress).length > 0 ? ["Ingress", "Egress"] : ["Ingress"]);
}

/** Absent or an empty list: no rule. Anything else (a value not known yet included) counts as rules. */
const noRules = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0);

/** True when a label selector selects every pod: absent, `{}`, or empty matchLabels and matchExpressions. */
function selectsAllPods(selector: unknown): boolean {
    if (selector === undefined || selector === null) return true;
    if (typeof selector !== "object" || Array.isArray(selector)) return false;
    const s = selector as Obj;
    return (
        (s.matchLabels === undefined ||
            (typeof s.matchLabels === "object" &&
                s.matchLabels !== null &&
                Object.keys(s.matchLabels).length === 0)) &&
        noRules(s.matchExpressions)
    );
}

/**
 * The directions a Kubernetes NetworkPolicy denies by default for every pod of its namespace: it
 * selects all pods, governs the direction, and has no rule of it. CiliumNetworkPolicies and
 * Calico policies never count (the platform's default deny is the portable kind).
 */
export function deniedDirections(policy: Obj): ReadonlySet<Direction> {
    const out = new Set<Direction>();
    if (
        !String(policy.apiVersion).startsWith("networking.k8s.io/") ||
        policy.kind !== "NetworkPolicy"
    ) {
        return out;
    }
    const spec = obj(policy.spec);
    if (!selectsAllPods(spec.podSelector)) return out;
    for (const d of networkPolicyTypes(spec)) {
        if (noRules(spec[d === "Ingress" ? "ingress" : "egress"])) out.add(d);
    }
    return out;
}

/** The directions each namespace denies by default (namespaces without such a policy are absent). */
export function defaultDenyByNamespace(
    manifests: readonly Obj[],
): ReadonlyMap<string, ReadonlySet<Direction>> {
    const out = new Map<string, Set<Direction>>();
    for (const m of manifests) {
        const denied = deniedDirections(m);
        if (denied.size === 0) continue;
        const ns = nsOf(m) || "default";
        out.set(ns, new Set([...(out.get(ns) ?? []), ...denied]));
    }
    return out;
}
