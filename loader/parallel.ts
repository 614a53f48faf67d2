/**
 * Runs chunk tasks on worker threads (or on the calling thread) and schedules a run's tasks with
 * a bounded number in flight. Workers run {@link createChunkRunner} from its own source text, so
 * there is one implementation, no extra file to ship, and no TypeScript loader in any worker.
 */
import * as os from "os";
import * as v8 from "v8";
import * as vm from "vm";
import { Worker } from "worker_threads";

import {
    ChunkRunner,
    ChunkTask,
    ChunkTaskResult,
    createChunkRunner,
    RetryPolicy,
    RunnerHost,
    RunnerInit,
} from "./chunks";

/** Options choosing threads and buffer sizes. */
export interface EngineOptions {
    /**
     * Worker threads; 0 runs on the calling thread. Defaults to the CPUs available (at most 4)
     * when the model is large enough to repay starting them, else 0. Any thread takes any chunk.
     */
    readonly workers?: number;
    /** Bytes per `update` call. Defaults to {@link DEFAULT_PIECE_BYTES}. */
    readonly pieceBytes?: number;
    /** Bytes one task reads, decrypts and writes at once. Defaults to {@link DEFAULT_SEGMENT_BYTES}. */
    readonly segmentBytes?: number;
    /**
     * Ranged GETs in flight across all threads when the model is read from Object Storage.
     * Defaults to {@link DEFAULT_CONNECTIONS}.
     */
    readonly connections?: number;
    /** Retries of ranged GETs. Defaults to {@link DEFAULT_RETRY}. */
    readonly retry?: RetryPolicy;
}

/**
 * Default bytes per `update` call. Each call allocates its output, and the record's hash and the
 * cipher read the same piece, so a piece should stay in the core's L2 (measured: see
 * docs/model-vault.md, "Benchmark").
 */
export const DEFAULT_PIECE_BYTES = 128 * 1024;
/** Default segment: 4 MiB of chunks, one positional read or one ranged GET. */
export const DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024;
/** Default ranged GETs in flight: enough to fill a link whose connections are throttled. */
export const DEFAULT_CONNECTIONS = 8;
/** Default retry policy of ranged GETs. */
export const DEFAULT_RETRY: RetryPolicy = {
    attempts: 8,
    baseDelayMs: 250,
    maxDelayMs: 10_000,
    timeoutMs: 30_000,
};
/** Models smaller than this run on the calling thread: starting workers costs more than it saves. */
const WORKER_THRESHOLD_BYTES = 32 * 1024 * 1024;
/**
 * Most bytes of segment buffers in flight, whatever the chunk size (a 64 MiB-chunk model runs
 * one segment per thread). Keeps decrypt's peak RSS flat and bounded.
 */
const SEGMENT_BUDGET_BYTES = 48 * 1024 * 1024;

/** The number of threads for a run over `totalBytes`. */
export function threadsFor(totalBytes: number, opts: EngineOptions): number {
    const cpus =
        typeof os.availableParallelism === "function"
            ? os.availableParallelism()
            : os.cpus().length;
    return opts.workers ?? (totalBytes >= WORKER_THRESHOLD_BYTES ? Math.min(cpus, 4) : 0);
}

/** How a run is cut into tasks and how many run at once. */
export interface RunShape {
    readonly threads: number;
    readonly segmentChunks: number;
    /** Reads or ranged GETs in flight per thread. */
    readonly depth: number;
    /**
     * Tasks handed to a thread at once: `depth`, plus one on a remote source, which waits
     * (signed) for a GET slot while the thread decrypts, so no connection idles meanwhile.
     */
    readonly tasks: number;
}

/** Segments and depth for a chunk size, with the buffers bounded by a fixed budget. */
export function runShape(
    chunkSize: number,
    totalBytes: number,
    remote: boolean,
    opts: EngineOptions,
): RunShape {
    const threads = threadsFor(totalBytes, opts);
    const lanes = Math.max(threads, 1);
    const segmentChunks = Math.max(
        1,
        Math.floor((opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES) / chunkSize),
    );
    const segBytes = segmentChunks * (chunkSize + 16);
    const wanted = remote ? Math.ceil((opts.connections ?? DEFAULT_CONNECTIONS) / lanes) : 2;
    const fits = Math.max(1, Math.floor(SEGMENT_BUDGET_BYTES / (lanes * segBytes)));
    // One segment buffer per task: the queued remote task only when the budget has room.
    const tasks = Math.min(wanted + (remote ? 1 : 0), fits);
    return { threads, segmentChunks, depth: Math.min(wanted, tasks), tasks };
}

interface HostCall {
    readonly type: "sign" | "fetch";
    readonly callId: number;
    readonly url?: string;
    readonly headers?: Record<string, string>;
    readonly file?: number;
    readonly start?: number;
    readonly length?: number;
    readonly objectSize?: number;
}

/**
 * Source of each worker: plain CommonJS built from {@link createChunkRunner}'s own text. A worker
 * starts without a key and creates its runner when the `init` message brings the key and the
 * run's files (see {@link ChunkPool.start}); messages arrive in order, so tasks come after it.
 */
function workerSource(): string {
    return `"use strict";
const { parentPort } = require("worker_threads");
const createChunkRunner = ${createChunkRunner.toString()};
const calls = new Map();
let nextCall = 1;
let runner;
const call = (m) =>
    new Promise((resolve, reject) => {
        const callId = nextCall++;
        calls.set(callId, { resolve, reject });
        parentPort.postMessage({ ...m, callId });
    });
// A minor GC on request (RunnerHost.collect). The pool sets V8's --expose-gc once this thread
// runs and before it sends "init", so a context created then has gc; without the flag (see
// ChunkPool) the runner simply never collects early.
let minorGc;
const gcFunction = () => {
    if (typeof globalThis.gc === "function") return globalThis.gc;
    try {
        return require("vm").runInNewContext("gc");
    } catch {
        return undefined;
    }
};
const host = {
    sign: (url, headers) => call({ type: "sign", url, headers }),
    fetch: (file, start, length, objectSize) => call({ type: "fetch", file, start, length, objectSize }),
    collect: () => {
        if (!minorGc) return false;
        minorGc({ type: "minor" });
        return true;
    },
};
parentPort.on("message", async (m) => {
    if (m.type === "reply") {
        const c = calls.get(m.callId);
        calls.delete(m.callId);
        if (m.error !== undefined) c.reject(Object.assign(new Error(m.error), { kind: m.kind }));
        else c.resolve(m.value);
        return;
    }
    if (m.type === "init") {
        minorGc = gcFunction();
        runner = createChunkRunner(require, m.init, host);
        return;
    }
    if (m.type === "close") {
        if (runner) runner.close();
        parentPort.close();
        return;
    }
    const result = await runner.run(m.task);
    parentPort.postMessage({ type: "result", id: m.id, result }, result.records ? [result.records.buffer] : []);
});
`;
}

/** Threads of any pool in this process that were created and do not run JavaScript yet. */
let booting = 0;
/** Whether this process has set V8's `--expose-gc`. */
let gcExposed = false;

/**
 * Sets V8's `--expose-gc` (process-wide, never unset) once no thread of this process is still
 * starting, so contexts created from then on have `gc` (RunnerHost.collect). Set before a thread
 * starts, the flag makes that thread's isolate refuse Node's built-in code cache (it no longer
 * matches the flags), and two threads took 57 ms instead of 28 to start; changing it while a
 * thread was being created crashed one in the unit tests. If a thread of another pool is still
 * starting, it stays unset for now, and this pool's threads do not collect early.
 */
function exposeGcOnceNoThreadStarts(): void {
    if (!gcExposed && booting === 0) {
        v8.setFlagsFromString("--expose-gc");
        gcExposed = true;
    }
}

/** V8's `gc` for this thread, once {@link exposeGcOnceNoThreadStarts} has set the flag. */
function gcOfThisThread(): ((options: { type: "minor" }) => void) | undefined {
    if (!gcExposed) return undefined;
    const g = (globalThis as { gc?: unknown }).gc ?? vm.runInNewContext("gc");
    return typeof g === "function" ? (g as (options: { type: "minor" }) => void) : undefined;
}

/**
 * Ranged GETs signed between two minor collections on the calling thread. Signing (the OCI SDK)
 * is most of what the calling thread allocates; with no heap flag (see the image's Dockerfile) V8
 * lets its young generation grow to ~48 MiB before collecting, which took a 4 GiB load from
 * Object Storage from ~150 to ~169 MiB peak RSS.
 */
const SIGNS_PER_COLLECTION = 2;

/**
 * Runs tasks on `threads` workers, or on the calling thread when `threads` is 0. The threads
 * start at construction, without a key, so their start-up overlaps whatever the caller does
 * before it has the key (reading and verifying the manifest, the KMS call); {@link start} then
 * hands every thread the key and the run's files.
 */
export class ChunkPool {
    public readonly threads: number;
    private inline: ChunkRunner | undefined;
    private host: RunnerHost | undefined;
    private readonly workers: Worker[] = [];
    private readonly load: number[] = [];
    private readonly pending = new Map<
        number,
        { resolve: (r: ChunkTaskResult) => void; reject: (e: Error) => void }
    >();
    private nextId = 1;
    private started = false;
    private closed = false;
    private broken: Error | undefined;
    /** Settles when every thread runs (or has failed to start). */
    private readonly running: Promise<void>;
    /** Settles when every thread has its `init` (tasks are sent after it). */
    private ready: Promise<void> = Promise.resolve();
    /** Keys made for the threads and not yet handed over (zeroed if the pool closes first). */
    private unsentKeys: Uint8Array[] = [];
    /** Minor GC of the calling thread (undefined when V8's gc is not exposed). */
    private collect: ((options: { type: "minor" }) => void) | undefined;
    private signed = 0;
    private collectionsHere = 0;

    constructor(threads: number) {
        this.threads = threads;
        const started: Promise<void>[] = [];
        const source = threads > 0 ? workerSource() : "";
        for (let i = 0; i < threads; i++) {
            const w = new Worker(source, {
                eval: true,
                // Plain JavaScript: never inherit `-r ts-node/register` or similar flags.
                execArgv: [],
                // A runner holds a key and a few segment buffers (outside the heap); capping its
                // heap keeps a bug from taking the init container past its memory limit.
                resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 },
                stdout: false,
                stderr: false,
            });
            w.on("message", (m: { type: string; id?: number; result?: ChunkTaskResult }) => {
                if (m.type === "result") {
                    this.load[i]--;
                    const p = this.pending.get(m.id!);
                    this.pending.delete(m.id!);
                    p?.resolve(m.result!);
                } else {
                    void this.answer(w, m as unknown as HostCall, this.host!);
                }
            });
            w.on("error", (e) => this.fail(new Error(`crypto worker failed: ${e.message}`)));
            w.on("exit", (code) => {
                if (!this.closed)
                    this.fail(new Error(`crypto worker exited unexpectedly (code ${code})`));
            });
            booting++;
            started.push(
                new Promise<void>((resolve) => {
                    let counted = true;
                    const up = () => {
                        if (counted) booting--;
                        counted = false;
                        resolve();
                    };
                    w.once("online", up);
                    w.once("exit", up);
                }),
            );
            this.workers.push(w);
            this.load.push(0);
        }
        this.running = Promise.all(started).then(() => undefined);
    }

    /**
     * Gives every thread the run's key and files (once, before any task). Each thread gets its
     * own copy of the key, transferred (not cloned), so this thread keeps none; the caller zeroes
     * `init.key`.
     */
    start(init: RunnerInit, host: RunnerHost): void {
        if (this.started) throw new Error("chunk pool already started");
        this.started = true;
        this.host = host;
        if (this.threads === 0) {
            this.inline = createChunkRunner(
                require,
                { ...init, key: new Uint8Array(init.key) },
                host,
            );
            return;
        }
        // Copied now (the caller zeroes init.key when this returns), sent once every thread runs.
        const keys = this.workers.map(() => new Uint8Array(init.key));
        this.unsentKeys = keys;
        this.ready = this.running.then(() => {
            if (this.closed) return;
            exposeGcOnceNoThreadStarts();
            this.collect = gcOfThisThread();
            this.workers.forEach((w, i) =>
                w.postMessage({ type: "init", init: { ...init, key: keys[i] } }, [keys[i].buffer]),
            );
            this.unsentKeys = [];
        });
    }

    private fail(e: Error): void {
        this.broken ??= e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
    }

    private async answer(w: Worker, m: HostCall, host: RunnerHost): Promise<void> {
        try {
            if (m.type === "sign") {
                const value = await host.sign(m.url!, m.headers!);
                w.postMessage({ type: "reply", callId: m.callId, value });
                if (++this.signed % SIGNS_PER_COLLECTION === 0 && this.collect) {
                    this.collect({ type: "minor" });
                    this.collectionsHere++;
                }
            } else {
                const b = await host.fetch(m.file!, m.start!, m.length!, m.objectSize!);
                const own = new Uint8Array(b);
                w.postMessage({ type: "reply", callId: m.callId, value: own }, [own.buffer]);
            }
        } catch (e) {
            const err = e as Error & { kind?: string };
            w.postMessage({ type: "reply", callId: m.callId, error: err.message, kind: err.kind });
        }
    }

    /** Minor collections this pool ran on the calling thread (one every two signed GETs). */
    get collections(): number {
        return this.collectionsHere;
    }

    /** Runs one task on the least-loaded thread. */
    run(task: ChunkTask): Promise<ChunkTaskResult> {
        if (this.closed) return Promise.reject(new Error("chunk pool is closed"));
        if (!this.started) return Promise.reject(new Error("chunk pool is not started"));
        if (this.broken) return Promise.reject(this.broken);
        if (this.inline) return this.inline.run(task);
        let w = 0;
        for (let i = 1; i < this.workers.length; i++) if (this.load[i] < this.load[w]) w = i;
        const id = this.nextId++;
        this.load[w]++;
        return new Promise<ChunkTaskResult>((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            void this.ready.then(() => {
                if (this.pending.has(id)) this.workers[w].postMessage({ type: "task", id, task });
            });
        });
    }

    /** Stops the threads; the runners forget the key and zero their buffers first. */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        for (const k of this.unsentKeys) k.fill(0);
        this.unsentKeys = [];
        this.inline?.close();
        await Promise.all(
            this.workers.map(
                (w) =>
                    new Promise<void>((resolve) => {
                        const timer = setTimeout(
                            () => void w.terminate().then(() => resolve()),
                            2000,
                        );
                        w.once("exit", () => {
                            clearTimeout(timer);
                            resolve();
                        });
                        w.postMessage({ type: "close" });
                    }),
            ),
        );
    }
}

/**
 * Runs the tasks `next` yields, at most `limit` at a time, handing each result to `done` as it
 * arrives. Stops asking for tasks once `stopped` returns true (in-flight ones still finish).
 * Rejects with the first error `next` or `done` throws, after the in-flight tasks settled.
 */
export function runTasks(
    pool: ChunkPool,
    limit: number,
    next: () => Promise<ChunkTask | undefined>,
    done: (task: ChunkTask, result: ChunkTaskResult) => void | Promise<void>,
    stopped: () => boolean,
): Promise<void> {
    return new Promise<void>((resolve, reject) => {
        let inflight = 0;
        let exhausted = false;
        let pulling = false;
        let failed: { error: unknown } | undefined;
        const finish = () => {
            if (inflight > 0 || pulling) return;
            if (failed) reject(failed.error);
            else if (exhausted || stopped()) resolve();
        };
        const pump = async (): Promise<void> => {
            if (pulling) return;
            pulling = true;
            try {
                while (!exhausted && !failed && !stopped() && inflight < limit) {
                    const task = await next();
                    if (!task) {
                        exhausted = true;
                        break;
                    }
                    inflight++;
                    pool.run(task)
                        .then((r) => done(task, r))
                        .then(
                            () => {
                                inflight--;
                                void pump();
                            },
                            (error) => {
                                failed ??= { error };
                                inflight--;
                                finish();
                            },
                        );
                }
            } catch (error) {
                failed ??= { error };
            } finally {
                pulling = false;
            }
            finish();
        };
        void pump();
    });
}
