/** The key-delegate policy of one OKE cluster and the wait for IAM to honour it. */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import * as time from "@pulumiverse/time";
import { keyPolicyStatements } from "./iam-statements";

/**
 * How long to wait after creating IAM policies before using what they grant. OCI IAM is eventually
 * consistent: a policy returned as ACTIVE may not yet be honoured by KMS or OKE, and the first
 * `pulumi up` then fails with 404-NotAuthorizedOrFoundKmsKey. The value is a margin, not an OCI
 * figure. Test: "waits for IAM propagation between the policies and what uses them" in
 * test/oci/oke-cluster.test.ts.
 */
export const iamPropagationSeconds = 60;

/** Arguments for {@link OkeKeyGrants}. */
export interface OkeKeyGrantsArgs {
    /** Compartment of the keys, of the policy and of the principals (cluster, node pools). */
    readonly compartmentId: string;
    /** Region of the keys (policy statements name it). */
    readonly region: string;
    /** Policy name (unique in the tenancy). */
    readonly policyName: string;
    /** Policy description. */
    readonly description: string;
    /** Key OCIDs by purpose; `signing` is granted only when image signing is on. */
    readonly keys: {
        readonly secrets: pulumi.Input<string>;
        readonly volumes: pulumi.Input<string>;
        readonly models: pulumi.Input<string>;
        readonly signing?: pulumi.Input<string>;
    };
    /** Provider of the home region, where IAM resources live. */
    readonly homeProvider: oci.Provider;
    /** Freeform tags. */
    readonly tags: Readonly<Record<string, string>>;
}

/**
 * Key policies first: without them cluster, node pool and bucket creation fail with
 * 404-NotAuthorizedOrFoundKmsKey. Takes the OkeCluster's name so its children keep their logical
 * names; the alias moves them under this component without replacement.
 */
export class OkeKeyGrants extends pulumi.ComponentResource {
    /** What a key user must depend on: the policy and the propagation wait. */
    public readonly ready: pulumi.Resource[];
    /** The policy (self-managed pools depend on it alone where the wait is elsewhere). */
    public readonly policy: oci.identity.Policy;

    constructor(name: string, args: OkeKeyGrantsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeKeyGrants", name, {}, opts);
        const aliases = [{ parent: opts?.parent }];
        const policy = new oci.identity.Policy(
            `${name}-keys-policy`,
            {
                compartmentId: args.compartmentId,
                name: args.policyName,
                description: args.description,
                statements: pulumi
                    .all([
                        args.keys.secrets,
                        args.keys.volumes,
                        args.keys.models,
                        args.keys.signing,
                    ])
                    .apply(([secretsKeyId, volumesKeyId, modelsKeyId, signingKeyId]) =>
                        keyPolicyStatements({
                            keyCompartmentId: args.compartmentId,
                            principalCompartmentId: args.compartmentId,
                            region: args.region,
                            secretsKeyId,
                            volumesKeyId,
                            modelsKeyId,
                            signingKeyId,
                        }),
                    ),
                freeformTags: args.tags,
            },
            { parent: this, provider: args.homeProvider, aliases },
        );
        const wait = new time.Sleep(
            `${name}-keys-policy-wait`,
            { createDuration: `${iamPropagationSeconds}s` },
            { parent: this, dependsOn: [policy], aliases },
        );
        this.policy = policy;
        this.ready = [policy, wait];
        this.registerOutputs({ policyId: policy.id });
    }
}
