/**
 * The venv of the KFP SDK (pipelines/requirements.lock, hash-locked). Not {@link ensureVenv}: one
 * pinned package, kfp-server-api 2.16.0 (imported by `kfp` itself), is published only as an sdist,
 * so it is built here from its hash-checked sdist; every other package stays binary-only.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { cacheDir, repoRoot } from "./env";
import type { Venv } from "./install";

/** The lock file of the pipelines' Python dependencies. */
export const pipelinesLock = path.join(repoRoot, "pipelines", "requirements.lock");

/** Pinned packages that have no wheel on PyPI and are built from their (hash-checked) sdist. */
const sdistOnly = ["kfp-server-api"];

export function ensurePipelinesVenv(python = "python3"): Venv {
    const lock = fs.readFileSync(pipelinesLock);
    const digest = crypto.createHash("sha256").update(lock).digest("hex").slice(0, 16);
    const dir = cacheDir("venvs", `kfp-${digest}`);
    const venv: Venv = {
        dir,
        python: path.join(dir, "bin", "python"),
        bin: (n) => path.join(dir, "bin", n),
    };
    const done = path.join(dir, ".complete");
    if (fs.existsSync(done)) {
        return venv;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const run = (cmd: string, args: string[]) =>
        execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    run(python, ["-m", "venv", dir]);
    run(venv.python, [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--require-hashes",
        "--no-deps",
        "--only-binary=:all:",
        `--no-binary=${sdistOnly.join(",")}`,
        // The sdist builds with the venv's own setuptools: nothing unpinned is downloaded.
        "--no-build-isolation",
        "-r",
        pipelinesLock,
    ]);
    fs.writeFileSync(done, `${new Date().toISOString()}\n`);
    return venv;
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
