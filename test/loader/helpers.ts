/** Shared helpers of the model-vault tests: temp folders, small models, tree snapshots, CLI runs. */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { CliDeps, main } from "../../loader/cli";

const made: string[] = [];

/** A fresh temp folder, removed by {@link cleanupTemps}. */
export function tempDir(label: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `mv-test-${label}-`));
    made.push(d);
    return d;
}

export function cleanupTemps(): void {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Writes a model folder from a `{path: bytes}` map. */
export function writeTree(root: string, files: Record<string, Buffer>): void {
    for (const [p, b] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
        fs.writeFileSync(path.join(root, p), b);
    }
}

/** Every regular file under `root` (recursive), as `{path: bytes}`; other entries as null. */
export function readTree(root: string): Record<string, Buffer | null> {
    const out: Record<string, Buffer | null> = {};
    if (!fs.existsSync(root)) return out;
    const visit = (rel: string) => {
        for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
            const p = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) visit(p);
            else out[p] = e.isFile() ? fs.readFileSync(path.join(root, p)) : null;
        }
    };
    visit("");
    return out;
}

/** Deterministic pseudo-random bytes (fast, reproducible). */
export function bytes(n: number, seed: string): Buffer {
    const out = Buffer.alloc(n);
    let block = crypto.createHash("sha256").update(seed).digest();
    for (let o = 0; o < n; o += 32) {
        block.copy(out, o, 0, Math.min(32, n - o));
        block = crypto.createHash("sha256").update(block).digest();
    }
    return out;
}

/** A small model with the awkward cases: nested folders, an empty file, exact chunk multiples. */
export function sampleModel(chunkSize: number): Record<string, Buffer> {
    return {
        "config.json": Buffer.from('{"architectures":["LlamaForCausalLM"]}\n'),
        "tokenizer/tokenizer.json": bytes(3 * chunkSize + 7, "tok"),
        "tokenizer/special_tokens_map.json": Buffer.alloc(0),
        "model-00001-of-00002.safetensors": bytes(5 * chunkSize, "shard1"),
        "model-00002-of-00002.safetensors": bytes(5 * chunkSize, "shard2"),
        "generation_config.json": bytes(chunkSize - 1, "gen"),
    };
}

/** Writes a 32-byte key file and returns its path. */
export function keyFile(dir: string, name = "dev.key"): string {
    const p = path.join(dir, name);
    fs.writeFileSync(p, crypto.randomBytes(32), { mode: 0o600 });
    return p;
}

/** Result of an in-process CLI run. */
export interface CliRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs the real CLI entry point in-process with injected clients. */
export async function runCli(argv: string[], deps: Partial<CliDeps> = {}): Promise<CliRun> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
        env: {},
        stdout: (l) => out.push(l),
        stderr: (l) => err.push(l),
        ...deps,
    });
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}
