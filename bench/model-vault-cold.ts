/**
 * `npm run bench:model-vault:cold [-- --size-mib 1024 --rounds 3 --mibps-per-connection 48 --connections 8]`
 *
 * Cold start of an inference pod's model load against an OCI Object Storage stand-in (HTTPS on
 * 127.0.0.1, test/real/loader/standin.ts) that throttles every connection: OCI itself cannot run
 * here. Interleaved rounds of
 *
 * - download only: the same ranged GETs (same segment size and connections, signed by the OCI
 *   SDK's request signer) with the bytes discarded;
 * - decrypt only: `model-vault decrypt` from a local copy of the same encrypted model;
 * - overlapped: `model-vault decrypt oci-os://...` through the stand-in, as the init container
 *   runs it, and the same as `npm run model-vault` runs it (no heap cap: see the Dockerfile);
 *
 * and the ratio the target is stated in: overlapped / max(download only, decrypt only) ≤ 1.2.
 * The loader runs in the model-loader image's environment (its Dockerfile's `ENV`, see
 * `asInImage` in bench/model-vault.ts). The stand-in's TLS runs on the same 2 CPUs as the loader,
 * which a real Object Storage would not.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import {
    makeApiIdentity,
    selfSignedCert,
    standinAccessArgs,
    startObjectStore,
} from "../test/real/loader/standin";
import { ensureApt } from "../test/real/support/install";
import {
    asInImage,
    cleanEnv,
    compiledLoader,
    generateFile,
    gnuTimeArgs,
    load,
    median,
    npmScriptEnv,
    readGnuTime,
} from "./model-vault";

const MiB = 1024 * 1024;
const repo = path.join(__dirname, "..");
const run = path.join(repo, "loader", "run.js");

function arg(name: string, fallback: string): string {
    const i = process.argv.indexOf(name);
    return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/**
 * One run: wall seconds, the child's CPU seconds and peak RSS in MiB (GNU time), and this
 * process's CPU seconds (the stand-in's).
 */
interface ColdRun {
    readonly wall: number;
    readonly cpu: number;
    readonly rssMiB: number;
    readonly standinCpu: number;
}

/** Runs a child asynchronously under GNU time (the stand-in serves from this process). */
function timedChild(args: string[], env: NodeJS.ProcessEnv): Promise<ColdRun> {
    const report = path.join(os.tmpdir(), `mv-cold-time-${process.pid}`);
    return new Promise((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        const u0 = process.cpuUsage();
        const c = spawn("/usr/bin/time", [...gnuTimeArgs(report), process.execPath, ...args], {
            env,
            stdio: ["ignore", "ignore", "pipe"],
        });
        let err = "";
        c.stderr.on("data", (d) => (err += d));
        c.on("error", reject);
        c.on("close", (code) => {
            const wall = Number(process.hrtime.bigint() - t0) / 1e9;
            const u = process.cpuUsage(u0);
            if (code !== 0) return reject(new Error(`${args.join(" ")} exited ${code}: ${err}`));
            const t = readGnuTime(report);
            resolve({
                wall,
                cpu: t.user + t.sys,
                rssMiB: t.rss / MiB,
                standinCpu: (u.user + u.system) / 1e6,
            });
        });
    });
}

/** Download-only client: signed ranged GETs of every object, `connections` at a time, discarded. */
const DOWNLOAD_ONLY = `
const https = require("https");
const { OciClients } = require(process.env.LOADER);
const [endpoint, configFile, prefix, connections, segment, ...objects] = process.argv.slice(1);
(async () => {
    const access = await new OciClients({ mode: "config", configFile }).rangedAccess(endpoint);
    const agent = new https.Agent({ keepAlive: true });
    const jobs = [];
    for (let i = 0; i < objects.length; i += 2) {
        const size = Number(objects[i + 1]);
        for (let s = 0; s < size; s += Number(segment)) jobs.push([objects[i], s, Math.min(size, s + Number(segment)) - 1]);
    }
    const lane = async () => {
        for (let j; (j = jobs.shift()); ) {
            const url = endpoint + "/n/ns/b/models/o/" + encodeURIComponent(prefix + "/" + j[0]);
            const headers = await access.sign(url, { range: "bytes=" + j[1] + "-" + j[2] });
            await new Promise((resolve, reject) => https.get(url, { headers, agent }, (res) => {
                if (res.statusCode !== 206) return reject(new Error("HTTP " + res.statusCode));
                res.on("data", () => undefined).on("end", resolve).on("error", reject);
            }).on("error", reject));
        }
    };
    await Promise.all(Array.from({ length: Number(connections) }, lane));
    agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
`;

async function main(): Promise<void> {
    const sizeMiB = Number(arg("--size-mib", "1024"));
    const rounds = Number(arg("--rounds", "3"));
    const rate = Number(arg("--mibps-per-connection", "48")) * MiB;
    const connections = arg("--connections", "8");
    const segment = 4 * MiB;
    ensureApt(["time"]);
    compiledLoader();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "model-vault-cold-"));
    const shm = fs.mkdtempSync(
        path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "mv-cold-"),
    );
    const bucket = path.join(root, "bucket");
    const prefix = "models/bench";
    const enc = path.join(bucket, prefix);
    const key = path.join(root, "bench.key");
    const identity = makeApiIdentity(root);
    const tls = selfSignedCert(root);
    try {
        fs.writeFileSync(key, crypto.randomBytes(32), { mode: 0o600 });
        const model = path.join(root, "model");
        fs.mkdirSync(model);
        generateFile(path.join(model, "config.json"), 4096, 1);
        generateFile(path.join(model, "model.safetensors"), sizeMiB * MiB - 4096, 2);
        await timedChild(
            [run, "encrypt", "--quiet", "--key", `file:${key}`, model, enc],
            process.env,
        );
        fs.rmSync(model, { recursive: true });
        const store = await startObjectStore({
            root: bucket,
            namespace: "ns",
            bucket: "models",
            publicKeyPem: identity.publicKeyPem,
            tls,
            bytesPerSecondPerConnection: rate,
        });
        // The loader runs as in the image; through the stand-in it must also trust the stand-in's
        // self-signed certificate (a pod talking to Object Storage needs no extra CA file).
        const local = asInImage();
        const env = asInImage({
            NODE_EXTRA_CA_CERTS: tls.certFile,
            LOADER: path.join(repo, "dist", "loader"),
        });
        const cli = {
            ...cleanEnv(),
            ...npmScriptEnv(),
            NODE_EXTRA_CA_CERTS: tls.certFile,
        };
        const overlapped = (e: NodeJS.ProcessEnv) =>
            timedChild(
                [
                    run,
                    "decrypt",
                    "--quiet",
                    ...standinAccessArgs(key, identity.configFile, store.endpoint),
                    "--connections",
                    connections,
                    `oci-os://ns/models/${prefix}`,
                    out,
                ],
                e,
            );
        const objects: string[] = [];
        const walk = (rel: string) => {
            for (const e of fs.readdirSync(path.join(enc, rel), { withFileTypes: true })) {
                const p = rel ? `${rel}/${e.name}` : e.name;
                if (e.isDirectory()) walk(p);
                else objects.push(p, String(fs.statSync(path.join(enc, p)).size));
            }
        };
        walk("");
        const out = path.join(shm, "out");
        const runs: Record<string, () => Promise<ColdRun>> = {
            "download only": () =>
                timedChild(
                    [
                        "-e",
                        DOWNLOAD_ONLY,
                        store.endpoint,
                        identity.configFile,
                        prefix,
                        connections,
                        String(segment),
                        ...objects,
                    ],
                    env,
                ),
            "decrypt only (local copy)": () =>
                timedChild([run, "decrypt", "--quiet", "--key", `file:${key}`, enc, out], local),
            "overlapped (oci-os:// through the stand-in)": () => overlapped(env),
            "overlapped, as `npm run model-vault` runs it (no heap cap)": () => overlapped(cli),
        };
        const names = Object.keys(runs);
        const times = new Map<string, ColdRun[]>(names.map((n) => [n, []]));
        const loads: string[] = [];
        console.log(
            `cold start: ${sizeMiB} MiB model, stand-in throttled to ${(rate / MiB).toFixed(0)} MiB/s per connection, ` +
                `${connections} connections, 4 MiB ranged GETs; load average ${load()}`,
        );
        for (let r = 0; r < rounds; r++) {
            loads.push(load());
            for (let k = 0; k < names.length; k++) {
                const name = names[(k + r) % names.length];
                fs.rmSync(out, { recursive: true, force: true });
                times.get(name)!.push(await runs[name]());
                fs.rmSync(out, { recursive: true, force: true });
            }
            console.log(`round ${r + 1}/${rounds} done; load average ${load()}`);
        }
        await store.close();
        console.log(
            `\nmedians of ${rounds} interleaved rounds (load at the start of each: ${loads.join(" | ")})\n`,
        );
        console.log(
            "| run | wall s | MiB/s | loader CPU s | loader peak RSS MiB | stand-in CPU s |",
        );
        console.log("|---|---|---|---|---|---|");
        const of = (n: string, k: keyof ColdRun) => median(times.get(n)!.map((t) => t[k]));
        const med = names.map((n) => of(n, "wall"));
        names.forEach((n, i) =>
            console.log(
                `| ${n} | ${med[i].toFixed(2)} | ${(sizeMiB / med[i]).toFixed(0)} | ` +
                    `${of(n, "cpu").toFixed(2)} | ${of(n, "rssMiB").toFixed(0)} | ` +
                    `${of(n, "standinCpu").toFixed(2)} |`,
            ),
        );
        const slower = Math.max(med[0], med[1]);
        console.log(
            `\noverlapped / max(download only, decrypt only) = ${(med[2] / slower).toFixed(2)} (target ≤ 1.20); ` +
                `stand-in served ${store.stats.rangedGets} ranged GETs, ${(store.stats.bytesSent / MiB).toFixed(0)} MiB, ` +
                `at most ${store.stats.maxConcurrentConnections} connections at once`,
        );
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
        fs.rmSync(shm, { recursive: true, force: true });
    }
}

main().catch((e) => {
    console.error(`bench failed: ${(e as Error).message}`);
    process.exit(1);
});
