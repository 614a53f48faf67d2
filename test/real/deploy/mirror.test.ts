/**
 * The image mirror end to end: the rendered objects pointing only at the mirrors (the offline
 * plan of a stack with images.mirror), and `npm run images:mirror` with `oci` and `skopeo`
 * stand-ins on PATH (test/deploy/fakes: OCI and the registries cannot run here) that keep a fake
 * regional registry.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, stringify } from "yaml";
import { stackImages } from "../../../modules/images";
import { placeholderDigest } from "../../../modules/constants/images";
import { main as mirrorMain } from "../../../tools/images/cli";
import { mirrorPlan, runMirror, signingKeys } from "../../../tools/images/mirror";
import { localProcesses } from "../../../tools/deploy/cli";
import { makeFakes, withEnv } from "../../deploy/fakes";
import { parse, repoRoot, stackRaw } from "../../support/stacks";

import { twinRaw } from "../../images/fixtures";

describe("a stack with images.mirror renders only mirror references (offline plan)", function () {
    this.timeout(120000);
    let dir: string;
    let text: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-mirror-plan-"));
        const doc = parseYaml(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
        doc.config["secure-llm-platform:images"] = { mirror: "ns/slp-mirror" };
        fs.mkdirSync(path.join(dir, "config"));
        fs.writeFileSync(path.join(dir, "config", "Pulumi.dev.yaml"), stringify(doc));
        const r = spawnSync(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                "tools/plan/cli.ts",
                "--stack",
                "dev",
                "--out",
                path.join(dir, "out"),
                "--config-dir",
                path.join(dir, "config"),
            ],
            { cwd: repoRoot, encoding: "utf8" },
        );
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const out = path.join(dir, "out", "dev");
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
        for (const r of new Set(pinned))
            assert.ok(manifestRefs.has(r), `${r} is not in the mirror manifest`);
    });

    it("identifies the cluster's Kubernetes provider by its cluster OCID", () => {
        assert.match(text, /"clusterIdentifier"/);
    });
});

describe("npm run images:mirror (oci and skopeo stand-ins)", function () {
    this.timeout(60000);

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
