import * as assert from "assert";
import {
    bootVolumeEncryptionRule,
    clusterEncryptionRule,
    iamLeastPrivilegeRule,
    iamStatementViolations,
    privateBucketRule,
    productionClusterRule,
    protectedDataRule,
    ResourceDescription,
    Rule,
    RuleContext,
    UNKNOWN,
} from "../../modules/security";

const prod: RuleContext = { environment: "prod" };
const dev: RuleContext = { environment: "dev" };
const keyId = "ocid1.key.oc1..aaaa";

function check(rule: Rule, r: ResourceDescription, ctx: RuleContext = prod): string[] {
    assert.ok(rule.appliesTo(r.type), `${rule.id} should apply to ${r.type}`);
    return rule.check(r, ctx);
}

function assertOne(found: string[], ...fragments: string[]): void {
    assert.ok(
        found.some((m) => fragments.every((f) => m.includes(f))),
        `expected a violation mentioning ${fragments.join(" + ")}, got:\n${found.join("\n") || "(none)"}`,
    );
}

const cluster = (inputs: Record<string, unknown>): ResourceDescription => ({
    type: "oci:ContainerEngine/cluster:Cluster",
    name: "prod-oke",
    inputs: {
        kmsKeyId: keyId,
        endpointConfig: { subnetId: "ocid1.subnet", isPublicIpEnabled: false },
        imagePolicyConfig: { isPolicyEnabled: true, keyDetails: [{ kmsKeyId: keyId }] },
        ...inputs,
    },
});

describe("security rules: OCI", () => {
    it("requires a KMS key on every cluster, accepting a key id not known until apply", () => {
        assert.deepStrictEqual(check(clusterEncryptionRule, cluster({})), []);
        assert.deepStrictEqual(check(clusterEncryptionRule, cluster({ kmsKeyId: UNKNOWN })), []);
        assertOne(
            check(clusterEncryptionRule, cluster({ kmsKeyId: undefined })),
            "Cluster prod-oke: kmsKeyId",
        );
    });

    it("requires a private endpoint and image signing in prod only", () => {
        assert.deepStrictEqual(check(productionClusterRule, cluster({})), []);
        const open = cluster({
            endpointConfig: { subnetId: "s", isPublicIpEnabled: true },
            imagePolicyConfig: { isPolicyEnabled: false },
        });
        assertOne(check(productionClusterRule, open), "endpointConfig.isPublicIpEnabled");
        assertOne(check(productionClusterRule, open), "imagePolicyConfig.isPolicyEnabled");
        assertOne(
            check(productionClusterRule, cluster({ endpointConfig: undefined })),
            "endpointConfig must be set",
        );
        assert.deepStrictEqual(check(productionClusterRule, open, dev), []);
    });

    it("requires KMS on managed and self-managed boot volumes", () => {
        const pool = (kmsKeyId?: string): ResourceDescription => ({
            type: "oci:ContainerEngine/nodePool:NodePool",
            name: "gpu",
            inputs: { nodeConfigDetails: { size: 2, kmsKeyId } },
        });
        assert.deepStrictEqual(check(bootVolumeEncryptionRule, pool(keyId)), []);
        assertOne(
            check(bootVolumeEncryptionRule, pool()),
            "NodePool gpu: nodeConfigDetails.kmsKeyId",
        );
        const ic = (kmsKeyId?: string): ResourceDescription => ({
            type: "oci:Core/instanceConfiguration:InstanceConfiguration",
            name: "kata",
            inputs: {
                instanceDetails: {
                    instanceType: "compute",
                    launchDetails: {
                        sourceDetails: { sourceType: "image", imageId: "i", kmsKeyId },
                    },
                },
            },
        });
        assert.deepStrictEqual(check(bootVolumeEncryptionRule, ic(keyId)), []);
        assertOne(
            check(bootVolumeEncryptionRule, ic()),
            "instanceDetails.launchDetails.sourceDetails.kmsKeyId",
        );
    });

    it("requires protect and retainOnDelete on vaults, keys and buckets", () => {
        for (const type of [
            "oci:Kms/key:Key",
            "oci:Kms/vault:Vault",
            "oci:ObjectStorage/bucket:Bucket",
        ]) {
            const r = (protect?: boolean, retainOnDelete?: boolean) => ({
                type,
                name: "k",
                inputs: {},
                protect,
                retainOnDelete,
            });
            assert.deepStrictEqual(check(protectedDataRule, r(true, true)), [], type);
            assertOne(check(protectedDataRule, r(false, true)), "protect: true");
            assertOne(check(protectedDataRule, r(true, false)), "retainOnDelete: true");
            // CrossGuard cannot see retainOnDelete: unknown is not a violation.
            assert.deepStrictEqual(check(protectedDataRule, r(true, undefined)), [], type);
        }
    });

    it("requires private, KMS-encrypted buckets", () => {
        const bucket = (inputs: Record<string, unknown>): ResourceDescription => ({
            type: "oci:ObjectStorage/bucket:Bucket",
            name: "models",
            inputs: { accessType: "NoPublicAccess", kmsKeyId: keyId, ...inputs },
        });
        assert.deepStrictEqual(check(privateBucketRule, bucket({})), []);
        assert.deepStrictEqual(check(privateBucketRule, bucket({ accessType: undefined })), []);
        assertOne(
            check(privateBucketRule, bucket({ accessType: "ObjectRead" })),
            "accessType",
            "ObjectRead",
        );
        assertOne(
            check(privateBucketRule, bucket({ kmsKeyId: undefined })),
            "Bucket models: kmsKeyId",
        );
    });

    it("refuses manage all-resources and unconditioned any-user IAM statements", () => {
        const c = "ocid1.compartment.oc1..c";
        assert.deepStrictEqual(
            iamStatementViolations(
                `Allow any-user to use keys in compartment id ${c} where ALL {request.principal.type = 'cluster', target.key.id = '${keyId}'}`,
            ),
            [],
        );
        assert.deepStrictEqual(
            iamStatementViolations(
                `Allow dynamic-group dg to read instance-images in compartment id ${c}`,
            ),
            [],
        );
        assert.deepStrictEqual(
            iamStatementViolations("Allow group Admins to manage  all-resources in tenancy"),
            ["grants manage all-resources"],
        );
        assert.deepStrictEqual(
            iamStatementViolations(`allow any-user to read buckets in compartment id ${c}`),
            ["grants any-user/any-group without a where clause"],
        );
        const policy: ResourceDescription = {
            type: "oci:Identity/policy:Policy",
            name: "oke",
            inputs: {
                statements: [
                    `Allow dynamic-group dg to read instance-images in compartment id ${c}`,
                    UNKNOWN,
                    "Allow any-user to manage all-resources in tenancy",
                ],
            },
        };
        const found = check(iamLeastPrivilegeRule, policy);
        assert.strictEqual(found.length, 2);
        assertOne(found, "Policy oke: statements[2]", "manage all-resources");
    });
});
