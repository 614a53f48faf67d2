/** Prometheus, Grafana, monitors, alert rules, dashboards and log shipping (issue 7). */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "./args";

/** Prometheus, Grafana, monitors, alert rules, dashboards and log shipping (issue 7). */
export class Observability extends pulumi.ComponentResource {
    constructor(name: string, _args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:observability:Observability", name, {}, opts);
        this.registerOutputs({});
    }
}
