/**
 * Stack-level fleet settings: `globalEntry` (one client-facing name steered by OCI DNS traffic
 * management to the healthy regions' gateways) and `fleet.exceptions` (the differences between
 * the clusters' rendered platforms that the plan accepts on a security-relevant object). See
 * docs/multi-region.md. Tests: test/fleet/global-entry-config.test.ts.
 */
import type { ClusterConfig } from "./schema";
import { didYouMean } from "./suggest";
import { Issues, isObject, join, list, num, obj, patterns, ranges, str, strList } from "./validate";

/** Steering templates the platform renders (OCI DNS traffic management templates). */
export const steeringPolicies = ["FAILOVER", "LOAD_BALANCE"] as const;
export type SteeringPolicyKind = (typeof steeringPolicies)[number];

/**
 * Monitor intervals and probe timeouts OCI Health Checks accepts (@pulumi/oci 4.20.0,
 * healthchecks/httpMonitor.d.ts: "Valid values: 10, 30, and 60" and "10, 20, 30, and 60 ... must
 * be less than or equal to intervalInSeconds").
 */
export const monitorIntervals = [10, 30, 60] as const;
export const monitorTimeouts = [10, 20, 30, 60] as const;

/**
 * Our bounds on the steered answer's TTL, in seconds. OCI's default is 30 (dns/steeringPolicy.d.ts);
 * the range is the platform's choice: below 10 s resolvers hammer the policy, above 300 s a
 * region loss outlasts most client retry budgets.
 */
export const globalEntryTtl = { min: 10, max: 300, default: 30 } as const;

/** `globalEntry`: the steered client-facing name. */
export interface GlobalEntryConfig {
    /** The client-facing name, e.g. `llm.example.com`; must lie inside `zone`. */
    readonly hostname: string;
    /** Name of the public OCI DNS zone that holds `hostname`, e.g. `example.com`. */
    readonly zone: string;
    /** OCID of that zone (`ocid1.dns-zone.…`); the steering policy attachment needs it. */
    readonly zoneId: string;
    /** FAILOVER (first healthy cluster in `clusters` order) or LOAD_BALANCE (weighted). */
    readonly policy: SteeringPolicyKind;
    /** TTL of the steered answer, in seconds. */
    readonly ttl: number;
    /** Clusters behind the name, in failover order; defaults to every cluster of the stack. */
    readonly clusters: readonly string[];
    /** Clusters whose answer is administratively disabled (drained); defaults to none. */
    readonly disabled: readonly string[];
    /** LOAD_BALANCE weights by cluster (0-255); defaults to 1 each. */
    readonly weights: Readonly<Record<string, number>>;
    /** The HTTP monitor probing each region's gateway health path. */
    readonly monitor: {
        readonly intervalSeconds: (typeof monitorIntervals)[number];
        readonly timeoutSeconds: (typeof monitorTimeouts)[number];
        /** OCI Health Checks vantage point names; empty = OCI's default selection. */
        readonly vantagePoints: readonly string[];
    };
}

/** One accepted difference between clusters (`fleet.exceptions[]`). */
export interface FleetException {
    /** A name for the exception, shown in the report next to every difference it accepts. */
    readonly name: string;
    /** The cluster whose rendered platform may differ from the others. */
    readonly cluster: string;
    /**
     * Objects it covers: `Kind/namespace/name` or `Kind/name` (cluster-scoped), `*` matching any
     * run of characters in a segment.
     */
    readonly objects: readonly string[];
    /**
     * Field paths (`metadata.labels.pod-security.kubernetes.io/enforce-version`) the difference
     * may touch; when set, a missing object is not accepted. Defaults to any difference.
     */
    readonly fields?: readonly string[];
    /** Why the difference is intended (required: the report prints it). */
    readonly reason: string;
}

/** `fleet`: how the plan treats differences between the stack's clusters. */
export interface FleetConfig {
    readonly exceptions: readonly FleetException[];
}

/** Names no public resolver answers; OCI's vantage points could never resolve them. */
const privateSuffixes = [".internal", ".local", ".localdomain", ".lan", ".home.arpa", ".corp"];

/** Parses `globalEntry` against the stack's validated clusters; undefined when absent. */
export function parseGlobalEntry(
    raw: unknown,
    path: string,
    issues: Issues,
    clusters: readonly ClusterConfig[],
): GlobalEntryConfig | undefined {
    if (raw === undefined || raw === null) {
        return undefined;
    }
    const o = obj(raw, path, issues, [
        "hostname",
        "zone",
        "zoneId",
        "policy",
        "ttl",
        "clusters",
        "weights",
        "disabled",
        "monitor",
    ]);
    const hostname = str(o, "hostname", path, issues, {
        required: true,
        ...patterns.hostname,
    });
    const zone = str(o, "zone", path, issues, {
        required: true,
        ...patterns.dnsZone,
    });
    const zoneId = str(o, "zoneId", path, issues, {
        required: true,
        ...patterns.dnsZoneOcid,
    });
    if (hostname && zone && !hostname.endsWith(`.${zone}`)) {
        issues.add(
            join(path, "hostname"),
            hostname,
            `a name inside the zone ${zone} (…${zone}); the steering policy is attached to that zone`,
        );
    }
    const policy = str(o, "policy", path, issues, {
        oneOf: steeringPolicies,
        default: "FAILOVER",
    });
    const ttl = num(o, "ttl", path, issues, { ...globalEntryTtl });
    const names = clusters.map((c) => c.name);
    const members =
        o.clusters === undefined
            ? names
            : strList(o, "clusters", path, issues, { expected: "cluster names" });
    const cp = join(path, "clusters");
    members.forEach((m, i) => {
        if (!names.includes(m)) {
            issues.add(
                `${cp}[${i}]`,
                m,
                `the name of a cluster of this stack (${names.join(", ")})${didYouMean(m, names)}`,
            );
        }
    });
    if (new Set(members).size !== members.length) {
        issues.add(cp, members, "each cluster at most once");
    }
    const serving = clusters.filter((c) => members.includes(c.name));
    const regions = new Set(serving.map((c) => c.region));
    if (members.length < 2 || regions.size < 2) {
        issues.add(
            cp,
            members,
            `at least 2 clusters in at least 2 regions (found ${members.length} in ${regions.size}): a steered entry fails over between regions`,
        );
    }
    for (const c of serving) {
        checkMember(c, `${cp}[${members.indexOf(c.name)}]`, issues);
    }
    const regionNames = new Map<string, string>();
    for (const c of serving) {
        const h = c.layer.tiers.gateway.hostname;
        const at = `${cp}[${members.indexOf(c.name)}]`;
        if (h === hostname) {
            issues.add(
                at,
                c.name,
                `a cluster whose tiers.gateway.hostname is its own name, not the steered ${hostname}`,
            );
        } else if (regionNames.has(h)) {
            issues.add(
                at,
                c.name,
                `a cluster with its own tiers.gateway.hostname (${h} is also ${regionNames.get(h)}'s): the monitor tells regions apart by name`,
            );
        }
        regionNames.set(h, c.name);
    }
    const models = new Map<string, string[]>();
    for (const c of serving.filter((x) => x.layer.tiers.inference.enabled)) {
        const m = modelOf(c);
        models.set(m, [...(models.get(m) ?? []), c.name]);
    }
    if (models.size > 1) {
        issues.add(
            cp,
            members,
            `clusters that serve the same model (found ${[...models].map(([m, cs]) => `${m} on ${cs.join(", ")}`).join("; ")}): a client must get the same answer whichever region the name steers it to`,
        );
    }
    const dp = join(path, "disabled");
    const disabled = strList(o, "disabled", path, issues, { expected: "cluster names" });
    disabled.forEach((d, i) => {
        if (!members.includes(d)) {
            issues.add(
                `${dp}[${i}]`,
                d,
                `a cluster of globalEntry.clusters (${members.join(", ")})${didYouMean(d, members)}`,
            );
        }
    });
    if (members.length > 0 && members.every((m) => disabled.includes(m))) {
        issues.add(
            dp,
            disabled,
            "at least one cluster left enabled: with every answer disabled the name answers nothing",
        );
    }
    const wp = join(path, "weights");
    const weights: Record<string, number> = {};
    const wo = obj(o.weights, wp, issues, members);
    for (const m of members) {
        weights[m] = num(wo, m, wp, issues, { ...ranges.dnsWeight, default: 1 });
    }
    if (o.weights !== undefined && policy !== "LOAD_BALANCE") {
        issues.add(
            wp,
            o.weights,
            "no weights unless policy is LOAD_BALANCE (FAILOVER uses the order of clusters)",
        );
    }
    if (policy === "LOAD_BALANCE" && members.every((m) => weights[m] === 0)) {
        issues.add(wp, o.weights, "at least one cluster with a weight above 0");
    }
    const mp = join(path, "monitor");
    const mo = obj(o.monitor, mp, issues, ["intervalSeconds", "timeoutSeconds", "vantagePoints"]);
    const intervalSeconds = num(mo, "intervalSeconds", mp, issues, {
        oneOf: monitorIntervals,
        default: 30,
    }) as (typeof monitorIntervals)[number];
    const timeoutSeconds = num(mo, "timeoutSeconds", mp, issues, {
        oneOf: monitorTimeouts,
        default: 10,
    }) as (typeof monitorTimeouts)[number];
    if (timeoutSeconds > intervalSeconds) {
        issues.add(
            join(mp, "timeoutSeconds"),
            timeoutSeconds,
            `at most intervalSeconds (${intervalSeconds}): OCI refuses a probe timeout longer than the interval`,
        );
    }
    const vantagePoints = strList(mo, "vantagePoints", mp, issues, {
        ...patterns.vantagePoint,
    });
    if (hostname === undefined || zone === undefined || zoneId === undefined) {
        return undefined;
    }
    return {
        hostname,
        zone,
        zoneId,
        policy,
        ttl,
        clusters: members,
        disabled,
        weights,
        monitor: { intervalSeconds, timeoutSeconds, vantagePoints },
    };
}

/** What a cluster behind the steered name must be: a public gateway with its own public name. */
function checkMember(c: ClusterConfig, at: string, issues: Issues): void {
    const g = c.layer.tiers.gateway;
    if (!g.enabled) {
        issues.add(
            at,
            c.name,
            `a cluster whose gateway is enabled (${c.name} has tiers.gateway.enabled: false)`,
        );
        return;
    }
    if (!c.layer.tiers.inference.enabled) {
        issues.add(
            at,
            c.name,
            `a cluster that serves the model (${c.name} has tiers.inference.enabled: false; a gateway there has no inference to answer with)`,
        );
    }
    if (privateSuffixes.some((s) => g.hostname.endsWith(s))) {
        issues.add(
            at,
            c.name,
            `a cluster whose tiers.gateway.hostname is a public name (${c.name} has ${g.hostname}): the steered name answers with each region's own name, which clients and OCI's public vantage points must resolve`,
        );
    }
    if (!c.layer.baseline.ingress.public) {
        issues.add(
            at,
            c.name,
            `a cluster with baseline.ingress.public: true (${c.name} has an internal load balancer, which OCI Health Checks' public vantage points cannot probe)`,
        );
    }
    if (c.layer.baseline.ingress.acme !== undefined) {
        issues.add(
            at,
            c.name,
            `a cluster without baseline.ingress.acme (${c.name}): an HTTP-01 challenge for the steered name reaches whichever region DNS answers with, so the other regions could never obtain their certificate`,
        );
    }
}

/** The model a cluster serves, as clients see it: name and source. */
function modelOf(c: ClusterConfig): string {
    const m = c.layer.tiers.inference.model;
    return m.source === undefined ? m.name : `${m.name} (${m.source.replace(c.name, "<cluster>")})`;
}

/** Parses `fleet`; the exceptions must name a cluster of the stack and give a reason. */
export function parseFleet(
    raw: unknown,
    path: string,
    issues: Issues,
    clusters: readonly ClusterConfig[],
): FleetConfig {
    const o = obj(raw, path, issues, ["exceptions"]);
    const names = clusters.map((c) => c.name);
    const seen = new Set<string>();
    const exceptions = list(o, "exceptions", path, issues, (item, p) => {
        if (!isObject(item)) {
            issues.add(p, item, "an object with name, cluster, objects and reason");
            return undefined;
        }
        const e = obj(item, p, issues, ["name", "cluster", "objects", "fields", "reason"]);
        const name = str(e, "name", p, issues, {
            required: true,
            ...patterns.fleetExceptionName,
        });
        if (name !== undefined && seen.has(name)) {
            issues.add(join(p, "name"), name, "a name no other exception uses");
        }
        seen.add(name ?? "");
        const cluster = str(e, "cluster", p, issues, { required: true });
        if (cluster !== undefined && !names.includes(cluster)) {
            issues.add(
                join(p, "cluster"),
                cluster,
                `the name of a cluster of this stack (${names.join(", ")})${didYouMean(cluster, names)}`,
            );
        }
        const objects = strList(e, "objects", p, issues, {
            required: true,
            ...patterns.fleetObject,
        });
        if (e.objects !== undefined && objects.length === 0) {
            issues.add(join(p, "objects"), e.objects, "at least one object pattern");
        }
        const fields =
            e.fields === undefined
                ? undefined
                : strList(e, "fields", p, issues, {
                      ...patterns.fieldPath,
                  });
        const reason = str(e, "reason", p, issues, {
            required: true,
            ...patterns.exceptionReason,
        });
        if (name === undefined || cluster === undefined || reason === undefined) {
            return undefined;
        }
        return { name, cluster, objects, fields, reason };
    });
    if (exceptions.length > 0 && clusters.length < 2) {
        issues.add(
            join(path, "exceptions"),
            o.exceptions,
            "no exceptions on a stack with one cluster",
        );
    }
    return { exceptions };
}
