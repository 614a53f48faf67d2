/**
 * Rules over OCI resources: customer-managed keys on clusters, boot volumes and buckets (CIS OKE
 * Benchmark, NSA C-0066), private control planes and signed images in production, protected key
 * material, and least-privilege IAM statements.
 */
import type { ResourceDescription, Rule } from "./types";
import { get, isSet, isUnknown, list } from "./values";

const tokens = {
    cluster: "oci:ContainerEngine/cluster:Cluster",
    nodePool: "oci:ContainerEngine/nodePool:NodePool",
    instanceConfiguration: "oci:Core/instanceConfiguration:InstanceConfiguration",
    instance: "oci:Core/instance:Instance",
    key: "oci:Kms/key:Key",
    vault: "oci:Kms/vault:Vault",
    bucket: "oci:ObjectStorage/bucket:Bucket",
    policy: "oci:Identity/policy:Policy",
} as const;

function forTypes(...types: string[]): (type: string) => boolean {
    return (type) => types.includes(type);
}

function ref(r: ResourceDescription): string {
    return `${r.type.split(":").pop()} ${r.name}`;
}

export const clusterEncryptionRule: Rule = {
    id: "oci-cluster-kms",
    severity: "mandatory",
    description:
        "OKE clusters encrypt Kubernetes secrets with a customer-managed key (kmsKeyId; CIS OKE, NSA C-0066).",
    appliesTo: forTypes(tokens.cluster),
    check(r) {
        return isSet(get(r.inputs, "kmsKeyId"))
            ? []
            : [
                  `${ref(r)}: kmsKeyId must be set (etcd secrets encrypted with a Vault key); it cannot be added later without replacing the cluster`,
              ];
    },
};

export const productionClusterRule: Rule = {
    id: "oci-cluster-production-exposure",
    severity: "mandatory",
    description:
        "In prod, OKE clusters have a private API endpoint and verify image signatures (CIS OKE).",
    appliesTo: forTypes(tokens.cluster),
    check(r, ctx) {
        if (ctx.environment !== "prod") {
            return [];
        }
        const out: string[] = [];
        const endpoint = get(r.inputs, "endpointConfig");
        const isPublic = get(endpoint, "isPublicIpEnabled");
        if (endpoint === undefined) {
            out.push(
                `${ref(r)}: endpointConfig must be set (a VCN-native private endpoint) in prod`,
            );
        } else if (isPublic !== false && isPublic !== undefined && !isUnknown(isPublic)) {
            out.push(
                `${ref(r)}: endpointConfig.isPublicIpEnabled must be false in prod; reach the API through the bastion`,
            );
        }
        const signed = get(r.inputs, "imagePolicyConfig", "isPolicyEnabled");
        if (signed !== true && !isUnknown(signed)) {
            out.push(
                `${ref(r)}: imagePolicyConfig.isPolicyEnabled must be true in prod (only signed images run)`,
            );
        }
        return out;
    },
};

export const bootVolumeEncryptionRule: Rule = {
    id: "oci-boot-volume-kms",
    severity: "mandatory",
    description:
        "Node boot volumes are encrypted with a customer-managed key (managed and self-managed nodes).",
    appliesTo: forTypes(tokens.nodePool, tokens.instanceConfiguration, tokens.instance),
    check(r) {
        let path: string[];
        if (r.type === tokens.nodePool) {
            path = ["nodeConfigDetails", "kmsKeyId"];
        } else if (r.type === tokens.instance) {
            path = ["sourceDetails", "kmsKeyId"];
        } else {
            const launch = get(r.inputs, "instanceDetails", "launchDetails");
            if (launch === undefined || isUnknown(launch)) {
                return [];
            }
            path = ["instanceDetails", "launchDetails", "sourceDetails", "kmsKeyId"];
        }
        return isSet(get(r.inputs, ...path))
            ? []
            : [`${ref(r)}: ${path.join(".")} must be set (boot volume encrypted with a Vault key)`];
    },
};

export const protectedDataRule: Rule = {
    id: "oci-protected-key-material",
    severity: "mandatory",
    description:
        "Vaults, keys and buckets are protected and retained on delete: losing them loses data for good.",
    appliesTo: forTypes(tokens.key, tokens.vault, tokens.bucket),
    check(r) {
        const out: string[] = [];
        if (r.protect === false) {
            out.push(
                `${ref(r)}: must be created with { protect: true } (deleting it makes encrypted data unreadable)`,
            );
        }
        if (r.retainOnDelete === false) {
            out.push(`${ref(r)}: must be created with { retainOnDelete: true }`);
        }
        return out;
    },
};

export const privateBucketRule: Rule = {
    id: "oci-bucket-private-encrypted",
    severity: "mandatory",
    description: "Object Storage buckets are private and encrypted with a customer-managed key.",
    appliesTo: forTypes(tokens.bucket),
    check(r) {
        const out: string[] = [];
        const access = get(r.inputs, "accessType");
        // Unset means the service default, NoPublicAccess.
        if (access !== undefined && access !== "NoPublicAccess" && !isUnknown(access)) {
            out.push(`${ref(r)}: accessType must be NoPublicAccess; got ${JSON.stringify(access)}`);
        }
        if (!isSet(get(r.inputs, "kmsKeyId"))) {
            out.push(`${ref(r)}: kmsKeyId must be set (objects encrypted with a Vault key)`);
        }
        return out;
    },
};

/** Violations of one IAM statement; `[]` for a least-privilege one. */
export function iamStatementViolations(statement: string): string[] {
    const out: string[] = [];
    const s = statement.trim().replace(/\s+/g, " ");
    if (/\bto manage all-resources\b/i.test(s)) {
        out.push("grants manage all-resources");
    }
    if (/^allow any-(user|group)\b/i.test(s) && !/\swhere\s/i.test(s)) {
        out.push("grants any-user/any-group without a where clause");
    }
    return out;
}

export const iamLeastPrivilegeRule: Rule = {
    id: "oci-iam-least-privilege",
    severity: "mandatory",
    description:
        "IAM statements never grant manage all-resources, and any-user only with a where clause.",
    appliesTo: forTypes(tokens.policy),
    check(r) {
        const out: string[] = [];
        list(get(r.inputs, "statements")).forEach((s, i) => {
            if (typeof s === "string") {
                for (const v of iamStatementViolations(s)) {
                    out.push(`${ref(r)}: statements[${i}] ${v}: "${s}"`);
                }
            }
        });
        return out;
    },
};

/** Every OCI rule. */
export const ociRules: readonly Rule[] = [
    clusterEncryptionRule,
    productionClusterRule,
    bootVolumeEncryptionRule,
    protectedDataRule,
    privateBucketRule,
    iamLeastPrivilegeRule,
];
