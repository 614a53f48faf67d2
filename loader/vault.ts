/**
 * Model-level operations: encrypt a folder into a store, and decrypt or verify a store. This is
 * where the fail-closed rules live: the manifest is verified before anything else is trusted,
 * the store must hold exactly the listed objects, and plaintext reaches its final name only
 * after every file of the model has verified.
 */
import * as crypto from "crypto";
import * as fsp from "fs/promises";
import * as path from "path";

import { createEngine, EngineOptions, recordBufferBytes } from "./engine";
import { StorageError, TamperError, UsageError } from "./errors";
import {
    chunkCount,
    chunkKey,
    CIPHER,
    ciphertextSize,
    DEFAULT_CHUNK_SIZE,
    FORMAT,
    Manifest,
    MANIFEST_NAME,
    ManifestFile,
    MAX_CHUNK_SIZE,
    MAX_FILES,
    MIN_CHUNK_SIZE,
    newModelId,
    objectNameFor,
    parseManifest,
    serializeManifest,
    UnsignedManifest,
    unsafePathReason,
} from "./format";
import { BufferPool, FileObjectReader } from "./io";
import { KeyOpener, KeyRing } from "./keys";
import { DECRYPT_BUFFERS_PER_FILE, decryptObject, encryptObject, StoppedError } from "./pipeline";
import { ModelSource, ModelTarget, walk } from "./storage";

/** Options shared by every operation. */
export interface RunOptions extends EngineOptions {
    /** Progress lines (one per file). Defaults to silence. */
    readonly log?: (line: string) => void;
}

/** Options of {@link encryptModel}. */
export interface EncryptOptions extends RunOptions {
    /** Plaintext bytes per chunk. Defaults to {@link DEFAULT_CHUNK_SIZE} (1 MiB). */
    readonly chunkSize?: number;
}

/** What a run did. */
export interface RunSummary {
    readonly modelId: string;
    readonly files: number;
    /** Plaintext bytes processed. */
    readonly bytes: number;
    readonly seconds: number;
}

/**
 * Encrypts every regular file under `srcDir` into `target` and returns the signed manifest.
 * Symlinks and special files are refused rather than followed, so the model is exactly what
 * the folder holds.
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
    const { plaintext: dataKey, dataKey: wrapped } = await keys.generateDataKey(modelId);
    const key = chunkKey(dataKey, modelId);
    dataKey.fill(0);
    const total = entries.reduce((s, e) => s + e.size, 0);
    const engine = createEngine(key, total, opts);
    key.fill(0);
    const plain = new BufferPool(chunkSize);
    const files: ManifestFile[] = [];
    try {
        await target.prepare();
        for (const [index, e] of entries.entries()) {
            const reader = await FileObjectReader.open(path.join(srcDir, e.name));
            const hash = crypto.createHash("sha256");
            const object = objectNameFor(index);
            try {
                const body = encryptObject({
                    modelId,
                    chunkSize,
                    index,
                    path: e.name,
                    size: e.size,
                    reader,
                    engine,
                    plain,
                    hash,
                });
                await target.writeObject(object, ciphertextSize(e.size, chunkSize), body);
            } finally {
                await reader.close();
            }
            files.push({
                path: e.name,
                size: e.size,
                chunks: chunkCount(e.size, chunkSize),
                sha256: hash.digest("hex"),
                object,
            });
            opts.log?.(`encrypted ${e.name} (${e.size} bytes)`);
        }
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
        await target.abort();
        throw e;
    } finally {
        await engine.close();
        plain.clear();
    }
}

/**
 * Loads and verifies a manifest, then checks that the store holds exactly the objects it
 * lists, at exactly the expected sizes. Returns the manifest and its data key.
 */
export async function openModel(
    source: ModelSource,
    opener: KeyOpener,
): Promise<{ manifest: Manifest; dataKey: Buffer; sizes: Map<string, number> }> {
    const manifest = parseManifest(await source.readManifest());
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

/**
 * Chunk buffers decrypt may hold at once across the files it works on in parallel. With the
 * default 1 MiB chunks each file needs 9 MiB, so up to 7 files fit; a model with chunks over
 * ~7 MiB runs one file at a time (and a 64 MiB-chunk model then needs ~576 MiB whatever this
 * says; the format allows it, the default never produces it).
 */
const IN_FLIGHT_BUDGET_BYTES = 64 * 1024 * 1024;

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

/**
 * Decrypts (when `dest` is given) or only verifies (when it is not) an encrypted model. Files are
 * written as `.<name>.partial-<random>` (mode 0600) next to their final names and renamed only
 * after every file of the model verified; on any failure every temporary is deleted.
 */
export async function decryptModel(
    source: ModelSource,
    dest: string | undefined,
    opener: KeyOpener,
    opts: RunOptions = {},
): Promise<RunSummary> {
    const started = process.hrtime.bigint();
    const { manifest, dataKey } = await openModel(source, opener);
    const key = chunkKey(dataKey, manifest.modelId);
    dataKey.fill(0);
    const total = manifest.files.reduce((s, f) => s + f.size, 0);
    if (dest !== undefined) await prepareDestination(dest, manifest);
    // Files run in parallel lanes, one hash stream each; the lanes' buffers must fit the budget
    // whatever chunk size the manifest names.
    const perLane = DECRYPT_BUFFERS_PER_FILE * recordBufferBytes(manifest.chunkSize);
    const maxLanes = Math.max(
        1,
        Math.min(manifest.files.length, Math.floor(IN_FLIGHT_BUDGET_BYTES / perLane)),
    );
    const engine = createEngine(key, total, opts, maxLanes);
    key.fill(0);
    const records = new BufferPool(recordBufferBytes(manifest.chunkSize));
    const plain = new BufferPool(manifest.chunkSize);
    const temps: { tmp: string; final: string }[] = [];
    const createdDirs: string[] = [];
    let committed = false;
    try {
        // Files are decrypted `engine.parallelism` at a time, each on its own worker (its hash
        // stream's), so a model with several large shards uses every core. A failure stops
        // the other lanes at their next chunk (they throw StoppedError, which is not reported);
        // of several real failures the lowest-indexed file's is reported.
        const failures: { index: number; error: unknown }[] = [];
        let next = 0;
        const lane = async (): Promise<void> => {
            while (failures.length === 0 && next < manifest.files.length) {
                const index = next++;
                try {
                    await decryptFile(index);
                } catch (error) {
                    if (!(error instanceof StoppedError)) failures.push({ index, error });
                }
            }
        };
        const decryptFile = async (index: number): Promise<void> => {
            const file = manifest.files[index];
            const reader = await source.open(file.object);
            let fh: fsp.FileHandle | undefined;
            try {
                if (dest !== undefined) {
                    const dir = path.posix.dirname(file.path);
                    if (dir !== ".") await ensureDir(dest, dir, createdDirs);
                    const final = path.join(dest, file.path);
                    const tmp = path.join(
                        path.dirname(final),
                        `.${path.basename(final)}.partial-${crypto.randomBytes(8).toString("hex")}`,
                    );
                    temps.push({ tmp, final });
                    fh = await fsp.open(tmp, "wx", 0o600);
                }
                const out = fh;
                await decryptObject({
                    manifest,
                    index,
                    reader,
                    engine,
                    records,
                    plain,
                    sink: out
                        ? async (buf, length, position) => {
                              await out.write(buf, 0, length, position);
                          }
                        : undefined,
                    stop: () => failures.length > 0,
                });
            } finally {
                await fh?.close();
                await reader.close();
            }
            opts.log?.(`verified ${file.path} (${file.size} bytes)`);
        };
        const lanes = Math.min(engine.parallelism, maxLanes);
        await Promise.all(Array.from({ length: lanes }, lane));
        if (failures.length > 0) {
            throw failures.reduce((a, b) => (b.index < a.index ? b : a)).error;
        }
        for (const { tmp, final } of temps) {
            await fsp.chmod(tmp, 0o444);
            await fsp.rename(tmp, final);
        }
        committed = true;
    } catch (e) {
        throw e instanceof Error && !(e instanceof TamperError) && !("exitCode" in e)
            ? new StorageError(`${dest ?? "verify"}: ${e.message}`)
            : e;
    } finally {
        await engine.close();
        records.clear();
        plain.clear();
        if (!committed) {
            await Promise.all(
                temps.map((t) => fsp.rm(t.tmp, { force: true }).catch(() => undefined)),
            );
            for (const d of createdDirs.reverse()) await fsp.rmdir(d).catch(() => undefined);
        }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { modelId: manifest.modelId, files: manifest.files.length, bytes: total, seconds };
}

/** Verifies an encrypted model end to end (every tag and every SHA-256) and writes nothing. */
export async function verifyModel(
    source: ModelSource,
    opener: KeyOpener,
    opts: RunOptions = {},
): Promise<RunSummary> {
    return decryptModel(source, undefined, opener, opts);
}
