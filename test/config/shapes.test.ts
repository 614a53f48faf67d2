import { strict as assert } from "assert";
import {
    kataPlatformConfig,
    knownShapes,
    passthroughPlatformTypes,
    shapeFacts,
    supportsPvEncryptionInTransit,
} from "../../modules/config/shapes";

describe("shape catalog", () => {
    it("allows in-transit encryption on VMs and only the three bare-metal shapes OCI lists", () => {
        const bm = knownShapes.filter(
            (s) => s.startsWith("BM.") && supportsPvEncryptionInTransit(s),
        );
        assert.deepEqual(bm.sort(), [
            "BM.DenseIO.E4.128",
            "BM.Standard.E3.128",
            "BM.Standard.E4.128",
        ]);
        for (const vm of knownShapes.filter((s) => s.startsWith("VM."))) {
            assert.equal(supportsPvEncryptionInTransit(vm), true, vm);
        }
        assert.equal(supportsPvEncryptionInTransit("BM.GPU.A100-v2.8"), false);
        assert.equal(supportsPvEncryptionInTransit("BM.Unknown.1"), false, "not sent on a guess");
    });

    it("knows which shapes are GPU and bare metal", () => {
        assert.deepEqual(shapeFacts("BM.GPU.A100-v2.8"), {
            bareMetal: true,
            gpu: true,
            pvEncryptionInTransit: false,
            kata: {
                platformType: "AMD_MILAN_BM_GPU",
                virtualizationDefault: false,
                verified: true,
            },
        });
        assert.equal(shapeFacts("VM.GPU.A10.1")?.gpu, true);
        assert.equal(shapeFacts("VM.GPU.A10.1")?.bareMetal, false);
        assert.equal(shapeFacts("VM.Standard.E5.Flex")?.gpu, false);
        assert.equal(shapeFacts("VM.Standard.E5.Flx"), undefined);
    });

    it("offers IOMMU and ACS pass-through on the verified GPU platform types", () => {
        for (const s of ["BM.GPU.A100-v2.8", "BM.GPU4.8"]) {
            const type = shapeFacts(s)?.kata?.platformType;
            assert.ok(type !== undefined && passthroughPlatformTypes.includes(type), s);
        }
    });

    it("builds no GPU platform config for a platform type not known to accept IOMMU and ACS", () => {
        const intel = {
            platformType: "INTEL_ICELAKE_BM",
            virtualizationDefault: false,
            verified: false,
        } as const;
        assert.equal(kataPlatformConfig(intel, true), undefined);
        assert.deepEqual(kataPlatformConfig(intel, false), {
            type: "INTEL_ICELAKE_BM",
            areVirtualInstructionsEnabled: true,
        });
    });
});
