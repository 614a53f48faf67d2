/**
 * The image mirror end to end: the rendered objects pointing only at the mirrors (the offline
 * plan of a stack with images.mirror), and `npm run images:mirror` with `oci` and `skopeo`
 * stand-ins on PATH (test/deploy/fakes: OCI and the registries cannot run here) that keep a fake
 * regional registry.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackImages } from "../../../modules/images";
import { placeholderDigest } from "../../../modules/constants/images";
import { main as mirrorMain } from "../../../tools/images/cli";
import { mirrorPlan, runMirror, signingKeys } from "../../../tools/images/mirror";
import { localProcesses } from "../../../tools/deploy/cli";
import { makeFakes, withEnv } from "../../deploy/fakes";
import { parse, repoRoot, stackRaw } from "../../support/stacks";
import { planEditedStack } from "../support/plan";

import { createHash } from "crypto";
import {
    chartImageCatalog,
    lockKey,
    readChartImageLock,
} from "../../../modules/constants/chart-images";
import { twinRaw, useFixtureLock } from "../../images/fixtures";

describe("a stack with images.mirror renders only mirror references (offline plan)", function () {
    this.timeout(120000);
    let dir: string;
    let text: string;
    before(async () => {
        const planned = await planEditedStack(
            "dev",
            (config) => (config["secure-llm-platform:images"] = { mirror: "ns/slp-mirror" }),
            "slp-mirror-plan-",
        );
        dir = planned.root;
        const out = planned.out;
        text = [
            fs.readFileSync(path.join(out, "resources.json"), "utf8"),
            ...fs
                .readdirSync(path.join(out, "manifests"))
                .map((f) => fs.readFileSync(path.join(out, "manifests", f), "utf8")),
        ].join("\n");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("references every pinned image from us-ashburn-1.ocir.io/ns/slp-mirror, by digest", () => {
        const pinned = [
            ...text.matchAll(
                /[a-z0-9.-]+\.[a-z]+(?::\d+)?\/[a-z0-9._/-]+(?::[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}/g,
            ),
        ].map((m) => m[0]);
        assert.ok(pinned.length >= 8, `found ${pinned.length} image references`);
        const stray = [
            ...new Set(pinned.filter((r) => !r.startsWith("us-ashburn-1.ocir.io/ns/slp-mirror/"))),
        ];
        assert.deepEqual(
            stray,
            [],
            "an image the manifest does not list is rendered from its upstream registry",
        );
        const manifestRefs = new Set(
            stackImages(parse({ ...stackRaw("dev"), images: { mirror: "ns/slp-mirror" } })).map(
                (i) => `us-ashburn-1.ocir.io/ns/slp-mirror/${i.repository}@${i.digest}`,
            ),
        );
        // A chart key that takes a whole reference (kata-deploy's) keeps the tag before the digest.
        for (const r of new Set(pinned.map((p) => p.replace(/:[A-Za-z0-9._-]+@/, "@"))))
            assert.ok(manifestRefs.has(r), `${r} is not in the mirror manifest`);
    });

    it("identifies the cluster's Kubernetes provider by its cluster OCID", () => {
        assert.match(text, /"clusterIdentifier"/);
    });
});

describe("npm run images:mirror (oci and skopeo stand-ins)", function () {
    this.timeout(60000);
    // The chart images' digests as a reviewed, committed lock would give them.
    let lock: ReturnType<typeof useFixtureLock>;
    before(() => (lock = useFixtureLock()));
    after(() => lock.restore());

    it("creates each repository, copies by digest and signs with each cluster's own key in its region", async () => {
        const fakes = makeFakes(["oci", "skopeo"]);
        try {
            const cfg = parse(twinRaw());
            const manifest = mirrorPlan(cfg);
            // The upstream registries hold every source image.
            fakes.writeState(
                "upstream.json",
                Object.fromEntries(manifest.map((e) => [`${e.repository}@${e.digest}`, "{}"])),
            );
            const keys = signingKeys(cfg, {
                clusters: {
                    "prod-iad": {
                        vaultId: "ocid1.vault.oc1.iad.vaultiad",
                        keyIds: { signing: "ocid1.key.oc1.iad.keyiad" },
                    },
                    "prod-fra": {
                        vaultId: "ocid1.vault.oc1.fra.vaultfra",
                        keyIds: { signing: "ocid1.key.oc1.fra.keyfra" },
                    },
                },
            });
            const lines: string[] = [];
            const results = await withEnv(fakes.env, () =>
                runMirror({
                    cfg,
                    manifest,
                    keys,
                    processes: localProcesses,
                    log: (l) => lines.push(l),
                }),
            );
            assert.equal(results.length, manifest.length);
            const calls = fakes.calls();
            const copies = calls.filter((c) => c.tool === "skopeo" && c.argv[0] === "copy");
            assert.equal(copies.length, manifest.length);
            for (const c of copies) {
                assert.ok(c.argv.includes("--all") && c.argv.includes("--preserve-digests"));
                const [src, dst] = c.argv.slice(-2);
                assert.equal(src!.split("@")[1], dst!.split("@")[1], "copied by digest");
            }
            const signs = calls.filter((c) => c.tool === "oci" && c.argv[3] === "sign-upload");
            assert.equal(signs.length, manifest.length, "one signature per image and region");
            for (const s of signs) {
                const region = s.argv[s.argv.indexOf("--region") + 1];
                const key = s.argv[s.argv.indexOf("--kms-key-id") + 1];
                assert.equal(
                    key,
                    region === "us-ashburn-1"
                        ? "ocid1.key.oc1.iad.keyiad"
                        : "ocid1.key.oc1.fra.keyfra",
                );
                assert.equal(s.argv[s.argv.indexOf("--kms-key-version-id") + 1], `${key}.version1`);
                assert.equal(
                    s.argv[s.argv.indexOf("--signing-algorithm") + 1],
                    "SHA_256_RSA_PKCS_PSS",
                );
                assert.equal(s.argv[s.argv.indexOf("--auth") + 1], "security_token");
            }
            const repos =
                fakes.stateFile<Record<string, { "is-immutable": boolean; "is-public": boolean }>>(
                    "repos.json",
                );
            assert.ok(Object.values(repos).every((r) => r["is-immutable"] && !r["is-public"]));
            const registry =
                fakes.stateFile<Record<string, { signatures?: string[] }>>("registry.json");
            assert.ok(Object.values(registry).every((i) => i.signatures?.length === 1));
            assert.ok(results.every((r) => r.signedFor.length === 1));
            // The charts' images are copied and signed like ours, in each region.
            for (const repo of [
                "registry.k8s.io/ingress-nginx/controller",
                "quay.io/prometheus/prometheus",
                "quay.io/kata-containers/kubectl",
                "nvcr.io/nvidia/gpu-operator",
                // The authored Calico policy-only install (OKE VCN-native), digests from the lock.
                "quay.io/calico/node",
                "quay.io/calico/kube-controllers",
            ]) {
                for (const region of ["us-ashburn-1", "eu-frankfurt-1"]) {
                    const signed = Object.entries(registry).filter(
                        ([ref, i]) =>
                            ref.startsWith(`${region}.ocir.io/ns/slp-mirror/${repo}@`) &&
                            i.signatures?.length === 1,
                    );
                    assert.equal(signed.length, 1, `${repo} signed in ${region}`);
                }
            }
            assert.ok(
                !Object.keys(registry).some((r) => r.includes("quay.io/tigera/")),
                "no tigera-operator on OKE VCN-native clusters: nothing of it is mirrored",
            );
        } finally {
            fakes.remove();
        }
    });

    it("stops when an image is not at its source digest upstream", async () => {
        const fakes = makeFakes(["oci", "skopeo"]);
        try {
            const cfg = parse(twinRaw());
            const manifest = mirrorPlan(cfg);
            fakes.writeState("upstream.json", {});
            await assert.rejects(
                withEnv(fakes.env, () =>
                    runMirror({
                        cfg,
                        manifest,
                        keys: [],
                        processes: localProcesses,
                        log: () => undefined,
                    }),
                ),
                /skopeo copy .* failed .*manifest unknown/,
            );
        } finally {
            fakes.remove();
        }
    });

    it("--write-lock resolves each chart image's tag with skopeo inspect --raw and writes the digests of the registry's bytes", async () => {
        const fakes = makeFakes(["skopeo"]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-write-lock-"));
        const file = path.join(dir, "chart-images.lock.json");
        fs.copyFileSync(path.join(repoRoot, "images", "chart-images.lock.json"), file);
        const lines: string[] = [];
        const err = console.error;
        console.error = (...a: unknown[]) => void lines.push(a.join(" "));
        try {
            // Each upstream tag answers a manifest of its own; a pull by digest finds it too.
            const keys = [
                ...new Set(chartImageCatalog.filter((i) => !i.chartDigest).map((i) => lockKey(i))),
            ];
            const upstream: Record<string, string> = {};
            const want: Record<string, string> = {};
            for (const k of keys) {
                const body = JSON.stringify({
                    schemaVersion: 2,
                    mediaType: "application/vnd.oci.image.index.v1+json",
                    manifests: [{ annotations: { ref: k } }],
                });
                const d = `sha256:${createHash("sha256").update(body).digest("hex")}`;
                upstream[k] = body;
                upstream[`${k.replace(/:[^:/]+$/, "")}@${d}`] = body;
                want[k] = d;
            }
            fakes.writeState("upstream.json", upstream);
            const code = await withEnv({ ...fakes.env, SLP_CHART_IMAGE_LOCK: file }, () =>
                mirrorMain(["--stack", "dev", "--write-lock"]),
            );
            assert.equal(code, 0, lines.join("\n"));
            assert.deepEqual(readChartImageLock(file), want);
            const inspects = fakes
                .calls()
                .filter((c) => c.tool === "skopeo" && c.argv[0] === "inspect");
            assert.equal(inspects.length, keys.length, "one inspect per tag");
            assert.ok(inspects.every((c) => c.argv[1] === "--raw"));
            assert.ok(lines.some((l) => /review and commit/.test(l)));
            // The mirror then copies exactly those digests.
            const manifest = mirrorPlan(parse(twinRaw()), readChartImageLock(file));
            const prom = manifest.find((e) => e.repository === "quay.io/prometheus/prometheus");
            assert.equal(prom?.digest, want["quay.io/prometheus/prometheus:v3.10.0"]);
            // A moved tag is reported, never silent.
            const moved = JSON.stringify({ schemaVersion: 2, moved: true });
            fakes.writeState("upstream.json", {
                ...upstream,
                "quay.io/kata-containers/kubectl:latest": moved,
            });
            lines.length = 0;
            assert.equal(
                await withEnv({ ...fakes.env, SLP_CHART_IMAGE_LOCK: file }, () =>
                    mirrorMain(["--stack", "dev", "--write-lock"]),
                ),
                0,
            );
            assert.ok(
                lines.some((l) =>
                    l.startsWith(
                        `quay.io/kata-containers/kubectl:latest: ${want["quay.io/kata-containers/kubectl:latest"]} → sha256:`,
                    ),
                ),
                lines.join("\n"),
            );
            assert.ok(lines.some((l) => /1 changed/.test(l)));
            // An unknown tag fails the run (exit 1) and leaves the lock as it was.
            const before = fs.readFileSync(file, "utf8");
            fakes.writeState("upstream.json", {});
            assert.equal(
                await withEnv({ ...fakes.env, SLP_CHART_IMAGE_LOCK: file }, () =>
                    mirrorMain(["--stack", "dev", "--write-lock"]),
                ),
                1,
            );
            assert.equal(fs.readFileSync(file, "utf8"), before);
        } finally {
            console.error = err;
            fakes.remove();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("--dry-run prints the manifest; a stack without images.mirror is refused with exit 2", async () => {
        const err = console.error;
        const log = console.log;
        const out: string[] = [];
        console.error = (...a: unknown[]) => void out.push(a.join(" "));
        console.log = (...a: unknown[]) => void out.push(a.join(" "));
        try {
            assert.equal(await mirrorMain(["--stack", "dev", "--dry-run"]), 2);
            assert.ok(out.some((l) => /config: secure-llm-platform:images\.mirror/.test(l)));
            assert.equal(await mirrorMain(["--stack", "dve"]), 2);
            assert.ok(out.some((l) => /did you mean "dev"/.test(l)));
        } finally {
            console.error = err;
            console.log = log;
        }
        assert.ok(placeholderDigest.endsWith("0"));
    });
});
