/**
 * The `proxy` egress engine (pure parts): one Squid instance per egress identity, each enforcing
 * that identity's domain allowlist. NetworkPolicy lets only the identity's pods reach its proxy and
 * only the proxy leave the cluster (TCP 443, private and link-local ranges cut out), so a pod can
 * use no allowlist but its own, and which allowlist applies never depends on source IPs.
 */
import { createHash } from "crypto";
import { labelDomain, labels } from "../../constants/labels";
import { serviceNamespaces } from "../../constants/namespaces";
import { okePorts, workloadPorts } from "../../constants/ports";
import { Workload, WorkloadId, catalog } from "../catalog";
import { NetworkIntent, allowlistLabel, proxyName } from "./intent";
import { proxyRefusedIpv4Cidrs, proxyRefusedIpv6Cidrs } from "./non-public";
import type { K8sObject } from "./render-k8s";

/** Pod-template annotation naming the ConfigMap that holds the proxy's allowlist (read by the plan). */
export const allowlistConfigMapAnnotation = `${labelDomain}/egress-allowlist-configmap`;

/** ConfigMap key of the domain list, one per line (`*.` wildcards kept as written). */
export const allowlistKey = "allowlist.txt";
/** ConfigMap key of the Squid configuration. */
export const squidConfKey = "squid.conf";
/** Where the ConfigMap is mounted in the proxy container. */
export const proxyConfigDir = "/etc/squid-platform";

/** Squid `dstdomain` form: `*.example.com` → `.example.com` (Squid: the domain and every subdomain). */
function squidDomain(domain: string): string {
    return domain.startsWith("*.") ? domain.slice(1) : domain;
}

/**
 * The `dstdomain` entries of an allowlist, and the apexes of its wildcards that it does not list
 * itself. Squid's `.example.com` also matches `example.com`, but `*.example.com` means subdomains
 * only, as in the other engines, so those apexes get their own deny. A name both listed and
 * covered by a wildcard is left out: Squid warns about, and drops, such overlaps itself.
 */
export function squidAllowlist(domains: readonly string[]): {
    allow: string[];
    wildcardApexes: string[];
} {
    const lower = [...new Set(domains.map((d) => d.toLowerCase()))];
    const bases = lower.filter((d) => d.startsWith("*.")).map((d) => d.slice(2));
    const under = (d: string, w: string) => d.endsWith(`.${w}`);
    const kept = bases.filter((w) => !bases.some((o) => under(w, o)));
    const exact = lower.filter((d) => !d.startsWith("*."));
    return {
        allow: [
            ...kept.map((w) => squidDomain(`*.${w}`)),
            ...exact.filter((d) => !kept.some((w) => d === w || under(d, w))),
        ],
        wildcardApexes: kept.filter((w) => !exact.includes(w)),
    };
}

/**
 * Destinations the proxy refuses whatever name led there, checked on the addresses the allowlisted
 * name resolves to (Squid's `dst` matches when any of them is in a range): the one refused list of
 * ./non-public, IPv4 and IPv6 (the proxies' NetworkPolicy excepts the same IPv4 ranges).
 */
export function squidDeniedDestinations(): string[] {
    return [...proxyRefusedIpv4Cidrs, ...proxyRefusedIpv6Cidrs];
}

/** `event` of the proxy's JSON access log lines (counted by the decision-log-metrics pipeline). */
export const egressAccessEvent = "egress.access";

/**
 * Squid `logformat` of one JSON object per request: the identity (literal: one proxy per identity),
 * Squid's result code (`TCP_DENIED` for a refused destination), HTTP status, method and destination
 * (`host:port` for CONNECT; Squid strips query strings by default). Client-controlled values are
 * URL-encoded (`%#`), so no quote or backslash can break the JSON. No headers are logged.
 */
export function squidJsonLogFormat(identity: string): string {
    return (
        `logformat platform_json {"event":"${egressAccessEvent}","identity":"${identity}",` +
        '"time":"%ts.%03tu","duration_ms":"%tr","client":"%>a","status":"%Ss",' +
        '"http_status":"%>Hs","method":"%#rm","destination":"%#ru"}'
    );
}

/**
 * Squid configuration that allows only `CONNECT` to port 443 of the allowlisted domains. The
 * decision is on the requested name only: `dstdomain -n` never turns an IP literal into a name by
 * reverse DNS (without `-n`, Squid matches an IP literal's PTR name against the list, so whoever
 * owns an address's reverse zone could put it on our allowlist). Only an allowlisted name is ever
 * resolved, and then refused when any of its addresses is non-public (Squid caches the answer for at
 * least `negative_dns_ttl`, so the address it connects to is the one checked).
 *
 * No disk cache, logs to stdout/stderr (access log as JSON lines), pid file in `/tmp`, so it runs
 * as a non-root user on a read-only root filesystem. The kubelet's probe path is served by Squid
 * itself (`global_internal_static`, on by default, rewrites every `/squid-internal-static/` URL to
 * the proxy's own name before access checks) and is allowed only there, where the name resolves
 * to the pod's private address.
 */
export function renderSquidConfig(identity: string, domains: readonly string[]): string {
    if (domains.length === 0) {
        throw new Error(`egress proxy for ${identity}: an empty allowlist needs no proxy`);
    }
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(identity)) {
        throw new Error(
            `egress proxy identity "${identity}" must be a DNS label (lower-case letters, digits, "-"): it names the proxy and is logged verbatim`,
        );
    }
    const { allow, wildcardApexes } = squidAllowlist(domains);
    return [
        `# secure-llm-platform egress proxy for ${identity}: CONNECT to port ${okePorts.https} of the allowlist only.`,
        `http_port ${workloadPorts.egressProxy}`,
        "pid_filename /tmp/squid.pid",
        "coredump_dir /tmp",
        "cache deny all",
        "cache_mem 8 MB",
        squidJsonLogFormat(identity),
        "access_log stdio:/dev/stdout platform_json",
        "cache_log stdio:/dev/stderr",
        "cache_store_log none",
        "netdb_filename none",
        // The ICMP pinger helper needs CAP_NET_RAW, which the pod drops; it would only log failures.
        "pinger_enable off",
        "logfile_rotate 0",
        "via off",
        "forwarded_for delete",
        `acl allowlist dstdomain -n ${allow.join(" ")}`,
        ...(wildcardApexes.length > 0
            ? [`acl wildcard_apex dstdomain -n ${wildcardApexes.join(" ")}`]
            : []),
        `acl tls_port port ${okePorts.https}`,
        "acl CONNECT method CONNECT",
        "acl health urlpath_regex ^/squid-internal-static/icons/",
        `acl private_dst dst ${squidDeniedDestinations().join(" ")}`,
        "http_access allow health private_dst",
        "http_access deny !CONNECT",
        "http_access deny !tls_port",
        "http_access deny !allowlist",
        ...(wildcardApexes.length > 0 ? ["http_access deny wildcard_apex"] : []),
        "http_access deny private_dst",
        "http_access allow CONNECT tls_port allowlist",
        "http_access deny all",
        "",
    ].join("\n");
}

/** One proxy instance: its catalog-shaped workload, its ConfigMap and a checksum of it. */
export interface ProxyInstance {
    /** The identity whose allowlist it enforces. */
    readonly identity: string;
    readonly domains: readonly string[];
    /** Catalog entry of the egress proxy, renamed and labelled for this identity. */
    readonly workload: Workload;
    readonly configMap: K8sObject;
    /** sha256 of the ConfigMap data; a change rolls the pods. */
    readonly checksum: string;
}

/** The proxy instances of the intent; none unless the engine is `proxy`. */
export function proxyInstances(intent: NetworkIntent): ProxyInstance[] {
    if (intent.engine !== "proxy") return [];
    return Object.entries(intent.egress).map(([identity, domains]) => {
        const name = proxyName(identity);
        const base = catalog["egress-proxy"];
        const workload: Workload = {
            ...base,
            // The builder names Deployment, Service, PDB and ServiceAccount after the id.
            id: name as WorkloadId,
            podLabels: { ...base.podLabels, [allowlistLabel]: identity },
            serviceHost: `${name}.${serviceNamespaces.egressProxy}.svc.cluster.local`,
        };
        const data = {
            [allowlistKey]: domains.join("\n") + "\n",
            [squidConfKey]: renderSquidConfig(identity, domains),
        };
        const configMap: K8sObject = {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
                name,
                namespace: serviceNamespaces.egressProxy,
                labels: { ...workload.podLabels, [labels.managedBy]: "pulumi" },
            },
            data,
        };
        const checksum = createHash("sha256").update(JSON.stringify(data)).digest("hex");
        return { identity, domains, workload, configMap, checksum };
    });
}
