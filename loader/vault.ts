/**
 * Model-level operations: encrypt a folder into a store, and decrypt or verify a store. This is
 * where the fail-closed rules live: the manifest is verified before anything else is trusted,
 * the store must hold exactly the listed objects, and plaintext reaches its final name only
 * after every file of the model has verified.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as fsp from "fs/promises";
import * as path from "path";

import { ChunkTask, ChunkTaskResult, RunnerFile } from "./chunks";
import { ModelVaultError, StorageError, TamperError, UsageError } from "./errors";
import {
    chunkCount,
    chunkKey,
    chunkRoot,
    CIPHER,
    ciphertextSize,
    DEFAULT_CHUNK_SIZE,
    DIGEST_BYTES,
    FORMAT,
    formatVersion,
    HEADER_BYTES,
    Manifest,
    MANIFEST_NAME,
    ManifestFile,
    MAX_CHUNK_SIZE,
    MAX_FILES,
    MIN_CHUNK_SIZE,
    newModelId,
    objectHeader,
    objectNameFor,
    parseManifest,
    serializeManifest,
    UnsignedManifest,
    unsafePathReason,
} from "./format";
import { KeyOpener, KeyRing } from "./keys";
import {
    ChunkPool,
    DEFAULT_PIECE_BYTES,
    DEFAULT_RETRY,
    EngineOptions,
    runShape,
    runTasks,
    threadsFor,
} from "./parallel";
import { Progress, ProgressOptions } from "./progress";
import { ModelSource, ModelTarget, ObjectFile, RangedObject, walk } from "./storage";

/** Options shared by every operation. */
export interface RunOptions extends EngineOptions {
    /** Progress lines (one per file). Defaults to silence. */
    readonly log?: (line: string) => void;
    /** Bytes, rate and ETA while the run goes. Defaults to none. */
    readonly progress?: ProgressOptions;
}

/** Options of {@link encryptModel}. */
export interface EncryptOptions extends RunOptions {
    /** Plaintext bytes per chunk. Defaults to {@link DEFAULT_CHUNK_SIZE} (1 MiB). */
    readonly chunkSize?: number;
}

/** What a run did. */
export interface RunSummary {
    readonly modelId: string;
    readonly format: string;
    readonly files: number;
    /** Plaintext bytes processed. */
    readonly bytes: number;
    readonly seconds: number;
    /** Worker threads used (0: the calling thread). */
    readonly threads: number;
    /** Bytes downloaded with ranged GETs, and how many of those GETs were retried. */
    readonly fetched: number;
    readonly retries: number;
}

/** A task's failure, ordered by file and chunk so parallel runs report the same one. */
interface Failure {
    readonly file: number;
    readonly chunk: number;
    readonly error: unknown;
}

function failureError(r: Extract<ChunkTaskResult, { ok: false }>): ModelVaultError {
    if (r.kind === "tamper") return new TamperError(r.message);
    if (r.kind === "usage") return new UsageError(r.message);
    return new StorageError(r.message);
}

function firstFailure(failures: readonly Failure[]): unknown {
    return failures.reduce((a, b) =>
        b.file < a.file || (b.file === a.file && b.chunk < a.chunk) ? b : a,
    ).error;
}

function runnerFiles(
    files: readonly { path: string; object: string; size: number; chunks: number }[],
    modelId: string,
    version: number,
): RunnerFile[] {
    return files.map((f, index) => ({
        path: f.path,
        object: f.object,
        size: f.size,
        chunks: f.chunks,
        index,
        header: objectHeader(modelId, index, f.path, version),
    }));
}

/** Cuts a file's chunks into segment tasks. */
function* segments(
    op: "encrypt" | "decrypt",
    file: number,
    chunks: number,
    segmentChunks: number,
): Generator<{ op: "encrypt" | "decrypt"; file: number; first: number; count: number }> {
    for (let first = 0; first < chunks; first += segmentChunks) {
        yield { op, file, first, count: Math.min(segmentChunks, chunks - first) };
    }
}

/**
 * Encrypts every regular file under `srcDir` into `target` and returns the signed manifest
 * (format 2). Symlinks and special files are refused rather than followed, so the model is
 * exactly what the folder holds. Into a local folder, every thread encrypts any segment of any
 * file and writes its records in place; into Object Storage, each file's records are produced
 * by the threads and streamed in order into one PutObject. Memory is bounded either way.
 */
export async function encryptModel(
    srcDir: string,
    target: ModelTarget,
    keys: KeyRing,
    opts: EncryptOptions = {},
): Promise<Manifest> {
    const started = process.hrtime.bigint();
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (
        !Number.isSafeInteger(chunkSize) ||
        chunkSize < MIN_CHUNK_SIZE ||
        chunkSize > MAX_CHUNK_SIZE
    ) {
        throw new UsageError(
            `chunk size must be between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes`,
        );
    }
    let entries;
    try {
        const st = await fsp.stat(srcDir);
        if (!st.isDirectory()) throw new Error("not a folder");
        entries = await walk(srcDir);
    } catch (e) {
        throw new UsageError(`source ${srcDir} is not a readable folder: ${(e as Error).message}`);
    }
    if (entries.length === 0) throw new UsageError(`source ${srcDir} holds no files`);
    if (entries.length > MAX_FILES)
        throw new UsageError(`source ${srcDir} holds more than ${MAX_FILES} files`);
    for (const e of entries) {
        if (e.size < 0) {
            throw new UsageError(
                `${path.join(srcDir, e.name)} is a symlink or special file; copy the real file in`,
            );
        }
        const why = unsafePathReason(e.name);
        if (why) throw new UsageError(`cannot encrypt ${JSON.stringify(e.name)}: its path ${why}`);
    }

    const modelId = newModelId();
    const version = formatVersion(FORMAT);
    const listed = entries.map((e, index) => ({
        path: e.name,
        object: objectNameFor(index),
        size: e.size,
        chunks: chunkCount(e.size, chunkSize),
    }));
    const total = entries.reduce((s, e) => s + e.size, 0);
    const positional = target.createObject !== undefined;
    const shape = runShape(chunkSize, total, false, opts);
    // The threads start while the data key is generated (a KMS call with a KMS key).
    const pool = new ChunkPool(shape.threads);
    let generated: Awaited<ReturnType<KeyRing["generateDataKey"]>>;
    try {
        generated = await keys.generateDataKey(modelId);
    } catch (e) {
        await pool.close();
        throw e;
    }
    const { plaintext: dataKey, dataKey: wrapped } = generated;
    const key = chunkKey(dataKey, modelId, FORMAT);
    dataKey.fill(0);
    pool.start(
        {
            key,
            version,
            chunkSize,
            piece: opts.pieceBytes ?? DEFAULT_PIECE_BYTES,
            segmentChunks: shape.segmentChunks,
            segmentBuffers: shape.tasks,
            fetchSlots: shape.depth,
            files: runnerFiles(listed, modelId, version),
            retry: opts.retry ?? DEFAULT_RETRY,
        },
        {
            sign: async () => {
                throw new Error("encrypt reads local files only");
            },
            fetch: async () => {
                throw new Error("encrypt reads local files only");
            },
        },
    );
    key.fill(0);
    const progress = new Progress("encrypted", total, opts.progress);
    const digests = listed.map((f) => Buffer.alloc(f.chunks * DIGEST_BYTES));
    const sources: (fsp.FileHandle | undefined)[] = [];
    const objects: (ObjectFile | undefined)[] = [];
    const limit = Math.max(shape.threads, 1) * shape.depth;
    const grewOrShrank = async (index: number): Promise<void> => {
        const st = await sources[index]!.stat();
        if (st.size !== listed[index].size) {
            throw new StorageError(
                `${listed[index].path} ${st.size > listed[index].size ? "grew" : "shrank"} while it was being encrypted; try again`,
            );
        }
    };
    const openSource = async (index: number): Promise<number> => {
        const p = path.join(srcDir, listed[index].path);
        const fh = await fsp.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
        sources[index] = fh;
        return fh.fd;
    };
    const closeSource = async (index: number) => {
        await sources[index]?.close();
        sources[index] = undefined;
    };
    const checked = (
        r: ChunkTaskResult,
        task: ChunkTask,
    ): Extract<ChunkTaskResult, { ok: true }> => {
        if (!r.ok) throw failureError(r);
        digests[task.file].set(r.digests!, task.first * DIGEST_BYTES);
        progress.add(r.bytes);
        return r;
    };
    try {
        await target.prepare();
        if (positional) {
            // Every thread takes any segment of any file; records go straight to their offsets.
            const remaining = listed.map((f) => Math.ceil(f.chunks / shape.segmentChunks));
            const queue = listed.flatMap((f, i) => [
                ...segments("encrypt", i, f.chunks, shape.segmentChunks),
            ]);
            let q = 0;
            await runTasks(
                pool,
                limit,
                async () => {
                    const t = queue[q++];
                    if (!t) return undefined;
                    if (t.first === 0) {
                        await openSource(t.file);
                        const obj = await target.createObject!(listed[t.file].object);
                        objects[t.file] = obj;
                        const header = objectHeader(modelId, t.file, listed[t.file].path, version);
                        await new Promise<void>((resolve, reject) =>
                            fs.write(obj.fd, header, 0, HEADER_BYTES, 0, (e) =>
                                e ? reject(e) : resolve(),
                            ),
                        );
                    }
                    return {
                        ...t,
                        source: { kind: "fd", fd: sources[t.file]!.fd },
                        out: objects[t.file]!.fd,
                    };
                },
                async (task, r) => {
                    checked(r, task);
                    if (--remaining[task.file] === 0) {
                        await grewOrShrank(task.file);
                        await closeSource(task.file);
                        await objects[task.file]!.commit();
                        objects[task.file] = undefined;
                        opts.log?.(
                            `encrypted ${listed[task.file].path} (${listed[task.file].size} bytes)`,
                        );
                    }
                },
                () => false,
            );
        } else {
            // Object Storage: one streamed PutObject per file, so records must come in order.
            for (const [index, f] of listed.entries()) {
                const fd = await openSource(index);
                const tasks = [...segments("encrypt", index, f.chunks, shape.segmentChunks)];
                const body = async function* (): AsyncGenerator<Buffer> {
                    yield objectHeader(modelId, index, f.path, version);
                    const window: { task: ChunkTask; result: Promise<ChunkTaskResult> }[] = [];
                    let t = 0;
                    while (t < tasks.length || window.length > 0) {
                        while (t < tasks.length && window.length < limit) {
                            const task: ChunkTask = { ...tasks[t++], source: { kind: "fd", fd } };
                            const result = pool.run(task);
                            result.catch(() => undefined);
                            window.push({ task, result });
                        }
                        const head = window.shift()!;
                        const r = checked(await head.result, head.task);
                        const rec = r.records!;
                        yield Buffer.from(rec.buffer, rec.byteOffset, rec.byteLength);
                    }
                };
                await target.writeObject(f.object, ciphertextSize(f.size, chunkSize), body());
                await grewOrShrank(index);
                await closeSource(index);
                opts.log?.(`encrypted ${f.path} (${f.size} bytes)`);
            }
        }
        const files: ManifestFile[] = listed.map((f, i) => ({
            path: f.path,
            size: f.size,
            chunks: f.chunks,
            chunkRoot: chunkRoot(digests[i]),
            object: f.object,
        }));
        const unsigned: UnsignedManifest = {
            format: FORMAT,
            modelId,
            createdAt: new Date().toISOString(),
            cipher: CIPHER,
            chunkSize,
            dataKey: wrapped,
            files,
        };
        const manifest: Manifest = { ...unsigned, signature: await keys.sign(unsigned) };
        await target.commit(serializeManifest(manifest));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        opts.log?.(
            `sealed model ${modelId}: ${files.length} files, ${total} bytes in ${seconds.toFixed(2)} s`,
        );
        return manifest;
    } catch (e) {
        await Promise.all(objects.map((o) => o?.discard()));
        await target.abort();
        throw e;
    } finally {
        progress.finish();
        await pool.close();
        await Promise.all(sources.map((s) => s?.close().catch(() => undefined)));
    }
}

/**
 * Loads and verifies a manifest, then checks that the store holds exactly the objects it
 * lists, at exactly the expected sizes. Returns the manifest and its data key.
 */
export async function openModel(
    source: ModelSource,
    opener: KeyOpener,
    parsed?: (manifest: Manifest) => void,
): Promise<{ manifest: Manifest; dataKey: Buffer; sizes: Map<string, number> }> {
    const manifest = parseManifest(await source.readManifest());
    // Lets decrypt start its threads (no key, no files yet) while the rest is checked.
    parsed?.(manifest);
    await opener.verifyManifest(manifest);
    const listing = await source.list();
    const sizes = new Map(listing.map((o) => [o.name, o.size]));
    for (const f of manifest.files) {
        if (!sizes.has(f.object)) {
            throw new TamperError(
                `${f.path}: its data object ${f.object} is missing from ${source.location}`,
            );
        }
    }
    const expected = new Set([MANIFEST_NAME, ...manifest.files.map((f) => f.object)]);
    const extra = listing.filter((o) => !expected.has(o.name)).map((o) => o.name);
    if (extra.length > 0) {
        const shown =
            extra.slice(0, 5).join(", ") +
            (extra.length > 5 ? `, and ${extra.length - 5} more` : "");
        throw new TamperError(
            `${source.location} holds objects the manifest does not list: ${shown}`,
        );
    }
    for (const f of manifest.files) {
        const size = sizes.get(f.object)!;
        const want = ciphertextSize(f.size, manifest.chunkSize);
        if (size < 0) throw new TamperError(`${f.path}: ${f.object} is not a regular file`);
        if (size < want) {
            throw new TamperError(
                `${f.path} (${f.object}) is truncated: ${size} bytes, expected ${want}`,
            );
        }
        if (size > want) {
            throw new TamperError(
                `${f.path} (${f.object}) was extended: ${size} bytes, expected ${want}`,
            );
        }
    }
    const dataKey = await opener.unwrapDataKey(manifest);
    return { manifest, dataKey, sizes };
}

/** Matches the temporary names decrypt writes, so a restarted init container can clear them. */
const PARTIAL = /^\..+\.partial-[0-9a-f]{16}$/;

/**
 * Prepares the destination: creates it, removes stale temporaries of an interrupted run, and
 * refuses anything that is not part of this model (a model folder must not gain extra files).
 */
async function prepareDestination(dest: string, manifest: Manifest): Promise<void> {
    try {
        await fsp.mkdir(dest, { recursive: true, mode: 0o755 });
    } catch (e) {
        throw new UsageError(`cannot create destination ${dest}: ${(e as Error).message}`);
    }
    const st = await fsp.lstat(dest);
    if (!st.isDirectory()) throw new UsageError(`destination ${dest} is not a folder`);
    const listed = new Set(manifest.files.map((f) => f.path));
    for (const e of await walk(dest)) {
        if (PARTIAL.test(path.posix.basename(e.name))) {
            await fsp.rm(path.join(dest, e.name), { force: true });
        } else if (!listed.has(e.name) || e.size < 0) {
            throw new UsageError(
                `destination ${dest} already holds ${e.name}, which is not part of this model; ` +
                    "decrypt into an empty folder",
            );
        }
    }
}

/** Creates the folders of `rel` under `root`, refusing to pass through a symlink. */
async function ensureDir(root: string, rel: string, created: string[]): Promise<void> {
    let cur = root;
    for (const part of rel.split("/").filter((p) => p !== "")) {
        cur = path.join(cur, part);
        try {
            const st = await fsp.lstat(cur);
            if (!st.isDirectory())
                throw new UsageError(`destination path ${cur} exists and is not a folder`);
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
            try {
                await fsp.mkdir(cur, { mode: 0o755 });
                created.push(cur);
            } catch (m) {
                // Another lane (a file in the same folder) created it meanwhile.
                if ((m as NodeJS.ErrnoException).code !== "EEXIST") throw m;
                if (!(await fsp.lstat(cur)).isDirectory())
                    throw new UsageError(`destination path ${cur} exists and is not a folder`);
            }
        }
    }
}

/** Plaintext bytes of a model. */
function totalSize(manifest: Manifest): number {
    return manifest.files.reduce((s, f) => s + f.size, 0);
}

/**
 * Decrypts (when `dest` is given) or only verifies (when it is not) an encrypted model. Files are
 * written as `.<name>.partial-<random>` (mode 0600) next to their final names and renamed only
 * after every file of the model verified; on any failure every temporary is deleted.
 *
 * Format 2: every segment of every file is a task any thread may take; each chunk's tag is
 * checked before its plaintext is written, and when a file's last segment is done, the root of
 * its chunk hashes must equal the signed manifest's. Format 1: each file is one task (its
 * plaintext SHA-256 is sequential), files run in parallel.
 */
export async function decryptModel(
    source: ModelSource,
    dest: string | undefined,
    opener: KeyOpener,
    opts: RunOptions = {},
): Promise<RunSummary> {
    const started = process.hrtime.bigint();
    // The threads start as soon as the manifest is parsed (its size picks their number), so
    // their start-up overlaps the signature check, the listing and the key unwrap. They get
    // the key and the files only after all of these passed (pool.start below).
    let spawned: ChunkPool | undefined;
    let opened: Awaited<ReturnType<typeof openModel>> | undefined;
    let remote = false;
    try {
        opened = await openModel(source, opener, (m) => {
            spawned = new ChunkPool(threadsFor(totalSize(m), opts));
        });
        if (dest !== undefined) await prepareDestination(dest, opened.manifest);
        // Remote sources get more segments in flight (one ranged GET each) than local reads.
        if (opened.manifest.files.length > 0) {
            const probe = await source.openRanged(opened.manifest.files[0].object, 0);
            remote = probe.source.kind !== "fd";
            await probe.close();
        }
    } catch (e) {
        opened?.dataKey.fill(0);
        await spawned?.close();
        throw e;
    }
    const pool = spawned!;
    const { manifest, dataKey, sizes } = opened;
    const key = chunkKey(dataKey, manifest.modelId, manifest.format);
    dataKey.fill(0);
    const version = formatVersion(manifest.format);
    const total = totalSize(manifest);
    const shape = runShape(manifest.chunkSize, total, remote, opts);
    pool.start(
        {
            key,
            version,
            chunkSize: manifest.chunkSize,
            piece: opts.pieceBytes ?? DEFAULT_PIECE_BYTES,
            segmentChunks: shape.segmentChunks,
            segmentBuffers: shape.tasks,
            fetchSlots: shape.depth,
            files: runnerFiles(manifest.files, manifest.modelId, version),
            retry: opts.retry ?? DEFAULT_RETRY,
        },
        {
            sign: (url, headers) => source.sign(url, headers),
            fetch: (file, start, length, objectSize) =>
                source.fetchRange(manifest.files[file].object, start, length, objectSize),
        },
    );
    key.fill(0);
    const progress = new Progress(
        dest === undefined ? "verified" : "decrypted",
        total,
        opts.progress,
    );
    const n = manifest.files.length;
    const remaining = manifest.files.map((f) =>
        version === 1 ? 1 : Math.ceil(f.chunks / shape.segmentChunks),
    );
    const digests: (Buffer | undefined)[] = new Array(n);
    const inputs: (RangedObject | undefined)[] = new Array(n);
    const outputs: (fsp.FileHandle | undefined)[] = new Array(n);
    const temps: { tmp: string; final: string }[] = [];
    const createdDirs: string[] = [];
    const failures: Failure[] = [];
    let fetched = 0;
    let retries = 0;
    let committed = false;

    const openFile = async (index: number): Promise<void> => {
        const file = manifest.files[index];
        inputs[index] = await source.openRanged(file.object, sizes.get(file.object)!);
        if (version === 2) digests[index] = Buffer.alloc(file.chunks * DIGEST_BYTES);
        if (dest === undefined) return;
        const dir = path.posix.dirname(file.path);
        if (dir !== ".") await ensureDir(dest, dir, createdDirs);
        const final = path.join(dest, file.path);
        const tmp = path.join(
            path.dirname(final),
            `.${path.basename(final)}.partial-${crypto.randomBytes(8).toString("hex")}`,
        );
        temps.push({ tmp, final });
        outputs[index] = await fsp.open(tmp, "wx", 0o600);
    };
    const closeFile = async (index: number): Promise<void> => {
        const i = inputs[index];
        const o = outputs[index];
        inputs[index] = undefined;
        outputs[index] = undefined;
        await Promise.all([i?.close(), o?.close()]);
    };
    const fileDone = (index: number, r: Extract<ChunkTaskResult, { ok: true }>): void => {
        const file = manifest.files[index];
        if (version === 1) {
            if (r.sha256 !== file.sha256) {
                throw new TamperError(
                    `${file.path}: plaintext SHA-256 is ${r.sha256}, the manifest says ${file.sha256}`,
                );
            }
        } else {
            const root = chunkRoot(digests[index]!);
            digests[index] = undefined;
            if (root !== file.chunkRoot) {
                throw new TamperError(
                    `${file.path}: its chunk records hash to root ${root}, the signed manifest ` +
                        `says ${file.chunkRoot}: the data was re-encrypted or replaced`,
                );
            }
        }
        opts.log?.(`verified ${file.path} (${file.size} bytes)`);
    };

    // Tasks in file order; a file's input and output open with its first task.
    let fileIndex = 0;
    let pendingSegments:
        | Iterator<{ op: "decrypt"; file: number; first: number; count: number }>
        | undefined;
    const next = async (): Promise<ChunkTask | undefined> => {
        for (;;) {
            if (pendingSegments) {
                const s = pendingSegments.next();
                if (!s.done) {
                    return {
                        ...s.value,
                        source: inputs[s.value.file]!.source,
                        out: outputs[s.value.file]?.fd,
                    };
                }
                pendingSegments = undefined;
            }
            if (fileIndex >= n) return undefined;
            const index = fileIndex++;
            await openFile(index);
            const file = manifest.files[index];
            if (version === 1) {
                return {
                    op: "decrypt",
                    file: index,
                    first: 0,
                    count: file.chunks,
                    wholeFile: true,
                    source: inputs[index]!.source,
                    out: outputs[index]?.fd,
                };
            }
            pendingSegments = segments(
                "decrypt",
                index,
                file.chunks,
                shape.segmentChunks,
            ) as Iterator<{
                op: "decrypt";
                file: number;
                first: number;
                count: number;
            }>;
        }
    };
    const done = async (task: ChunkTask, r: ChunkTaskResult): Promise<void> => {
        fetched += r.fetched;
        retries += r.retries;
        if (!r.ok) {
            failures.push({ file: task.file, chunk: r.chunk, error: failureError(r) });
            return;
        }
        progress.add(r.bytes, r.fetched, r.retries);
        if (r.digests) digests[task.file]?.set(r.digests, task.first * DIGEST_BYTES);
        if (--remaining[task.file] === 0) {
            try {
                fileDone(task.file, r);
            } catch (error) {
                failures.push({ file: task.file, chunk: manifest.files[task.file].chunks, error });
            }
            await closeFile(task.file);
        }
    };

    try {
        const limit = Math.max(shape.threads, 1) * shape.tasks;
        await runTasks(pool, limit, next, done, () => failures.length > 0);
        if (failures.length > 0) throw firstFailure(failures);
        for (const { tmp, final } of temps) {
            await fsp.chmod(tmp, 0o444);
            await fsp.rename(tmp, final);
        }
        committed = true;
    } catch (e) {
        throw e instanceof Error && !(e instanceof ModelVaultError)
            ? new StorageError(`${dest ?? "verify"}: ${e.message}`)
            : e;
    } finally {
        progress.finish();
        await pool.close();
        await Promise.all(manifest.files.map((_, i) => closeFile(i).catch(() => undefined)));
        if (!committed) {
            await Promise.all(
                temps.map((t) => fsp.rm(t.tmp, { force: true }).catch(() => undefined)),
            );
            for (const d of createdDirs.reverse()) await fsp.rmdir(d).catch(() => undefined);
        }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
        modelId: manifest.modelId,
        format: manifest.format,
        files: n,
        bytes: total,
        seconds,
        threads: shape.threads,
        fetched,
        retries,
    };
}

/** Verifies an encrypted model end to end (every tag and every SHA-256) and writes nothing. */
export async function verifyModel(
    source: ModelSource,
    opener: KeyOpener,
    opts: RunOptions = {},
): Promise<RunSummary> {
    return decryptModel(source, undefined, opener, opts);
}
