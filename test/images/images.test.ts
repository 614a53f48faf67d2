/**
 * The image mirror manifest and the prod refusal (pure). The rendered plan and `npm run
 * images:mirror` end to end are in test/real/deploy/mirror.test.ts.
 */
import { strict as assert } from "assert";
import {
    assertVerifiableImages,
    clusterChartImages,
    imageGate,
    imageIssues,
    mirrorManifest,
    stackImages,
} from "../../modules/images";
import { mirrorPlan } from "../../tools/images/mirror";
import { parse, stackRaw } from "../support/stacks";
import { fixtureLock, prodMirroredRaw, twinRaw } from "./fixtures";

describe("image mirror manifest", () => {
    it("lists every image once per region, mirrored into that region's OCIR by the same digest", () => {
        const cfg = parse(twinRaw());
        const lock = fixtureLock();
        const m = mirrorManifest(cfg, lock);
        const images = stackImages(cfg, lock).filter((i) => i.mirrorable);
        assert.ok(images.some((i) => i.chart?.name === "kube-prometheus-stack"));
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

    it("lists each chart image once, with every values path that sets it", () => {
        const eso = stackImages(parse(twinRaw()), fixtureLock()).filter(
            (i) => i.chart?.name === "external-secrets",
        );
        assert.equal(eso.length, 1);
        assert.deepEqual(eso[0]!.chart!.paths, ["image", "webhook.image", "certController.image"]);
        assert.equal(
            eso[0]!.key,
            "images/chart-images.lock.json oci.external-secrets.io/external-secrets/external-secrets:v0.19.2",
        );
    });

    it("refuses to mirror chart images the lock has no digest for, naming --write-lock", () => {
        assert.throws(
            () => mirrorPlan(parse(twinRaw()), {}),
            (e: any) =>
                e.issues.some(
                    (i: any) =>
                        i.path ===
                            "images/chart-images.lock.json quay.io/prometheus/prometheus:v3.10.0" &&
                        /--write-lock/.test(i.expected),
                ) &&
                // The authored Calico install's upstream images resolve through the same lock.
                e.issues.some(
                    (i: any) =>
                        i.path === "images/chart-images.lock.json quay.io/calico/node:v3.31.5" &&
                        /--write-lock/.test(i.expected),
                ),
        );
        assert.doesNotThrow(() => mirrorPlan(parse(twinRaw()), fixtureLock()));
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
    it("without a mirror, with placeholder digests of ours and of the charts' images, each named", () => {
        const raw = stackRaw("prod");
        delete raw.images;
        const issues = imageIssues(parse(raw), {});
        const paths = issues.map((i) => i.path);
        assert.ok(paths.includes("secure-llm-platform:images.mirror"));
        assert.ok(paths.includes("secure-llm-platform:clusters[0].tiers.guardrails.image.digest"));
        const prom = issues.find(
            (i) => i.path === "images/chart-images.lock.json quay.io/prometheus/prometheus:v3.10.0",
        );
        assert.ok(prom, "a chart image without a digest is named");
        assert.match(prom.expected, /prometheus\.prometheusSpec\.image.*--write-lock/);
        // ingress-nginx pins its own digests: never a blocker.
        assert.ok(!paths.some((p) => p.includes("registry.k8s.io/ingress-nginx")));
        assert.ok(!paths.some((p) => /imageSigning/.test(p)), "no blanket refusal of charts");
        assert.ok(issues.every((i) => i.expected.length > 20));
    });

    it("with the mirror set, our images built and the lock filled, prod (authored Calico on OKE VCN-native) is clean", () => {
        assert.deepEqual(imageIssues(parse(prodMirroredRaw()), fixtureLock()), []);
        const calico = stackImages(parse(prodMirroredRaw()), fixtureLock()).filter((i) =>
            i.repository.startsWith("quay.io/calico/"),
        );
        assert.deepEqual(
            calico.map((i) => [i.repository, i.placeholder, i.mirrorable]),
            [
                ["quay.io/calico/node", false, true],
                ["quay.io/calico/kube-controllers", false, true],
            ],
        );
    });

    it("on a cluster where the tigera-operator installs Calico, the images it starts by tag are refused", () => {
        // The same clusters as if they were existing ones (the operator path), judged purely.
        const cfg = parse(prodMirroredRaw());
        const existing = {
            ...cfg,
            clusters: cfg.clusters.map((c) => ({ ...c, target: "existing" as const })),
        };
        const issues = imageIssues(existing, fixtureLock()).filter((i) =>
            /tigera-operator \(operator\)/.test(i.path),
        );
        assert.deepEqual(
            issues.map((i) => i.path),
            ["node", "cni", "kube-controllers", "typha", "pod2daemon-flexvol"].map(
                (n) => `modules/constants/chart-images.ts tigera-operator (operator) calico/${n}`,
            ),
        );
        assert.ok(issues.every((i) => /ImageSet/.test(i.expected)));
    });

    it("a prod stack without the operator-installed Calico, with the lock filled, is clean", () => {
        const raw = prodMirroredRaw();
        raw.networkPolicy = { ...raw.networkPolicy, installCalico: false };
        assert.deepEqual(imageIssues(parse(raw), fixtureLock()), []);
        assert.ok(imageIssues(parse(raw), {}).length > 10, "but not without the lock");
    });

    it("names a chart the catalog does not describe (the standalone DCGM exporter)", () => {
        // runc GPU nodes with OKE's device plugin add-on: the baseline installs dcgm-exporter.
        const raw = stackRaw("dev");
        raw.images = { mirror: "ns/slp-mirror" };
        raw.baseline = { ...raw.baseline, gpu: { devicePluginOwner: "oke-addon" } };
        raw.clusters[0].nodePools.find((p: any) => p.name === "gpu").kata = false;
        const cfg = parse(raw);
        assert.deepEqual(clusterChartImages(cfg.clusters[0]!, fixtureLock()).uncatalogued, [
            "dcgm-exporter",
        ]);
        const issues = imageIssues({ ...cfg, environment: "prod" }, fixtureLock());
        const dcgm = issues.filter((i) => /dcgm-exporter/.test(i.expected));
        assert.deepEqual(
            dcgm.map((i) => i.path),
            ["secure-llm-platform:clusters[0].baseline.gpu.devicePluginOwner"],
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
