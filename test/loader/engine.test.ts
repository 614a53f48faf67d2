import * as assert from "assert";
import * as crypto from "crypto";

import { ChunkEngine, InlineEngine, WorkerPoolEngine } from "../../loader/engine";

const KEY = crypto.randomBytes(32);
const CHUNK = 1000;
/** Small pieces so one chunk is hashed in several `update` calls, as large chunks are. */
const PIECE = 96;

function nonce(stream: number, i: number): Buffer {
    const n = Buffer.alloc(12);
    n.writeUInt32BE(stream, 0);
    n.writeUInt32BE(i, 8);
    return n;
}

/** Encrypts `plain` chunk by chunk with a fresh inline engine; returns the records. */
async function seal(plain: Buffer, stream: number): Promise<Buffer[]> {
    const e = new InlineEngine(KEY, PIECE);
    const out: Buffer[] = [];
    for (let i = 0, off = 0; off < plain.length; i++, off += CHUNK) {
        const len = Math.min(CHUNK, plain.length - off);
        const input = Buffer.allocUnsafeSlow(CHUNK);
        plain.copy(input, 0, off, off + len);
        const r = await e.run({
            op: "encrypt",
            nonce: nonce(stream, i),
            aad: Buffer.from([i]),
            input,
            inputLength: len,
            output: Buffer.allocUnsafeSlow(CHUNK + 16),
        });
        assert.ok(r.ok);
        out.push(Buffer.from(r.output.subarray(0, r.outputLength)));
    }
    await e.close();
    return out;
}

/** Submits the chunks of two files interleaved, one hash stream each, and returns the digests. */
async function decryptInterleaved(
    engine: ChunkEngine,
    files: Buffer[][],
    tamper?: { file: number; chunk: number },
): Promise<{ digests: string[]; failed: number[]; plain: Buffer[] }> {
    const streams = files.map(() => engine.openStream());
    const jobs: Promise<{ file: number; ok: boolean; data: Buffer }>[] = [];
    const most = Math.max(...files.map((f) => f.length));
    for (let i = 0; i < most; i++) {
        files.forEach((records, f) => {
            if (i >= records.length) return;
            const input = Buffer.allocUnsafeSlow(CHUNK + 16);
            records[i].copy(input);
            if (tamper?.file === f && tamper.chunk === i) input[3] ^= 1;
            jobs.push(
                engine
                    .run({
                        op: "decrypt",
                        nonce: nonce(f + 1, i),
                        aad: Buffer.from([i]),
                        input,
                        inputLength: records[i].length,
                        output: Buffer.allocUnsafeSlow(CHUNK),
                        stream: streams[f],
                    })
                    .then((r) => ({
                        file: f,
                        ok: r.ok,
                        data: Buffer.from(r.output.subarray(0, r.outputLength)),
                    })),
            );
        });
    }
    const results = await Promise.all(jobs);
    const digests = await Promise.all(streams.map((s) => engine.digest(s)));
    const plain = files.map((_, f) =>
        Buffer.concat(results.filter((r) => r.file === f).map((r) => r.data)),
    );
    const failed = results.filter((r) => !r.ok).map((r) => r.file);
    return { digests, failed, plain };
}

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

describe("model-vault chunk engines: hash streams", () => {
    const a = crypto.randomBytes(7 * CHUNK + 123);
    const b = crypto.randomBytes(3 * CHUNK);
    let records: Buffer[][];
    before(async () => {
        records = [await seal(a, 1), await seal(b, 2)];
    });

    const engines: [string, () => ChunkEngine][] = [
        ["inline", () => new InlineEngine(KEY, PIECE)],
        ["2 workers", () => new WorkerPoolEngine(KEY, 2, PIECE)],
        ["1 worker holding both streams", () => new WorkerPoolEngine(KEY, 1, PIECE)],
    ];
    for (const [name, make] of engines) {
        it(`${name}: each stream's digest is the SHA-256 of exactly its file's plaintext`, async () => {
            const engine = make();
            try {
                const r = await decryptInterleaved(engine, records);
                assert.deepStrictEqual(r.failed, []);
                assert.ok(r.plain[0].equals(a) && r.plain[1].equals(b));
                assert.deepStrictEqual(r.digests, [sha(a), sha(b)]);
            } finally {
                await engine.close();
            }
        });

        it(`${name}: a modified chunk fails its tag and the stream's digest no longer matches`, async () => {
            const engine = make();
            try {
                const r = await decryptInterleaved(engine, records, { file: 0, chunk: 4 });
                assert.deepStrictEqual(r.failed, [0]);
                assert.notStrictEqual(r.digests[0], sha(a));
                assert.strictEqual(r.digests[1], sha(b), "the other file is unaffected");
            } finally {
                await engine.close();
            }
        });
    }

    it("refuses a job for a stream that was dropped or never opened", async () => {
        const engine = new InlineEngine(KEY, PIECE);
        const s = engine.openStream();
        engine.dropStream(s);
        await assert.rejects(engine.digest(s), /unknown stream/);
        await assert.rejects(
            engine.run({
                op: "decrypt",
                nonce: nonce(1, 0),
                aad: Buffer.from([0]),
                input: Buffer.from(records[0][0]),
                inputLength: records[0][0].length,
                output: Buffer.alloc(CHUNK),
                stream: 99,
            }),
            /unknown stream 99/,
        );
        await engine.close();
    });
});
