import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";

import { ChunkTaskResult, RunnerInit } from "../../loader/chunks";
import {
    chunkCount,
    chunkKey,
    chunkRoot,
    ciphertextSize,
    FORMAT,
    objectHeader,
    parseManifest,
} from "../../loader/format";
import { FileKeyRing } from "../../loader/keys";
import { ChunkPool, DEFAULT_RETRY, runShape } from "../../loader/parallel";
import { formatBytes, progressLine } from "../../loader/progress";
import { LocalModelSource, LocalModelTarget } from "../../loader/storage";
import { decryptModel, encryptModel } from "../../loader/vault";
import { bytes, cleanupTemps, readTree, tempDir, writeTree } from "./helpers";

const CHUNK = 1000;

/** The SHA-256 of every record of a ciphertext object, read straight from the file. */
function recordDigests(object: Buffer, size: number, chunkSize: number): Buffer[] {
    const out: Buffer[] = [];
    const n = chunkCount(size, chunkSize);
    for (let i = 0, off = 64; i < n; i++) {
        const len = (i < n - 1 ? chunkSize : size - chunkSize * (n - 1)) + 16;
        out.push(
            crypto
                .createHash("sha256")
                .update(object.subarray(off, off + len))
                .digest(),
        );
        off += len;
    }
    return out;
}

/** A one-file model `w.bin` sealed with a file key on the calling thread, for a pool to run. */
async function sealedOneFile(prefix: string, data: Buffer, chunkSize?: number) {
    const dir = tempDir(prefix);
    writeTree(path.join(dir, "m"), { "w.bin": data });
    const keys = FileKeyRing.fromFile(writeKey(dir));
    const enc = path.join(dir, "e");
    const m = await encryptModel(path.join(dir, "m"), new LocalModelTarget(enc), keys, {
        chunkSize,
        workers: 0,
    });
    const dataKey = await keys.unwrapDataKey(
        parseManifest(fs.readFileSync(path.join(enc, "manifest.json"))),
    );
    const f = m.files[0];
    /** The runner init of this model, with the buffer shape given. */
    const init = (
        shape: Pick<RunnerInit, "piece" | "segmentChunks" | "segmentBuffers" | "fetchSlots">,
    ): RunnerInit => ({
        key: chunkKey(dataKey, m.modelId, m.format),
        version: 2,
        chunkSize: m.chunkSize,
        ...shape,
        files: [
            {
                path: f.path,
                object: f.object,
                size: f.size,
                chunks: f.chunks,
                index: 0,
                header: objectHeader(m.modelId, 0, f.path),
            },
        ],
        retry: DEFAULT_RETRY,
    });
    return { dir, objectPath: path.join(enc, f.object), chunks: f.chunks, init };
}

describe("model-vault chunk runners: any thread, any chunk", () => {
    after(cleanupTemps);
    const plain = bytes(23 * CHUNK + 321, "one-big-file");

    it("encrypts a one-file model in segments on 2 threads; the manifest's root commits to every record", async () => {
        const dir = tempDir("chunks-enc");
        writeTree(path.join(dir, "m"), { "w.bin": plain });
        const keys = FileKeyRing.fromFile(writeKey(dir));
        // Segments of 2 chunks: 12 tasks over one file, spread over both threads.
        const m = await encryptModel(
            path.join(dir, "m"),
            new LocalModelTarget(path.join(dir, "e")),
            keys,
            {
                chunkSize: CHUNK,
                workers: 2,
                segmentBytes: 2 * CHUNK,
            },
        );
        assert.strictEqual(m.format, FORMAT);
        const object = fs.readFileSync(path.join(dir, "e", "data", "000000.enc"));
        assert.strictEqual(object.length, ciphertextSize(plain.length, CHUNK));
        assert.strictEqual(
            m.files[0].chunkRoot,
            chunkRoot(Buffer.concat(recordDigests(object, plain.length, CHUNK))),
        );
        const out = path.join(dir, "o");
        const s = await decryptModel(new LocalModelSource(path.join(dir, "e")), out, keys, {
            workers: 2,
            segmentBytes: 3 * CHUNK,
        });
        assert.strictEqual(s.threads, 2);
        assert.deepStrictEqual(readTree(out), { "w.bin": plain });
    });

    it("gives the same record digests and plaintext whichever thread runs a segment, in any order", async () => {
        const { dir, objectPath, chunks, init } = await sealedOneFile("chunks-pool", plain, CHUNK);
        const expected = recordDigests(fs.readFileSync(objectPath), plain.length, CHUNK);
        const host = {
            sign: async () => ({}),
            fetch: async () => new Uint8Array(0),
        };
        const input = fs.openSync(objectPath, "r");
        const outPath = path.join(dir, "plain.bin");
        const output = fs.openSync(outPath, "w");
        const pool = new ChunkPool(2);
        pool.start(init({ piece: 96, segmentChunks: 3, segmentBuffers: 2, fetchSlots: 1 }), host);
        try {
            // Segments from last to first, all in flight at once on two threads.
            const firsts = [];
            for (let first = 0; first < chunks; first += 3) firsts.push(first);
            const results = await Promise.all(
                firsts.reverse().map(async (first) => {
                    const count = Math.min(3, chunks - first);
                    const r = await pool.run({
                        op: "decrypt",
                        file: 0,
                        first,
                        count,
                        source: { kind: "fd", fd: input },
                        out: output,
                    });
                    return { first, count, r };
                }),
            );
            for (const { first, count, r } of results) {
                assert.ok(r.ok, JSON.stringify(r));
                const got = Buffer.from((r as Extract<ChunkTaskResult, { ok: true }>).digests!);
                assert.ok(
                    got.equals(Buffer.concat(expected.slice(first, first + count))),
                    `segment at ${first}`,
                );
            }
        } finally {
            await pool.close();
            fs.closeSync(input);
            fs.closeSync(output);
        }
        assert.ok(fs.readFileSync(outPath).equals(plain));
    });

    it("collects dead buffers early on its threads (V8's gc, exposed once the threads run)", async () => {
        const { objectPath, init } = await sealedOneFile(
            "chunks-gc",
            crypto.randomBytes(16 * 1024 * 1024),
        );
        const pool = new ChunkPool(2);
        pool.start(
            init({ piece: 128 * 1024, segmentChunks: 4, segmentBuffers: 2, fetchSlots: 1 }),
            { sign: async () => ({}), fetch: async () => new Uint8Array(0) },
        );
        const input = fs.openSync(objectPath, "r");
        try {
            const results = await Promise.all(
                [0, 4, 8, 12].map((first) =>
                    pool.run({
                        op: "decrypt",
                        file: 0,
                        first,
                        count: 4,
                        source: { kind: "fd", fd: input },
                    }),
                ),
            );
            const collections = results.map((r) => {
                assert.ok(r.ok, JSON.stringify(r));
                return r.collections;
            });
            // Each thread verified at least 4 MiB, the collection interval.
            assert.ok(Math.max(...collections) >= 1, `collections: ${collections.join(", ")}`);
        } finally {
            await pool.close();
            fs.closeSync(input);
        }
    });

    it("collects on the calling thread too, every two ranged GETs it signs", async () => {
        const { objectPath, init } = await sealedOneFile(
            "chunks-gc-http",
            crypto.randomBytes(8 * 1024 * 1024),
        );
        const object = fs.readFileSync(objectPath);
        // A ranged GET server for the one object (what Object Storage answers, unsigned).
        const server = http.createServer((req, res) => {
            const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))!;
            res.writeHead(206, { "content-range": `bytes ${a}-${b}/${object.length}` });
            res.end(object.subarray(Number(a), Number(b) + 1));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/o`;
        let signed = 0;
        const pool = new ChunkPool(2);
        pool.start(
            init({ piece: 128 * 1024, segmentChunks: 2, segmentBuffers: 2, fetchSlots: 1 }),
            {
                // The host signs the runner's headers (the range) and returns them to send.
                sign: async (_url, headers) => {
                    signed++;
                    return headers;
                },
                fetch: async () => new Uint8Array(0),
            },
        );
        try {
            const results = await Promise.all(
                [0, 2, 4, 6].map((first) =>
                    pool.run({
                        op: "decrypt",
                        file: 0,
                        first,
                        count: 2,
                        source: { kind: "http", url, objectSize: object.length },
                    }),
                ),
            );
            for (const r of results) assert.ok(r.ok, JSON.stringify(r));
            assert.strictEqual(signed, 4);
            assert.strictEqual(pool.collections, 2);
        } finally {
            await pool.close();
            server.close();
        }
    });

    it("reports a modified record with its chunk index and leaves the destination empty", async () => {
        const dir = tempDir("chunks-bad");
        writeTree(path.join(dir, "m"), { "w.bin": plain });
        const keys = FileKeyRing.fromFile(writeKey(dir));
        const enc = path.join(dir, "e");
        await encryptModel(path.join(dir, "m"), new LocalModelTarget(enc), keys, {
            chunkSize: CHUNK,
            workers: 0,
        });
        const objectPath = path.join(enc, "data", "000000.enc");
        const b = fs.readFileSync(objectPath);
        b[64 + 7 * (CHUNK + 16) + 5] ^= 1;
        fs.writeFileSync(objectPath, b);
        for (const workers of [0, 2]) {
            await assert.rejects(
                decryptModel(new LocalModelSource(enc), path.join(dir, `o${workers}`), keys, {
                    workers,
                    segmentBytes: 4 * CHUNK,
                }),
                /w\.bin: chunk 7 of 24 fails authentication/,
            );
            assert.deepStrictEqual(fs.readdirSync(path.join(dir, `o${workers}`)), []);
        }
    });

    it("keeps the segment buffers in flight within a fixed budget whatever the chunk size", () => {
        const MiB = 1024 * 1024;
        const small = runShape(MiB, 16 * 1024 * MiB, true, { workers: 2 });
        // 8 connections over 2 threads: 4 GETs each, and one more task queued behind them.
        assert.deepStrictEqual(small, { threads: 2, segmentChunks: 4, depth: 4, tasks: 5 });
        const huge = runShape(64 * MiB, 16 * 1024 * MiB, true, { workers: 2 });
        // 64 MiB chunks: one segment buffer per thread fits the budget, so nothing is queued.
        assert.deepStrictEqual(huge, { threads: 2, segmentChunks: 1, depth: 1, tasks: 1 });
        const local = runShape(MiB, 16 * 1024 * MiB, false, { workers: 4 });
        assert.strictEqual(local.depth, 2);
    });
});

describe("model-vault progress lines", () => {
    it("state bytes, share, rate, ETA and what was downloaded", () => {
        const GiB = 1024 ** 3;
        assert.strictEqual(
            progressLine("decrypted", 4 * GiB, 16 * GiB, 8, 5 * GiB, 2),
            "decrypted 4.00 GiB of 16.00 GiB (25%), 512.0 MiB/s, ETA 24 s; " +
                "downloaded 5.00 GiB, 2 ranged GETs retried",
        );
        assert.strictEqual(
            progressLine("verified", 0, 1000, 0, 0, 0),
            "verified 0 B of 1000 B (0%), 0 B/s, ETA unknown",
        );
        assert.strictEqual(formatBytes(1536), "1.5 KiB");
    });
});

function writeKey(dir: string): string {
    const p = path.join(dir, "k");
    fs.writeFileSync(p, crypto.randomBytes(32));
    return p;
}
