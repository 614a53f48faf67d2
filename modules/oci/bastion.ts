/** The OCI Bastion of one OKE cluster: port forwarding to a private API endpoint. */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";

/** Longest session OCI Bastion allows (3 hours). */
export const bastionMaxSessionSeconds = 10800;

/** Arguments for {@link OkeBastion}. */
export interface OkeBastionArgs {
    /** Compartment of the bastion. */
    readonly compartmentId: string;
    /** Bastion name: letters and digits only (OCI refuses others). */
    readonly bastionName: string;
    /** Subnet the bastion's private endpoint sits in (the control-plane subnet). */
    readonly targetSubnetId: pulumi.Input<string>;
    /** CIDRs allowed to open sessions. */
    readonly clientCidrs: readonly string[];
    /** Longest session, seconds. Defaults to {@link bastionMaxSessionSeconds}. */
    readonly maxSessionTtlSeconds?: number;
    /** Freeform tags. */
    readonly tags: Readonly<Record<string, string>>;
}

/**
 * Takes the OkeCluster's name so its child keeps the logical name existing stacks hold; the alias
 * moves it under this component without replacement.
 */
export class OkeBastion extends pulumi.ComponentResource {
    /** Bastion OCID. */
    public readonly bastionId: pulumi.Output<string>;

    constructor(name: string, args: OkeBastionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeBastion", name, {}, opts);
        const bastion = new oci.bastion.Bastion(
            `${name}-bastion`,
            {
                bastionType: "STANDARD",
                compartmentId: args.compartmentId,
                name: args.bastionName.replace(/[^A-Za-z0-9]/g, "").slice(0, 255),
                targetSubnetId: args.targetSubnetId,
                clientCidrBlockAllowLists: [...args.clientCidrs],
                maxSessionTtlInSeconds: args.maxSessionTtlSeconds ?? bastionMaxSessionSeconds,
                freeformTags: args.tags,
            },
            { parent: this, aliases: [{ parent: opts?.parent }] },
        );
        this.bastionId = bastion.id;
        this.registerOutputs({ bastionId: this.bastionId });
    }
}
