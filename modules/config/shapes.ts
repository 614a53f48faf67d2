/**
 * Bare-metal shapes that can host Kata Containers, with the `platformConfig.type` that enables
 * virtualization instructions on them. Managed node pools cannot set
 * `platformConfig`, so a Kata pool on a shape whose virtualization is not on by default must be
 * self-managed. No shape here is known to enable it by default; `verified: false` marks platform
 * types not confirmed against OCI's `getShapes` output (check `platformConfigOptions` before use).
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

export interface KataShapeInfo {
    /** The platform type to send in `platformConfig.type`. */
    readonly platformType: BmPlatformType;
    /** Whether the shape boots with virtualization instructions enabled. */
    readonly virtualizationDefault: boolean;
    /** Whether the mapping was confirmed against primary documentation. */
    readonly verified: boolean;
}

const table: Readonly<Record<string, KataShapeInfo>> = {
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

/** Platform facts of a bare-metal shape, or undefined when the shape is not known. */
export function kataShapeInfo(shape: string): KataShapeInfo | undefined {
    return table[shape];
}

/** Every shape in the table (for documentation and tests). */
export const knownKataShapes = Object.keys(table);
