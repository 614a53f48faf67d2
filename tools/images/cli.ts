/**
 * `npm run images:mirror -- --stack NAME [--dry-run] [--json]`: copies every image of the stack
 * into its clusters' regions' OCIR by digest and signs it with each OKE cluster's image-signing
 * key (tools/images/mirror.ts). Needs the cloud layer (the keys are its outputs), the Pulumi CLI,
 * the OCI CLI and skopeo logged in to the OCIR registries (`skopeo login <region>.ocir.io`).
 * `--dry-run` prints the mirror manifest and runs nothing; `--registries` prints the OCIR hosts
 * to log in to. `npm run deploy` runs the same step between the cloud and the cluster layer.
 *
 * `--write-lock` first resolves the tag of every Helm chart image without a digest of its chart's
 * own (`skopeo inspect --raw`, no login needed for public registries) and writes the digests to
 * images/chart-images.lock.json (or the file `SLP_CHART_IMAGE_LOCK` names), printing every
 * digest that changed; the run then mirrors with them (`--dry-run`: prints the manifest; a stack
 * without `images.mirror`: stops there). Review the diff and commit the lock before deploying:
 * the program pins the charts' images from it.
 *
 * Exit codes: 0 mirrored; 1 a step failed; 2 a usage or config error (nothing was run).
 */
import * as path from "path";
import { ConfigValidationError, formatIssue } from "../../modules/config";
import { StackFileError, listStacks } from "../plan/stackfile";
import { automationStack, failure, localProcesses, parsedStack, pulumiEnv } from "../deploy/cli";
import { didYouMean } from "../../modules/config/suggest";
import {
    ChartImageLock,
    chartImageLockFile,
    readChartImageLock,
} from "../../modules/constants/chart-images";
import {
    MirrorConfigError,
    mirrorPlan,
    resolveChartDigests,
    runMirror,
    signingKeys,
    writeChartImageLock,
} from "./mirror";

const usage =
    "usage: npm run images:mirror -- --stack NAME [--write-lock] [--dry-run] [--json] [--registries]";

export async function main(
    argv: readonly string[],
    projectDir = path.resolve(__dirname, "..", ".."),
): Promise<number> {
    let stack: string | undefined;
    let dryRun = false;
    let json = false;
    let registries = false;
    let writeLock = false;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        if (a === "--stack" || a === "-s") stack = argv[++i];
        else if (a === "--dry-run") dryRun = true;
        else if (a === "--json") json = true;
        else if (a === "--registries") registries = true;
        else if (a === "--write-lock") writeLock = true;
        else {
            console.error(`unknown argument ${a}\n${usage}`);
            return 2;
        }
    }
    const stacks = listStacks(projectDir);
    if (stack === undefined || !stacks.includes(stack)) {
        console.error(
            stack === undefined
                ? `--stack is required\n${usage}`
                : `no stack ${stack}: Pulumi.${stack}.yaml does not exist${didYouMean(stack, stacks)}`,
        );
        return 2;
    }
    let cfg;
    let manifest;
    let lock: ChartImageLock | undefined;
    try {
        cfg = parsedStack(projectDir, stack);
        if (registries && cfg.images.mirror === undefined) {
            return 0; // no mirror, no registry to log in to
        }
        if (writeLock) {
            const file =
                process.env.SLP_CHART_IMAGE_LOCK ?? path.join(projectDir, chartImageLockFile);
            try {
                const resolved = await resolveChartDigests(
                    localProcesses,
                    readChartImageLock(file),
                    (l) => console.error(l),
                );
                writeChartImageLock(file, resolved.lock);
                lock = resolved.lock;
                console.error(
                    `images:mirror: wrote ${Object.keys(lock).length} chart image digest(s) to ${file}, ${resolved.changes.length} changed: review and commit it`,
                );
            } catch (e) {
                console.error(`images:mirror ${stack}: --write-lock failed: ${failure(e)}`);
                return 1;
            }
            if (cfg.images.mirror === undefined) return 0;
        }
        manifest = mirrorPlan(cfg, lock);
    } catch (e) {
        if (e instanceof ConfigValidationError || e instanceof MirrorConfigError) {
            console.error(e.issues.map((i) => `config: ${formatIssue(i)}`).join("\n"));
            return 2;
        }
        if (e instanceof StackFileError) {
            console.error(e.message);
            return 2;
        }
        throw e;
    }
    if (registries) {
        // The OCIR hosts to log in to (`skopeo login`), one per line.
        for (const h of new Set(manifest.map((e) => e.mirrorRef.split("/")[0]))) console.log(h);
        return 0;
    }
    if (dryRun) {
        if (json) {
            console.log(JSON.stringify(manifest, null, 2));
        } else {
            for (const e of manifest)
                console.log(`${e.source} → ${e.mirrorRef} (${e.clusters.join(", ")})`);
        }
        return 0;
    }
    Object.assign(process.env, pulumiEnv(process.env));
    try {
        const pulumi = await automationStack(projectDir, stack, path.join(projectDir, "policy"));
        const keys = signingKeys(cfg, await pulumi.outputs());
        const results = await runMirror({
            cfg,
            manifest,
            keys,
            processes: localProcesses,
            log: (l) => console.error(l),
        });
        if (json) console.log(JSON.stringify(results, null, 2));
        console.error(`images:mirror ${stack}: ${results.length} image(s) mirrored and signed`);
        return 0;
    } catch (e) {
        console.error(`images:mirror ${stack} failed: ${failure(e)}`);
        return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (e) => {
            console.error(e);
            process.exitCode = 1;
        },
    );
}
