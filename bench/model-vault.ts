/**
 * `npm run bench:model-vault [-- --size-mib 1024 --rounds 5 --threads 2 --keep]`
 *
 * Decrypt+verify of one model into tmpfs, side by side and interleaved, by:
 *
 * - `model-vault`: the CLI compiled to JavaScript (`node loader/run.js decrypt`) four ways: as
 *   `npm run model-vault` runs it (its variables: the glibc malloc tunables) in an environment
 *   cleared of this machine's `NODE_EXTRA_CA_CERTS`, `NODE_OPTIONS` and malloc settings — the
 *   targets are judged on this row; the same without the malloc tunables; as the model-loader
 *   image runs it (its Dockerfile's `ENV`, `NODE_OPTIONS` included); and as `npm run
 *   model-vault` runs it in this machine's own environment;
 * - the floor: bench/model-vault-floor.c, the same work natively (OpenSSL EVP AES-256-GCM and
 *   SHA-256 per chunk record, pwrite), built here with gcc against Debian's libssl-dev;
 * - `age -d` (Debian's age) on the same plaintext, encrypted with age.
 *
 * Each round runs every tool once, in a rotating order; the table gives medians over the rounds,
 * peak RSS (GNU time's maximum resident set size), CPU time and the load average, and the
 * ratios the targets are stated in. Every output is checked bit-for-bit against the plaintext in
 * the first round. It also measures encrypt (time, peak RSS) and the CLI's start-up.
 * Installs what it needs (gcc, libssl-dev, age, time) with apt-get when missing.
 */
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { cacheDir } from "../test/real/support/env";
import { ensureApt } from "../test/real/support/install";

const MiB = 1024 * 1024;
const repo = path.join(__dirname, "..");
const dockerfile = path.join(repo, "images", "model-loader", "Dockerfile");

/**
 * The variables the model-loader image sets: every `KEY=VALUE` of its Dockerfile's `ENV`
 * instructions (unquoted pairs, `\` continuations; anything else is refused, not guessed).
 */
export function imageEnv(text = fs.readFileSync(dockerfile, "utf8")): Record<string, string> {
    const env: Record<string, string> = {};
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
        if (!/^ENV\s/.test(lines[i])) continue;
        let instruction = lines[i].slice(4);
        while (instruction.trimEnd().endsWith("\\") && i + 1 < lines.length) {
            instruction = `${instruction.trimEnd().slice(0, -1)} ${lines[++i]}`;
        }
        for (const pair of instruction.trim().split(/\s+/)) {
            const eq = pair.indexOf("=");
            if (eq <= 0 || /["']/.test(pair)) {
                throw new Error(`${dockerfile}: ENV ${pair} is not an unquoted KEY=VALUE pair`);
            }
            env[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
    }
    return env;
}

/** The variables `npm run model-vault` sets in front of `node loader/run.js` (package.json). */
export function npmScriptEnv(
    script = (
        JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as {
            scripts: Record<string, string>;
        }
    ).scripts["model-vault"],
): Record<string, string> {
    const words = script.trim().split(/\s+/);
    const node = words.indexOf("node");
    if (node < 0 || words[node + 1] !== "loader/run.js") {
        throw new Error(`the model-vault script "${script}" does not run node loader/run.js`);
    }
    return Object.fromEntries(
        words.slice(0, node).map((w) => {
            const eq = w.indexOf("=");
            if (eq <= 0) throw new Error(`the model-vault script sets "${w}", not KEY=VALUE`);
            return [w.slice(0, eq), w.slice(eq + 1)];
        }),
    );
}

/**
 * This process's environment without this machine's settings of what the CLI and the image set
 * themselves: `NODE_EXTRA_CA_CERTS` (which this machine sets, and which makes Node parse a CA file
 * before any JavaScript runs: ~36 ms for Debian's bundle), `NODE_OPTIONS`, the malloc tunables.
 */
export function cleanEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base };
    for (const k of MACHINE_SETTINGS) delete env[k];
    return env;
}

/** The variables {@link cleanEnv} clears. */
const MACHINE_SETTINGS = [
    "NODE_EXTRA_CA_CERTS",
    "GLIBC_TUNABLES",
    "NODE_OPTIONS",
    "MALLOC_ARENA_MAX",
] as const;

/** `K=V K=V` of an environment's variables. */
const pairs = (env: NodeJS.ProcessEnv) =>
    Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");

/** A clean environment with the image's `ENV` (and `extra`): the loader as the image runs it. */
export function asInImage(
    extra: Record<string, string> = {},
    base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
    return { ...cleanEnv(base), ...imageEnv(), ...extra };
}

function arg(name: string, fallback: string): string {
    const i = process.argv.indexOf(name);
    return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** One timed run of a command under GNU time. */
export interface Timed {
    readonly wall: number;
    readonly user: number;
    readonly sys: number;
    /** Maximum resident set size, bytes. */
    readonly rss: number;
}

/** `/usr/bin/time` arguments that write user and system seconds and peak RSS to `report`. */
export const gnuTimeArgs = (report: string) => ["-o", report, "-f", "%U %S %M"];

/** Reads (and removes) a report written with {@link gnuTimeArgs}: CPU seconds and RSS bytes. */
export function readGnuTime(report: string): Omit<Timed, "wall"> {
    const last = fs.readFileSync(report, "utf8").trim().split("\n").pop()!;
    fs.rmSync(report, { force: true });
    const [user, sys, kib] = last.split(" ").map(Number);
    return { user, sys, rss: kib * 1024 };
}

/** Runs `cmd args` under `/usr/bin/time`; throws with its stderr when it fails. */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Timed {
    const report = path.join(os.tmpdir(), `mv-bench-time-${process.pid}`);
    const t0 = process.hrtime.bigint();
    const r = spawnSync("/usr/bin/time", [...gnuTimeArgs(report), cmd, ...args], {
        env,
        stdio: ["ignore", "ignore", "pipe"],
        maxBuffer: 64 * MiB,
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr?.toString()}`);
    }
    return { wall, ...readGnuTime(report) };
}

export function median(xs: readonly number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function load(): string {
    return os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ");
}

/** Builds the floor reference into the cache (keyed by its source), returns the binary. */
export function buildFloor(): string {
    ensureApt(["gcc", "libc6-dev", "libssl-dev"]);
    const src = path.join(__dirname, "model-vault-floor.c");
    const digest = crypto
        .createHash("sha256")
        .update(fs.readFileSync(src))
        .digest("hex")
        .slice(0, 16);
    const bin = cacheDir("model-vault-bench", `floor-${digest}`);
    if (!fs.existsSync(bin)) {
        fs.mkdirSync(path.dirname(bin), { recursive: true });
        execFileSync("gcc", ["-O2", "-pthread", "-o", `${bin}.tmp`, src, "-lcrypto"], {
            stdio: "inherit",
        });
        fs.renameSync(`${bin}.tmp`, bin);
    }
    return bin;
}

/** Writes `bytes` of pseudo-random data and returns its SHA-256. */
export function generateFile(file: string, bytes: number, seed: number): string {
    const fd = fs.openSync(file, "w");
    const hash = crypto.createHash("sha256");
    // AES-CTR keystream: fast, incompressible, reproducible.
    const c = crypto.createCipheriv("aes-128-ctr", Buffer.alloc(16, seed), Buffer.alloc(16));
    const zero = Buffer.alloc(16 * MiB);
    try {
        for (let off = 0; off < bytes; off += zero.length) {
            const b = c.update(zero.subarray(0, Math.min(zero.length, bytes - off)));
            hash.update(b);
            fs.writeSync(fd, b);
        }
    } finally {
        fs.closeSync(fd);
    }
    return hash.digest("hex");
}

export function sha256File(file: string): string {
    const hash = crypto.createHash("sha256");
    const fd = fs.openSync(file, "r");
    const buf = Buffer.allocUnsafe(8 * MiB);
    try {
        for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) {
            hash.update(buf.subarray(0, n));
        }
    } finally {
        fs.closeSync(fd);
    }
    return hash.digest("hex");
}

/** The loader compiled to JavaScript (built by loader/run.js when stale), for the bench itself. */
export function compiledLoader(): typeof import("../loader") {
    execFileSync(process.execPath, [path.join(repo, "loader", "run.js"), "--help"], {
        stdio: "ignore",
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(repo, "dist", "loader"));
}

interface Tool {
    readonly name: string;
    /** Runs once into `out` (an empty folder that does not exist yet). */
    run(out: string): Timed;
    readonly times: Timed[];
}

async function main(): Promise<void> {
    const sizeMiB = Number(arg("--size-mib", process.env.MODEL_VAULT_BENCH_SIZE_MIB ?? "1024"));
    const rounds = Number(arg("--rounds", "5"));
    const threads = Number(arg("--threads", String(Math.min(os.availableParallelism(), 4))));
    const keep = process.argv.includes("--keep");
    ensureApt(["age", "time"]);
    const floor = buildFloor();
    const loader = compiledLoader();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "model-vault-bench-"));
    const shm = fs.mkdtempSync(
        path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "mv-bench-"),
    );
    const model = path.join(root, "model");
    const enc = path.join(root, "encrypted");
    const aged = path.join(root, "age");
    const keyPath = path.join(root, "bench.key");
    const total = sizeMiB * MiB;
    const files: [string, number][] = [
        ["config.json", 4096],
        ["tokenizer.json", 3 * MiB - 4096],
        ["model.safetensors", total - 3 * MiB],
    ];
    try {
        console.log(
            `machine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} CPUs, ` +
                `${(os.totalmem() / MiB).toFixed(0)} MiB RAM, node ${process.version}; load average ${load()}`,
        );
        fs.mkdirSync(model);
        fs.mkdirSync(aged);
        fs.writeFileSync(keyPath, crypto.randomBytes(32), { mode: 0o600 });
        const sums = new Map<string, string>();
        files.forEach(([name, size], i) =>
            sums.set(name, generateFile(path.join(model, name), size, i + 1)),
        );
        console.log(
            `model: ${files.map(([n, s]) => `${n} ${(s / MiB).toFixed(1)} MiB`).join(", ")}`,
        );

        const run = path.join(repo, "loader", "run.js");
        // The targets' row: the CLI as `npm run model-vault` runs it, nothing of this machine's.
        const asCli = { ...cleanEnv(), ...npmScriptEnv() };
        const enc1 = timed(
            process.execPath,
            [run, "encrypt", "--quiet", "--key", `file:${keyPath}`, model, enc],
            asCli,
        );
        console.log(
            `encrypt (model-vault, ${threads} threads, as \`npm run model-vault\` runs it): ${(total / MiB / enc1.wall).toFixed(0)} MiB/s, ` +
                `${enc1.wall.toFixed(2)} s, peak RSS ${(enc1.rss / MiB).toFixed(0)} MiB; load ${load()}`,
        );
        // age: X25519 recipient, one .age file per model file.
        const identity = path.join(root, "age.key");
        execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
        const recipient = execFileSync("age-keygen", ["-y", identity], { encoding: "utf8" }).trim();
        for (const [name] of files) {
            execFileSync("age", [
                "-r",
                recipient,
                "-o",
                path.join(aged, `${name}.age`),
                path.join(model, name),
            ]);
        }
        fs.rmSync(model, { recursive: true });

        const manifest = loader.parseManifest(fs.readFileSync(path.join(enc, "manifest.json")));
        const dataKey = await loader.FileKeyRing.fromFile(keyPath).unwrapDataKey(manifest);
        const chunkKeyHex = loader
            .chunkKey(dataKey, manifest.modelId, manifest.format)
            .toString("hex");
        const cli = (env: NodeJS.ProcessEnv) => (out: string) =>
            timed(
                process.execPath,
                [
                    run,
                    "decrypt",
                    "--quiet",
                    "--workers",
                    String(threads),
                    "--key",
                    `file:${keyPath}`,
                    enc,
                    out,
                ],
                env,
            );
        const tools: Tool[] = [
            {
                name: "model-vault decrypt, as `npm run model-vault` runs it",
                run: cli(asCli),
                times: [],
            },
            {
                name: "the same without GLIBC_TUNABLES",
                run: cli(cleanEnv()),
                times: [],
            },
            {
                name: "model-vault decrypt, as the image runs it (its ENV, NODE_OPTIONS included)",
                run: cli(asInImage()),
                times: [],
            },
            {
                name: "model-vault decrypt, as `npm run model-vault` in this machine's environment",
                run: cli({ ...process.env, ...npmScriptEnv() }),
                times: [],
            },
            {
                name: `floor (C, OpenSSL EVP, ${threads} threads)`,
                run: (out) => {
                    fs.mkdirSync(out);
                    const args = [String(threads), String(manifest.chunkSize), chunkKeyHex];
                    manifest.files.forEach((f, i) =>
                        args.push(
                            path.join(enc, f.object),
                            path.join(out, f.path),
                            String(f.size),
                            String(i),
                        ),
                    );
                    return timed(floor, args);
                },
                times: [],
            },
            {
                name: "age -d (one file after another)",
                run: (out) => {
                    fs.mkdirSync(out);
                    const t = files.map(([name]) =>
                        timed("age", [
                            "-d",
                            "-i",
                            identity,
                            "-o",
                            path.join(out, name),
                            path.join(aged, `${name}.age`),
                        ]),
                    );
                    return {
                        wall: t.reduce((s, x) => s + x.wall, 0),
                        user: t.reduce((s, x) => s + x.user, 0),
                        sys: t.reduce((s, x) => s + x.sys, 0),
                        rss: Math.max(...t.map((x) => x.rss)),
                    };
                },
                times: [],
            },
        ];
        const loads: string[] = [];
        for (let r = 0; r < rounds; r++) {
            loads.push(load());
            for (let k = 0; k < tools.length; k++) {
                const tool = tools[(k + r) % tools.length];
                const out = path.join(shm, "out");
                fs.rmSync(out, { recursive: true, force: true });
                tool.times.push(tool.run(out));
                if (r === 0) {
                    for (const [name] of files) {
                        if (sha256File(path.join(out, name)) !== sums.get(name)) {
                            throw new Error(
                                `${tool.name}: ${name} is not bit-for-bit the plaintext`,
                            );
                        }
                    }
                }
                fs.rmSync(out, { recursive: true, force: true });
            }
            console.log(`round ${r + 1}/${rounds} done; load average ${load()}`);
        }
        const gbps = (t: number) => total / 1e9 / t;
        console.log(
            `\ndecrypt+verify of ${(total / MiB).toFixed(0)} MiB into tmpfs, medians of ${rounds} interleaved rounds ` +
                `(load average at the start of each round: ${loads.join(" | ")})\n`,
        );
        console.log("| run | wall s | GB/s | CPU s (user+sys) | peak RSS MiB |");
        console.log("|---|---|---|---|---|");
        const med = tools.map((t) => ({
            name: t.name,
            wall: median(t.times.map((x) => x.wall)),
            cpu: median(t.times.map((x) => x.user + x.sys)),
            rss: Math.max(...t.times.map((x) => x.rss)),
        }));
        for (const m of med) {
            console.log(
                `| ${m.name} | ${m.wall.toFixed(2)} | ${gbps(m.wall).toFixed(2)} | ${m.cpu.toFixed(2)} | ${(m.rss / MiB).toFixed(0)} |`,
            );
        }
        const [mv, untunedRun, image, here, fl, age] = med;
        const ratios = (m: (typeof med)[number]) =>
            `${(fl.wall / m.wall).toFixed(2)} and ${(age.wall / m.wall).toFixed(2)}`;
        console.log(
            `\nratios (GB/s), as \`npm run model-vault\` runs it: model-vault / floor ${(fl.wall / mv.wall).toFixed(2)} (target ≥ 0.70), ` +
                `model-vault / age ${(age.wall / mv.wall).toFixed(2)} (target ≥ 1.30); ` +
                `without GLIBC_TUNABLES: ${ratios(untunedRun)}; as the image runs it: ${ratios(image)}; ` +
                `in this machine's environment: ${ratios(here)}; ` +
                `decrypt peak RSS ${(Math.max(mv.rss, untunedRun.rss, image.rss, here.rss) / MiB).toFixed(0)} MiB (target ≤ 160), ` +
                `encrypt ${(enc1.rss / MiB).toFixed(0)} MiB (target ≤ 256)`,
        );
        const machine = pairs(
            Object.fromEntries(
                MACHINE_SETTINGS.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
            ),
        );
        console.log(
            `npm run model-vault sets ${pairs(npmScriptEnv())}; the image ${pairs(imageEnv())}; ` +
                `this machine sets ${machine || `none of ${MACHINE_SETTINGS.join(", ")}`}`,
        );

        const starts: Timed[] = [];
        const bare: Timed[] = [];
        for (let i = 0; i < 7; i++) {
            bare.push(timed(process.execPath, ["-e", "0"], asCli));
            starts.push(timed(process.execPath, [run, "--help"], asCli));
        }
        const cpu = (t: Timed[]) => median(t.map((x) => x.user + x.sys));
        console.log(
            `start-up, as \`npm run model-vault\` runs it: \`node loader/run.js --help\` median ${median(starts.map((t) => t.wall)).toFixed(3)} s wall, ` +
                `${cpu(starts).toFixed(3)} s CPU, ${(Math.max(...starts.map((t) => t.rss)) / MiB).toFixed(0)} MiB ` +
                `(target < 0.3 s); \`node -e 0\` alone ${median(bare.map((t) => t.wall)).toFixed(3)} s wall, ` +
                `${cpu(bare).toFixed(3)} s CPU; load ${load()}`,
        );
    } finally {
        if (!keep) {
            fs.rmSync(root, { recursive: true, force: true });
            fs.rmSync(shm, { recursive: true, force: true });
        } else {
            console.log(`kept ${root} and ${shm}`);
        }
    }
}

if (require.main === module) {
    main().catch((e) => {
        console.error(`bench failed: ${(e as Error).message}`);
        process.exit(1);
    });
}
