/** The gateway, guardrails, inference and output-filter tiers (issue 4). */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "../args";

/** The gateway, guardrails, inference and output-filter tiers (issue 4). */
export class LlmTiers extends pulumi.ComponentResource {
    constructor(name: string, _args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:llm:LlmTiers", name, {}, opts);
        this.registerOutputs({});
    }
}
