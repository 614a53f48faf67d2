/**
 * Chunk crypto engines: AES-256-GCM over one chunk at a time, either on the calling thread or on
 * a pool of worker threads.
 *
 * A job may name a hash stream: the engine then feeds the chunk's plaintext into that stream's
 * SHA-256 piece by piece, right after each piece is decrypted and while it is still in the
 * core's cache, instead of the calling thread reading the whole chunk again. A stream is pinned
 * to one worker, and a worker runs its jobs in the order they were sent, so a stream sees its
 * chunks in order. Different files use different streams on different workers, which is how a
 * model with several large shards keeps every core busy.
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
    /**
     * Hash stream (from {@link ChunkEngine.openStream}) that receives the plaintext. The digest
     * covers the bytes of every job of the stream, in the order the jobs were run.
     */
    readonly stream?: number;
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
    /** Starts a SHA-256 hash stream for the plaintext of one file; see {@link ChunkJob.stream}. */
    openStream(): number;
    /** Ends a stream after its last job and returns its SHA-256, lowercase hex. */
    digest(stream: number): Promise<string>;
    /** Forgets a stream without a digest (a failed file). */
    dropStream(stream: number): void;
    /** Stops workers and forgets the key. */
    close(): Promise<void>;
}

/**
 * Default bytes per `update` call. Each call allocates its output and the hash stream reads it
 * right away, so a piece should stay in the core's L2. Measured on the bench machine (decrypt
 * plus SHA-256 in a worker): 128 KiB used ~7% less CPU than 64 KiB; 256 KiB and 1 MiB were no
 * better and noisier; 16 KiB was clearly worse (per-call overhead).
 */
export const DEFAULT_PIECE_BYTES = 128 * 1024;

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
    hash: crypto.Hash | undefined,
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
            if (hash) hash.update(out);
            out.copy(output, off);
            off += out.length;
        }
        const last = d.final();
        if (hash && last.length > 0) hash.update(last);
        last.copy(output, off);
        return off + last.length;
    }
    if (output.length < inputLength + tagBytes) throw new Error("output buffer too small");
    const c = nodeCrypto.createCipheriv("aes-256-gcm", key, nonce, { authTagLength: tagBytes });
    c.setAAD(aad);
    for (let p = 0; p < inputLength; p += piece) {
        const plain = input.subarray(p, Math.min(p + piece, inputLength));
        if (hash) hash.update(plain);
        const out = c.update(plain);
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
    private readonly hashes = new Map<number, crypto.Hash>();
    private nextStream = 1;

    constructor(
        key: Buffer,
        private readonly piece = DEFAULT_PIECE_BYTES,
    ) {
        this.key = crypto.createSecretKey(key);
    }

    async run(job: ChunkJob): Promise<ChunkResult> {
        if (!this.key) throw new Error("engine is closed");
        const hash = job.stream === undefined ? undefined : this.hashes.get(job.stream);
        if (job.stream !== undefined && !hash) throw new Error(`unknown stream ${job.stream}`);
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
                hash,
            );
            return { ok: true, input: job.input, output: job.output, outputLength: n };
        } catch (e) {
            const error = isAuthFailure(e) ? "auth" : (e as Error).message;
            return { ok: false, input: job.input, output: job.output, outputLength: 0, error };
        }
    }

    openStream(): number {
        const id = this.nextStream++;
        this.hashes.set(id, crypto.createHash("sha256"));
        return id;
    }

    async digest(stream: number): Promise<string> {
        const hash = this.hashes.get(stream);
        if (!hash) throw new Error(`unknown stream ${stream}`);
        this.hashes.delete(stream);
        return hash.digest("hex");
    }

    dropStream(stream: number): void {
        this.hashes.delete(stream);
    }

    async close(): Promise<void> {
        this.key = undefined;
        this.hashes.clear();
    }
}

interface WorkerReply {
    id: number;
    ok: boolean;
    error?: string;
    input?: ArrayBuffer;
    output?: ArrayBuffer;
    outputLength?: number;
    digest?: string;
}

/**
 * Source of each worker: plain CommonJS built from {@link runChunkJob}'s own text. Messages are
 * jobs (`op` encrypt/decrypt, optionally with a `stream`), `digest` (reply with the stream's
 * SHA-256 and forget it) and `drop` (forget it, no reply).
 */
function workerSource(): string {
    return `"use strict";
const { parentPort, workerData } = require("worker_threads");
const nodeCrypto = require("crypto");
const runChunkJob = ${runChunkJob.toString()};
const rawKey = Buffer.from(workerData.key);
const key = nodeCrypto.createSecretKey(rawKey);
rawKey.fill(0);
workerData.key.fill(0);
const hashes = new Map();
const hashOf = (s) => {
    let h = hashes.get(s);
    if (!h) hashes.set(s, (h = nodeCrypto.createHash("sha256")));
    return h;
};
parentPort.on("message", (m) => {
    if (m.op === "digest") {
        const digest = hashOf(m.stream).digest("hex");
        hashes.delete(m.stream);
        parentPort.postMessage({ id: m.id, ok: true, digest });
        return;
    }
    if (m.op === "drop") {
        hashes.delete(m.stream);
        return;
    }
    const input = Buffer.from(m.input);
    const output = Buffer.from(m.output);
    const hash = m.stream === undefined ? undefined : hashOf(m.stream);
    let reply;
    try {
        const n = runChunkJob(nodeCrypto, key, m.op, m.nonce, m.aad, input, m.inputLength, output, m.piece, hash);
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
 * A pool of worker threads. A job with a hash stream goes to the stream's worker (streams are
 * spread over the workers when opened); one without goes to the least-loaded worker. Workers are
 * created for one run under one key and terminated by {@link close}.
 */
export class WorkerPoolEngine implements ChunkEngine {
    public readonly parallelism: number;
    private readonly workers: Worker[] = [];
    private readonly load: number[] = [];
    private readonly streams = new Map<number, number>();
    private readonly streamsPerWorker: number[] = [];
    private readonly pending = new Map<number, (r: WorkerReply) => void>();
    private readonly failure: Promise<never>;
    private nextId = 1;
    private nextStream = 1;
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
                // The worker source is plain JavaScript: do not inherit flags such as
                // `-r ts-node/register`, which would load the TypeScript compiler into every
                // worker (~100 MiB of RSS and a second of CPU each).
                execArgv: [],
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
                done?.(m);
            });
            w.on("error", (e) => fail(new Error(`crypto worker failed: ${e.message}`)));
            w.on("exit", (code) => {
                if (!this.closed)
                    fail(new Error(`crypto worker exited unexpectedly (code ${code})`));
            });
            this.workers.push(w);
            this.load.push(0);
            this.streamsPerWorker.push(0);
        }
    }

    private post(w: number, message: object, transfer: ArrayBuffer[]): Promise<WorkerReply> {
        const id = this.nextId++;
        this.load[w]++;
        const reply = new Promise<WorkerReply>((resolve) => this.pending.set(id, resolve));
        this.workers[w].postMessage({ ...message, id }, transfer);
        return Promise.race([reply, this.failure]);
    }

    private workerOf(stream: number): number {
        const w = this.streams.get(stream);
        if (w === undefined) throw new Error(`unknown stream ${stream}`);
        return w;
    }

    async run(job: ChunkJob): Promise<ChunkResult> {
        if (this.closed) throw new Error("engine is closed");
        if (!ownsArrayBuffer(job.input) || !ownsArrayBuffer(job.output)) {
            throw new Error("worker jobs need buffers from Buffer.allocUnsafeSlow");
        }
        let w = 0;
        if (job.stream !== undefined) w = this.workerOf(job.stream);
        else for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
        const input = job.input.buffer as ArrayBuffer;
        const output = job.output.buffer as ArrayBuffer;
        const m = await this.post(
            w,
            {
                op: job.op,
                nonce: job.nonce,
                aad: job.aad,
                input,
                inputLength: job.inputLength,
                output,
                piece: this.piece,
                stream: job.stream,
            },
            [input, output],
        );
        return {
            ok: m.ok,
            error: m.error,
            input: Buffer.from(m.input!),
            output: Buffer.from(m.output!),
            outputLength: m.outputLength ?? 0,
        };
    }

    openStream(): number {
        if (this.closed) throw new Error("engine is closed");
        let w = 0;
        for (let i = 1; i < this.workers.length; i++) {
            if (this.streamsPerWorker[i] < this.streamsPerWorker[w]) w = i;
        }
        const id = this.nextStream++;
        this.streams.set(id, w);
        this.streamsPerWorker[w]++;
        return id;
    }

    private forget(stream: number): number {
        const w = this.workerOf(stream);
        this.streams.delete(stream);
        this.streamsPerWorker[w]--;
        return w;
    }

    async digest(stream: number): Promise<string> {
        if (this.closed) throw new Error("engine is closed");
        const m = await this.post(this.forget(stream), { op: "digest", stream }, []);
        return m.digest!;
    }

    dropStream(stream: number): void {
        if (this.closed || !this.streams.has(stream)) return;
        this.workers[this.forget(stream)].postMessage({ op: "drop", stream });
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
     * Worker threads; 0 runs on the calling thread. Defaults to the CPUs available (at most 4,
     * and at most the number of files decrypt can work on at once, since a file's chunks are
     * decrypted and hashed in order by one worker) when the model is large enough to repay
     * starting them, else 0. The calling thread and libuv's pool do the file I/O alongside.
     */
    readonly workers?: number;
    /** Bytes per `update` call. Defaults to {@link DEFAULT_PIECE_BYTES}. */
    readonly pieceBytes?: number;
}

/** Models smaller than this are processed inline: starting workers costs more than it saves. */
const WORKER_THRESHOLD_BYTES = 32 * 1024 * 1024;

/**
 * Creates the engine for a run over `totalBytes` of data, in which at most `maxUseful` hash
 * streams run at once (the default worker count is capped by it).
 */
export function createEngine(
    key: Buffer,
    totalBytes: number,
    opts: EngineOptions = {},
    maxUseful = Number.MAX_SAFE_INTEGER,
): ChunkEngine {
    const cpus =
        typeof os.availableParallelism === "function"
            ? os.availableParallelism()
            : os.cpus().length;
    const auto = Math.min(Math.max(cpus, 1), 4, Math.max(maxUseful, 1));
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
