/**
 * IAM of one OKE cluster after the cluster exists: the workload-identity policy, the defined tag
 * marking its workers, the workers' dynamic group and the self-managed join policy.
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import * as time from "@pulumiverse/time";
import { workloadIdentities } from "../constants/identities";
import {
    WorkerTag,
    iamName,
    selfManagedWorkerStatements,
    workerDynamicGroupRule,
    workloadPolicyStatements,
} from "./iam-statements";
import { iamPropagationSeconds } from "./key-grants";

/** Arguments for {@link OkeIdentity}. */
export interface OkeIdentityArgs {
    /** Compartment of the cluster, keys, bucket, vault and policies. */
    readonly compartmentId: string;
    /** Tenancy OCID (dynamic groups live in the root compartment). */
    readonly tenancyId: string;
    /** Stack name (IAM names and descriptions carry it). */
    readonly stack: string;
    /** Cluster name (IAM names and descriptions carry it). */
    readonly clusterName: string;
    /** The OKE cluster. */
    readonly clusterId: pulumi.Input<string>;
    /** Models key (the model loader decrypts with it). */
    readonly modelsKeyId: pulumi.Input<string>;
    /** Volumes key (self-managed workers boot from volumes it encrypts). */
    readonly volumesKeyId: pulumi.Input<string>;
    /** Model bucket name (the model loader reads it). */
    readonly modelBucketName: pulumi.Input<string>;
    /** Vault OCID (External Secrets reads its secrets). */
    readonly vaultId: pulumi.Input<string>;
    /** The defined tag every worker of the cluster carries. */
    readonly workerTag: WorkerTag;
    /** Create the workers' dynamic group (self-managed joins, log shipping). Defaults to false. */
    readonly workersGroup?: boolean;
    /** Grant the workers' group `CLUSTER_JOIN` (self-managed pools). Needs `workersGroup`. Defaults to false. */
    readonly selfManagedJoin?: boolean;
    /** Provider of the home region, where IAM resources live. */
    readonly homeProvider: oci.Provider;
    /** Freeform tags. */
    readonly tags: Readonly<Record<string, string>>;
}

/**
 * Takes the OkeCluster's name so its children keep the logical names existing stacks hold; the
 * alias moves them under this component without replacement.
 */
export class OkeIdentity extends pulumi.ComponentResource {
    /** `<namespace>.<key>` → value: the defined tags every worker must carry. */
    public readonly workerDefinedTags: Record<string, string>;
    /** The tag key resource (whatever sets the tag depends on it). */
    public readonly workerTagKey: oci.identity.Tag;
    /** The workers' dynamic group, when created. */
    public readonly workersGroupId?: pulumi.Output<string>;
    /** What a self-managed join must depend on: the join policy and its propagation wait. */
    public readonly joinReady: pulumi.Resource[];

    constructor(name: string, args: OkeIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:OkeIdentity", name, {}, opts);
        const { compartmentId, tags } = args;
        const home = {
            parent: this,
            provider: args.homeProvider,
            aliases: [{ parent: opts?.parent }],
        };
        const iam = (prefix: string) => iamName(prefix, args.stack, args.clusterName);
        const cluster = `OKE cluster ${args.clusterName}`;
        const subject = `${cluster} of stack ${args.stack}`;

        // Workloads trusted through OKE workload identity: exactly one ServiceAccount each.
        new oci.identity.Policy(
            `${name}-workloads-policy`,
            {
                compartmentId,
                name: iam("oke-workloads"),
                description: `Workload identities of ${subject}: model loader, External Secrets`,
                statements: pulumi
                    .all([args.clusterId, args.modelsKeyId, args.modelBucketName, args.vaultId])
                    .apply(([cid, modelsKeyId, modelBucketName, vaultId]) =>
                        workloadPolicyStatements({
                            compartmentId,
                            clusterId: cid,
                            modelsKeyId,
                            modelBucketName,
                            vaultId,
                            modelLoader: workloadIdentities.modelLoader,
                            externalSecrets: workloadIdentities.externalSecrets,
                        }),
                    ),
                freeformTags: tags,
            },
            home,
        );

        // A defined tag this program owns marks the cluster's workers (node pools and instance
        // configurations carry it), so the dynamic group matches them and no other instance of
        // the compartment. Tag namespaces are IAM resources: home region.
        const nodeTag = args.workerTag;
        const tagNamespace = new oci.identity.TagNamespace(
            `${name}-tag-ns`,
            {
                compartmentId,
                name: nodeTag.namespace,
                description: `Worker tags of ${subject}`,
                freeformTags: tags,
            },
            home,
        );
        const workerTagKey = new oci.identity.Tag(
            `${name}-tag-cluster`,
            {
                tagNamespaceId: tagNamespace.id,
                name: nodeTag.key,
                description: `Marks the worker instances of ${cluster}; dynamic group ${iam("oke-workers")} matches it`,
                validator: { validatorType: "ENUM", values: [nodeTag.value] },
                freeformTags: tags,
            },
            home,
        );
        const workersGroup =
            (args.workersGroup ?? false)
                ? new oci.identity.DynamicGroup(
                      `${name}-workers-dg`,
                      {
                          compartmentId: args.tenancyId,
                          name: iam("oke-workers"),
                          description: `Worker instances of ${subject}`,
                          matchingRule: workerDynamicGroupRule(compartmentId, nodeTag),
                          freeformTags: tags,
                      },
                      { ...home, dependsOn: [workerTagKey] },
                  )
                : undefined;
        const joinReady: pulumi.Resource[] = [];
        if ((args.selfManagedJoin ?? false) && workersGroup !== undefined) {
            const dg = workersGroup;
            const workersPolicy = new oci.identity.Policy(
                `${name}-workers-policy`,
                {
                    compartmentId,
                    name: iam("oke-workers"),
                    description: `Self-managed workers may join ${subject}`,
                    statements: pulumi
                        .all([args.clusterId, dg.id, args.volumesKeyId])
                        .apply(([cid, dgId, volumesKeyId]) =>
                            selfManagedWorkerStatements({
                                compartmentId,
                                keyCompartmentId: compartmentId,
                                clusterId: cid,
                                dynamicGroupId: dgId,
                                volumesKeyId,
                            }),
                        ),
                    freeformTags: tags,
                },
                home,
            );
            const wait = new time.Sleep(
                `${name}-workers-policy-wait`,
                { createDuration: `${iamPropagationSeconds}s` },
                {
                    parent: this,
                    dependsOn: [workersPolicy, workersGroup],
                    aliases: [{ parent: opts?.parent }],
                },
            );
            joinReady.push(workersPolicy, wait);
        }

        this.workerDefinedTags = { [`${nodeTag.namespace}.${nodeTag.key}`]: nodeTag.value };
        this.workerTagKey = workerTagKey;
        this.workersGroupId = workersGroup?.id;
        this.joinReady = joinReady;
        this.registerOutputs({ workersGroupId: this.workersGroupId });
    }
}
