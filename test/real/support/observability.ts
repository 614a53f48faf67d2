/**
 * Tools of the observability suite that no Debian package ships at the version the platform
 * pins: built from the Go module proxy with the machine's Go toolchain, once, into the cache.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { cacheDir } from "./env";

/**
 * `go install <pkg>@<version>` into `cacheDir("go-bin", <name>-<version>)`; returns the binary's
 * path. Reused while the binary exists and `go version -m` shows the module at `version`.
 */
export function ensureGoBinary(pkg: string, module: string, version: string): string {
    const name = path.basename(pkg);
    const dir = cacheDir("go-bin", `${name}-${version}`);
    const bin = path.join(dir, name);
    if (fs.existsSync(bin) && goModuleVersion(bin, module) === version) {
        return bin;
    }
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("go", ["install", `${pkg}@${version}`], {
        env: {
            ...process.env,
            GOBIN: dir,
            GOFLAGS: "-buildvcs=false",
            GOTOOLCHAIN: "local",
            CGO_ENABLED: "0",
        },
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 64 * 1024 * 1024,
    });
    const got = goModuleVersion(bin, module);
    if (got !== version) {
        throw new Error(`${bin} was built from ${module} ${got ?? "(unknown)"}, not ${version}`);
    }
    return bin;
}

/** The version of `module` a Go binary was built from (`go version -m`), if it records one. */
export function goModuleVersion(bin: string, module: string): string | undefined {
    const out = execFileSync("go", ["version", "-m", bin], { encoding: "utf8" });
    for (const line of out.split("\n")) {
        const f = line.trim().split(/\s+/);
        if ((f[0] === "mod" || f[0] === "dep") && f[1] === module) {
            return f[2];
        }
    }
    return undefined;
}
