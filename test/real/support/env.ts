/**
 * Where the real-software suite keeps what it installs and builds, and where it finds the data it
 * checks against. Everything here is outside the repository so a clean clone stays clean and a
 * second run on the same machine is fast.
 */
import * as os from "os";
import * as path from "path";

/** The repository root (two levels above test/real/support). */
export const repoRoot = path.resolve(__dirname, "..", "..", "..");

/** Cache for venvs, built binaries and downloads: `$SLP_CACHE_DIR`, else `~/.cache/secure-llm-platform`. */
export function cacheDir(...parts: string[]): string {
    const base =
        process.env.SLP_CACHE_DIR ?? path.join(os.homedir(), ".cache", "secure-llm-platform");
    return path.join(base, ...parts);
}

/**
 * The pinned charts' values, schemas and CRDs (test data kept beside the repository):
 * `$SLP_CHARTS_DIR`, else `charts/` in the folder next to the repository that CI lays beside it.
 */
export function chartsDir(...parts: string[]): string {
    const base = process.env.SLP_CHARTS_DIR ?? path.resolve(repoRoot, "..", "shared", "charts");
    return path.join(base, ...parts);
}

/** Temporary folder for one suite; removed by the suite's `after()`. */
export function scratchDir(prefix: string): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs") as typeof import("fs");
    return fs.mkdtempSync(path.join(os.tmpdir(), `slp-${prefix}-`));
}
