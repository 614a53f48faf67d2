/**
 * Installs what a real-software suite needs, pinned and idempotent: Debian packages by name, and
 * Python packages into a venv from a hash-locked requirements file. Runs as the suite's first step,
 * so `npm run test:real` on a fresh machine needs nothing installed by hand.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { cacheDir } from "./env";

let aptUpdated = false;

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
    return execFileSync(cmd, args, {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...opts.env },
        maxBuffer: 64 * 1024 * 1024,
    });
}

function installed(pkg: string): boolean {
    try {
        return run("dpkg-query", ["-W", "-f=${Status}", pkg]).includes("install ok installed");
    } catch {
        return false;
    }
}

/** Installs the Debian packages that are missing (`apt-get install --no-install-recommends`). */
export function ensureApt(packages: readonly string[]): void {
    const missing = packages.filter((p) => !installed(p));
    if (missing.length === 0) {
        return;
    }
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    if (!aptUpdated) {
        run("apt-get", ["-o", "DPkg::Lock::Timeout=600", "update", "-qq"], { env });
        aptUpdated = true;
    }
    // Another installer may hold the dpkg lock: wait for it rather than fail.
    run(
        "apt-get",
        [
            "-o",
            "DPkg::Lock::Timeout=600",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            ...missing,
        ],
        { env },
    );
    for (const p of missing) {
        if (!installed(p)) {
            throw new Error(`apt-get install ${p} reported success but ${p} is not installed`);
        }
    }
}

/** A Python virtual environment created by {@link ensureVenv}. */
export interface Venv {
    readonly dir: string;
    readonly python: string;
    /** Path of a console script installed into the venv (`bin/NAME`). */
    bin(name: string): string;
}

/**
 * A venv holding exactly the packages of `lockFile` (a `pip-compile --generate-hashes` style file),
 * installed with `--require-hashes`, binary wheels only except the packages named in `sdistOnly`
 * (built from their hash-checked sdists). The venv is keyed by the lock file's content, so a changed lock
 * gets a new venv and an unchanged one is reused.
 */
export function ensureVenv(
    name: string,
    lockFile: string,
    opts: { python?: string; sdistOnly?: readonly string[] } = {},
): Venv {
    const python = opts.python ?? "python3";
    const sdistOnly = opts.sdistOnly ?? [];
    const lock = fs.readFileSync(lockFile);
    const digest = crypto.createHash("sha256").update(lock).digest("hex").slice(0, 16);
    const dir = cacheDir("venvs", `${name}-${digest}`);
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
        // A pinned package published only as an sdist is built from its hash-checked sdist with
        // the venv's own setuptools: nothing unpinned is downloaded.
        ...(sdistOnly.length > 0
            ? [`--no-binary=${sdistOnly.join(",")}`, "--no-build-isolation"]
            : []),
        "-r",
        lockFile,
    ]);
    fs.writeFileSync(done, `${new Date().toISOString()}\n`);
    return venv;
}
