/**
 * The venv of the KFP SDK (pipelines/requirements.lock, hash-locked). One pinned package,
 * kfp-server-api 2.16.0 (imported by `kfp` itself), is published only as an sdist, so it is built
 * from its hash-checked sdist; every other package stays binary-only.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { cacheDir, repoRoot } from "./env";
import { Venv, ensureVenv } from "./install";

/** The lock file of the pipelines' Python dependencies. */
export const pipelinesLock = path.join(repoRoot, "pipelines", "requirements.lock");

/** Pinned packages that have no wheel on PyPI and are built from their (hash-checked) sdist. */
const sdistOnly = ["kfp-server-api"];

export function ensurePipelinesVenv(): Venv {
    return ensureVenv("kfp", pipelinesLock, { sdistOnly });
}

/** kustomize as kubectl 1.32 embeds it, built from the Go module proxy into the cache. */
export const kustomizeVersion = "v5.5.0";

export function ensureKustomize(): string {
    const dir = cacheDir("bin", `kustomize-${kustomizeVersion}`);
    const bin = path.join(dir, "kustomize");
    if (fs.existsSync(bin)) {
        return bin;
    }
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("go", ["install", `sigs.k8s.io/kustomize/kustomize/v5@${kustomizeVersion}`], {
        env: { ...process.env, GOBIN: dir, GOFLAGS: "-mod=mod" },
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 64 << 20,
    });
    return bin;
}
