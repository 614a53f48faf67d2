#!/usr/bin/env node
// `npm run model-vault` runs this: the CLI compiled to JavaScript (as the image runs it), never
// ts-node. The loader is recompiled only when a source changed since the last build, so a start
// costs a few stat calls, not the TypeScript compiler.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const here = __dirname;
const root = path.join(here, "..");
const out = path.join(root, "dist", "loader");
const stampFile = path.join(out, ".sources");

/** Path, size and mtime of every input of the build, as one string. */
function sources() {
    const files = [path.join(root, "tsconfig.json")];
    const visit = (dir) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) visit(p);
            else if (e.name.endsWith(".ts") || e.name === "tsconfig.build.json") files.push(p);
        }
    };
    visit(here);
    return files
        .sort()
        .map((f) => {
            const st = fs.statSync(f);
            return `${path.relative(root, f)} ${st.size} ${st.mtimeMs}`;
        })
        .join("\n");
}

function build(stamp) {
    // Into a fresh folder, swapped in whole, so a concurrent run never sees half a build.
    const tmp = `${out}.build-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
        execFileSync(
            process.execPath,
            [
                require.resolve("typescript/bin/tsc", { paths: [root] }),
                "-p",
                path.join(here, "tsconfig.build.json"),
                "--outDir",
                tmp,
            ],
            { stdio: ["ignore", "inherit", "inherit"] },
        );
    } catch {
        fs.rmSync(tmp, { recursive: true, force: true });
        process.stderr.write("model-vault: compiling loader/ failed (see above)\n");
        process.exit(4);
    }
    fs.writeFileSync(path.join(tmp, ".sources"), stamp);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
}

const stamp = sources();
let built;
try {
    built = fs.readFileSync(stampFile, "utf8");
} catch {
    built = undefined;
}
if (built !== stamp) build(stamp);
require(path.join(out, "cli.js")).runFromCommandLine();
