/**
 * The pods of a cluster as the platform knows them (pure): one per workload object of the
 * manifests, the egress proxies with the domains of their allowlist ConfigMaps, and the catalog
 * workloads and chart peers that the manifests' policies name but that are installed elsewhere.
 */
import { labels as labelKeys } from "../../../constants/labels";
import { candidateEvaluation } from "../../../constants/rollout";
import { catalog } from "../../catalog";
import { namedPeers } from "../intent";
import { templatePaths } from "../../../security/pods";
import { allowlistConfigMapAnnotation, allowlistKey } from "../proxy";
import { arr, nameOf, nsOf, Obj, obj, PodInfo, PortSpec, strMap } from "./semantics";

/** The pod template of a workload object (the object itself for a Pod), by the shared table of kinds. */
function podTemplate(m: Obj): Obj | undefined {
    const path = typeof m.kind === "string" ? templatePaths[m.kind] : undefined;
    return path === undefined ? undefined : path.reduce((o: Obj, key) => obj(o[key]), m);
}

/** Pods of the manifests' workload objects; `objectNames` gets each pod's object name by index. */
export function readPods(manifests: readonly Obj[], objectNames: Map<number, string>): PodInfo[] {
    const pods: PodInfo[] = [];
    for (const m of manifests) {
        const template = m.apiVersion !== undefined ? podTemplate(m) : undefined;
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
export function addKnownPods(pods: PodInfo[], manifests: readonly Obj[]): void {
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
    // Pipeline steps KFP creates (no manifest): the guardrail evaluation step, where its own
    // namespace's policy selects it by its pod labels.
    for (const m of manifests.filter((x) => x.kind === "NetworkPolicy")) {
        const sel = strMap(obj(obj(m.spec).podSelector).matchLabels);
        const ns = nsOf(m);
        if (ns === undefined || sel[labelKeys.name] !== candidateEvaluation.id) continue;
        if (!present(ns, candidateEvaluation.podLabels)) {
            pods.push({
                id: candidateEvaluation.id,
                namespace: ns,
                labels: { ...candidateEvaluation.podLabels },
                ports: [],
                source: "peer",
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
export function uniqueIds(pods: PodInfo[], objectNames: ReadonlyMap<number, string>): void {
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
