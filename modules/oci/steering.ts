/**
 * One client-facing name for several regions: an OCI DNS traffic management steering policy
 * (FAILOVER or LOAD_BALANCE template) whose answers are the regions' own gateway names, an OCI
 * Health Checks HTTP monitor probing each region's gateway health path, and the attachment of the
 * policy to the public zone. `planGlobalEntry` is pure: config in, answers, rules and monitor out,
 * plus `steer`, which applies the rules the way the OCI docs describe them, for tests and docs.
 *
 * Sources (@pulumi/oci 4.20.0, node_modules/@pulumi/oci):
 * - dns/steeringPolicy.d.ts `template`: "All templates require the rule order to begin with an
 *   unconditional FILTER rule that keeps answers contingent upon `answer.isDisabled != true` … A
 *   defined HEALTH rule must follow the FILTER rule if the policy references a
 *   healthCheckMonitorId. The last rule of a template must be a LIMIT rule"; FAILOVER = FILTER,
 *   HEALTH, PRIORITY, LIMIT. `ttl`: default 30 s.
 * - dns/steeringPolicy.d.ts `healthCheckMonitorId`: "A steering policy answer with rdata matching a
 *   monitored endpoint will use the health data of that endpoint. A steering policy answer with
 *   rdata not matching any monitored endpoint will be assumed healthy." Hence the monitor's targets
 *   are exactly the answers' rdata.
 * - types/input.d.ts SteeringPolicyRule.ruleType: HEALTH "Removes answers … if their rdata matches
 *   a target … reported down"; PRIORITY "moving those with the lowest values to the beginning";
 *   WEIGHTED 0-255; LIMIT `defaultCount` keeps the first N. SteeringPolicyAnswer.rtype: "Only A,
 *   AAAA, and CNAME are supported."
 * - healthchecks/httpMonitor.d.ts: interval 10/30/60 s, timeout 10/20/30/60 s ≤ interval,
 *   "Monitors and probes do not support the use of the Authorization HTTP header" (the health
 *   path must answer without an API key), targets are hostnames or IP addresses.
 * - dns/steeringPolicyAttachment.d.ts `zoneId`: "Must be a public zone."
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, GlobalEntryConfig } from "../config";

/** The gateway path the monitor probes: nginx answers `ok` itself, no key, no guardrails. */
export const gatewayHealthPath = "/healthz";

/** One answer of the steering policy: a region's own gateway name. */
export interface SteeringAnswer {
    /** Answer and pool name: the cluster. */
    readonly name: string;
    readonly pool: string;
    readonly rtype: "CNAME";
    /** The region's gateway name (tiers.gateway.hostname), also a monitor target. */
    readonly rdata: string;
    /** Drained by config (`globalEntry.disabled`): the FILTER rule drops it. */
    readonly isDisabled: boolean;
    /** FAILOVER rank (0 = first) or LOAD_BALANCE weight. */
    readonly rank: number;
    readonly region: string;
}

/** One rule, in the shape of @pulumi/oci's `SteeringPolicyRule` input. */
export interface SteeringRule {
    readonly ruleType: "FILTER" | "HEALTH" | "PRIORITY" | "WEIGHTED" | "LIMIT";
    readonly description: string;
    readonly defaultAnswerDatas?: readonly {
        readonly answerCondition: string;
        readonly shouldKeep?: boolean;
        readonly value?: number;
    }[];
    readonly defaultCount?: number;
}

/** What {@link planGlobalEntry} returns. */
export interface GlobalEntryPlan {
    readonly hostname: string;
    readonly zoneId: string;
    readonly template: GlobalEntryConfig["policy"];
    readonly ttl: number;
    readonly answers: readonly SteeringAnswer[];
    readonly rules: readonly SteeringRule[];
    readonly monitor: {
        readonly protocol: "HTTPS";
        readonly port: 443;
        readonly method: "GET";
        readonly path: string;
        readonly targets: readonly string[];
        readonly intervalSeconds: number;
        readonly timeoutSeconds: number;
        readonly vantagePoints: readonly string[];
    };
    /**
     * Longest time a client can still be sent to a region after it stops answering, in seconds:
     * the gap to the next probe (interval), that probe's timeout, and the TTL a resolver may keep
     * serving the old answer. Assumes one failed probe round marks the target down (see
     * docs/multi-region.md: the number of failing vantage points OCI requires is not documented in
     * the sources checked).
     */
    readonly worstCaseFailoverSeconds: number;
}

/**
 * Plans the steered entry: answers in failover order (or with weights), the template's rules and
 * the monitor whose targets are exactly the answers' rdata.
 */
export function planGlobalEntry(
    clusters: readonly ClusterConfig[],
    entry: GlobalEntryConfig,
): GlobalEntryPlan {
    const byName = new Map(clusters.map((c) => [c.name, c]));
    const answers = entry.clusters.map((name, i): SteeringAnswer => {
        const c = byName.get(name);
        if (c === undefined) {
            throw new Error(
                `globalEntry.clusters names ${name}, which is not a cluster of the stack`,
            );
        }
        return {
            name,
            pool: name,
            rtype: "CNAME",
            rdata: c.layer.tiers.gateway.hostname,
            isDisabled: entry.disabled.includes(name),
            rank: entry.policy === "FAILOVER" ? i : (entry.weights[name] ?? 1),
            region: c.region,
        };
    });
    const pool = (a: SteeringAnswer) => `answer.pool == '${a.pool}'`;
    const rules: SteeringRule[] = [
        {
            ruleType: "FILTER",
            description: "Drop answers an operator disabled.",
            defaultAnswerDatas: [
                { answerCondition: "answer.isDisabled != true", shouldKeep: true },
            ],
        },
        { ruleType: "HEALTH", description: "Drop regions whose gateway health probe fails." },
        entry.policy === "FAILOVER"
            ? {
                  ruleType: "PRIORITY",
                  description: "Regions in the order of globalEntry.clusters.",
                  defaultAnswerDatas: answers.map((a) => ({
                      answerCondition: pool(a),
                      value: a.rank,
                  })),
              }
            : {
                  ruleType: "WEIGHTED",
                  description: "Regions by globalEntry.weights.",
                  defaultAnswerDatas: answers.map((a) => ({
                      answerCondition: pool(a),
                      value: a.rank,
                  })),
              },
        // One CNAME per name: DNS allows no other record next to a CNAME (RFC 1034 §3.6.2).
        { ruleType: "LIMIT", description: "Answer with one region.", defaultCount: 1 },
    ];
    return {
        hostname: entry.hostname,
        zoneId: entry.zoneId,
        template: entry.policy,
        ttl: entry.ttl,
        answers,
        rules,
        monitor: {
            protocol: "HTTPS",
            port: 443,
            method: "GET",
            path: gatewayHealthPath,
            targets: answers.map((a) => a.rdata),
            intervalSeconds: entry.monitor.intervalSeconds,
            timeoutSeconds: entry.monitor.timeoutSeconds,
            vantagePoints: entry.monitor.vantagePoints,
        },
        worstCaseFailoverSeconds:
            entry.monitor.intervalSeconds + entry.monitor.timeoutSeconds + entry.ttl,
    };
}

/** What a resolver gets for the steered name, given which regions are healthy and enabled. */
export interface SteeredAnswer {
    /** The answers that survive FILTER and HEALTH, in the order the next rule sees them. */
    readonly candidates: readonly SteeringAnswer[];
    /**
     * FAILOVER: the one answer served. LOAD_BALANCE: undefined (one candidate is drawn per query
     * with probability `weight / sum of weights`, see `shares`).
     */
    readonly answer?: SteeringAnswer;
    /** LOAD_BALANCE: the share of queries each candidate gets. */
    readonly shares?: Readonly<Record<string, number>>;
    /** True when no region is left: OCI's answer in that case is not documented (see docs). */
    readonly empty: boolean;
}

/**
 * Applies the plan's rules the way OCI documents them (FILTER → HEALTH → PRIORITY/WEIGHTED →
 * LIMIT) for a given set of unhealthy and disabled regions.
 */
export function steer(
    plan: GlobalEntryPlan,
    state: { readonly unhealthy?: readonly string[]; readonly disabled?: readonly string[] } = {},
): SteeredAnswer {
    const down = new Set(state.unhealthy ?? []);
    const off = new Set([
        ...plan.answers.filter((a) => a.isDisabled).map((a) => a.name),
        ...(state.disabled ?? []),
    ]);
    // HEALTH matches an answer to a monitor target by rdata.
    const downTargets = new Set(plan.answers.filter((a) => down.has(a.name)).map((a) => a.rdata));
    const candidates = plan.answers.filter((a) => !off.has(a.name) && !downTargets.has(a.rdata));
    if (candidates.length === 0) {
        return { candidates, empty: true };
    }
    if (plan.template === "FAILOVER") {
        // PRIORITY is a stable sort by value; LIMIT 1 keeps the first.
        const sorted = [...candidates].sort((a, b) => a.rank - b.rank);
        return { candidates: sorted, answer: sorted[0], empty: false };
    }
    const weighted = candidates.filter((a) => a.rank > 0);
    const total = weighted.reduce((s, a) => s + a.rank, 0);
    if (total === 0) {
        return { candidates, empty: true };
    }
    return {
        candidates: weighted,
        shares: Object.fromEntries(weighted.map((a) => [a.name, a.rank / total])),
        empty: false,
    };
}

/** Arguments for {@link GlobalEntry}. */
export interface GlobalEntryArgs {
    /** Compartment of the policy and monitor. */
    readonly compartmentId: pulumi.Input<string>;
    /** The planned entry ({@link planGlobalEntry}). */
    readonly plan: GlobalEntryPlan;
    /** Freeform tags on every resource. Defaults to none. */
    readonly tags?: Record<string, string>;
}

/** The steered entry: health monitor, steering policy and its attachment to the zone. */
export class GlobalEntry extends pulumi.ComponentResource {
    /** OCID of the steering policy. */
    public readonly steeringPolicyId: pulumi.Output<string>;
    /** OCID of the health check monitor. */
    public readonly monitorId: pulumi.Output<string>;

    constructor(name: string, args: GlobalEntryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:GlobalEntry", name, {}, opts);
        const p = args.plan;
        const child = { parent: this };
        const monitor = new oci.healthchecks.HttpMonitor(
            `${name}-monitor`,
            {
                compartmentId: args.compartmentId,
                displayName: `${name} gateway health`,
                protocol: p.monitor.protocol,
                port: p.monitor.port,
                method: p.monitor.method,
                path: p.monitor.path,
                targets: [...p.monitor.targets],
                intervalInSeconds: p.monitor.intervalSeconds,
                timeoutInSeconds: p.monitor.timeoutSeconds,
                vantagePointNames:
                    p.monitor.vantagePoints.length > 0 ? [...p.monitor.vantagePoints] : undefined,
                isEnabled: true,
                freeformTags: args.tags,
            },
            child,
        );
        const policy = new oci.dns.SteeringPolicy(
            `${name}-policy`,
            {
                compartmentId: args.compartmentId,
                displayName: `${name} ${p.hostname}`,
                template: p.template,
                ttl: p.ttl,
                healthCheckMonitorId: monitor.id,
                answers: p.answers.map((a) => ({
                    name: a.name,
                    pool: a.pool,
                    rtype: a.rtype,
                    rdata: a.rdata,
                    isDisabled: a.isDisabled,
                })),
                rules: p.rules.map((r) => ({
                    ruleType: r.ruleType,
                    description: r.description,
                    defaultAnswerDatas: r.defaultAnswerDatas?.map((d) => ({ ...d })),
                    defaultCount: r.defaultCount,
                })),
                freeformTags: args.tags,
            },
            child,
        );
        new oci.dns.SteeringPolicyAttachment(
            `${name}-attachment`,
            {
                zoneId: p.zoneId,
                domainName: p.hostname,
                steeringPolicyId: policy.id,
                displayName: `${name} ${p.hostname}`,
            },
            child,
        );
        this.steeringPolicyId = policy.id;
        this.monitorId = monitor.id;
        this.registerOutputs({
            steeringPolicyId: this.steeringPolicyId,
            monitorId: this.monitorId,
        });
    }
}
