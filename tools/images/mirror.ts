/**
 * Copies every image of a stack (modules/images.ts `mirrorManifest`) into the tenancy's OCIR by
 * digest and signs it with the image-signing key of every OKE cluster that verifies signatures.
 * Runs after the cloud layer (the keys are its outputs) and before the cluster layer.
 *
 * Process boundary (tools/deploy/run.ts `Processes`), commands from their sources:
 * - `skopeo copy --all --preserve-digests docker://<src>@<d> docker://<mirror>@<d>`: `--all`
 *   copies the whole multi-arch index so the digest is the source's, `--preserve-digests` fails
 *   rather than store another digest (skopeo ≥ 1.6, containers/skopeo PR #1520; a digested
 *   destination, containers/skopeo issue #1440);
 * - `oci artifacts container repository list|create --compartment-id --display-name
 *   [--is-public false --is-immutable true]`, `oci artifacts container image list
 *   --compartment-id --repository-name --image-digest` (data.items[].id),
 *   `oci kms management vault get --vault-id` (data."management-endpoint"),
 *   `oci kms management key get --key-id --endpoint` (data."current-key-version") and
 *   `oci artifacts container image-signature sign-upload --compartment-id --image-id
 *   --kms-key-id --kms-key-version-id --signing-algorithm` (oracle/oci-cli,
 *   services/artifacts/src/oci_cli_artifacts/artifacts_cli_extended.py).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import { ociCliAuthArgs } from "../../modules/access";
import type { PlatformConfig } from "../../modules/config";
import type { ConfigIssue } from "../../modules/config/validate";
import {
    ChartImageLock,
    chartImageCatalog,
    chartImageLockFile,
    defaultChartImageLock,
    lockKey,
} from "../../modules/constants/chart-images";
import { MirrorEntry, mirrorManifest, stackImages } from "../../modules/images";
import type { OciOutput, Processes } from "../deploy/run";

/** The signing algorithm for the vault's RSA signing key (one of the four OCIR accepts). */
export const signingAlgorithm = "SHA_256_RSA_PKCS_PSS";

/** An OKE cluster's image-signing key, from the cloud layer's outputs. */
export interface SigningKey {
    readonly cluster: string;
    /** Region of the key's vault (the cluster's). */
    readonly region: string;
    readonly vaultId: string;
    readonly keyId: string;
}

/** A mirror run that cannot start (exit 2). */
export class MirrorConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(issues.map((i) => `${i.path}: ${i.expected}`).join("\n"));
        this.name = "MirrorConfigError";
    }
}

/** A step that failed (exit 1). */
export class MirrorError extends Error {}

/**
 * What to mirror for a stack: refuses a stack without `images.mirror` and images still at the
 * placeholder digest (nothing to copy), naming the keys: our unbuilt images, and chart images
 * and the authored Calico install's images whose digest is not in the lock yet (`--write-lock`
 * resolves them). Images an operator starts without chart keys (the tigera-operator's Calico) are
 * not mirrored; prod refuses them (modules/images.ts).
 */
export function mirrorPlan(
    cfg: PlatformConfig,
    lock: ChartImageLock = defaultChartImageLock(),
): MirrorEntry[] {
    const issues: ConfigIssue[] = [];
    if (cfg.images.mirror === undefined) {
        issues.push({
            path: `${cfg.project}:images.mirror`,
            value: undefined,
            expected:
                "<tenancy-namespace>/<prefix> of the OCIR mirrors, e.g. mytenancy/slp-mirror (mirrors live at <region>.ocir.io/mytenancy/slp-mirror)",
        });
    }
    const manifest = mirrorManifest(cfg, lock);
    for (const e of stackImages(cfg, lock).filter((m) => m.placeholder && m.mirrorable)) {
        issues.push(
            e.key.startsWith(chartImageLockFile)
                ? {
                      path: e.key,
                      value: `${e.repository}:${e.tag}`,
                      expected: `its digest in ${chartImageLockFile}: run npm run images:mirror -- --stack ${cfg.stack} --write-lock (an upstream image without a digest cannot be mirrored)`,
                  }
                : {
                      path: e.key.startsWith("clusters[")
                          ? `${cfg.project}:${e.key}.digest`
                          : e.key,
                      value: e.source,
                      expected:
                          "the digest of the pushed build: a placeholder image cannot be mirrored",
                  },
        );
    }
    if (issues.length > 0) {
        throw new MirrorConfigError(issues);
    }
    return manifest;
}

/** The signing keys of the OKE clusters with `imageSigning`, from the `clusters` stack output. */
export function signingKeys(cfg: PlatformConfig, outputs: Record<string, unknown>): SigningKey[] {
    const all = (outputs.clusters ?? {}) as Record<
        string,
        { vaultId?: string; keyIds?: Record<string, string> }
    >;
    return cfg.clusters
        .filter((c) => c.target === "oke" && c.imageSigning)
        .map((c) => {
            const o = all[c.name];
            if (!o?.vaultId || !o.keyIds?.signing) {
                throw new MirrorError(
                    `stack output clusters.${c.name} has no vaultId/keyIds.signing: run the cloud layer first (npm run deploy)`,
                );
            }
            return {
                cluster: c.name,
                region: c.region,
                vaultId: o.vaultId,
                keyId: o.keyIds.signing,
            };
        });
}

export interface MirrorContext {
    readonly cfg: PlatformConfig;
    readonly manifest: readonly MirrorEntry[];
    readonly keys: readonly SigningKey[];
    readonly processes: Processes;
    readonly log: (line: string) => void;
}

/** What a run did, per image. */
export interface MirrorResult {
    readonly source: string;
    readonly mirrorRef: string;
    readonly imageId: string;
    /** Clusters whose key signed it. */
    readonly signedFor: readonly string[];
}

/** Copies and signs every entry; stops at the first failure. */
export async function runMirror(ctx: MirrorContext): Promise<MirrorResult[]> {
    const { cfg } = ctx;
    const compartmentId = cfg.compartmentId;
    if (compartmentId === undefined) {
        throw new MirrorConfigError([
            {
                path: `${cfg.project}:compartmentId`,
                value: undefined,
                expected: "the compartment of the mirror repositories",
            },
        ]);
    }
    const oci = async (args: string[], inRegion: string): Promise<OciOutput> => {
        const r = await ctx.processes.run("oci", [
            ...args,
            "--region",
            inRegion,
            ...ociCliAuthArgs(cfg.ociAuth),
        ]);
        if (r.code !== 0) {
            throw new MirrorError(
                `oci ${args.slice(0, 4).join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`,
            );
        }
        return r.stdout.trim() === "" ? {} : (JSON.parse(r.stdout) as OciOutput);
    };
    // Key versions once per key: the signature names the version that signed it.
    const keyVersions = new Map<string, string>();
    for (const k of ctx.keys) {
        const vault = await oci(
            ["kms", "management", "vault", "get", "--vault-id", k.vaultId],
            k.region,
        );
        const endpoint = vault?.data?.["management-endpoint"];
        const key = await oci(
            ["kms", "management", "key", "get", "--key-id", k.keyId, "--endpoint", endpoint ?? ""],
            k.region,
        );
        const version = key?.data?.["current-key-version"];
        if (!endpoint || !version) {
            throw new MirrorError(`cannot read the current version of signing key ${k.keyId}`);
        }
        keyVersions.set(k.keyId, version);
    }
    const results: MirrorResult[] = [];
    for (const [n, e] of ctx.manifest.entries()) {
        ctx.log(`[${n + 1}/${ctx.manifest.length}] ${e.source} → ${e.mirrorRef}`);
        const repos = await oci(
            [
                "artifacts",
                "container",
                "repository",
                "list",
                "--compartment-id",
                compartmentId,
                "--display-name",
                e.mirrorRepository,
            ],
            e.region,
        );
        if ((repos?.data?.items ?? []).length === 0) {
            await oci(
                [
                    "artifacts",
                    "container",
                    "repository",
                    "create",
                    "--compartment-id",
                    compartmentId,
                    "--display-name",
                    e.mirrorRepository,
                    "--is-public",
                    "false",
                    "--is-immutable",
                    "true",
                ],
                e.region,
            );
        }
        const copy = await ctx.processes.run("skopeo", [
            "copy",
            "--all",
            "--preserve-digests",
            `docker://${e.repository}@${e.digest}`,
            `docker://${e.mirrorRef}`,
        ]);
        if (copy.code !== 0) {
            throw new MirrorError(
                `skopeo copy ${e.source} failed (exit ${copy.code}): ${copy.stderr.trim()}`,
            );
        }
        const listed = await oci(
            [
                "artifacts",
                "container",
                "image",
                "list",
                "--compartment-id",
                compartmentId,
                "--repository-name",
                e.mirrorRepository,
                "--image-digest",
                e.digest,
            ],
            e.region,
        );
        const imageId = listed.data?.items?.[0]?.id;
        if (!imageId) {
            throw new MirrorError(`${e.mirrorRef} is not in OCIR after the copy`);
        }
        // Each cluster verifies with its own key, which lives in the cluster's (the mirror's) region.
        const keys = ctx.keys.filter((k) => e.clusters.includes(k.cluster));
        for (const k of keys) {
            await oci(
                [
                    "artifacts",
                    "container",
                    "image-signature",
                    "sign-upload",
                    "--compartment-id",
                    compartmentId,
                    "--image-id",
                    imageId,
                    "--kms-key-id",
                    k.keyId,
                    "--kms-key-version-id",
                    keyVersions.get(k.keyId)!,
                    "--signing-algorithm",
                    signingAlgorithm,
                    "--description",
                    `${cfg.stack} mirror of ${e.source}`,
                ],
                e.region,
            );
        }
        results.push({
            source: e.source,
            mirrorRef: e.mirrorRef,
            imageId,
            signedFor: keys.map((k) => k.cluster),
        });
    }
    return results;
}

/** What `--write-lock` found for one chart image. */
export interface LockChange {
    readonly image: string;
    readonly before?: string;
    readonly after: string;
}

/**
 * Resolves every chart image without a digest of its chart's own (modules/constants/
 * chart-images.ts) tag → digest against its registry: `skopeo inspect --raw docker://<ref>`
 * prints the manifest (the multi-arch index for a multi-arch tag) exactly as the registry serves
 * it, and its digest is the sha256 of those bytes (containers/image `manifest.Digest`, what
 * `skopeo manifest-digest` computes; the digest a pull by tag resolves to). Returns the new lock
 * and what changed; a moved tag shows as a change, never silently.
 */
export async function resolveChartDigests(
    processes: Processes,
    current: ChartImageLock,
    log: (line: string) => void,
): Promise<{ lock: Record<string, string>; changes: LockChange[] }> {
    const lock: Record<string, string> = {};
    const changes: LockChange[] = [];
    const wanted = [
        ...new Set(
            chartImageCatalog.filter((i) => i.chartDigest === undefined).map((i) => lockKey(i)),
        ),
    ].sort();
    for (const key of wanted) {
        const r = await processes.run("skopeo", ["inspect", "--raw", `docker://${key}`]);
        if (r.code !== 0) {
            throw new MirrorError(
                `skopeo inspect --raw docker://${key} failed (exit ${r.code}): ${r.stderr.trim()}`,
            );
        }
        const digest = `sha256:${createHash("sha256").update(r.stdout, "utf8").digest("hex")}`;
        lock[key] = digest;
        if (current[key] !== digest) {
            changes.push({ image: key, before: current[key], after: digest });
            log(`${key}: ${current[key] ?? "(none)"} → ${digest}`);
        }
    }
    return { lock, changes };
}

/** Writes a lock file in the committed format (sorted keys, so diffs stay reviewable). */
export function writeChartImageLock(file: string, lock: ChartImageLock): void {
    const images = Object.fromEntries(Object.entries(lock).sort(([a], [b]) => a.localeCompare(b)));
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(file, `${JSON.stringify({ ...doc, images }, null, 4)}\n`);
}
