/**
 * Streaming encryption and decryption of one file: read a chunk, hand it to the engine, keep a
 * small window of chunks in flight, and consume results strictly in order. On decrypt the engine
 * hashes the plaintext as it decrypts it (one hash stream per file), so the calling thread only
 * moves buffers between reads, the engine and writes. Memory is the window times the chunk size,
 * whatever the file size.
 */
import * as crypto from "crypto";

import { ChunkEngine, ChunkResult } from "./engine";
import { StorageError, TamperError } from "./errors";
import {
    chunkAad,
    chunkNonce,
    ciphertextSize,
    HEADER_BYTES,
    Manifest,
    ManifestFile,
    objectHeader,
    parseObjectHeader,
    TAG_BYTES,
} from "./format";
import { BufferPool, ObjectReader } from "./io";

/** Chunks in flight per engine thread: enough to keep every worker busy while results drain. */
const WINDOW_PER_THREAD = 2;
/**
 * Chunks of one file in flight on decrypt. A file's chunks all go to the worker holding its hash
 * stream, so one more than a worker can chew on keeps it busy while a result is being written.
 */
const DECRYPT_WINDOW = WINDOW_PER_THREAD + 1;
/** Plaintext writes in flight per file. */
const MAX_WRITES_IN_FLIGHT = 2;

/**
 * Most chunk buffers one file being decrypted holds at once: a record and a plaintext buffer per
 * chunk in the window, the record being read ahead, and the plaintext of the writes in flight.
 */
export const DECRYPT_BUFFERS_PER_FILE = 2 * DECRYPT_WINDOW + 1 + MAX_WRITES_IN_FLIGHT;

/** Receives decrypted plaintext in order; owns `buf` until the returned promise settles. */
export type PlaintextSink = (buf: Buffer, length: number, position: number) => Promise<void>;

/** Inputs of {@link decryptObject}. */
export interface DecryptObjectParams {
    readonly manifest: Manifest;
    /** Index of the file in `manifest.files`. */
    readonly index: number;
    readonly reader: ObjectReader;
    readonly engine: ChunkEngine;
    /** Pool of record buffers (`chunkSize + 16` bytes). */
    readonly records: BufferPool;
    /** Pool of plaintext buffers (`chunkSize` bytes). */
    readonly plain: BufferPool;
    /**
     * Where plaintext goes (a temporary file). Absent for verify. Bytes handed to the sink are
     * authenticated chunk by chunk but the file as a whole is only verified when this function
     * returns, so the sink must not expose them under their final name before then.
     */
    readonly sink?: PlaintextSink;
    /**
     * Polled before each chunk; when it returns true the file is abandoned with a
     * {@link StoppedError} (another file of the model already failed). Defaults to never.
     */
    readonly stop?: () => boolean;
}

/** Thrown by {@link decryptObject} when its `stop` callback asked it to give up. */
export class StoppedError extends Error {
    constructor() {
        super("stopped because another file failed");
    }
}

function plainLength(file: ManifestFile, chunkSize: number, i: number): number {
    return i < file.chunks - 1 ? chunkSize : file.size - chunkSize * (file.chunks - 1);
}

function fmtBytes(n: number): string {
    return `${n} byte${n === 1 ? "" : "s"}`;
}

/**
 * Names precisely what is wrong with an object header that does not match its file, or returns
 * undefined when it matches. A forged header cannot make foreign data pass: the expected header,
 * not this one, goes into every chunk's AAD.
 */
export function describeHeaderMismatch(
    manifest: Manifest,
    index: number,
    header: Buffer,
): string | undefined {
    const file = manifest.files[index];
    const got = parseObjectHeader(header);
    const where = `${file.path} (${file.object})`;
    if (!got.magicOk) return `${where} is not a model-vault data object (bad magic)`;
    if (got.version !== 1) return `${where} has unsupported object version ${got.version}`;
    if (got.modelId !== manifest.modelId) {
        return (
            `${where} belongs to another model (model id ${got.modelId}, expected ` +
            `${manifest.modelId}): a file was swapped in from another model`
        );
    }
    const expected = objectHeader(manifest.modelId, index, file.path);
    if (got.pathHash.equals(expected.subarray(32, 64)) && got.index === index) return undefined;
    const other = manifest.files.findIndex(
        (f, i) => i === got.index && objectHeader(manifest.modelId, i, f.path).equals(header),
    );
    if (other >= 0) {
        return `${where} holds the data of ${manifest.files[other].path}: files were swapped within the model`;
    }
    return `${where} has a header that does not match its file`;
}

/**
 * After chunk `i` failed authentication, tries it at other positions of the same file to tell a
 * reordered chunk from a modified one. Bounded: only a few neighbours are tried, and only on the
 * failure path.
 */
async function diagnoseChunk(
    p: DecryptObjectParams,
    header: Buffer,
    failed: ChunkResult,
    i: number,
    recLen: number,
): Promise<string> {
    const { manifest, index } = p;
    const file = manifest.files[index];
    const what = `${file.path}: chunk ${i} of ${file.chunks}`;
    const candidates: number[] = [];
    for (let d = 1; d < file.chunks && candidates.length < 64; d++) {
        for (const j of [i - d, i + d]) {
            if (
                j >= 0 &&
                j < file.chunks &&
                plainLength(file, manifest.chunkSize, j) + TAG_BYTES === recLen
            ) {
                candidates.push(j);
            }
        }
    }
    let input = failed.input;
    let output = failed.output;
    try {
        for (const j of candidates) {
            const r = await p.engine.run({
                op: "decrypt",
                nonce: chunkNonce(index, j),
                aad: chunkAad(header, file.size, manifest.chunkSize, j, file.chunks),
                input,
                inputLength: recLen,
                output,
            });
            input = r.input;
            output = r.output;
            if (r.ok) return `${what} holds chunk ${j}'s data: chunks were reordered`;
        }
    } finally {
        output.fill(0);
        p.records.release(input);
        p.plain.release(output);
    }
    return (
        `${what} fails authentication: its bytes were modified, or it was spliced in ` +
        "from another file, model or key"
    );
}

/**
 * Decrypts and verifies one ciphertext object. Each chunk's tag is checked before its plaintext
 * reaches the sink; the object's length, its trailing bytes and the plaintext SHA-256 are checked
 * before this returns. Any failure throws a {@link TamperError} naming the file and chunk.
 */
export async function decryptObject(p: DecryptObjectParams): Promise<void> {
    const { manifest, index, reader, engine, sink } = p;
    const file = manifest.files[index];
    const chunkSize = manifest.chunkSize;
    const expectedSize = ciphertextSize(file.size, chunkSize);
    const truncated = (at: number) =>
        new TamperError(
            `${file.path} (${file.object}) is truncated: it ends after ${fmtBytes(at)}, ` +
                `expected ${fmtBytes(expectedSize)}`,
        );

    const got = Buffer.alloc(HEADER_BYTES);
    const hn = await reader.read(got, HEADER_BYTES);
    if (hn < HEADER_BYTES) throw truncated(hn);
    const mismatch = describeHeaderMismatch(manifest, index, got);
    if (mismatch) throw new TamperError(mismatch);
    const header = objectHeader(manifest.modelId, index, file.path);

    // The engine hashes each chunk's plaintext while decrypting it (the piece is still in cache);
    // a chunk that then fails its tag fails the file, so hashing it first exposes nothing.
    const stream = engine.openStream();
    const window = DECRYPT_WINDOW;
    const queue: { i: number; recLen: number; result: Promise<ChunkResult> }[] = [];
    // Positional writes are independent, so two may be in flight while the next chunk decrypts.
    const writes: Promise<void>[] = [];
    let position = 0;
    let consumed = HEADER_BYTES;

    const handle = async (item: (typeof queue)[number]): Promise<void> => {
        const r = await item.result;
        if (!r.ok) {
            if (r.error === "auth")
                throw new TamperError(await diagnoseChunk(p, header, r, item.i, item.recLen));
            p.records.release(r.input);
            p.plain.release(r.output);
            throw new TamperError(
                `${file.path}: chunk ${item.i} could not be decrypted: ${r.error}`,
            );
        }
        p.records.release(r.input);
        const n = r.outputLength;
        if (sink) {
            if (writes.length >= MAX_WRITES_IN_FLIGHT) await writes.shift();
            const w = sink(r.output, n, position).then(() => p.plain.release(r.output));
            // Observed later; the no-op handler keeps an early failure from counting as unhandled.
            w.catch(() => undefined);
            writes.push(w);
        } else {
            p.plain.release(r.output);
        }
        position += n;
    };

    // At most one read is outstanding: the reader is sequential.
    let ahead: { rec: Buffer; recLen: number; read: Promise<number> } | undefined;
    const readAhead = (i: number) => {
        const recLen = plainLength(file, chunkSize, i) + TAG_BYTES;
        const rec = p.records.acquire();
        const read = reader.read(rec, recLen);
        // Observed when the record is used; this keeps an early failure from being unhandled.
        read.catch(() => undefined);
        return { rec, recLen, read };
    };

    try {
        ahead = readAhead(0);
        for (let i = 0; i < file.chunks; i++) {
            if (p.stop?.()) throw new StoppedError();
            const { rec, recLen, read } = ahead!;
            ahead = undefined;
            let n: number;
            try {
                n = await read;
            } catch (e) {
                p.records.release(rec);
                throw e;
            }
            if (n < recLen) {
                p.records.release(rec);
                throw truncated(consumed + n);
            }
            consumed += n;
            // Start reading the next record now, so the read (from disk or the network)
            // overlaps this chunk's decryption and the previous chunk's write.
            if (i + 1 < file.chunks) ahead = readAhead(i + 1);
            const result = engine.run({
                op: "decrypt",
                nonce: chunkNonce(index, i),
                aad: chunkAad(header, file.size, chunkSize, i, file.chunks),
                input: rec,
                inputLength: recLen,
                output: p.plain.acquire(),
                stream,
            });
            result.catch(() => undefined);
            queue.push({ i, recLen, result });
            if (queue.length >= window) await handle(queue.shift()!);
        }
        while (queue.length > 0) await handle(queue.shift()!);
        while (writes.length > 0) await writes.shift();
    } catch (e) {
        engine.dropStream(stream);
        if (ahead) {
            const pending = ahead;
            ahead = undefined;
            await pending.read.catch(() => undefined);
            p.records.release(pending.rec);
        }
        // Let in-flight work finish so buffers return and no rejection goes unobserved.
        const rest = queue.splice(0);
        await Promise.allSettled(writes.splice(0));
        await Promise.allSettled(rest.map((q) => q.result)).then((settled) => {
            for (const s of settled) {
                if (s.status === "fulfilled") {
                    const r = s.value as ChunkResult;
                    r.output.fill(0);
                    p.records.release(r.input);
                    p.plain.release(r.output);
                }
            }
        });
        throw e;
    }

    const digest = await engine.digest(stream);
    const extra = Buffer.alloc(1);
    if ((await reader.read(extra, 1)) > 0) {
        throw new TamperError(
            `${file.path} (${file.object}) has bytes after its last chunk: it was extended ` +
                `beyond ${fmtBytes(expectedSize)}`,
        );
    }
    if (digest !== file.sha256) {
        throw new TamperError(
            `${file.path}: plaintext SHA-256 is ${digest}, the manifest says ${file.sha256}`,
        );
    }
}

/** Inputs of {@link encryptObject}. */
export interface EncryptObjectParams {
    readonly modelId: string;
    readonly chunkSize: number;
    readonly index: number;
    readonly path: string;
    /** Plaintext size when the file was listed; a file that changes while read is refused. */
    readonly size: number;
    readonly reader: ObjectReader;
    readonly engine: ChunkEngine;
    /** Pool of plaintext buffers (`chunkSize` bytes). */
    readonly plain: BufferPool;
    /** Receives the plaintext, in order, for the manifest's SHA-256. */
    readonly hash: crypto.Hash;
}

/**
 * Encrypts one file into its ciphertext object, yielded in order: header, then one
 * `ciphertext ‖ tag` record per chunk. The consumer's pace is the backpressure.
 */
export async function* encryptObject(p: EncryptObjectParams): AsyncGenerator<Buffer> {
    const { chunkSize, index, engine, reader } = p;
    const chunks = Math.max(1, Math.ceil(p.size / chunkSize));
    const header = objectHeader(p.modelId, index, p.path);
    yield Buffer.from(header);
    const window = engine.parallelism * WINDOW_PER_THREAD + 1;
    const queue: Promise<ChunkResult>[] = [];
    const take = async (): Promise<Buffer> => {
        const r = await queue.shift()!;
        p.plain.release(r.input);
        if (!r.ok) throw new Error(`encrypting ${p.path} failed: ${r.error}`);
        return r.output.subarray(0, r.outputLength);
    };
    try {
        for (let i = 0; i < chunks; i++) {
            const len = i < chunks - 1 ? chunkSize : p.size - chunkSize * (chunks - 1);
            const input = p.plain.acquire();
            const n = await reader.read(input, len);
            if (n < len) {
                p.plain.release(input);
                throw new StorageError(`${p.path} shrank while it was being encrypted; try again`);
            }
            p.hash.update(input.subarray(0, len));
            const result = engine.run({
                op: "encrypt",
                nonce: chunkNonce(index, i),
                aad: chunkAad(header, p.size, chunkSize, i, chunks),
                input,
                inputLength: len,
                output: Buffer.allocUnsafeSlow(len + TAG_BYTES),
            });
            result.catch(() => undefined);
            queue.push(result);
            if (queue.length >= window) yield await take();
        }
        while (queue.length > 0) yield await take();
    } finally {
        const rest = queue.splice(0);
        await Promise.allSettled(rest).then((s) => {
            for (const r of s) if (r.status === "fulfilled") p.plain.release(r.value.input);
        });
    }
    if ((await reader.read(Buffer.alloc(1), 1)) > 0) {
        throw new StorageError(`${p.path} grew while it was being encrypted; try again`);
    }
}
