/**
 * A prod-like stack (images.mirror set, our images built, the chart-image lock filled with the
 * fixture lock, Calico not installed by the operator) rendered under the mocks with the mirror
 * transformation, as `pulumi up` would declare it: the image gate passes, and every image of
 * every chart pod (read from each release's values the way the chart's templates read them) and
 * of every object we author is its cluster region's mirror, by digest. What OKE then admits
 * depends on the signatures `npm run images:mirror` uploads (test/real/deploy/mirror.test.ts).
 */
import { strict as assert } from "assert";
import { chartImageCatalog } from "../../modules/constants/chart-images";
import { clusterChartImages, imageIssues, mirrorTransformation } from "../../modules/images";
import { RecordedResource, recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { isKubernetesObject } from "../../tools/plan/manifests";
import { chartData, chartId, defaultsOf } from "../charts/support";
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020";
import { freeForm } from "../charts/free-form";
import { coalesce, undefinedKeys } from "../charts/values";
import { fakeCloud, parse } from "../support/stacks";
import { idOf, refFromValues } from "./chart-model";
import { fixtureLock, prodMirroredRaw, useFixtureLock } from "./fixtures";

/** Every string under an `image` key (containers, init containers, pipeline specs). */
function imageFields(v: unknown, out: string[] = []): string[] {
    if (Array.isArray(v)) v.forEach((x) => imageFields(x, out));
    else if (typeof v === "object" && v !== null) {
        for (const [k, x] of Object.entries(v)) {
            if (k === "image" && typeof x === "string") out.push(x);
            else imageFields(x, out);
        }
    }
    return out;
}

describe("a prod-like stack with images.mirror and a filled lock renders only mirrors, by digest", function () {
    this.timeout(120000);
    let lock: ReturnType<typeof useFixtureLock>;
    let cfg: ReturnType<typeof parse>;
    let all: readonly RecordedResource[];
    before(async () => {
        lock = useFixtureLock();
        const raw = prodMirroredRaw();
        raw.networkPolicy = { ...raw.networkPolicy, installCalico: false };
        cfg = parse(raw);
        const { ClusterPlatform } = await import("../../modules/k8s");
        resetRecords();
        // One cluster keeps the fast suite fast; the other differs only in region.
        for (const c of cfg.clusters.slice(0, 1)) {
            new ClusterPlatform(
                `mr-${c.name}`,
                {
                    cluster: c,
                    environment: cfg.environment,
                    cloud: fakeCloud(c.region),
                    remoteInference: c.layer.tiers.guardrails.inferenceFrom
                        ? { vaultId: fakeCloud(c.region).vaultId, region: c.region }
                        : undefined,
                },
                { transformations: mirrorTransformation(cfg, c.name) },
            );
        }
        await settle();
        all = recordedResources();
    });
    after(() => {
        resetRecords();
        lock.restore();
    });

    const prefix = (region: string) => `${region}.ocir.io/ns/slp-mirror/`;

    it("passes the image gate (plan verdict clean)", () => {
        assert.deepEqual(imageIssues(cfg), []);
    });

    it("every catalogued image of every release is the cluster's mirror, by the lock's digest", () => {
        const digests = fixtureLock();
        const problems: string[] = [];
        let checked = 0;
        for (const c of cfg.clusters.slice(0, 1)) {
            const releases = all.filter(
                (r) =>
                    r.type === "kubernetes:helm.sh/v3:Release" &&
                    r.name.startsWith(`mr-${c.name}-`),
            );
            assert.ok(releases.length >= 4, `${c.name}: ${releases.length} releases`);
            const expected = clusterChartImages(c).images;
            for (const r of releases) {
                const i = r.inputs as { chart: string; version: string; values: any };
                const data = chartData(chartId(i.chart, i.version))!;
                const merged = coalesce(defaultsOf(data), i.values) as Record<string, any>;
                const mine = chartImageCatalog.filter(
                    (x) => idOf(x.chart) === data.id && x.layout !== "operator",
                );
                for (const x of mine.filter((m) => expected.some((e) => e.path === m.path))) {
                    checked++;
                    const got = refFromValues(x, merged);
                    const d = x.chartDigest ?? digests[`${x.repository}:${x.tag}`];
                    const want = [
                        `${prefix(c.region!)}${x.repository}:${x.tag}@${d}`,
                        `${prefix(c.region!)}${x.repository}@${d}`,
                    ];
                    if (!want.includes(got))
                        problems.push(`${c.name} ${data.id} ${x.path}: ${got}`);
                }
            }
        }
        assert.ok(checked >= 20, `only ${checked} chart images checked`);
        assert.deepEqual(problems, []);
    });

    it("the releases' values, with digests and mirrors in their image keys, still use only chart keys and pass the charts' schemas", () => {
        const problems: string[] = [];
        for (const r of all.filter((x) => x.type === "kubernetes:helm.sh/v3:Release")) {
            const i = r.inputs as { chart: string; version: string; values: any };
            const data = chartData(chartId(i.chart, i.version))!;
            const allowed = (freeForm[data.id] ?? []).map((f) => f.path);
            for (const k of undefinedKeys(i.values, defaultsOf(data), allowed))
                problems.push(`${r.name}: ${k}`);
            if (data.schema !== undefined) {
                const opts = { strict: false, allErrors: true, validateFormats: false };
                const ajv = String(data.schema.$schema ?? "").includes("draft-07")
                    ? new Ajv(opts)
                    : new Ajv2020(opts);
                const validate = ajv.compile(data.schema);
                if (!validate(coalesce(data.values, i.values)))
                    problems.push(`${r.name}: ${JSON.stringify(validate.errors)}`);
            }
        }
        assert.deepEqual(problems, []);
    });

    it("every image of every object we author is the cluster's mirror, by digest", () => {
        const problems: string[] = [];
        let checked = 0;
        for (const c of cfg.clusters.slice(0, 1)) {
            for (const r of all.filter(
                (x) => isKubernetesObject(x) && x.name.startsWith(`mr-${c.name}-`),
            )) {
                for (const image of imageFields(r.inputs)) {
                    checked++;
                    if (
                        !image.startsWith(prefix(c.region!)) ||
                        !/@sha256:[0-9a-f]{64}$/.test(image)
                    )
                        problems.push(`${c.name} ${r.name}: ${image}`);
                }
            }
        }
        assert.ok(checked >= 10, `only ${checked} images checked`);
        assert.deepEqual(problems, []);
    });
});
