/**
 * Reachability computed from rendered objects (pure): the plan hands in the plain manifests of a
 * cluster (`{apiVersion, kind, metadata, spec}`, CustomResources included) and gets back who may
 * open connections to whom, where each workload may go outside the cluster, and the violations that
 * fail the plan. It reads only the manifests, never the intent, so a policy added by hand (or a bug
 * in a renderer) shows up here.
 *
 * Semantics: a connection A→B on a port is allowed iff A's egress allows it and B's ingress allows
 * it. Each side follows standard NetworkPolicy rules: a pod selected by no policy of a direction is
 * unrestricted in that direction; otherwise the union of the selecting policies' rules applies.
 * CiliumNetworkPolicies join that union (and isolate the pods they select). Calico v3 policies are
 * read as extra Allows only (their Deny/Pass and tier order are not modelled), which can only
 * over-state reachability, never hide it. An `ipBlock` is assumed to match pod IPs when it overlaps
 * the pod CIDRs (by default every private range), since Calico and Cilium enforce it on pod IPs.
 */
import { Cidr, contains, overlaps, parseCidr } from "../../config/cidr";
import { labels as labelKeys } from "../../constants/labels";
import { privilegedNamespaces } from "../../constants/namespaces";
import { catalog } from "../catalog";
import { isSupplyChainDomain, namedPeers, nonPublicCidrs } from "./intent";
import { allowlistConfigMapAnnotation, allowlistKey } from "./proxy";

type Obj = Record<string, unknown>;

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

/** Whether a pod is under a deny-by-default policy (one with the type and no rules) each way. */
export interface Coverage {
    readonly pod: string;
    readonly namespace: string;
    readonly ingressDeny: boolean;
    readonly egressDeny: boolean;
}

export interface ReachabilityResult {
    readonly pods: readonly PodInfo[];
    readonly connections: readonly Connection[];
    /** Ports each pod accepts from outside the pod network. */
    readonly externalIngress: Readonly<Record<string, readonly ExternalDestination[]>>;
    /** Destinations outside the pod network each pod may open connections to. */
    readonly egress: Readonly<Record<string, readonly ExternalDestination[]>>;
    /** Coverage of every platform pod (privileged and system namespaces excluded). */
    readonly coverage: readonly Coverage[];
}

export interface ReachabilityOptions {
    /** CIDRs pod IPs come from; an ipBlock overlapping them is taken to match pods. Defaults to the private ranges. */
    readonly podCidrs?: readonly string[];
}

/** Namespaces whose pods the platform does not police (system and privileged components). */
export const unpolicedNamespaces: readonly string[] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "calico-system",
    "calico-apiserver",
    ...Object.values(privilegedNamespaces),
];

// ---------------------------------------------------------------------------------------------
// Selectors

const obj = (v: unknown): Obj =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strMap = (v: unknown): Record<string, string> =>
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

function describePorts(ports: Ports): string[] {
    if (ports === undefined) return ["*"];
    return ports.map((p) =>
        p.port === undefined
            ? `${p.protocol}/*`
            : `${p.protocol}/${p.port}${p.endPort ? `-${p.endPort}` : ""}`,
    );
}

const portKey = (p: PortSpec) => (p.port === "*" ? "*" : `${p.protocol}/${p.port}`);

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
    /** Has the direction's type and no rule (deny), for coverage. */
    readonly denies: boolean;
    readonly rules: readonly Rule[];
}

interface Policies {
    readonly ingress: Policy[];
    readonly egress: Policy[];
}

const nameOf = (m: Obj) => String(obj(m.metadata).name ?? "(unnamed)");
const nsOf = (m: Obj) =>
    typeof obj(m.metadata).namespace === "string" ? String(obj(m.metadata).namespace) : undefined;
const describeObj = (m: Obj) => `${m.kind} ${nsOf(m) ? `${nsOf(m)}/` : ""}${nameOf(m)}`;

function readPolicies(
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
            const types = arr(spec.policyTypes).map(String);
            const hasIngress = types.length === 0 || types.includes("Ingress");
            const hasEgress =
                types.includes("Egress") || (types.length === 0 && spec.egress !== undefined);
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
            if (hasIngress) {
                const rules = arr(spec.ingress).map(obj);
                out.ingress.push({
                    source,
                    kind: "k8s",
                    selects: sel,
                    isolates: true,
                    denies: rules.length === 0,
                    rules: rules.map((r) => ({
                        peers: peersOf(r.from),
                        ports: k8sPorts(r),
                        source,
                    })),
                });
            }
            if (hasEgress) {
                const rules = arr(spec.egress).map(obj);
                out.egress.push({
                    source,
                    kind: "k8s",
                    selects: sel,
                    isolates: true,
                    denies: rules.length === 0,
                    rules: rules.map((r) => ({ peers: peersOf(r.to), ports: k8sPorts(r), source })),
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
                        denies: false,
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
                        denies: false,
                        rules,
                    });
                }
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Pods

const podTemplates: Record<string, (m: Obj) => Obj | undefined> = {
    Deployment: (m) => obj(obj(m.spec).template),
    StatefulSet: (m) => obj(obj(m.spec).template),
    DaemonSet: (m) => obj(obj(m.spec).template),
    ReplicaSet: (m) => obj(obj(m.spec).template),
    Job: (m) => obj(obj(m.spec).template),
    CronJob: (m) => obj(obj(obj(obj(m.spec).jobTemplate).spec).template),
    Pod: (m) => m,
};

/** Pods of the manifests' workload objects; `objectNames` gets each pod's object name by index. */
function readPods(manifests: readonly Obj[], objectNames: Map<number, string>): PodInfo[] {
    const pods: PodInfo[] = [];
    for (const m of manifests) {
        const template =
            typeof m.kind === "string" && m.apiVersion !== undefined
                ? podTemplates[m.kind]?.(m)
                : undefined;
        if (template === undefined || String(m.apiVersion).includes("projectcalico")) continue;
        const meta = obj(template.metadata);
        const spec = obj(template.spec);
        if (spec.hostNetwork === true) continue;
        const lbls = strMap(meta.labels);
        const namespace = nsOf(m) ?? "default";
        const ports: PortSpec[] = [];
        for (const c of arr(spec.containers).map(obj)) {
            for (const p of arr(c.ports).map(obj)) {
                if (typeof p.containerPort === "number") {
                    ports.push({
                        port: p.containerPort,
                        protocol: typeof p.protocol === "string" ? p.protocol : "TCP",
                        name: typeof p.name === "string" ? p.name : undefined,
                    });
                }
            }
        }
        const cmName = strMap(meta.annotations)[allowlistConfigMapAnnotation];
        let proxyAllowlist: string[] | undefined;
        if (cmName !== undefined) {
            const cm = manifests.find(
                (x) => x.kind === "ConfigMap" && nsOf(x) === namespace && nameOf(x) === cmName,
            );
            const text = cm === undefined ? "" : String(strMap(cm.data)[allowlistKey] ?? "");
            proxyAllowlist = text
                .split("\n")
                .map((l) => l.trim())
                .filter((l) => l !== "" && !l.startsWith("#"));
        }
        objectNames.set(pods.length, nameOf(m));
        pods.push({
            // Proxy instances share a name label; their object names tell them apart.
            id: cmName !== undefined ? nameOf(m) : (lbls[labelKeys.name] ?? nameOf(m)),
            namespace,
            labels: lbls,
            ports,
            source: "manifest",
            proxyAllowlist,
        });
    }
    return pods;
}

/** Adds the catalog workloads and chart peers the manifests' policies name but do not declare. */
function addKnownPods(pods: PodInfo[], manifests: readonly Obj[]): void {
    const policyNamespaces = new Set(
        manifests
            .filter((m) => m.kind === "NetworkPolicy" && nsOf(m) !== undefined)
            .map((m) => nsOf(m)!),
    );
    const named = new Set(
        manifests
            .filter((m) => m.apiVersion === "networking.k8s.io/v1" && m.kind === "NetworkPolicy")
            .map((m) => strMap(obj(obj(m.spec).podSelector).matchLabels)[labelKeys.name])
            .filter((x): x is string => x !== undefined),
    );
    const present = (ns: string, lbls: Readonly<Record<string, string>>) =>
        pods.some(
            (p) => p.namespace === ns && Object.entries(lbls).every(([k, v]) => p.labels[k] === v),
        );
    for (const w of Object.values(catalog)) {
        if (w.id !== "egress-proxy" && named.has(w.id) && !present(w.namespace, w.podLabels)) {
            pods.push({
                id: w.id,
                namespace: w.namespace,
                labels: { ...w.podLabels },
                ports: w.ports.map((p) => ({ port: p.port, protocol: p.protocol, name: p.name })),
                source: "catalog",
            });
        }
    }
    for (const peer of Object.values(namedPeers)) {
        const wanted =
            peer.id === "kube-dns" ? pods.length > 0 : policyNamespaces.has(peer.namespace);
        if (wanted && !present(peer.namespace, peer.podLabels)) {
            pods.push({
                id: peer.id,
                namespace: peer.namespace,
                labels: { ...peer.podLabels },
                ports: peer.ports.map((p) => ({
                    port: p.port,
                    protocol: p.protocol,
                    name: p.name,
                })),
                source: "peer",
            });
        }
    }
}

/**
 * Makes display ids unique: workloads sharing an `app.kubernetes.io/name` (the egress proxy
 * instances) take their object names, and what is still ambiguous gets its namespace.
 */
function uniqueIds(pods: PodInfo[], objectNames: ReadonlyMap<number, string>): void {
    const count = (ids: string[]) =>
        ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());
    let seen = count(pods.map((p) => p.id));
    for (let i = 0; i < pods.length; i++) {
        const objectName = objectNames.get(i);
        if ((seen.get(pods[i].id) ?? 0) > 1 && objectName !== undefined) {
            pods[i] = { ...pods[i], id: objectName };
        }
    }
    seen = count(pods.map((p) => p.id));
    for (let i = 0; i < pods.length; i++) {
        if ((seen.get(pods[i].id) ?? 0) > 1) {
            pods[i] = { ...pods[i], id: `${pods[i].namespace}/${pods[i].id}` };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Analysis

function cidrMatchesPods(
    block: { cidr: string; except: readonly string[] },
    podCidrs: readonly Cidr[],
): boolean {
    const c = parseCidr(block.cidr);
    if (c === undefined) return true;
    const except = block.except.map(parseCidr).filter((x): x is Cidr => x !== undefined);
    return podCidrs.some((pc) => overlaps(c, pc) && !except.some((e) => contains(e, pc)));
}

/**
 * True for the pods the platform answers for: every pod it declares (whatever the namespace), and
 * pods it knows of outside the system and privileged namespaces.
 */
function isPoliced(p: PodInfo): boolean {
    return p.source === "manifest" || !unpolicedNamespaces.includes(p.namespace);
}

/** Computes reachability from plain manifests. Pure. */
export function analyzeReachability(
    manifests: ReadonlyArray<Record<string, unknown>>,
    opts: ReachabilityOptions = {},
): ReachabilityResult {
    const podCidrs = (opts.podCidrs ?? nonPublicCidrs)
        .map(parseCidr)
        .filter((x): x is Cidr => x !== undefined);
    const nsObjects = new Map(
        manifests
            .filter((m) => m.kind === "Namespace")
            .map((m) => [nameOf(m), strMap(obj(m.metadata).labels)]),
    );
    const nsLabels = (ns: string) => ({
        ...(nsObjects.get(ns) ?? {}),
        "kubernetes.io/metadata.name": ns,
    });
    const policies = readPolicies(manifests, nsLabels);
    const objectNames = new Map<number, string>();
    const pods = readPods(manifests, objectNames);
    addKnownPods(pods, manifests);
    uniqueIds(pods, objectNames);

    const peerMatchesPod = (peer: Peer, pod: PodInfo) =>
        peer.any === true ||
        (peer.pods !== undefined && peer.pods(pod)) ||
        (peer.cidr !== undefined && cidrMatchesPods(peer.cidr, podCidrs));
    const allowed = (dir: "ingress" | "egress", self: PodInfo, other: PodInfo, port: PortSpec) => {
        const selecting = policies[dir].filter((p) => p.selects(self));
        if (!selecting.some((p) => p.isolates)) return true;
        return selecting.some((p) =>
            p.rules.some(
                (r) =>
                    portMatches(r.ports, port) &&
                    r.peers.some((peer) => peerMatchesPod(peer, other)),
            ),
        );
    };
    const candidatePorts = (pod: PodInfo): PortSpec[] => {
        const out = new Map<string, PortSpec>(pod.ports.map((p) => [portKey(p), p]));
        for (const pol of policies.ingress.filter((p) => p.selects(pod))) {
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
    };

    // Pods of system namespaces are not the platform's to police: they appear as destinations
    // (kube-dns) but not as sources, or every ipBlock that might hold a pod would draw an arrow.
    const connections: Connection[] = [];
    for (const a of pods.filter(isPoliced)) {
        for (const b of pods) {
            if (a === b) continue;
            const ports = candidatePorts(b)
                .filter((port) => allowed("egress", a, b, port) && allowed("ingress", b, a, port))
                .map(portKey);
            if (ports.length > 0) connections.push({ from: a.id, to: b.id, ports });
        }
    }

    const external = (dir: "ingress" | "egress", pod: PodInfo): ExternalDestination[] => {
        const selecting = policies[dir].filter((p) => p.selects(pod));
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
                    if (peer.any)
                        out.push({ kind: "any", value: "anywhere", ports, source: r.source });
                    if (peer.cidr) {
                        const ex =
                            peer.cidr.except.length > 0
                                ? ` except ${peer.cidr.except.join(", ")}`
                                : "";
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
    };
    const egress: Record<string, ExternalDestination[]> = {};
    const externalIngress: Record<string, ExternalDestination[]> = {};
    for (const pod of pods) {
        const list = external("egress", pod);
        for (const c of connections.filter((c) => c.from === pod.id)) {
            const proxy = pods.find((p) => p.id === c.to);
            for (const d of proxy?.proxyAllowlist ?? []) {
                list.push({
                    kind: "domain",
                    value: d,
                    ports: ["TCP/443"],
                    via: proxy!.id,
                    source: `ConfigMap of ${proxy!.id}`,
                });
            }
        }
        egress[pod.id] = dedupe(list);
        externalIngress[pod.id] = dedupe(external("ingress", pod));
    }

    const coverage: Coverage[] = pods.filter(isPoliced).map((p) => ({
        pod: p.id,
        namespace: p.namespace,
        ingressDeny: policies.ingress.some(
            (pol) => pol.kind === "k8s" && pol.denies && pol.selects(p),
        ),
        egressDeny: policies.egress.some(
            (pol) => pol.kind === "k8s" && pol.denies && pol.selects(p),
        ),
    }));
    return { pods, connections, externalIngress, egress, coverage };
}

function dedupe(list: ExternalDestination[]): ExternalDestination[] {
    const seen = new Set<string>();
    return list.filter((d) => {
        const k = `${d.kind}|${d.value}|${d.ports.join(",")}|${d.via ?? ""}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
}

const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseCidr(c)!);

/**
 * Whether an external destination of the inference pods is part of its model supply chain: the
 * Object Storage or KMS endpoints of the Oracle Services Network (TCP 443, directly or through an
 * egress proxy), or the OKE control plane's workload-identity endpoint (TCP 12250 to a private
 * block) the loader exchanges its token at. Anything else is exfiltration room.
 */
export function isSupplyChainDestination(d: ExternalDestination): boolean {
    const tls = d.ports.length > 0 && d.ports.every((p) => p === "TCP/443");
    if (d.kind === "domain") return tls && isSupplyChainDomain(d.value);
    if (d.kind === "cidr") {
        const c = parseCidr(d.value.split(" ")[0]);
        return (
            c !== undefined &&
            privateRanges.some((r) => contains(r, c)) &&
            d.ports.length > 0 &&
            d.ports.every((p) => p === "TCP/12250")
        );
    }
    return false;
}

const isWorkload = (pod: PodInfo, id: string) => pod.labels[labelKeys.name] === id;

/**
 * Serving ports only the guardrails may open: inference answers unfiltered, and the output
 * filter's analyzer and anonymizer see every completion. Their metrics ports are apart.
 */
const guardedServingPorts = (
    [
        ["inference", "inference"],
        ["presidio-analyzer", "the output filter"],
        ["presidio-anonymizer", "the output filter"],
    ] as const
).map(([id, what]) => ({
    id,
    what,
    port: catalog[id].ports.find((p) => p.name === "http")!.port,
}));

/**
 * The plan-failing checks:
 * 1. a pod other than the guardrails can open the serving port of inference or of the output
 *    filter (the guardrails would be bypassed; Prometheus scrapes metrics-only ports);
 * 2. an inference pod can reach anything outside the cluster beyond its model supply chain (see
 *    {@link isSupplyChainDestination}); through a proxy, every domain of the proxy's allowlist counts;
 * 3. a platform pod is not under a deny-by-default NetworkPolicy in both directions.
 */
export function reachabilityViolations(result: ReachabilityResult): string[] {
    const out: string[] = [];
    const byId = new Map(result.pods.map((p) => [p.id, p]));
    for (const c of result.connections) {
        const a = byId.get(c.from)!;
        const b = byId.get(c.to)!;
        const guarded = guardedServingPorts.find((g) => isWorkload(b, g.id));
        if (guarded === undefined || isWorkload(a, "guardrails")) continue;
        const open = c.ports.filter((p) => p === "*" || p === `TCP/${guarded.port}`);
        if (open.length > 0) {
            out.push(
                `reachability: ${a.namespace}/${a.id} can connect to ${b.namespace}/${b.id} on ${open.join(", ")} ` +
                    `directly: requests would bypass the guardrails; only the guardrails may reach ${guarded.what}`,
            );
        }
    }
    for (const pod of result.pods.filter((p) => isWorkload(p, "inference"))) {
        for (const d of result.egress[pod.id] ?? []) {
            if (!isSupplyChainDestination(d)) {
                out.push(
                    `reachability: inference pod ${pod.namespace}/${pod.id} may reach ${d.value} ` +
                        `(${d.ports.join(", ")}${d.via ? `, via ${d.via}` : ""}; allowed by ${d.source}): inference may ` +
                        "reach only the Object Storage and KMS endpoints of its model supply chain",
                );
            }
        }
    }
    for (const c of result.coverage) {
        const missing = [c.ingressDeny ? "" : "ingress", c.egressDeny ? "" : "egress"].filter(
            (x) => x !== "",
        );
        if (missing.length > 0) {
            out.push(
                `reachability: pod ${c.namespace}/${c.pod} is not under a default-deny NetworkPolicy for ${missing.join(
                    " and ",
                )}; add one (podSelector: {}, policyTypes: [Ingress, Egress]) to namespace ${c.namespace}`,
            );
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Report

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
