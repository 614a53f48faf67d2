/**
 * `npm run bench:model-vault [-- --size-mib N --workers N --chunk-size 4M --keep]`
 *
 * Generates a model of at least 1 GiB in the temp folder, encrypts it with a file key, then
 * decrypts and verifies it in a separate process (so the peak RSS is the decrypt's alone) and
 * prints throughput, peak RSS and the ratio to `openssl speed -evp aes-256-gcm` on this machine.
 * The decrypt writes into /dev/shm when it exists (memory-backed, like the init container's
 * volume), otherwise into the temp folder.
 *
 * The decrypt process runs the loader compiled to JavaScript, as the model-loader image does;
 * under ts-node the TypeScript compiler alone would add ~100 MiB of RSS that production never
 * has. If compiling fails, it falls back to ts-node and says so.
 */
import { execFileSync, fork } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as fsp from "fs/promises";
import * as os from "os";
import * as path from "path";

import { FileKeyRing } from "../loader/keys";
import { LocalModelSource, LocalModelTarget } from "../loader/storage";
import { decryptModel, encryptModel } from "../loader/vault";

const MiB = 1024 * 1024;

interface ChildResult {
    readonly seconds: number;
    readonly bytes: number;
    readonly peakRssSampled: number;
    readonly vmHwm: number | undefined;
    readonly workers: string;
    /** User + system CPU of the whole process (all threads). */
    readonly cpuSeconds: number;
}

function arg(name: string): string | undefined {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

function vmHwmBytes(): number | undefined {
    try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
        return m ? Number(m[1]) * 1024 : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Child mode: decrypt+verify (or verify only, when dest is "") and report time and memory to the
 * parent. Runs from this file compiled to JavaScript when possible (see the file comment).
 */
async function child(
    src: string,
    dest: string,
    keyPath: string,
    workers: number | undefined,
): Promise<void> {
    // rss() alone is cheap; full memoryUsage() every few ms would itself cost a few % of a core.
    let peak = process.memoryUsage.rss();
    const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
    }, 10);
    const cpu0 = process.cpuUsage();
    const source = new LocalModelSource(src);
    const key = FileKeyRing.fromFile(keyPath);
    const summary = await decryptModel(source, dest === "" ? undefined : dest, key, { workers });
    clearInterval(timer);
    const cpu = process.cpuUsage(cpu0);
    peak = Math.max(peak, process.memoryUsage.rss());
    const result: ChildResult = {
        seconds: summary.seconds,
        bytes: summary.bytes,
        peakRssSampled: peak,
        vmHwm: vmHwmBytes(),
        workers: workers === undefined ? "auto" : String(workers),
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    process.send!(result);
}

/** Writes `bytes` of pseudo-random data (a random block, varied per block) and returns its SHA-256. */
async function generateFile(file: string, bytes: number, block: Buffer): Promise<string> {
    const fh = await fsp.open(file, "w");
    const hash = crypto.createHash("sha256");
    try {
        for (let off = 0, n = 0; off < bytes; off += block.length, n++) {
            block.writeUInt32LE(n, 0);
            const len = Math.min(block.length, bytes - off);
            hash.update(block.subarray(0, len));
            await fh.write(block, 0, len, off);
        }
    } finally {
        await fh.close();
    }
    return hash.digest("hex");
}

async function sha256File(file: string): Promise<string> {
    const hash = crypto.createHash("sha256");
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * MiB }))
        hash.update(chunk as Buffer);
    return hash.digest("hex");
}

/** openssl's single-core AES-256-GCM figure for 16 KiB blocks, in bytes per second. */
function opensslAesGcm(): { bytesPerSecond: number; version: string } | { error: string } {
    try {
        const version = execFileSync("openssl", ["version"], { encoding: "utf8" }).trim();
        const out = execFileSync("openssl", ["speed", "-evp", "aes-256-gcm", "-seconds", "3"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
        });
        const header = out.split("\n").find((l) => l.startsWith("type"));
        const row = out.split("\n").find((l) => /^aes-256-gcm\s/i.test(l));
        if (!header || !row)
            return { error: "could not find the AES-256-GCM row in openssl's output" };
        const cols = header.trim().split(/\s{2,}|\s+(?=\d+ bytes)/);
        const idx = cols.findIndex((c) => c.trim() === "16384 bytes");
        const vals = row.trim().split(/\s+/).slice(1);
        const v = vals[idx - 1];
        if (idx < 0 || !v || !v.endsWith("k"))
            return { error: "no 16384-byte column in openssl's output" };
        return { bytesPerSecond: Number(v.slice(0, -1)) * 1000, version };
    } catch (e) {
        return {
            error: `openssl is not available or failed: ${(e as Error).message.split("\n")[0]}`,
        };
    }
}

async function parent(): Promise<void> {
    const sizeMiB = Number(arg("--size-mib") ?? process.env.MODEL_VAULT_BENCH_SIZE_MIB ?? 1024);
    const workersArg = arg("--workers");
    const workers = workersArg === undefined ? undefined : Number(workersArg);
    const chunkArg = arg("--chunk-size");
    const chunkSize =
        chunkArg === undefined
            ? undefined
            : Number(chunkArg.replace(/M$/i, "")) * (/M$/i.test(chunkArg) ? MiB : 1);
    const keep = process.argv.includes("--keep");
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), "model-vault-bench-"));
    const shm = fs.existsSync("/dev/shm")
        ? await fsp.mkdtemp("/dev/shm/model-vault-bench-")
        : undefined;
    const model = path.join(root, "model");
    const enc = path.join(root, "encrypted");
    const out = path.join(shm ?? root, "decrypted");
    const keyPath = path.join(root, "bench.key");
    const mib = (b: number) => (b / MiB).toFixed(0);
    try {
        console.log(
            `machine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} CPUs, ` +
                `${mib(os.totalmem())} MiB RAM, node ${process.version}, load average ` +
                os
                    .loadavg()
                    .map((l) => l.toFixed(2))
                    .join(" "),
        );
        if (os.loadavg()[0] > 0.5) {
            console.log(
                "warning: other processes are using the CPUs; figures will be lower than the machine can do",
            );
        }
        // 1. A model shaped like a real one: config, tokenizer and two large weight shards.
        await fsp.mkdir(model);
        await fsp.writeFile(keyPath, crypto.randomBytes(32), { mode: 0o600 });
        const block = crypto.randomBytes(16 * MiB);
        const total = Math.max(sizeMiB, 1) * MiB;
        const shard = Math.floor((total - 3 * MiB) / 2);
        const files: [string, number][] = [
            ["config.json", 4096],
            ["tokenizer.json", 3 * MiB - 4096],
            ["model-00001-of-00002.safetensors", shard],
            ["model-00002-of-00002.safetensors", total - 3 * MiB - shard],
        ];
        let t = Date.now();
        const hashes = new Map<string, string>();
        for (const [name, size] of files)
            hashes.set(name, await generateFile(path.join(model, name), size, block));
        console.log(
            `generated ${mib(total)} MiB model in ${root} (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        );

        // 2. Encrypt (timed for information only).
        t = Date.now();
        await encryptModel(model, new LocalModelTarget(enc), FileKeyRing.fromFile(keyPath), {
            chunkSize,
            workers,
        });
        const encSeconds = (Date.now() - t) / 1000;
        console.log(
            `encrypt:        ${(total / MiB / encSeconds).toFixed(0)} MiB/s (${encSeconds.toFixed(2)} s)`,
        );
        await fsp.rm(model, { recursive: true });

        // 3. Decrypt + verify in a child process running the compiled loader.
        execFileSync("sync");
        const dist = path.join(root, "dist");
        let childScript = __filename;
        try {
            const repo = path.join(__dirname, "..");
            execFileSync(
                process.execPath,
                [
                    require.resolve("typescript/bin/tsc"),
                    "--outDir",
                    dist,
                    "--rootDir",
                    repo,
                    "--module",
                    "commonjs",
                    "--target",
                    "ES2022",
                    "--esModuleInterop",
                    "--skipLibCheck",
                    "--types",
                    "node",
                    path.join(repo, "bench", "model-vault.ts"),
                ],
                { stdio: "pipe" },
            );
            childScript = path.join(dist, "bench", "model-vault.js");
        } catch (e) {
            console.log(
                `could not compile the loader (${(e as Error).message.split("\n")[0]}); ` +
                    "running it under ts-node, whose compiler inflates RSS by ~100 MiB",
            );
        }
        const compiled = childScript !== __filename;
        const runChild = (dest: string) =>
            new Promise<ChildResult>((resolve, reject) => {
                const c = fork(childScript, ["--child", enc, dest, keyPath, workersArg ?? ""], {
                    stdio: "inherit",
                    execArgv: compiled ? [] : process.execArgv,
                });
                let r: ChildResult | undefined;
                c.on("message", (m) => (r = m as ChildResult));
                c.on("error", reject);
                c.on("exit", (code) =>
                    r && code === 0
                        ? resolve(r)
                        : reject(new Error(`decrypt child exited ${code}`)),
                );
            });
        const result = await runChild(out);
        for (const [name] of files) {
            if ((await sha256File(path.join(out, name))) !== hashes.get(name)) {
                throw new Error(`${name} did not decrypt bit-for-bit`);
            }
        }
        await fsp.rm(out, { recursive: true });
        // The first pass runs right after the encrypt wrote 2 GiB and `sync`; on the shared VM
        // it measured ~2x the CPU of an identical later pass (kernel work left over from the
        // writes, not the loader's). A repeat shows the steady state; both are printed.
        const repeat = await runChild(out);
        await fsp.rm(out, { recursive: true });
        const verifyOnly = await runChild("");
        const mibs = result.bytes / MiB / result.seconds;
        const peak = Math.max(result.peakRssSampled, result.vmHwm ?? 0);
        console.log(
            `decrypt+verify: ${mibs.toFixed(0)} MiB/s (${mib(result.bytes)} MiB in ${result.seconds.toFixed(2)} s, ` +
                `workers ${result.workers}, output in ${shm ? "/dev/shm" : os.tmpdir()}; bit-for-bit identical)`,
        );
        console.log(
            `cpu time:       ${result.cpuSeconds.toFixed(2)} s user+system, all threads ` +
                `(${((result.cpuSeconds * 1000) / (result.bytes / MiB)).toFixed(2)} ms per MiB)`,
        );
        console.log(
            `peak RSS:       ${mib(peak)} MiB (sampled ${mib(result.peakRssSampled)} MiB, ` +
                `VmHWM ${result.vmHwm === undefined ? "n/a" : `${mib(result.vmHwm)} MiB`}; limit 256 MiB; ` +
                `${compiled ? "compiled loader" : "ts-node"})`,
        );
        const rMiBs = repeat.bytes / MiB / repeat.seconds;
        console.log(
            `repeat:         ${rMiBs.toFixed(0)} MiB/s (${repeat.seconds.toFixed(2)} s, ` +
                `${((repeat.cpuSeconds * 1000) / (repeat.bytes / MiB)).toFixed(2)} ms CPU per MiB, ` +
                `peak RSS ${mib(Math.max(repeat.peakRssSampled, repeat.vmHwm ?? 0))} MiB; ` +
                "the same decrypt+verify run again)",
        );
        const vMiBs = verifyOnly.bytes / MiB / verifyOnly.seconds;
        console.log(
            `verify only:    ${vMiBs.toFixed(0)} MiB/s (same checks, nothing written; ` +
                `peak RSS ${mib(Math.max(verifyOnly.peakRssSampled, verifyOnly.vmHwm ?? 0))} MiB)`,
        );

        // 4. The machine's own AES-256-GCM speed.
        const ssl = opensslAesGcm();
        if ("error" in ssl) {
            console.log(`openssl:        ${ssl.error}; no ratio computed`);
        } else {
            const sslMiBs = ssl.bytesPerSecond / MiB;
            console.log(
                `openssl:        ${sslMiBs.toFixed(0)} MiB/s single core (${ssl.version}, ` +
                    "`openssl speed -evp aes-256-gcm -seconds 3`, 16384-byte blocks)",
            );
            console.log(
                `ratio:          ${(mibs / sslMiBs).toFixed(2)} of openssl single-core AES-256-GCM ` +
                    `(repeat: ${(rMiBs / sslMiBs).toFixed(2)}, verify only: ${(vMiBs / sslMiBs).toFixed(2)})`,
            );
        }
    } finally {
        if (!keep) {
            await fsp.rm(root, { recursive: true, force: true });
            if (shm) await fsp.rm(shm, { recursive: true, force: true });
        } else {
            console.log(`kept ${root}${shm ? ` and ${shm}` : ""}`);
        }
    }
}

if (process.argv[2] === "--child") {
    const [, , , src, dest, keyPath, w] = process.argv;
    child(src, dest, keyPath, w === "" || w === undefined ? undefined : Number(w)).catch((e) => {
        console.error(e);
        process.exit(1);
    });
} else {
    parent().catch((e) => {
        console.error(`bench failed: ${(e as Error).message}`);
        process.exit(1);
    });
}
