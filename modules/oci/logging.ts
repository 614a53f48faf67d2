/**
 * OCI Logging for one OKE cluster: a log group holding the control plane's service logs and the
 * guardrail decision log. API-server calls are recorded by OCI Audit without configuration.
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { isValidLogRetention, logRetentionChoices } from "../config/observability";
import { logShippingStatements } from "./iam-statements";

/** Arguments for {@link AuditLogging}. */
export interface AuditLoggingArgs {
    /** Compartment of the log group and logs. */
    readonly compartmentId: pulumi.Input<string>;
    /** OKE cluster OCID whose control-plane service logs are collected. */
    readonly clusterId: pulumi.Input<string>;
    /** Cluster name, used in display names. */
    readonly clusterName: string;
    /** Days OCI Logging keeps the logs: 30, 60, …, 180. */
    readonly retentionDays: number;
    /** Free-form tags for every resource. Defaults to none. */
    readonly tags?: Record<string, string>;
    /**
     * Dynamic group of the cluster's worker instances; the Unified Monitoring Agent on those hosts
     * ships the decision log. Without it no agent configuration is created. Defaults to none.
     */
    readonly dynamicGroupId?: pulumi.Input<string>;
    /** Ship the guardrail decision log. Defaults to true. */
    readonly decisionLogs?: boolean;
    /** Host path globs of the log files the agent tails (the cluster layer's pod log paths). */
    readonly decisionLogPaths: readonly string[];
    /**
     * The policy letting the dynamic group write into the log group (created with the agent
     * configuration): its tenancy-unique name and the home-region provider. Defaults to none.
     */
    readonly shippingPolicy?: { readonly name: string; readonly homeProvider: oci.Provider };
}

/** Unified Monitoring Agent configuration that tails the guardrails' decision log lines. */
export function decisionLogAgentConfig(
    logObjectId: pulumi.Input<string>,
    paths: readonly string[],
): oci.types.input.Logging.UnifiedAgentConfigurationServiceConfiguration {
    return {
        configurationType: "LOGGING",
        destination: { logObjectId },
        sources: [
            {
                name: "guardrails_decisions",
                sourceType: "LOG_TAIL",
                paths: [...paths],
                parser: { parserType: "CRI" },
            },
        ],
        // Only decision records leave the node: other server output may quote prompts.
        unifiedAgentConfigurationFilters: [
            {
                name: "decisions_only",
                filterType: "GREP_FILTER",
                allowLists: [{ key: "message", pattern: '"event":\\s*"guardrails\\.decision"' }],
            },
        ],
    };
}

/** Log group, OKE service log, guardrail decision log and the agent configuration that feeds it. */
export class AuditLogging extends pulumi.ComponentResource {
    public readonly logGroupId: pulumi.Output<string>;
    public readonly serviceLogId: pulumi.Output<string>;
    public readonly decisionLogId?: pulumi.Output<string>;

    constructor(name: string, args: AuditLoggingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:AuditLogging", name, {}, opts);
        if (!isValidLogRetention(args.retentionDays)) {
            throw new pulumi.ResourceError(
                `log retention of ${args.retentionDays} days is not accepted by OCI Logging; use one of ${logRetentionChoices.join(", ")}`,
                this,
            );
        }
        const decisionLogs = args.decisionLogs ?? true;
        const freeformTags = args.tags ?? {};
        const child = { parent: this };

        const group = new oci.logging.LogGroup(
            `${name}-group`,
            {
                compartmentId: args.compartmentId,
                displayName: `${args.clusterName}-platform-logs`,
                description: `OKE control-plane and guardrail decision logs of cluster ${args.clusterName}`,
                freeformTags,
            },
            child,
        );
        const service = new oci.logging.Log(
            `${name}-oke`,
            {
                logGroupId: group.id,
                displayName: `${args.clusterName}-oke-service`,
                logType: "SERVICE",
                isEnabled: true,
                retentionDuration: args.retentionDays,
                configuration: {
                    compartmentId: args.compartmentId,
                    source: {
                        sourceType: "OCISERVICE",
                        service: "oke-k8s-cp-prod",
                        category: "all-service-logs",
                        resource: args.clusterId,
                    },
                },
                freeformTags,
            },
            child,
        );
        this.logGroupId = group.id;
        this.serviceLogId = service.id;

        if (decisionLogs) {
            const decisions = new oci.logging.Log(
                `${name}-decisions`,
                {
                    logGroupId: group.id,
                    displayName: `${args.clusterName}-guardrail-decisions`,
                    logType: "CUSTOM",
                    isEnabled: true,
                    retentionDuration: args.retentionDays,
                    freeformTags,
                },
                child,
            );
            this.decisionLogId = decisions.id;
            if (args.dynamicGroupId !== undefined) {
                new oci.logging.UnifiedAgentConfiguration(
                    `${name}-agent`,
                    {
                        compartmentId: args.compartmentId,
                        displayName: `${args.clusterName}-guardrail-decisions`,
                        description:
                            "Ships guardrail decision records (ids, rails, verdicts; no prompt text)",
                        isEnabled: true,
                        groupAssociation: { groupLists: [args.dynamicGroupId] },
                        serviceConfiguration: decisionLogAgentConfig(
                            decisions.id,
                            args.decisionLogPaths,
                        ),
                        freeformTags,
                    },
                    child,
                );
                if (args.shippingPolicy !== undefined) {
                    const dynamicGroupId = args.dynamicGroupId;
                    new oci.identity.Policy(
                        `${name}-policy`,
                        {
                            compartmentId: args.compartmentId,
                            name: args.shippingPolicy.name,
                            description: `Workers of OKE cluster ${args.clusterName} may ship guardrail decision logs`,
                            statements: pulumi
                                .all([args.compartmentId, dynamicGroupId, group.id])
                                .apply(([compartmentId, dgId, logGroupId]) =>
                                    logShippingStatements({
                                        compartmentId,
                                        dynamicGroupId: dgId,
                                        logGroupId,
                                    }),
                                ),
                            freeformTags,
                        },
                        {
                            parent: this,
                            provider: args.shippingPolicy.homeProvider,
                            aliases: [{ parent: opts?.parent }],
                        },
                    );
                }
            }
        }
        this.registerOutputs({
            logGroupId: this.logGroupId,
            serviceLogId: this.serviceLogId,
            decisionLogId: this.decisionLogId,
        });
    }
}
