/**
 * OCI Vault and the cluster's keys. Destroying a key destroys data (etcd
 * secrets, volumes, models), so the vault and keys are protected and retained.
 */
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import type { ProtectionMode, VaultType } from "../config";

/** Purposes of the cluster's keys. */
export type KeyPurpose = "secrets" | "volumes" | "models" | "signing";

/** How a key is rotated, as recorded in its freeform tags and the README. */
export interface RotationPlan {
    /** True when OCI rotates the key on a schedule (VIRTUAL_PRIVATE vaults only). */
    readonly automatic: boolean;
    /** Days between rotations (automatic, or the operator's runbook period). */
    readonly days: number;
}

/**
 * Rotation for a key (pure): automatic in VIRTUAL_PRIVATE vaults for the AES keys; otherwise a
 * documented manual period. The image-signing key is never rotated automatically: a new version
 * means re-signing every image the cluster may run.
 */
export function rotationPlan(
    vaultType: VaultType,
    purpose: KeyPurpose,
    days: number,
): RotationPlan {
    return { automatic: vaultType === "VIRTUAL_PRIVATE" && purpose !== "signing", days };
}

/** Arguments for {@link KeyVault}. */
export interface KeyVaultArgs {
    /** Compartment that owns the vault, keys and bucket. */
    readonly compartmentId: string;
    /** `DEFAULT` or `VIRTUAL_PRIVATE` (dedicated partition; automatic rotation). */
    readonly vaultType: VaultType;
    /** Key protection. Defaults to HSM. */
    readonly protectionMode?: ProtectionMode;
    /** Days between key rotations. Defaults to 90. */
    readonly rotationDays?: number;
    /** Use this vault instead of creating one (keys are still created in it). */
    readonly existingVaultId?: string;
    /** The existing vault's endpoints (provider lookup, modules/oci/lookups.ts); with existingVaultId. */
    readonly existingVault?: {
        readonly managementEndpoint: string;
        readonly cryptoEndpoint: string;
    };
    /** Whether to create the RSA image-signing key. Defaults to true. */
    readonly signingKey?: boolean;
    /** Freeform tags for every resource. */
    readonly tags: Readonly<Record<string, string>>;
}

/** An OCI Vault (created or existing) with the cluster's keys. */
export class KeyVault extends pulumi.ComponentResource {
    public readonly vaultId: pulumi.Output<string>;
    public readonly managementEndpoint: pulumi.Output<string>;
    public readonly cryptoEndpoint: pulumi.Output<string>;
    /** Key OCIDs by purpose (`signing` absent when not requested). */
    public readonly keyIds: Readonly<Partial<Record<KeyPurpose, pulumi.Output<string>>>>;

    constructor(name: string, args: KeyVaultArgs, opts?: pulumi.ComponentResourceOptions) {
        super("secure-llm-platform:oci:KeyVault", name, {}, opts);
        const protectionMode = args.protectionMode ?? "HSM";
        const rotationDays = args.rotationDays ?? 90;
        const signing = args.signingKey ?? true;
        const keep = { parent: this, protect: true, retainOnDelete: true };

        if (args.existingVaultId !== undefined) {
            const existing = args.existingVault;
            if (existing === undefined) {
                throw new pulumi.ResourceError(
                    `vault ${args.existingVaultId}: its endpoints were not looked up`,
                    this,
                );
            }
            this.vaultId = pulumi.output(args.existingVaultId);
            this.managementEndpoint = pulumi.output(existing.managementEndpoint);
            this.cryptoEndpoint = pulumi.output(existing.cryptoEndpoint);
        } else {
            const vault = new oci.kms.Vault(
                `${name}-vault`,
                {
                    compartmentId: args.compartmentId,
                    displayName: `${name}-vault`,
                    vaultType: args.vaultType,
                    freeformTags: { ...args.tags },
                },
                keep,
            );
            this.vaultId = vault.id;
            this.managementEndpoint = vault.managementEndpoint;
            this.cryptoEndpoint = vault.cryptoEndpoint;
        }

        const purposes: KeyPurpose[] = [
            "secrets",
            "volumes",
            "models",
            ...(signing ? (["signing"] as const) : []),
        ];
        const keyIds: Partial<Record<KeyPurpose, pulumi.Output<string>>> = {};
        for (const purpose of purposes) {
            const rotation = rotationPlan(args.vaultType, purpose, rotationDays);
            const key = new oci.kms.Key(
                `${name}-${purpose}-key`,
                {
                    compartmentId: args.compartmentId,
                    displayName: `${name}-${purpose}`,
                    managementEndpoint: this.managementEndpoint,
                    // imagePolicyConfig verifies with RSA keys only; everything else is AES-256.
                    keyShape:
                        purpose === "signing"
                            ? { algorithm: "RSA", length: 512 }
                            : { algorithm: "AES", length: 32 },
                    protectionMode,
                    ...(rotation.automatic
                        ? {
                              isAutoRotationEnabled: true,
                              autoKeyRotationDetails: { rotationIntervalInDays: rotation.days },
                          }
                        : {}),
                    freeformTags: {
                        ...args.tags,
                        purpose,
                        rotation: rotation.automatic ? "automatic" : "manual",
                        "rotation-days": String(rotation.days),
                    },
                },
                keep,
            );
            keyIds[purpose] = key.id;
        }
        this.keyIds = keyIds;

        this.registerOutputs({
            vaultId: this.vaultId,
            cryptoEndpoint: this.cryptoEndpoint,
            keyIds,
        });
    }
}
