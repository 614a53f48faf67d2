/** `networkPolicy` section: how default-deny and FQDN egress allowlists are enforced. */
import { egressProxyImage } from "../constants/images";
import { parseCidr } from "./cidr";
import type { LayerContext } from "./layer";
import { TierImage, parseImage } from "./tiers";
import { Issues, bool, isObject, join, num, obj, patterns, ranges, str, strList } from "./validate";

export const egressEngines = ["proxy", "calico-enterprise", "cilium"] as const;
export type EgressEngine = (typeof egressEngines)[number];

/**
 * Workloads whose egress allowlist the stack may extend with `extraEgress`. The inference tier is
 * deliberately absent: its only external destinations are the Object Storage and KMS endpoints of
 * its model supply chain, fetched by the init container, and nothing at run time. The egress proxy
 * is absent because its allowlists are the union of the others'.
 */
export const extendableEgressIdentities = [
    "gateway",
    "guardrails",
    "jailbreak-detection",
    "presidio-analyzer",
    "presidio-anonymizer",
    "ingress-nginx",
    "prometheus",
    "alertmanager",
    "external-secrets",
    "cert-manager",
    "kubeflow-pipelines",
] as const;
export type ExtendableEgressIdentity = (typeof extendableEgressIdentities)[number];

/** Network policy settings of a cluster. */
export interface NetworkPolicyConfig {
    /** FQDN egress engine. Defaults to `proxy` (works with open-source Calico and any enforcing CNI). */
    readonly engine: EgressEngine;
    /**
     * Install open-source Calico (tigera-operator) to enforce NetworkPolicy. Defaults to true for
     * OKE clusters with the `proxy` engine (OKE's own CNIs do not enforce NetworkPolicy), else false.
     */
    readonly installCalico: boolean;
    /**
     * OCI region whose Object Storage, KMS and Vault secrets endpoints the allowlists name. Defaults
     * to the cluster's region for OKE; required for existing clusters (their `region` is a label).
     */
    readonly ociRegion: string;
    /** Extra egress domains per workload id (never for inference). Defaults to none. */
    readonly extraEgress: Readonly<Partial<Record<ExtendableEgressIdentity, readonly string[]>>>;
    /** Domains Alertmanager may send notifications to (Slack, PagerDuty, …). Defaults to none. */
    readonly alertReceiverDomains: readonly string[];
    /**
     * CIDRs of the Kubernetes API server endpoints, for controllers and webhooks. Defaults to the
     * control-plane subnet for OKE; required for existing clusters.
     */
    readonly apiServerCidrs: readonly string[];
    /** TCP port of the API server endpoints (after Service DNAT). Defaults to 6443. */
    readonly apiServerPort: number;
    /**
     * CIDRs of the nodes, whose kubelets (10250) and host-network node exporters (9100)
     * Prometheus scrapes. Defaults to the workers subnet for OKE, to none for existing clusters.
     */
    readonly nodeCidrs: readonly string[];
    /** Client CIDRs allowed to reach the ingress controller on 80/443. Defaults to 0.0.0.0/0. */
    readonly ingressCidrs: readonly string[];
    /**
     * The egress proxies' image (engine `proxy`; built from images/egress-proxy). Defaults to
     * `egressProxyImage` in modules/constants/images.ts (a placeholder digest until pushed).
     */
    readonly proxyImage: TierImage;
}

/** The CNI an engine needs, or undefined when any policy-enforcing CNI will do. */
export const engineNeedsCni: Readonly<Record<EgressEngine, string | undefined>> = {
    proxy: undefined,
    "calico-enterprise": "calico-enterprise",
    cilium: "cilium",
};

/** Each label of a domain: an RFC 1123 label (the same rule as a Kubernetes name). */
const label = patterns.k8sName.pattern;

/**
 * Why `domain` cannot be an egress allowlist entry, or undefined when it can. Accepted: a fully
 * qualified lower-case name with at least two labels (`objectstorage.us-ashburn-1.oraclecloud.com`),
 * optionally with one leading `*.` that matches exactly one or more subdomain labels and is followed
 * by at least two labels (`*.kms.us-ashburn-1.oraclecloud.com`). Every engine can enforce exactly
 * this: Calico `domains`, Cilium `matchPattern`, Squid `dstdomain`.
 */
export function domainProblem(domain: unknown): string | undefined {
    if (typeof domain !== "string" || domain.length === 0) {
        return "a domain name such as objectstorage.us-ashburn-1.oraclecloud.com";
    }
    if (domain === "*" || domain === "*.") {
        return "a named domain: a bare '*' allows the whole internet and is refused";
    }
    if (domain !== domain.toLowerCase()) {
        return "a lower-case domain name (DNS matching in the engines is case-sensitive)";
    }
    if (domain.endsWith(".")) {
        return "a domain name without a trailing dot";
    }
    if (domain.length > 253) {
        return "a domain name of at most 253 characters";
    }
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(domain) || domain.includes(":") || domain.includes("/")) {
        return "a domain name, not an IP address or CIDR (IP egress is not an allowlist entry)";
    }
    const wildcard = domain.startsWith("*.");
    const rest = wildcard ? domain.slice(2) : domain;
    if (rest.includes("*")) {
        return "a domain with at most one wildcard, as the whole leftmost label ('*.example.com'); '*foo.com', 'a.*.com' and '**.com' are refused";
    }
    const labels = rest.split(".");
    if (labels.length < 2 || labels.some((l) => !label.test(l))) {
        return wildcard
            ? "'*.' followed by at least two DNS labels such as *.kms.us-ashburn-1.oraclecloud.com (a wildcard over a whole top-level domain is refused)"
            : "a fully qualified domain name of at least two DNS labels (letters, digits, '-')";
    }
    if (/^\d+$/.test(labels[labels.length - 1])) {
        return "a domain name whose top-level label is not numeric";
    }
    return undefined;
}

function domainList(
    o: Record<string, unknown>,
    key: string,
    path: string,
    issues: Issues,
): string[] {
    const v = o[key];
    if (v === undefined || v === null) {
        return [];
    }
    if (!Array.isArray(v)) {
        issues.add(join(path, key), v, "a list of domain names");
        return [];
    }
    const out: string[] = [];
    v.forEach((d, i) => {
        const problem = domainProblem(d);
        if (problem !== undefined) {
            issues.add(`${join(path, key)}[${i}]`, d, problem);
        } else if (!out.includes(d as string)) {
            out.push(d as string);
        }
    });
    return out;
}

function cidrList(
    o: Record<string, unknown>,
    key: string,
    path: string,
    issues: Issues,
): string[] | undefined {
    if (o[key] === undefined || o[key] === null) {
        return undefined;
    }
    const list = strList(o, key, path, issues, patterns.cidr);
    list.forEach((c, i) => {
        if (parseCidr(c) === undefined) {
            issues.add(
                `${join(path, key)}[${i}]`,
                c,
                "an IPv4 CIDR block without host bits, such as 10.0.0.0/28",
            );
        }
    });
    return list;
}

const sectionKeys = [
    "engine",
    "installCalico",
    "ociRegion",
    "extraEgress",
    "alertReceiverDomains",
    "apiServerCidrs",
    "apiServerPort",
    "nodeCidrs",
    "ingressCidrs",
    "proxyImage",
] as const;

export function parseNetworkPolicy(
    raw: unknown,
    path: string,
    issues: Issues,
    ctx: LayerContext,
): NetworkPolicyConfig {
    const o = obj(raw, path, issues, sectionKeys);
    const engine = str(o, "engine", path, issues, { oneOf: egressEngines, default: "proxy" });
    const needs = engineNeedsCni[engine];
    if (needs !== undefined && ctx.capabilities.cni !== needs) {
        issues.add(
            `${path}.engine`,
            engine,
            `an engine the cluster's CNI (${ctx.capabilities.cni}) can enforce: proxy` +
                (ctx.target === "existing" ? `, or set capabilities.cni to ${needs}` : ""),
        );
    }
    if (ctx.capabilities.cni === "other") {
        issues.add(
            `${ctx.clusterPath ?? `clusters[${ctx.clusterName}]`}.capabilities.cni`,
            "other",
            "a CNI that enforces Kubernetes NetworkPolicy (calico, calico-enterprise or cilium): default-deny is the platform's baseline",
        );
    }

    const installCalico = bool(
        o,
        "installCalico",
        path,
        issues,
        ctx.target === "oke" && engine === "proxy",
    );
    if (installCalico && engine !== "proxy") {
        issues.add(
            `${path}.installCalico`,
            true,
            `false with engine ${engine}: open-source Calico would replace the ${engine} data plane the engine needs`,
        );
    }

    let ociRegion: string;
    if (ctx.target === "oke") {
        ociRegion = str(o, "ociRegion", path, issues, { ...patterns.region, default: ctx.region });
        if (ociRegion !== ctx.region) {
            issues.add(
                `${path}.ociRegion`,
                ociRegion,
                `nothing, or the cluster's own region ${ctx.region}: an OKE cluster reaches the OCI services of its region`,
            );
            ociRegion = ctx.region;
        }
    } else {
        ociRegion = str(o, "ociRegion", path, issues, {
            ...patterns.region,
            required: true,
            expected:
                "the OCI region (such as eu-frankfurt-1) whose Object Storage, KMS and Vault the cluster's model loader and External Secrets use: an existing cluster's region is only a location label",
            default: "invalid",
        });
    }

    const extraEgress: Partial<Record<ExtendableEgressIdentity, readonly string[]>> = {};
    const extraPath = join(path, "extraEgress");
    if (o.extraEgress !== undefined && o.extraEgress !== null) {
        if (!isObject(o.extraEgress)) {
            issues.add(extraPath, o.extraEgress, "a map of workload id to a list of domain names");
        } else {
            for (const id of Object.keys(o.extraEgress)) {
                if (!(extendableEgressIdentities as readonly string[]).includes(id)) {
                    issues.add(
                        join(extraPath, id),
                        o.extraEgress[id],
                        id === "inference"
                            ? "no entry for inference: it may reach only its model supply chain (Object Storage and KMS), derived from the region"
                            : `a workload id among ${extendableEgressIdentities.join(", ")}`,
                    );
                    continue;
                }
                extraEgress[id as ExtendableEgressIdentity] = domainList(
                    o.extraEgress,
                    id,
                    extraPath,
                    issues,
                );
            }
        }
    }
    const alertReceiverDomains = domainList(o, "alertReceiverDomains", path, issues);

    let apiServerCidrs = cidrList(o, "apiServerCidrs", path, issues);
    if (apiServerCidrs === undefined) {
        if (ctx.target === "existing") {
            issues.add(
                join(path, "apiServerCidrs"),
                undefined,
                "the CIDR block(s) of the cluster's API server endpoints (kubectl get endpoints kubernetes), so controllers and webhooks keep working under default-deny",
            );
        }
        apiServerCidrs = [];
    } else if (apiServerCidrs.includes("0.0.0.0/0")) {
        issues.add(
            join(path, "apiServerCidrs"),
            apiServerCidrs,
            "the API server's own addresses, not 0.0.0.0/0",
        );
    }
    const apiServerPort = num(o, "apiServerPort", path, issues, {
        ...ranges.apiServerPort,
        default: 6443,
    });
    const ingressCidrs = cidrList(o, "ingressCidrs", path, issues) ?? ["0.0.0.0/0"];
    const nodeCidrs = cidrList(o, "nodeCidrs", path, issues) ?? [];
    if (nodeCidrs.includes("0.0.0.0/0")) {
        issues.add(join(path, "nodeCidrs"), nodeCidrs, "the nodes' own addresses, not 0.0.0.0/0");
    }

    return {
        engine,
        installCalico,
        ociRegion,
        extraEgress,
        alertReceiverDomains,
        apiServerCidrs,
        apiServerPort,
        nodeCidrs,
        ingressCidrs,
        proxyImage: parseImage(o.proxyImage, join(path, "proxyImage"), issues, egressProxyImage),
    };
}
