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
import { NetworkIntent, allowlistLabel, nonPublicCidrs, proxyName } from "./intent";
import type { K8sObject } from "./render-k8s";

/** Pod-template annotation naming the ConfigMap that holds the proxy's allowlist (read by the plan). */
export const allowlistConfigMapAnnotation = `${labelDomain}/egress-allowlist-configmap`;

/** ConfigMap key of the domain list, one per line (`*.` wildcards kept as written). */
export const allowlistKey = "allowlist.txt";
/** ConfigMap key of the Squid configuration. */
export const squidConfKey = "squid.conf";
/** Where the ConfigMap is mounted in the proxy container. */
export const proxyConfigDir = "/etc/squid-platform";

/** Squid `dstdomain` form: `*.example.com` → `.example.com` (which also matches example.com itself). */
function squidDomain(domain: string): string {
    return domain.startsWith("*.") ? domain.slice(1) : domain;
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
 * Squid configuration that allows only `CONNECT` to port 443 of the allowlisted domains. No disk
 * cache, logs to stdout/stderr (access log as JSON lines), pid file in `/tmp`, so it runs as a
 * non-root user on a read-only root filesystem. The health path is served for private destinations
 * only (the kubelet's probe); the proxy's NetworkPolicy cannot reach private addresses anyway.
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
        "logfile_rotate 0",
        "via off",
        "forwarded_for delete",
        `acl allowlist dstdomain ${domains.map(squidDomain).join(" ")}`,
        `acl tls_port port ${okePorts.https}`,
        "acl CONNECT method CONNECT",
        "acl health urlpath_regex ^/squid-internal-static/icons/",
        `acl private_dst dst ${nonPublicCidrs.join(" ")}`,
        "http_access allow health private_dst",
        "http_access deny !CONNECT",
        "http_access deny !tls_port",
        "http_access allow CONNECT allowlist",
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
