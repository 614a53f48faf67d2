/** Default-deny NetworkPolicy, tier flows and the FQDN egress engine (issue 6). */
import * as pulumi from "@pulumi/pulumi";
import type { ClusterLayerArgs } from "../args";

/** Default-deny NetworkPolicy, tier flows and the FQDN egress engine (issue 6). */
export class NetworkSecurity extends pulumi.ComponentResource {
    constructor(name: string, _args: ClusterLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:network:NetworkSecurity", name, {}, opts);
        this.registerOutputs({});
    }
}
