/**
 * Catalog of the OCI compute shapes this program knows: whether a shape is bare metal, has GPUs,
 * supports paravirtualized in-transit encryption of boot and block volumes, and (bare metal) the
 * `platformConfig.type` that enables virtualization instructions and GPU pass-through on it.
 * Managed node pools cannot set `platformConfig`, so a Kata pool on a shape whose virtualization is
 * not on by default must be self-managed. No shape here is known to enable it by default;
 * `verified: false` marks platform types not confirmed against OCI's `getShapes` output (check
 * `platformConfigOptions` before use).
 */

/** OCI `platformConfig.type` values of bare-metal platforms that accept `areVirtualInstructionsEnabled`. */
export type BmPlatformType =
    | "AMD_MILAN_BM"
    | "AMD_MILAN_BM_GPU"
    | "AMD_ROME_BM"
    | "AMD_ROME_BM_GPU"
    | "INTEL_ICELAKE_BM"
    | "INTEL_SKYLAKE_BM"
    | "GENERIC_BM";

/**
 * Platform types whose instance-configuration launch platform config carries both
 * `isInputOutputMemoryManagementUnitEnabled` and `isAccessControlServiceEnabled` (needed for VFIO
 * GPU pass-through into a Kata guest). From the Core Services API data types
 * InstanceConfigurationAmdMilanBmGpuLaunchInstancePlatformConfig,
 * InstanceConfigurationAmdRomeBmGpuLaunchInstancePlatformConfig, …AmdMilanBm…, …AmdRomeBm…
 * (https://docs.oracle.com/en-us/iaas/api/#/en/iaas/latest/datatypes/InstanceConfigurationAmdMilanBmGpuLaunchInstancePlatformConfig;
 * the same fields in oracle/oci-go-sdk core/instance_configuration_amd_*_launch_instance_platform_config.go).
 */
export const passthroughPlatformTypes: readonly BmPlatformType[] = [
    "AMD_MILAN_BM",
    "AMD_MILAN_BM_GPU",
    "AMD_ROME_BM",
    "AMD_ROME_BM_GPU",
];

export interface KataShapeInfo {
    /** The platform type to send in `platformConfig.type`. */
    readonly platformType: BmPlatformType;
    /** Whether the shape boots with virtualization instructions enabled. */
    readonly virtualizationDefault: boolean;
    /** Whether the mapping was confirmed against primary documentation. */
    readonly verified: boolean;
}

/** What the program relies on about one shape. */
export interface ShapeFacts {
    /** Bare metal (`BM.*`) rather than a virtual machine. */
    readonly bareMetal: boolean;
    /** The shape has GPUs. */
    readonly gpu: boolean;
    /**
     * Whether `isPvEncryptionInTransitEnabled` may be sent for it. OCI "Block Volume Encryption"
     * (https://docs.oracle.com/en-us/iaas/Content/Block/Concepts/blockvolumeencryption.htm):
     * in-transit encryption is optional for VMs (launched from platform images, which is what OKE
     * node images are) and, for bare metal, supported (always on) only on BM.Standard.E3.128,
     * BM.Standard.E4.128 and BM.DenseIO.E4.128. Test: test/config/shapes.test.ts and "sends
     * in-transit encryption only where OCI supports it" in test/oci/oke-cluster.test.ts.
     */
    readonly pvEncryptionInTransit: boolean;
    /** Bare metal only: platform facts for Kata. */
    readonly kata?: KataShapeInfo;
}

/** Bare-metal shapes where OCI documents in-transit encryption (see {@link ShapeFacts}). */
const bmInTransit = new Set(["BM.Standard.E3.128", "BM.Standard.E4.128", "BM.DenseIO.E4.128"]);

const kataTable: Readonly<Record<string, KataShapeInfo>> = {
    "BM.Standard.E4.128": {
        platformType: "AMD_MILAN_BM",
        virtualizationDefault: false,
        verified: true,
    },
    "BM.DenseIO.E4.128": {
        platformType: "AMD_MILAN_BM",
        virtualizationDefault: false,
        verified: true,
    },
    "BM.Standard.E3.128": {
        platformType: "AMD_ROME_BM",
        virtualizationDefault: false,
        verified: true,
    },
    "BM.GPU.A100-v2.8": {
        platformType: "AMD_MILAN_BM_GPU",
        virtualizationDefault: false,
        verified: true,
    },
    "BM.GPU4.8": { platformType: "AMD_ROME_BM_GPU", virtualizationDefault: false, verified: false },
    "BM.Standard.E5.192": {
        platformType: "GENERIC_BM",
        virtualizationDefault: false,
        verified: false,
    },
    "BM.Standard3.64": {
        platformType: "INTEL_ICELAKE_BM",
        virtualizationDefault: false,
        verified: false,
    },
    "BM.Optimized3.36": {
        platformType: "INTEL_ICELAKE_BM",
        virtualizationDefault: false,
        verified: false,
    },
    "BM.Standard2.52": {
        platformType: "INTEL_SKYLAKE_BM",
        virtualizationDefault: false,
        verified: false,
    },
};

/**
 * Shapes the catalog lists (OCI "Compute Shapes",
 * https://docs.oracle.com/en-us/iaas/Content/Compute/References/computeshapes.htm), beyond the
 * bare-metal Kata table above. A shape not listed is refused before any resource exists.
 */
const otherShapes: readonly string[] = [
    "VM.Standard.E3.Flex",
    "VM.Standard.E4.Flex",
    "VM.Standard.E5.Flex",
    "VM.Standard.E6.Flex",
    "VM.Standard3.Flex",
    "VM.Standard.A1.Flex",
    "VM.Optimized3.Flex",
    "VM.DenseIO.E4.Flex",
    "VM.DenseIO.E5.Flex",
    "VM.GPU2.1",
    "VM.GPU3.1",
    "VM.GPU3.2",
    "VM.GPU3.4",
    "VM.GPU.A10.1",
    "VM.GPU.A10.2",
    "BM.GPU2.2",
    "BM.GPU3.8",
    "BM.GPU.A10.4",
    "BM.GPU.B4.8",
    "BM.GPU.H100.8",
    "BM.GPU.L40S.4",
    "BM.Standard.E2.64",
    "BM.Standard.E5.192",
    "BM.Standard.E6.256",
    "BM.DenseIO2.52",
];

function factsOf(shape: string): ShapeFacts {
    const bareMetal = shape.startsWith("BM.");
    return {
        bareMetal,
        gpu: /\.GPU/.test(shape),
        pvEncryptionInTransit: bareMetal ? bmInTransit.has(shape) : true,
        ...(kataTable[shape] !== undefined ? { kata: kataTable[shape] } : {}),
    };
}

const catalog: Readonly<Record<string, ShapeFacts>> = Object.fromEntries(
    [...new Set([...Object.keys(kataTable), ...otherShapes])].map((s) => [s, factsOf(s)]),
);

/** Every shape the catalog knows, sorted (for "did you mean", documentation and tests). */
export const knownShapes: readonly string[] = Object.keys(catalog).sort();

/** Facts of a shape, or undefined when the catalog does not list it. */
export function shapeFacts(shape: string): ShapeFacts | undefined {
    return catalog[shape];
}

/**
 * Whether `isPvEncryptionInTransitEnabled` may be sent for a shape: every VM, and only the bare-metal
 * shapes OCI lists (see {@link ShapeFacts.pvEncryptionInTransit}). Unknown shapes get false: the
 * flag is documented only for those shapes, so it is not sent on a guess.
 */
export function supportsPvEncryptionInTransit(shape: string): boolean {
    return catalog[shape]?.pvEncryptionInTransit ?? false;
}

/** Platform facts of a bare-metal shape, or undefined when the shape is not known. */
export function kataShapeInfo(shape: string): KataShapeInfo | undefined {
    return kataTable[shape];
}

/** Every shape in the Kata table (for documentation and tests). */
export const knownKataShapes = Object.keys(kataTable);

/** The `launchDetails.platformConfig` of a self-managed Kata instance (instance configuration). */
export interface KataPlatformConfig {
    readonly type: BmPlatformType;
    readonly areVirtualInstructionsEnabled: true;
    readonly isInputOutputMemoryManagementUnitEnabled?: true;
    readonly isAccessControlServiceEnabled?: true;
}

/**
 * Platform config of a Kata node: virtualization instructions always; for GPU pools also the IOMMU
 * and PCIe Access Control Services, without which the host cannot isolate the GPUs in their own
 * IOMMU groups and bind them to vfio-pci for pass-through into the Kata guest (field names and
 * meaning: OCI API InstanceConfigurationAmdMilanBmGpuLaunchInstancePlatformConfig, "Whether the
 * Access Control Service is enabled … required for VFIO device pass-through"). Undefined when the
 * platform type does not accept both fields; config validation refuses such a GPU Kata pool first.
 * Test: "enables IOMMU and ACS for a self-managed Kata GPU pool" in test/oci/oke-cluster.test.ts.
 */
export function kataPlatformConfig(
    info: KataShapeInfo,
    gpu: boolean,
): KataPlatformConfig | undefined {
    if (!gpu) {
        return { type: info.platformType, areVirtualInstructionsEnabled: true };
    }
    if (!passthroughPlatformTypes.includes(info.platformType)) {
        return undefined;
    }
    return {
        type: info.platformType,
        areVirtualInstructionsEnabled: true,
        isInputOutputMemoryManagementUnitEnabled: true,
        isAccessControlServiceEnabled: true,
    };
}
