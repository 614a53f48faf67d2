/**
 * OCI IAM statements of an OKE cluster, written as exact policy text (pure). Every statement
 * names its subject narrowly and carries a `where` clause that scopes it to
 * one key, one bucket, one vault or one cluster: no `manage all-resources`, no bare `any-user`.
 */
import type { WorkloadIdentitySubject } from "../constants/identities";

/** Ids the key policy is scoped to (all plain strings: resolve Outputs first). */
export interface KeyPolicyScope {
    /** Compartment holding the keys. */
    readonly keyCompartmentId: string;
    /** Compartment of the OKE cluster and node pools allowed to use them. */
    readonly principalCompartmentId: string;
    /** Region of the cluster, for the regional Object Storage service principal. */
    readonly region: string;
    /** Key encrypting Kubernetes secrets (Cluster.kmsKeyId). */
    readonly secretsKeyId: string;
    /** Key encrypting boot and block volumes. */
    readonly volumesKeyId: string;
    /** Key encrypting the model bucket. */
    readonly modelsKeyId: string;
    /** RSA key used to verify image signatures, when signing is enforced. */
    readonly signingKeyId?: string;
    /** Compartment of the registry repositories holding the signed images. Defaults to the keys' compartment. */
    readonly repoCompartmentId?: string;
}

/** `ALL {…}` over conditions. */
function all(...conditions: string[]): string {
    return `ALL {${conditions.join(", ")}}`;
}

/**
 * Statements that must exist before the cluster, the node pools and the bucket are created:
 * missing ones surface as `404-NotAuthorizedOrFoundKmsKey`.
 */
export function keyPolicyStatements(s: KeyPolicyScope): string[] {
    const c = `compartment id ${s.keyCompartmentId}`;
    const key = (id: string) => `target.key.id = '${id}'`;
    // `any-user` grants to OKE's cluster and nodepool principals are tied to the cluster's
    // compartment with `request.principal.compartment.id`, so a cluster elsewhere in the tenancy
    // cannot use these keys. The cluster's own OCID cannot be named: these grants must exist before
    // the cluster (test "ties key grants to OKE principals of this compartment" in
    // test/oci/pure.test.ts).
    const principal = (type: string) => [
        `request.principal.type = '${type}'`,
        `request.principal.compartment.id = '${s.principalCompartmentId}'`,
    ];
    const statements = [
        // etcd secrets encryption by the control plane.
        `Allow any-user to use keys in ${c} where ${all(...principal("cluster"), key(s.secretsKeyId))}`,
        // Managed node-pool boot volumes (the nodepool line is required since 2024-08-15).
        `Allow service oke to use key-delegates in ${c} where ${key(s.volumesKeyId)}`,
        `Allow service blockstorage to use keys in ${c} where ${key(s.volumesKeyId)}`,
        `Allow any-user to use key-delegates in ${c} where ${all(...principal("nodepool"), key(s.volumesKeyId))}`,
        // CSI block volumes created by the cluster (StorageClass kms-key-id).
        `Allow any-user to use key-delegates in ${c} where ${all(...principal("cluster"), key(s.volumesKeyId))}`,
        // Server-side encryption of the model bucket.
        `Allow service objectstorage-${s.region} to use keys in ${c} where ${key(s.modelsKeyId)}`,
    ];
    if (s.signingKeyId !== undefined) {
        // Image verification: the cluster reads image signatures from the registry and checks them
        // with the signing key. Without `read repos` the cluster cannot fetch the signatures and
        // refuses every image (OKE "Enforcing the Use of Signed Images from Registry",
        // https://docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/contengenforcingsignedimagesfromocir.htm).
        // Scoped like the key grants: cluster principals of this compartment; repositories of the
        // compartment the image mirror pushes to. Test: "lets the cluster read the signed images'
        // repositories when signing is on" in test/oci/pure.test.ts.
        statements.push(
            `Allow any-user to use keys in ${c} where ${all(...principal("cluster"), key(s.signingKeyId))}`,
            `Allow any-user to read repos in compartment id ${s.repoCompartmentId ?? s.keyCompartmentId} where ${all(...principal("cluster"))}`,
        );
    }
    return statements;
}

/** Ids the workload policy is scoped to. */
export interface WorkloadPolicyScope {
    /** Compartment of the vault, keys and bucket. */
    readonly compartmentId: string;
    /** The OKE cluster whose workloads are trusted. */
    readonly clusterId: string;
    readonly modelsKeyId: string;
    readonly modelBucketName: string;
    readonly vaultId: string;
    /** The model loader's ServiceAccount. */
    readonly modelLoader: WorkloadIdentitySubject;
    /** External Secrets' ServiceAccount. */
    readonly externalSecrets: WorkloadIdentitySubject;
}

/** The conditions that identify one ServiceAccount of one cluster (OKE workload identity). */
export function workloadConditions(subject: WorkloadIdentitySubject, clusterId: string): string[] {
    return [
        "request.principal.type = 'workload'",
        `request.principal.namespace = '${subject.namespace}'`,
        `request.principal.service_account = '${subject.serviceAccount}'`,
        `request.principal.cluster_id = '${clusterId}'`,
    ];
}

/** Statements for workloads of the cluster: the model loader and External Secrets. */
export function workloadPolicyStatements(s: WorkloadPolicyScope): string[] {
    const c = `compartment id ${s.compartmentId}`;
    const loader = workloadConditions(s.modelLoader, s.clusterId);
    const eso = workloadConditions(s.externalSecrets, s.clusterId);
    return [
        `Allow any-user to use keys in ${c} where ${all(...loader, `target.key.id = '${s.modelsKeyId}'`)}`,
        `Allow any-user to read objects in ${c} where ${all(...loader, `target.bucket.name = '${s.modelBucketName}'`)}`,
        `Allow any-user to read secret-bundles in ${c} where ${all(...eso, `target.vault.id = '${s.vaultId}'`)}`,
    ];
}

/** Ids the self-managed worker policy is scoped to. */
export interface SelfManagedPolicyScope {
    /** Compartment of the cluster and the instances. */
    readonly compartmentId: string;
    /** Compartment of the volumes key. */
    readonly keyCompartmentId: string;
    readonly clusterId: string;
    /** OCID of the workers' dynamic group. */
    readonly dynamicGroupId: string;
    readonly volumesKeyId: string;
}

/** Statements that let self-managed workers join this cluster and boot from encrypted volumes. */
export function selfManagedWorkerStatements(s: SelfManagedPolicyScope): string[] {
    const dg = `dynamic-group id ${s.dynamicGroupId}`;
    return [
        `Allow ${dg} to {CLUSTER_JOIN} in compartment id ${s.compartmentId} where ${all(`target.cluster.id = '${s.clusterId}'`)}`,
        `Allow ${dg} to use key-delegates in compartment id ${s.keyCompartmentId} where target.key.id = '${s.volumesKeyId}'`,
    ];
}

/**
 * Lets the Unified Monitoring Agent on the workers write into the cluster's log group only
 * (`target.loggroup.id` is a documented variable of `log-content`, OCI "Details for Logging").
 */
export function logShippingStatements(s: {
    compartmentId: string;
    dynamicGroupId: string;
    logGroupId: string;
}): string[] {
    return [
        `Allow dynamic-group id ${s.dynamicGroupId} to use log-content in compartment id ${s.compartmentId} where target.loggroup.id = '${s.logGroupId}'`,
    ];
}

/** The defined tag that marks one cluster's worker instances (namespace, key and value). */
export interface WorkerTag {
    /** Tag namespace the program creates for the cluster. */
    readonly namespace: string;
    /** Tag key inside it. */
    readonly key: string;
    /** Value every worker of the cluster carries. */
    readonly value: string;
}

/** Tag namespace and tag of a cluster's workers: `slp_<stack>_<cluster>.cluster = <cluster>`. */
export function workerTag(stack: string, cluster: string): WorkerTag {
    return {
        namespace: `slp_${stack}_${cluster}`.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 100),
        key: "cluster",
        value: cluster,
    };
}

/**
 * Matching rule of a cluster's workers' dynamic group: instances of the compartment that carry the
 * cluster's defined tag. Matching rules can narrow only by compartment, instance OCID or a
 * *defined* tag, written `tag.<namespace>.<key>.value = '<value>'` inside `ALL {…}` (OCI "Writing
 * Matching Rules to Define Dynamic Groups",
 * https://docs.oracle.com/en-us/iaas/Content/Identity/dynamicgroups/Writing_Matching_Rules_to_Define_Dynamic_Groups.htm).
 * Without the tag, every instance of the compartment could join either cluster. Only principals
 * allowed to `use tag-namespaces` on the namespace can set the tag. Test: "matches only instances
 * carrying the cluster's defined tag" in test/oci/oke-cluster.test.ts.
 */
export function workerDynamicGroupRule(compartmentId: string, tag: WorkerTag): string {
    return all(
        `instance.compartment.id = '${compartmentId}'`,
        `tag.${tag.namespace}.${tag.key}.value = '${tag.value}'`,
    );
}

/** Tenancy-unique IAM name: `<prefix>-<stack>-<cluster>`, cut to OCI's 100 characters. */
export function iamName(prefix: string, stack: string, cluster: string): string {
    return `${prefix}-${stack}-${cluster}`.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 100);
}
