/** PriorityClasses: serving above platform services above batch and pipelines. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { labels, partOfValue } from "../../constants/labels";
import { priorityClasses } from "../../constants/scheduling";

/** Values, highest first: serving preempts platform services, which preempt batch and pipelines. */
export const priorityValues: Readonly<Record<keyof typeof priorityClasses, number>> = {
    serving: 1_000_000,
    platform: 900_000,
    batch: 100_000,
};

const descriptions: Record<keyof typeof priorityClasses, string> = {
    serving: "LLM serving tiers: preempt everything else of the platform",
    platform: "Platform services (ingress, secrets, certificates, monitoring)",
    batch: "Batch jobs and pipelines: never preempt, first to be preempted",
};

/** The platform's PriorityClasses; none is the global default. */
export class PriorityClasses extends pulumi.ComponentResource {
    constructor(
        name: string,
        _args: Record<string, never>,
        opts?: pulumi.ComponentResourceOptions,
    ) {
        super("secure-llm-platform:baseline:PriorityClasses", name, {}, opts);
        const created: pulumi.Output<string>[] = [];
        for (const key of Object.keys(priorityClasses) as (keyof typeof priorityClasses)[]) {
            const pc = new k8s.scheduling.v1.PriorityClass(
                `${name}-${key}`,
                {
                    metadata: {
                        name: priorityClasses[key],
                        labels: { [labels.partOf]: partOfValue },
                    },
                    value: priorityValues[key],
                    globalDefault: false,
                    preemptionPolicy: key === "batch" ? "Never" : "PreemptLowerPriority",
                    description: descriptions[key],
                },
                { parent: this },
            );
            created.push(pc.metadata.name);
        }
        this.registerOutputs({ priorityClasses: created });
    }
}
