/**
 * The chunk runner: the one implementation of chunk work, run on worker threads (as source text)
 * and, for small models and tests, on the calling thread.
 *
 * A task is a run of consecutive chunks of one file (a "segment"). The runner fetches the
 * segment's records itself (a positional read of a local object, or a ranged HTTPS GET of an
 * Object Storage object, issued from this thread so TLS runs where the decryption runs), then,
 * chunk by chunk: feeds each piece of the record to the record's SHA-256 and to AES-256-GCM,
 * checks the tag, and only then writes the chunk's plaintext at its position in the output file.
 * Any runner can take any chunk of any file: nonce, AAD and offsets follow from the manifest.
 *
 * {@link createChunkRunner} is turned into worker source with `Function.prototype.toString`, so
 * it must be self-contained: it receives `require` instead of importing, and refers to no other
 * module-level name.
 */
import type * as crypto from "crypto";

/** One file as the runner sees it (structured-cloneable). */
export interface RunnerFile {
    readonly path: string;
    readonly object: string;
    /** Plaintext bytes. */
    readonly size: number;
    readonly chunks: number;
    /** Index of the file in the manifest (it is in every nonce). */
    readonly index: number;
    /** The object header the manifest predicts; the start of every chunk's AAD. */
    readonly header: Uint8Array;
}

/** Retries of ranged GETs on throttling (429), server errors (5xx) and broken connections. */
export interface RetryPolicy {
    /** Attempts per range, the first included. */
    readonly attempts: number;
    /** First back-off in milliseconds; doubled after each failure, with jitter. */
    readonly baseDelayMs: number;
    /** Longest back-off in milliseconds (also caps a server's Retry-After). */
    readonly maxDelayMs: number;
    /** A request without any response byte for this long is abandoned and retried. */
    readonly timeoutMs: number;
}

/** What every runner of one run shares (structured-cloneable). */
export interface RunnerInit {
    /** The chunk key. The runner imports it and zeroes this copy. */
    readonly key: Uint8Array;
    /** Format version: 1 (plaintext SHA-256 per file) or 2 (SHA-256 per chunk record). */
    readonly version: number;
    readonly chunkSize: number;
    /** Bytes per `update` call, so a piece is hashed and decrypted while it is in the cache. */
    readonly piece: number;
    /** Chunks per segment: the most one task reads, decrypts and writes at once. */
    readonly segmentChunks: number;
    /** Segment buffers a runner keeps (one per task it has in flight). */
    readonly segmentBuffers: number;
    /**
     * Ranged GETs a runner has in flight at most. A task beyond them (the host hands a runner
     * one more task than this) signs its request and waits for a GET to finish, so the
     * connection is busy again while the finished segment is decrypted.
     */
    readonly fetchSlots: number;
    readonly files: readonly RunnerFile[];
    readonly retry: RetryPolicy;
}

/** Where a task's input comes from. */
export type TaskSource =
    /** A local file, read with positional reads. */
    | { readonly kind: "fd"; readonly fd: number }
    /** An object read with ranged GETs from this thread; the host signs each request. */
    | {
          readonly kind: "http";
          readonly url: string;
          /** The object's size in the listing; every response must agree. */
          readonly objectSize: number;
      }
    /** The host fetches the ranges (an injected Object Storage client). */
    | { readonly kind: "host"; readonly objectSize: number };

/** One unit of work. */
export interface ChunkTask {
    readonly op: "decrypt" | "encrypt";
    /** Position of the file in {@link RunnerInit.files}. */
    readonly file: number;
    readonly first: number;
    readonly count: number;
    /** Decrypt: the ciphertext object. Encrypt: the plaintext file. */
    readonly source: TaskSource;
    /**
     * File descriptor written with positional writes: plaintext (decrypt) or records (encrypt).
     * Absent on decrypt: verify only. Absent on encrypt: the records are returned.
     */
    readonly out?: number;
    /**
     * Format 1: the task covers the whole file, runs its chunks in order and returns the SHA-256
     * of the plaintext; it also checks that the object ends where the manifest says.
     */
    readonly wholeFile?: boolean;
}

/** A finished task. `transfer` lists the ArrayBuffers a worker hands over with it. */
export type ChunkTaskResult =
    | {
          readonly ok: true;
          /** SHA-256 of each record of the segment, in order (format 2). */
          readonly digests?: Uint8Array;
          /** Format 1 whole-file tasks: SHA-256 of the plaintext, hex. */
          readonly sha256?: string;
          /** Encrypt without `out`: the segment's records, concatenated. */
          readonly records?: Uint8Array;
          /** Plaintext bytes processed. */
          readonly bytes: number;
          /** Bytes fetched over the network (ranged GETs, retries included). */
          readonly fetched: number;
          /** Ranged GET attempts that were retried. */
          readonly retries: number;
          /** Early collections (RunnerHost.collect) this runner has run so far, all tasks. */
          readonly collections: number;
      }
    | {
          readonly ok: false;
          /** `tamper`: evidence of modification (exit 1); `storage`: I/O or network (exit 4). */
          readonly kind: "tamper" | "storage" | "usage";
          readonly message: string;
          /** The chunk the failure is about, for ordering failures. */
          readonly chunk: number;
          readonly fetched: number;
          readonly retries: number;
      };

/** What a runner asks of the thread that owns the run. */
export interface RunnerHost {
    /** Headers for a ranged GET of `url` (the host holds the credentials and signs). */
    sign(url: string, headers: Record<string, string>): Promise<Record<string, string>>;
    /** Bytes `[start, start + length)` of a file's object, for {@link TaskSource} `host`. */
    fetch(file: number, start: number, length: number, objectSize: number): Promise<Uint8Array>;
    /**
     * Frees dead buffers now (a minor GC), where the thread can. Node allocates every cipher
     * output and every socket read, and V8 collects them only once about 30 MiB of them have
     * piled up per thread; the runner asks every 4 MiB received or decrypted instead. Returns
     * whether it collected.
     */
    collect?(): boolean;
}

/** A chunk runner: runs tasks under one key. */
export interface ChunkRunner {
    run(task: ChunkTask): Promise<ChunkTaskResult>;
    /** Forgets the key and the buffers, and closes idle connections. */
    close(): void;
}

/**
 * Creates a runner. Self-contained (see the file comment): `req` is the caller's `require`.
 */
export function createChunkRunner(
    req: (id: string) => unknown,
    init: RunnerInit,
    host: RunnerHost,
): ChunkRunner {
    const nodeCrypto = req("crypto") as typeof crypto;
    const fs = req("fs") as typeof import("fs");
    const TAG = 16;
    const HEADER = 64;
    const rawKey = Buffer.from(init.key);
    let key: crypto.KeyObject | undefined = nodeCrypto.createSecretKey(rawKey);
    rawKey.fill(0);
    init.key.fill(0);
    const chunkSize = init.chunkSize;
    const recMax = chunkSize + TAG;
    const free: Buffer[] = [];
    // Loaded with the first ranged GET: a local run never pays for loading TLS (~2-3 ms a thread).
    // (https.request and https.Agent are http's, with TLS.)
    type Client = { request: typeof import("http").request; agent: import("http").Agent };
    const clients: { https?: Client; http?: Client } = {};
    const client = (secure: boolean): Client => {
        const scheme = secure ? "https" : "http";
        let c = clients[scheme];
        if (!c) {
            const mod = req(scheme) as typeof import("http");
            c = { request: mod.request, agent: new mod.Agent({ keepAlive: true, maxSockets: 64 }) };
            clients[scheme] = c;
        }
        return c;
    };

    /** A failure that ends the task with a result (not a crash). */
    class Failure extends Error {
        constructor(
            readonly kind: "tamper" | "storage" | "usage",
            message: string,
            readonly chunk: number,
            readonly retryable = false,
            readonly retryAfterMs = 0,
        ) {
            super(message);
        }
    }

    const plainLen = (f: RunnerFile, i: number) =>
        i < f.chunks - 1 ? chunkSize : f.size - chunkSize * (f.chunks - 1);
    const objectSize = (f: RunnerFile) => HEADER + f.size + f.chunks * TAG;
    const bytes = (n: number) => `${n} byte${n === 1 ? "" : "s"}`;
    const where = (f: RunnerFile) => `${f.path} (${f.object})`;

    const nonce = (f: RunnerFile, i: number) => {
        const n = Buffer.alloc(12);
        n.writeUInt32BE(f.index, 0);
        n.writeBigUInt64BE(BigInt(i), 4);
        return n;
    };
    // header 64 ‖ file size u64 ‖ chunk size u32 ‖ chunk index u64 ‖ chunk count u64 ‖ final u8
    const aad = (f: RunnerFile, i: number) => {
        const a = Buffer.alloc(HEADER + 29);
        a.set(f.header, 0);
        a.writeBigUInt64BE(BigInt(f.size), 64);
        a.writeUInt32BE(chunkSize, 72);
        a.writeBigUInt64BE(BigInt(i), 76);
        a.writeBigUInt64BE(BigInt(f.chunks), 84);
        a.writeUInt8(i === f.chunks - 1 ? 1 : 0, 92);
        return a;
    };

    const headers = init.files.map((f) => Buffer.from(f.header));
    // A segment buffer holds a segment's records, plus the object header for a file's first one.
    const segBytes = HEADER + init.segmentChunks * recMax;
    const acquire = (length: number): Buffer =>
        free.length > 0 && free[free.length - 1].length >= length
            ? free.pop()!
            : Buffer.allocUnsafeSlow(Math.max(length, segBytes));
    const release = (b: Buffer) => {
        if (free.length < init.segmentBuffers) free.push(b);
    };
    // A record buffer holds one chunk record (or an object header) of a streamed GET.
    const freeRecords: Buffer[] = [];
    const acquireRecord = (): Buffer =>
        freeRecords.pop() ?? Buffer.allocUnsafeSlow(Math.max(HEADER, recMax));
    const releaseRecord = (b: Buffer) => {
        if (freeRecords.length < init.segmentBuffers) freeRecords.push(b);
    };

    /** Writes every byte of `bufs` at `position` (positional writes may be partial). */
    const writeAll = (fd: number, bufs: Buffer[], position: number) => {
        let pos = position;
        const rest = bufs.filter((b) => b.length > 0);
        while (rest.length > 0) {
            let n = fs.writevSync(fd, rest, pos);
            pos += n;
            while (n > 0 && rest.length > 0) {
                if (n >= rest[0].length) {
                    n -= rest[0].length;
                    rest.shift();
                } else {
                    rest[0] = rest[0].subarray(n);
                    n = 0;
                }
            }
        }
    };

    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // Bytes received or decrypted between two host.collect() calls. Measured on a 512 MiB
    // model (2 threads): local decrypt peak RSS 145 MiB without collecting, 89-97 MiB at
    // 4-8 MiB; from Object Storage 218 MiB without, 164-175 MiB at 4 MiB, CPU unchanged.
    const collectEvery = 4 * 1024 * 1024;
    let sinceCollect = 0;
    let collections = 0;
    /** Counts bytes received or processed; asks the host to collect every `collectEvery`. */
    const processed = (n: number) => {
        sinceCollect += n;
        if (sinceCollect >= collectEvery && host.collect) {
            sinceCollect = 0;
            if (host.collect()) collections++;
        }
    };

    /** At most `init.fetchSlots` ranged GETs at once; waiters are served in arrival order. */
    let fetching = 0;
    const slotWaiters: (() => void)[] = [];
    const takeSlot = async (): Promise<void> => {
        if (fetching < Math.max(1, init.fetchSlots)) {
            fetching++;
            return;
        }
        await new Promise<void>((r) => slotWaiters.push(r));
    };
    const giveSlot = () => {
        const next = slotWaiters.shift();
        if (next) next();
        else fetching--;
    };

    /**
     * Receives a GET's bytes in order: `c` starts `got` bytes into the range. It may throw a
     * {@link Failure}, which ends the GET (not retried unless the failure says so).
     */
    type Sink = (c: Buffer, got: number) => void;

    /** One ranged GET, its bytes to `sink`; throws a {@link Failure}, retryable or not. */
    const getOnce = async (
        f: RunnerFile,
        src: { url: string; objectSize: number },
        start: number,
        length: number,
        counters: { fetched: number },
        chunk: number,
        sink: Sink,
    ): Promise<void> => {
        // Signed before waiting for a slot, so the request goes out the moment one is free;
        // signed again if the wait was long (OCI refuses a request whose date is 5 min off).
        const sign = () => host.sign(src.url, { range: `bytes=${start}-${start + length - 1}` });
        let headers = await sign();
        const signedAt = Date.now();
        const { request, agent } = client(src.url.startsWith("https:"));
        await takeSlot();
        try {
            if (Date.now() - signedAt > 60_000) headers = await sign();
            await new Promise<void>((resolve, reject) => {
                const r = request(
                    src.url,
                    {
                        method: "GET",
                        headers,
                        agent,
                    },
                    (res) => {
                        const status = res.statusCode ?? 0;
                        const fail = (e: Failure) => {
                            res.destroy();
                            reject(e);
                        };
                        if (status === 404) {
                            return fail(new Failure("tamper", `${where(f)} is missing`, chunk));
                        }
                        if (status === 429 || status >= 500) {
                            const ra = Number(res.headers["retry-after"]);
                            return fail(
                                new Failure(
                                    "storage",
                                    `GET ${f.object} bytes ${start}-${start + length - 1}: HTTP ${status}`,
                                    chunk,
                                    true,
                                    Number.isFinite(ra) && ra > 0 ? ra * 1000 : 0,
                                ),
                            );
                        }
                        const whole = status === 200 && start === 0 && length === src.objectSize;
                        if (status !== 206 && !whole) {
                            return fail(
                                new Failure(
                                    "storage",
                                    `GET ${f.object} bytes ${start}-${start + length - 1}: HTTP ${status} ` +
                                        `${res.statusMessage ?? ""}`.trim(),
                                    chunk,
                                ),
                            );
                        }
                        if (status === 206) {
                            const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(
                                String(res.headers["content-range"] ?? ""),
                            );
                            if (!m) {
                                return fail(
                                    new Failure(
                                        "storage",
                                        `GET ${f.object}: no usable Content-Range in the answer`,
                                        chunk,
                                    ),
                                );
                            }
                            const total = Number(m[3]);
                            if (total !== src.objectSize) {
                                // The object changed after it was listed.
                                return fail(
                                    new Failure(
                                        "tamper",
                                        total < src.objectSize
                                            ? `${where(f)} is truncated: ${total} bytes, expected ${src.objectSize}`
                                            : `${where(f)} was extended: ${total} bytes, expected ${src.objectSize}`,
                                        chunk,
                                    ),
                                );
                            }
                            if (Number(m[1]) !== start || Number(m[2]) !== start + length - 1) {
                                return fail(
                                    new Failure(
                                        "storage",
                                        `GET ${f.object}: asked for bytes ${start}-${start + length - 1}, got ${m[1]}-${m[2]}`,
                                        chunk,
                                    ),
                                );
                            }
                        }
                        let got = 0;
                        res.on("data", (c: Buffer) => {
                            if (got + c.length > length) {
                                fail(
                                    new Failure(
                                        "storage",
                                        `GET ${f.object}: more bytes than asked for`,
                                        chunk,
                                    ),
                                );
                                return;
                            }
                            counters.fetched += c.length;
                            processed(c.length);
                            try {
                                sink(c, got);
                            } catch (e) {
                                fail(
                                    e instanceof Failure
                                        ? e
                                        : new Failure("storage", (e as Error).message, chunk),
                                );
                                return;
                            }
                            got += c.length;
                        });
                        res.on("end", () =>
                            got === length
                                ? resolve()
                                : reject(
                                      new Failure(
                                          "storage",
                                          `GET ${f.object}: the answer ended after ${got} of ${length} bytes`,
                                          chunk,
                                          true,
                                      ),
                                  ),
                        );
                        res.on("error", (e) =>
                            reject(
                                new Failure(
                                    "storage",
                                    `GET ${f.object}: ${e.message}`,
                                    chunk,
                                    true,
                                ),
                            ),
                        );
                    },
                );
                r.setTimeout(init.retry.timeoutMs, () =>
                    r.destroy(new Error(`no answer for ${init.retry.timeoutMs} ms`)),
                );
                r.on("error", (e) =>
                    reject(
                        e instanceof Failure
                            ? e
                            : new Failure("storage", `GET ${f.object}: ${e.message}`, chunk, true),
                    ),
                );
                r.end();
            });
        } finally {
            giveSlot();
        }
    };

    /** Reads `[start, start + length)` of a task's source into `dest`, retrying network failures. */
    const fill = async (
        f: RunnerFile,
        task: ChunkTask,
        start: number,
        dest: Buffer,
        length: number,
        counters: { fetched: number; retries: number },
        truncated: (at: number) => Failure,
    ): Promise<void> => {
        const src = task.source;
        if (src.kind === "fd") {
            let got = 0;
            while (got < length) {
                const n = fs.readSync(src.fd, dest, got, length - got, start + got);
                if (n === 0) throw truncated(start + got);
                got += n;
            }
            return;
        }
        if (src.kind === "host") {
            await takeSlot();
            const b = await host.fetch(task.file, start, length, src.objectSize).finally(giveSlot);
            if (b.length < length) throw truncated(start + b.length);
            dest.set(b.subarray(0, length), 0);
            counters.fetched += length;
            return;
        }
        await withRetries(task.first, counters, () =>
            getOnce(f, src, start, length, counters, task.first, (c, got) => c.copy(dest, got)),
        );
    };

    /** Runs `attempt` until it succeeds, retrying retryable failures with back-off. */
    const withRetries = async (
        chunk: number,
        counters: { retries: number },
        attempt: () => Promise<void>,
    ): Promise<void> => {
        const policy = init.retry;
        for (let n = 1; ; n++) {
            try {
                await attempt();
                return;
            } catch (e) {
                const failure =
                    e instanceof Failure
                        ? e
                        : new Failure("storage", String((e as Error).message), chunk);
                if (!failure.retryable || n >= policy.attempts) {
                    if (failure.retryable) {
                        throw new Failure(
                            "storage",
                            `${failure.message} (gave up after ${n} attempts)`,
                            failure.chunk,
                        );
                    }
                    throw failure;
                }
                counters.retries++;
                const backoff = Math.min(
                    policy.maxDelayMs,
                    policy.baseDelayMs * 2 ** (n - 1) * (0.5 + Math.random() / 2),
                );
                await sleep(Math.min(policy.maxDelayMs, Math.max(backoff, failure.retryAfterMs)));
            }
        }
    };

    /**
     * Names precisely what is wrong with an object header that is not the one the manifest
     * predicts, or returns undefined when it is. A forged header cannot make foreign data pass:
     * the predicted header, not the stored one, goes into every chunk's AAD.
     */
    const describeHeader = (f: RunnerFile, got: Buffer): string | undefined => {
        const want = headers[f.index];
        if (got.equals(want)) return undefined;
        const w = where(f);
        if (!got.subarray(0, 8).equals(want.subarray(0, 8))) {
            return `${w} is not a model-vault data object (bad magic)`;
        }
        const version = got.readUInt16BE(8);
        if (version !== init.version) {
            return `${w} has object version ${version}, but the manifest is format ${init.version}`;
        }
        if (!got.subarray(16, 32).equals(want.subarray(16, 32))) {
            return (
                `${w} belongs to another model (model id ${got.subarray(16, 32).toString("hex")}, ` +
                `expected ${want.subarray(16, 32).toString("hex")}): a file was swapped in from another model`
            );
        }
        const other = headers.findIndex((h) => h.equals(got));
        if (other >= 0) {
            return `${w} holds the data of ${init.files[other].path}: files were swapped within the model`;
        }
        return `${w} has a header that does not match its file`;
    };

    /** After chunk `i` failed its tag: is it another position's chunk (reordered) or modified? */
    const diagnose = (f: RunnerFile, i: number, rec: Buffer): string => {
        const what = `${f.path}: chunk ${i} of ${f.chunks}`;
        let tried = 0;
        for (let d = 1; d < f.chunks && tried < 64; d++) {
            for (const j of [i - d, i + d]) {
                if (j < 0 || j >= f.chunks || plainLen(f, j) + TAG !== rec.length) continue;
                tried++;
                const dc = nodeCrypto.createDecipheriv("aes-256-gcm", key!, nonce(f, j), {
                    authTagLength: TAG,
                });
                dc.setAAD(aad(f, j));
                dc.setAuthTag(rec.subarray(rec.length - TAG));
                dc.update(rec.subarray(0, rec.length - TAG));
                try {
                    dc.final();
                    return `${what} holds chunk ${j}'s data: chunks were reordered`;
                } catch {
                    // not that position either
                }
            }
        }
        return (
            `${what} fails authentication: its bytes were modified, or it was spliced in ` +
            "from another file, model or key"
        );
    };

    /**
     * Decrypts one record; returns its plaintext pieces only if the tag verified. Each piece is
     * fed to the record's hash (when given) just before it is decrypted, while it is in cache.
     */
    const openRecord = (
        f: RunnerFile,
        i: number,
        rec: Buffer,
        recordHash: crypto.Hash | undefined,
    ): Buffer[] => {
        const ctLen = rec.length - TAG;
        const d = nodeCrypto.createDecipheriv("aes-256-gcm", key!, nonce(f, i), {
            authTagLength: TAG,
        });
        d.setAAD(aad(f, i));
        const tag = rec.subarray(ctLen);
        d.setAuthTag(tag);
        const out: Buffer[] = [];
        for (let p = 0; p < ctLen; p += init.piece) {
            const piece = rec.subarray(p, Math.min(p + init.piece, ctLen));
            recordHash?.update(piece);
            out.push(d.update(piece));
        }
        recordHash?.update(tag);
        try {
            const last = d.final();
            if (last.length > 0) out.push(last);
        } catch {
            throw new Failure("tamper", diagnose(f, i, rec), i);
        }
        return out;
    };

    const decryptSegment = async (
        task: ChunkTask,
        counters: { fetched: number; retries: number },
    ) => {
        const f = init.files[task.file];
        const expected = objectSize(f);
        const truncated = (at: number) =>
            new Failure(
                "tamper",
                `${where(f)} is truncated: it ends after ${bytes(at)}, expected ${bytes(expected)}`,
                task.first,
            );
        const wholeFile = task.wholeFile === true;
        const plainHash = wholeFile ? nodeCrypto.createHash("sha256") : undefined;
        const digests = wholeFile ? undefined : Buffer.alloc(task.count * 32);
        const end = task.first + task.count;
        let total = 0;
        /** Verifies record `i` and only then writes its plaintext; returns its plaintext bytes. */
        const verified = (i: number, rec: Buffer): number => {
            const h = digests ? nodeCrypto.createHash("sha256") : undefined;
            const plain = openRecord(f, i, rec, h);
            if (h) h.digest().copy(digests!, (i - task.first) * 32);
            if (plainHash) for (const b of plain) plainHash.update(b);
            if (task.out !== undefined) writeAll(task.out, plain, i * chunkSize);
            processed(rec.length);
            return rec.length - TAG;
        };
        const checkHeader = (got: Buffer) => {
            const mismatch = describeHeader(f, got);
            if (mismatch) throw new Failure("tamper", mismatch, 0);
        };
        const src = task.source;
        if (src.kind === "http") {
            // Streamed: each unit (the object header on a file's first segment, then each
            // record) is verified the moment its last byte arrives, in a buffer of one record, so
            // a GET in flight holds one record, not its whole segment.
            const unit = acquireRecord();
            try {
                for (let s = task.first; s < end; s += init.segmentChunks) {
                    const n = Math.min(init.segmentChunks, end - s);
                    let k = s === 0 ? -1 : 0; // -1: the header
                    let have = 0;
                    const unitLen = () => (k < 0 ? HEADER : plainLen(f, s + k) + TAG);
                    const unitStart = () => (k < 0 ? 0 : HEADER + (s + k) * recMax);
                    const stop = HEADER + (s + n - 1) * recMax + plainLen(f, s + n - 1) + TAG;
                    const feed = (c: Buffer) => {
                        for (let o = 0; o < c.length; ) {
                            const take = Math.min(c.length - o, unitLen() - have);
                            c.copy(unit, have, o, o + take);
                            have += take;
                            o += take;
                            if (have < unitLen()) continue;
                            if (k < 0) checkHeader(unit.subarray(0, HEADER));
                            else total += verified(s + k, unit.subarray(0, have));
                            k++;
                            have = 0;
                        }
                    };
                    // A retry asks again from the first unit not yet verified.
                    await withRetries(s, counters, () => {
                        have = 0;
                        const from = unitStart();
                        return getOnce(f, src, from, stop - from, counters, s, feed);
                    });
                }
            } finally {
                releaseRecord(unit);
            }
        } else {
            const seg = acquire(segBytes);
            try {
                for (let s = task.first; s < end; s += init.segmentChunks) {
                    const n = Math.min(init.segmentChunks, end - s);
                    // The first segment of a file also reads the header, in the same read.
                    const head = s === 0 ? HEADER : 0;
                    let length = head;
                    for (let i = s; i < s + n; i++) length += plainLen(f, i) + TAG;
                    await fill(
                        f,
                        task,
                        HEADER - head + s * recMax,
                        seg,
                        length,
                        counters,
                        truncated,
                    );
                    if (head > 0) checkHeader(seg.subarray(0, HEADER));
                    for (let k = 0, off = head; k < n; k++) {
                        const recLen = plainLen(f, s + k) + TAG;
                        total += verified(s + k, seg.subarray(off, off + recLen));
                        off += recLen;
                    }
                }
            } finally {
                release(seg);
            }
        }
        if (wholeFile && task.source.kind === "fd") {
            const size = fs.fstatSync(task.source.fd).size;
            if (size > expected) {
                throw new Failure(
                    "tamper",
                    `${where(f)} has bytes after its last chunk: it was extended beyond ${bytes(expected)}`,
                    f.chunks,
                );
            }
        }
        return {
            digests,
            sha256: plainHash?.digest("hex"),
            bytes: total,
        };
    };

    const encryptSegment = async (
        task: ChunkTask,
        counters: { fetched: number; retries: number },
    ) => {
        const f = init.files[task.file];
        const shrank = () =>
            new Failure(
                "storage",
                `${f.path} shrank while it was being encrypted; try again`,
                task.first,
            );
        const digests = Buffer.alloc(task.count * 32);
        const end = task.first + task.count;
        let length = 0;
        for (let i = task.first; i < end; i++) length += plainLen(f, i);
        const plain = acquire(segBytes);
        const records =
            task.out === undefined ? Buffer.allocUnsafeSlow(length + task.count * TAG) : undefined;
        let total = 0;
        try {
            for (let s = task.first, recOff = 0; s < end; s += init.segmentChunks) {
                const n = Math.min(init.segmentChunks, end - s);
                let segLen = 0;
                for (let i = s; i < s + n; i++) segLen += plainLen(f, i);
                await fill(f, task, s * chunkSize, plain, segLen, counters, shrank);
                for (let k = 0, off = 0; k < n; k++) {
                    const i = s + k;
                    const len = plainLen(f, i);
                    const c = nodeCrypto.createCipheriv("aes-256-gcm", key!, nonce(f, i), {
                        authTagLength: TAG,
                    });
                    c.setAAD(aad(f, i));
                    const h = nodeCrypto.createHash("sha256");
                    const out: Buffer[] = [];
                    for (let p = 0; p < len; p += init.piece) {
                        const ct = c.update(
                            plain.subarray(off + p, off + Math.min(p + init.piece, len)),
                        );
                        h.update(ct);
                        out.push(ct);
                    }
                    const last = c.final();
                    if (last.length > 0) {
                        h.update(last);
                        out.push(last);
                    }
                    const tag = c.getAuthTag();
                    h.update(tag);
                    out.push(tag);
                    h.digest().copy(digests, (i - task.first) * 32);
                    if (task.out !== undefined) writeAll(task.out, out, HEADER + i * recMax);
                    else for (const b of out) recOff += b.copy(records!, recOff);
                    off += len;
                    total += len;
                    processed(len);
                }
            }
        } finally {
            release(plain);
        }
        return { digests, records, bytes: total };
    };

    return {
        async run(task: ChunkTask): Promise<ChunkTaskResult> {
            const counters = { fetched: 0, retries: 0 };
            try {
                if (!key) throw new Error("runner is closed");
                const r =
                    task.op === "decrypt"
                        ? await decryptSegment(task, counters)
                        : await encryptSegment(task, counters);
                return { ok: true, ...r, ...counters, collections };
            } catch (e) {
                if (e instanceof Failure) {
                    return {
                        ok: false,
                        kind: e.kind,
                        message: e.message,
                        chunk: e.chunk,
                        ...counters,
                    };
                }
                const f = init.files[task.file];
                const err = e as NodeJS.ErrnoException & { kind?: string };
                const kind =
                    err.kind === "tamper" || err.kind === "usage" ? err.kind : ("storage" as const);
                if (err.kind !== undefined) {
                    return {
                        ok: false,
                        kind,
                        message: err.message,
                        chunk: task.first,
                        ...counters,
                    };
                }
                return {
                    ok: false,
                    kind,
                    message: `${f ? f.path : `file ${task.file}`}: ${err.code ? `${err.code}: ` : ""}${err.message}`,
                    chunk: task.first,
                    ...counters,
                };
            }
        },
        close(): void {
            key = undefined;
            for (const b of [...free, ...freeRecords]) b.fill(0);
            free.length = 0;
            freeRecords.length = 0;
            clients.https?.agent.destroy();
            clients.http?.agent.destroy();
        },
    };
}
