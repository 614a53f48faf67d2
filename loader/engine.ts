/**
 * Chunk crypto engines: AES-256-GCM over one chunk at a time, either on the calling thread or on
 * a pool of worker threads. The pool exists because one thread cannot both decrypt and hash at
 * the machine's AES speed: with workers decrypting, the main thread only hashes and does I/O.
 *
 * Buffers move between threads by transfer (no copy) and come back with the result, so a run
 * uses a fixed set of buffers whatever the model size.
 */
import * as crypto from "crypto";
import * as os from "os";
import { Worker } from "worker_threads";

import { TAG_BYTES } from "./format";

/** One chunk to encrypt or decrypt. */
export interface ChunkJob {
    readonly op: "encrypt" | "decrypt";
    readonly nonce: Buffer;
    readonly aad: Buffer;
    /** Plaintext (encrypt) or ciphertext ‖ tag (decrypt); must own its whole ArrayBuffer. */
    readonly input: Buffer;
    readonly inputLength: number;
    /** Receives ciphertext ‖ tag (encrypt) or plaintext (decrypt); must own its ArrayBuffer. */
    readonly output: Buffer;
}

/** A finished job: its buffers (handed back) and whether the tag verified. */
export interface ChunkResult {
    readonly ok: boolean;
    readonly input: Buffer;
    readonly output: Buffer;
    readonly outputLength: number;
    /** Set when `ok` is false: why (authentication failure or another crypto error). */
    readonly error?: string;
}

/** Runs chunk jobs under one key. */
export interface ChunkEngine {
    /** How many jobs may usefully be in flight at once. */
    readonly parallelism: number;
    run(job: ChunkJob): Promise<ChunkResult>;
    /** Stops workers and forgets the key. */
    close(): Promise<void>;
}

/** Default bytes per `update` call: small pieces keep the output buffers hot in cache. */
export const DEFAULT_PIECE_BYTES = 64 * 1024;

/**
 * The one implementation of chunk crypto, used in-process and (as source text) in workers, so it
 * must be self-contained: it receives the `crypto` module instead of importing it, and uses no
 * other module-level names.
 */
export function runChunkJob(
    nodeCrypto: typeof crypto,
    key: crypto.KeyObject,
    op: "encrypt" | "decrypt",
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Buffer,
    inputLength: number,
    output: Buffer,
    piece: number,
): number {
    const tagBytes = 16;
    let off = 0;
    if (op === "decrypt") {
        const ctLen = inputLength - tagBytes;
        if (ctLen < 0) throw new Error("record is shorter than its tag");
        if (output.length < ctLen) throw new Error("output buffer too small");
        const d = nodeCrypto.createDecipheriv("aes-256-gcm", key, nonce, {
            authTagLength: tagBytes,
        });
        d.setAAD(aad);
        d.setAuthTag(input.subarray(ctLen, inputLength));
        for (let p = 0; p < ctLen; p += piece) {
            const out = d.update(input.subarray(p, Math.min(p + piece, ctLen)));
            out.copy(output, off);
            off += out.length;
        }
        const last = d.final();
        last.copy(output, off);
        return off + last.length;
    }
    if (output.length < inputLength + tagBytes) throw new Error("output buffer too small");
    const c = nodeCrypto.createCipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
    c.setAAD(aad);
    for (let p = 0; p < inputLength; p += piece) {
        const out = c.update(input.subarray(p, Math.min(p + piece, inputLength)));
        out.copy(output, off);
        off += out.length;
    }
    const last = c.final();
    last.copy(output, off);
    off += last.length;
    c.getAuthTag().copy(output, off);
    return off + tagBytes;
}

function isAuthFailure(e: unknown): boolean {
    return /unable to authenticate|auth/i.test((e as Error).message ?? "");
}

/** Runs jobs synchronously on the calling thread; best for small models and tests. */
export class InlineEngine implements ChunkEngine {
    public readonly parallelism = 1;
    private key: crypto.KeyObject | undefined;

    constructor(
        key: Buffer,
        private readonly piece = DEFAULT_PIECE_BYTES,
    ) {
        this.key = crypto.createSecretKey(key);
    }

    async run(job: ChunkJob): Promise<ChunkResult> {
        if (!this.key) throw new Error("engine is closed");
        try {
            const n = runChunkJob(
                crypto,
                this.key,
                job.op,
                job.nonce,
                job.aad,
                job.input,
                job.inputLength,
                job.output,
                this.piece,
            );
            return { ok: true, input: job.input, output: job.output, outputLength: n };
        } catch (e) {
            const error = isAuthFailure(e) ? "auth" : (e as Error).message;
            return { ok: false, input: job.input, output: job.output, outputLength: 0, error };
        }
    }

    async close(): Promise<void> {
        this.key = undefined;
    }
}

interface WorkerReply {
    id: number;
    ok: boolean;
    error?: string;
    input: ArrayBuffer;
    output: ArrayBuffer;
    outputLength: number;
}

/** Source of each worker: plain CommonJS built from {@link runChunkJob}'s own text. */
function workerSource(): string {
    return `"use strict";
const { parentPort, workerData } = require("worker_threads");
const nodeCrypto = require("crypto");
const runChunkJob = ${runChunkJob.toString()};
const rawKey = Buffer.from(workerData.key);
const key = nodeCrypto.createSecretKey(rawKey);
rawKey.fill(0);
workerData.key.fill(0);
parentPort.on("message", (m) => {
    const input = Buffer.from(m.input);
    const output = Buffer.from(m.output);
    let reply;
    try {
        const n = runChunkJob(nodeCrypto, key, m.op, m.nonce, m.aad, input, m.inputLength, output, m.piece);
        reply = { id: m.id, ok: true, input: m.input, output: m.output, outputLength: n };
    } catch (e) {
        const error = /unable to authenticate|auth/i.test(String(e && e.message)) ? "auth" : String(e && e.message);
        reply = { id: m.id, ok: false, error, input: m.input, output: m.output, outputLength: 0 };
    }
    parentPort.postMessage(reply, [m.input, m.output]);
});
`;
}

/** Asserts a buffer can be transferred whole (it views its entire ArrayBuffer). */
function ownsArrayBuffer(b: Buffer): boolean {
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
}

/**
 * A pool of worker threads; jobs go to the least-loaded worker. Workers are created for one run
 * under one key and terminated by {@link close}.
 */
export class WorkerPoolEngine implements ChunkEngine {
    public readonly parallelism: number;
    private readonly workers: Worker[] = [];
    private readonly load: number[] = [];
    private readonly pending = new Map<number, (r: ChunkResult) => void>();
    private readonly failure: Promise<never>;
    private nextId = 1;
    private closed = false;

    constructor(
        key: Buffer,
        workers: number,
        private readonly piece = DEFAULT_PIECE_BYTES,
    ) {
        this.parallelism = Math.max(1, workers);
        let fail: (e: Error) => void = () => undefined;
        this.failure = new Promise<never>((_, reject) => (fail = reject));
        this.failure.catch(() => undefined);
        const source = workerSource();
        for (let i = 0; i < this.parallelism; i++) {
            const w = new Worker(source, {
                eval: true,
                workerData: { key: new Uint8Array(key) },
                // A worker only holds a key and a few buffers; cap its heap so a bug cannot
                // take the init container past its memory limit.
                resourceLimits: { maxOldGenerationSizeMb: 64 },
                stdout: false,
                stderr: false,
            });
            w.on("message", (m: WorkerReply) => {
                this.load[i]--;
                const done = this.pending.get(m.id);
                this.pending.delete(m.id);
                done?.({
                    ok: m.ok,
                    error: m.error,
                    input: Buffer.from(m.input),
                    output: Buffer.from(m.output),
                    outputLength: m.outputLength,
                });
            });
            w.on("error", (e) => fail(new Error(`crypto worker failed: ${e.message}`)));
            w.on("exit", (code) => {
                if (!this.closed)
                    fail(new Error(`crypto worker exited unexpectedly (code ${code})`));
            });
            this.workers.push(w);
            this.load.push(0);
        }
    }

    run(job: ChunkJob): Promise<ChunkResult> {
        if (this.closed) return Promise.reject(new Error("engine is closed"));
        if (!ownsArrayBuffer(job.input) || !ownsArrayBuffer(job.output)) {
            return Promise.reject(
                new Error("worker jobs need buffers from Buffer.allocUnsafeSlow"),
            );
        }
        let w = 0;
        for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
        const id = this.nextId++;
        this.load[w]++;
        const result = new Promise<ChunkResult>((resolve) => this.pending.set(id, resolve));
        const input = job.input.buffer as ArrayBuffer;
        const output = job.output.buffer as ArrayBuffer;
        this.workers[w].postMessage(
            {
                id,
                op: job.op,
                nonce: job.nonce,
                aad: job.aad,
                input,
                inputLength: job.inputLength,
                output,
                piece: this.piece,
            },
            [input, output],
        );
        return Promise.race([result, this.failure]);
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await Promise.all(this.workers.map((w) => w.terminate()));
    }
}

/** Options choosing an engine. */
export interface EngineOptions {
    /**
     * Worker threads; 0 runs on the calling thread. Defaults to the CPUs available (at most 4)
     * when the model is large enough to repay starting them, else 0. The calling thread hashes
     * and does I/O alongside; measured on 2 CPUs, 2 workers beat 1 (the scheduler balances the
     * hash, the I/O threads and two half-loads of decryption better than one full one).
     */
    readonly workers?: number;
    /** Bytes per `update` call. Defaults to {@link DEFAULT_PIECE_BYTES}. */
    readonly pieceBytes?: number;
}

/** Models smaller than this are processed inline: starting workers costs more than it saves. */
const WORKER_THRESHOLD_BYTES = 32 * 1024 * 1024;

/** Creates the engine for a run over `totalBytes` of data. */
export function createEngine(
    key: Buffer,
    totalBytes: number,
    opts: EngineOptions = {},
): ChunkEngine {
    const cpus =
        typeof os.availableParallelism === "function"
            ? os.availableParallelism()
            : os.cpus().length;
    const auto = Math.min(Math.max(cpus, 1), 4);
    const workers = opts.workers ?? (totalBytes >= WORKER_THRESHOLD_BYTES ? auto : 0);
    const piece = opts.pieceBytes ?? DEFAULT_PIECE_BYTES;
    return workers > 0 ? new WorkerPoolEngine(key, workers, piece) : new InlineEngine(key, piece);
}

/** Bytes a decrypt output buffer needs for a chunk size. */
export function plaintextBufferBytes(chunkSize: number): number {
    return chunkSize;
}

/** Bytes a record (ciphertext ‖ tag) buffer needs for a chunk size. */
export function recordBufferBytes(chunkSize: number): number {
    return chunkSize + TAG_BYTES;
}
