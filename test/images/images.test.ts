/**
 * The image mirror manifest and the prod refusal (pure). The rendered plan and `npm run
 * images:mirror` end to end are in test/real/deploy/mirror.test.ts.
 */
import { strict as assert } from "assert";
import {
    assertVerifiableImages,
    imageGate,
    imageIssues,
    mirrorManifest,
    stackImages,
} from "../../modules/images";
import { mirrorPlan } from "../../tools/images/mirror";
import { parse, stackRaw } from "../support/stacks";
import { twinRaw, withBuiltImages } from "./fixtures";

describe("image mirror manifest", () => {
    it("lists every image once per region, mirrored into that region's OCIR by the same digest", () => {
        const cfg = parse(twinRaw());
        const m = mirrorManifest(cfg);
        const images = stackImages(cfg);
        assert.equal(m.length, images.length * 2, "each image in us-ashburn-1 and eu-frankfurt-1");
        const vllm = m.filter((e) => e.repository === "docker.io/vllm/vllm-openai");
        assert.deepEqual(
            vllm.map((e) => [e.region, e.mirrorRef, e.mirrorRepository, e.clusters]),
            [
                [
                    "us-ashburn-1",
                    `us-ashburn-1.ocir.io/ns/slp-mirror/docker.io/vllm/vllm-openai@${vllm[0]!.digest}`,
                    "slp-mirror/docker.io/vllm/vllm-openai",
                    ["prod-iad"],
                ],
                [
                    "eu-frankfurt-1",
                    `eu-frankfurt-1.ocir.io/ns/slp-mirror/docker.io/vllm/vllm-openai@${vllm[0]!.digest}`,
                    "slp-mirror/docker.io/vllm/vllm-openai",
                    ["prod-fra"],
                ],
            ],
        );
        assert.ok(m.every((e) => !e.placeholder));
    });

    it("is empty without images.mirror", () => {
        assert.deepEqual(mirrorManifest(parse(stackRaw("dev"))), []);
    });

    it("refuses to mirror placeholder images, naming their keys", () => {
        const raw = stackRaw("dev");
        raw.images = { mirror: "ns/slp-mirror" };
        assert.throws(
            () => mirrorPlan(parse(raw)),
            (e: any) =>
                e.issues.some(
                    (i: any) =>
                        i.path ===
                            "secure-llm-platform:clusters[0].tiers.guardrails.image.digest" &&
                        /placeholder image cannot be mirrored/.test(i.expected),
                ),
        );
    });
});

describe("prod refuses images it cannot verify, before any resource", () => {
    it("without a mirror, with placeholder digests, and with image signing while the charts' images are unmirrored", () => {
        const raw = stackRaw("prod");
        delete raw.images;
        const issues = imageIssues(parse(raw));
        const paths = issues.map((i) => i.path);
        assert.ok(paths.includes("secure-llm-platform:images.mirror"));
        assert.ok(paths.includes("secure-llm-platform:clusters[0].tiers.guardrails.image.digest"));
        assert.ok(paths.includes("secure-llm-platform:clusters[0].imageSigning"));
        assert.ok(paths.includes("secure-llm-platform:clusters[1].imageSigning"));
        assert.ok(issues.every((i) => i.expected.length > 20));
    });

    it("keeps only the charts' refusal once the mirror is set and our images are built", () => {
        const raw = withBuiltImages(stackRaw("prod"));
        raw.images = { mirror: "ns/slp-mirror" };
        assert.deepEqual(
            imageIssues(parse(raw)).map((i) => i.path),
            [
                "secure-llm-platform:clusters[0].imageSigning",
                "secure-llm-platform:clusters[1].imageSigning",
            ],
        );
    });

    it("throws before any resource under pulumi up, and only lists them under the offline plan", () => {
        const cfg = parse(stackRaw("prod"));
        const expected = imageIssues(cfg);
        assert.ok(expected.length > 0);
        assert.equal(imageGate.mode, "refuse", "pulumi up refuses by default");
        assert.throws(
            () => assertVerifiableImages(cfg),
            (e: any) => e.name === "ConfigValidationError" && e.issues.length === expected.length,
        );
        try {
            imageGate.mode = "report";
            imageGate.blocked.length = 0;
            assertVerifiableImages(cfg);
            assert.deepEqual(imageGate.blocked, expected);
        } finally {
            imageGate.mode = "refuse";
            imageGate.blocked.length = 0;
        }
    });

    it("does not apply outside prod", () => {
        assert.deepEqual(imageIssues(parse(stackRaw("dev"))), []);
    });

    it("refuses a malformed mirror prefix with the expected form", () => {
        const raw = stackRaw("dev");
        raw.images = { mirror: "https://iad.ocir.io/ns" };
        assert.throws(() => parse(raw), /images\.mirror.*<tenancy-namespace>\/<prefix>/s);
    });
});
