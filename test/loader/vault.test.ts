import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

import { TamperError } from "../../loader/errors";
import { parseManifest, serializeManifest, UnsignedManifest } from "../../loader/format";
import { FileKeyRing } from "../../loader/keys";
import { LocalModelSource, LocalModelTarget } from "../../loader/storage";
import { decryptModel, encryptModel, verifyModel } from "../../loader/vault";
import {
    bytes,
    cleanupTemps,
    keyFile,
    readTree,
    runCli,
    sampleModel,
    tempDir,
    writeTree,
} from "./helpers";

const CHUNK = 64;

/** A sealed sample model on disk, ready to be tampered with. */
interface Sealed {
    readonly dir: string;
    readonly src: string;
    readonly enc: string;
    readonly out: string;
    readonly key: string;
    readonly files: Record<string, Buffer>;
}

async function seal(label: string): Promise<Sealed> {
    const dir = tempDir(label);
    const src = path.join(dir, "model");
    const enc = path.join(dir, "enc");
    const files = sampleModel(CHUNK);
    writeTree(src, files);
    const key = keyFile(dir);
    await encryptModel(src, new LocalModelTarget(enc), FileKeyRing.fromFile(key), {
        chunkSize: CHUNK,
        workers: 0,
    });
    return { dir, src, enc, out: path.join(dir, "out"), key, files };
}

const decryptCli = (s: Sealed, extra: string[] = []) =>
    runCli(["decrypt", "--quiet", "--key", `file:${s.key}`, ...extra, s.enc, s.out]);

function objectPath(s: Sealed, p: string): string {
    const m = parseManifest(fs.readFileSync(path.join(s.enc, "manifest.json")));
    return path.join(s.enc, m.files.find((f) => f.path === p)!.object);
}

function mutate(file: string, fn: (b: Buffer) => Buffer): void {
    fs.writeFileSync(file, fn(fs.readFileSync(file)));
}

function editManifest(s: Sealed, fn: (m: Record<string, unknown>) => void): void {
    const p = path.join(s.enc, "manifest.json");
    const m = JSON.parse(fs.readFileSync(p, "utf8"));
    fn(m);
    fs.writeFileSync(p, JSON.stringify(m, null, 2));
}

/** Re-signs an edited manifest with the real key: what a key holder (or a leaked key) could do. */
async function resign(s: Sealed, fn: (m: Record<string, unknown>) => void): Promise<void> {
    const p = path.join(s.enc, "manifest.json");
    const m = JSON.parse(fs.readFileSync(p, "utf8"));
    fn(m);
    delete m.signature;
    const signature = await FileKeyRing.fromFile(s.key).sign(m as UnsignedManifest);
    fs.writeFileSync(p, serializeManifest({ ...m, signature }));
}

const SHARD1 = "model-00001-of-00002.safetensors";
const SHARD2 = "model-00002-of-00002.safetensors";
const RECORD = CHUNK + 16;

describe("model-vault round trip (file key)", () => {
    after(cleanupTemps);

    for (const workers of [0, 2]) {
        it(`decrypts bit-for-bit with ${workers === 0 ? "the inline engine" : `${workers} worker threads`}`, async () => {
            const s = await seal(`rt${workers}`);
            const r = await decryptCli(s, ["--workers", String(workers)]);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(readTree(s.out), s.files);
            assert.match(r.stdout, /6 files/);
        });
    }

    it("streams a multi-MiB file through many chunks with workers, bit-for-bit", async () => {
        const dir = tempDir("big");
        const files = {
            "weights.bin": bytes(3 * 1024 * 1024 + 123, "big"),
            "c.json": Buffer.from("{}"),
        };
        writeTree(path.join(dir, "m"), files);
        const key = keyFile(dir);
        const enc = await runCli([
            "encrypt",
            "--quiet",
            "--key",
            `file:${key}`,
            "--chunk-size",
            "64K",
            "--workers",
            "2",
            path.join(dir, "m"),
            path.join(dir, "e"),
        ]);
        assert.strictEqual(enc.code, 0, enc.stderr);
        const m = parseManifest(fs.readFileSync(path.join(dir, "e", "manifest.json")));
        assert.strictEqual(m.files.find((f) => f.path === "weights.bin")!.chunks, 49);
        const dec = await runCli([
            "decrypt",
            "--quiet",
            "--key",
            `file:${key}`,
            "--workers",
            "2",
            path.join(dir, "e"),
            path.join(dir, "o"),
        ]);
        assert.strictEqual(dec.code, 0, dec.stderr);
        assert.deepStrictEqual(readTree(path.join(dir, "o")), files);
    });

    it("verify checks everything and writes nothing", async () => {
        const s = await seal("verify");
        const before = readTree(s.dir);
        const r = await runCli(["verify", "--quiet", "--key", `file:${s.key}`, s.enc]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stdout, /verified model [0-9a-f]{32} \(model-vault\/2\): 6 files/);
        assert.deepStrictEqual(readTree(s.dir), before);
    });

    it("runs as KServe's storage initializer: <source-uri> <dest-dir>, key from the environment", async () => {
        const s = await seal("kserve");
        const r = await runCli([s.enc, s.out], { env: { MODEL_VAULT_KEY: `file:${s.key}` } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(readTree(s.out), s.files);
    });

    it("leaves decrypted files read-only and never world-writable", async () => {
        const s = await seal("modes");
        assert.strictEqual((await decryptCli(s)).code, 0);
        const mode = fs.statSync(path.join(s.out, "config.json")).mode & 0o777;
        assert.strictEqual(mode, 0o444);
    });

    it("resumes after an interrupted run: stale temporaries are cleared, listed files replaced", async () => {
        const s = await seal("resume");
        writeTree(s.out, {
            ".config.json.partial-0123456789abcdef": Buffer.from("junk"),
            "config.json": Buffer.from("old"),
        });
        const r = await decryptCli(s);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(readTree(s.out), s.files);
    });

    it("refuses a destination holding files that are not part of the model (exit 2)", async () => {
        const s = await seal("foreign");
        writeTree(s.out, { "evil.py": Buffer.from("import os") });
        const r = await decryptCli(s);
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /already holds evil\.py, which is not part of this model/);
    });

    it("accepts a hex key file as written by `openssl rand -hex 32`", async () => {
        const s = await seal("hex");
        const hexKey = path.join(s.dir, "hex.key");
        fs.writeFileSync(hexKey, `${fs.readFileSync(s.key).toString("hex")}\n`);
        const r = await runCli(["verify", "--quiet", "--key", `file:${hexKey}`, s.enc]);
        assert.strictEqual(r.code, 0, r.stderr);
    });

    it("refuses to encrypt symlinks or into a non-empty destination (exit 2)", async () => {
        const s = await seal("enc-refuse");
        fs.symlinkSync("/etc/hostname", path.join(s.src, "link"));
        const r1 = await runCli([
            "encrypt",
            "--key",
            `file:${s.key}`,
            s.src,
            path.join(s.dir, "e2"),
        ]);
        assert.strictEqual(r1.code, 2);
        assert.match(r1.stderr, /symlink or special file/);
        fs.rmSync(path.join(s.src, "link"));
        const r2 = await runCli(["encrypt", "--key", `file:${s.key}`, s.src, s.enc]);
        assert.strictEqual(r2.code, 2);
        assert.match(r2.stderr, /is not empty/);
    });

    it("reports usage errors with exit 2 and the usage hint", async () => {
        assert.strictEqual((await runCli(["decrypt", "only-one"])).code, 2);
        assert.strictEqual((await runCli(["encrypt", "a", "b"])).code, 2);
        const r = await runCli(["decrypt", "--key", "file:/k", "a", "oci-os://n/b/p"]);
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /local folder only/);
    });
});

describe("model-vault fails closed (file key)", () => {
    after(cleanupTemps);

    /** Each case: how to tamper, the exit code, and the message that must name it. */
    const cases: [string, (s: Sealed) => void | Promise<void>, number, RegExp][] = [
        [
            "a flipped ciphertext byte",
            (s) => mutate(objectPath(s, SHARD1), (b) => ((b[64 + RECORD + 10] ^= 1), b)),
            1,
            /model-00001-of-00002\.safetensors: chunk 1 of 5 fails authentication: its bytes were modified/,
        ],
        [
            "a flipped tag byte in the last chunk",
            (s) => mutate(objectPath(s, SHARD1), (b) => ((b[b.length - 1] ^= 0x80), b)),
            1,
            /chunk 4 of 5 fails authentication/,
        ],
        [
            "a truncated file",
            (s) => mutate(objectPath(s, SHARD1), (b) => b.subarray(0, b.length - 10)),
            1,
            /model-00001-of-00002\.safetensors \(data\/000002\.enc\) is truncated: 454 bytes, expected 464/,
        ],
        [
            "a file truncated at a chunk boundary",
            (s) => mutate(objectPath(s, SHARD1), (b) => b.subarray(0, b.length - RECORD)),
            1,
            /is truncated: 384 bytes, expected 464/,
        ],
        [
            "an extended file",
            (s) => mutate(objectPath(s, SHARD1), (b) => Buffer.concat([b, Buffer.from([0])])),
            1,
            /was extended: 465 bytes, expected 464/,
        ],
        [
            "reordered chunks",
            (s) =>
                mutate(objectPath(s, SHARD1), (b) => {
                    const c1 = Buffer.from(b.subarray(64 + RECORD, 64 + 2 * RECORD));
                    b.copy(b, 64 + RECORD, 64 + 2 * RECORD, 64 + 3 * RECORD);
                    c1.copy(b, 64 + 2 * RECORD);
                    return b;
                }),
            1,
            /chunk 1 of 5 holds chunk 2's data: chunks were reordered/,
        ],
        [
            "a missing file",
            (s) => fs.rmSync(objectPath(s, "tokenizer/tokenizer.json")),
            1,
            /tokenizer\/tokenizer\.json: its data object data\/000005\.enc is missing/,
        ],
        [
            "an extra file",
            (s) => fs.writeFileSync(path.join(s.enc, "data", "000099.enc"), "x"),
            1,
            /holds objects the manifest does not list: data\/000099\.enc/,
        ],
        [
            "two files of the model swapped",
            (s) => {
                const a = objectPath(s, SHARD1);
                const b = objectPath(s, SHARD2);
                const tmp = `${a}.tmp`;
                fs.renameSync(a, tmp);
                fs.renameSync(b, a);
                fs.renameSync(tmp, b);
            },
            1,
            /model-00001-of-00002\.safetensors \(data\/000002\.enc\) holds the data of model-00002-of-00002\.safetensors: files were swapped within the model/,
        ],
        [
            "a file swapped in from another model",
            async (s) => {
                const other = path.join(s.dir, "other");
                await encryptModel(
                    s.src,
                    new LocalModelTarget(other),
                    FileKeyRing.fromFile(s.key),
                    { chunkSize: CHUNK, workers: 0 },
                );
                fs.copyFileSync(path.join(other, "data", "000002.enc"), objectPath(s, SHARD1));
            },
            1,
            /model-00001-of-00002\.safetensors \(data\/000002\.enc\) belongs to another model \(model id [0-9a-f]{32}, expected [0-9a-f]{32}\)/,
        ],
        [
            "another model's file with a forged header",
            async (s) => {
                const other = path.join(s.dir, "other");
                await encryptModel(
                    s.src,
                    new LocalModelTarget(other),
                    FileKeyRing.fromFile(s.key),
                    { chunkSize: CHUNK, workers: 0 },
                );
                const mine = fs.readFileSync(objectPath(s, SHARD1));
                const theirs = fs.readFileSync(path.join(other, "data", "000002.enc"));
                mine.copy(theirs, 0, 0, 64);
                fs.writeFileSync(objectPath(s, SHARD1), theirs);
            },
            1,
            /chunk 0 of 5 fails authentication/,
        ],
        [
            "a modified manifest",
            (s) =>
                editManifest(
                    s,
                    (m) => ((m.files as { chunkRoot: string }[])[0].chunkRoot = "0".repeat(64)),
                ),
            1,
            /manifest signature does not verify: the manifest was modified after it was signed/,
        ],
        [
            "an unsigned manifest",
            (s) => editManifest(s, (m) => delete m.signature),
            1,
            /manifest is unsigned/,
        ],
        [
            "a missing manifest",
            (s) => fs.rmSync(path.join(s.enc, "manifest.json")),
            1,
            /manifest\.json is missing/,
        ],
        [
            "a validly signed manifest whose chunk root does not match (a leaked data key cannot forge weights)",
            (s) =>
                resign(
                    s,
                    (m) => ((m.files as { chunkRoot: string }[])[2].chunkRoot = "0".repeat(64)),
                ),
            1,
            /model-00001-of-00002\.safetensors: its chunk records hash to root [0-9a-f]{64}, the signed manifest says 0{64}/,
        ],
        [
            "a validly signed manifest with a path escaping the destination",
            (s) =>
                resign(s, (m) => ((m.files as { path: string }[])[0].path = "../../etc/cron.d/x")),
            1,
            /files\[0\]\.path "\.\.\/\.\.\/etc\/cron\.d\/x" has a '\.\.' segment/,
        ],
        [
            "the wrong key",
            (s) => fs.writeFileSync(s.key, Buffer.alloc(32, 7)),
            3,
            /KeyError: wrong key: the model was sealed with file:sha256:[0-9a-f]{32} but file:.* is file:sha256:/,
        ],
        [
            "a key file of the wrong length",
            (s) => fs.writeFileSync(s.key, Buffer.alloc(31)),
            3,
            /must be exactly 32 bytes, got 31/,
        ],
    ];

    for (const [what, tamper, code, message] of cases) {
        it(`refuses ${what} with exit ${code}, leaving nothing in the destination`, async () => {
            const s = await seal("tamper");
            await tamper(s);
            for (const workers of ["0", "2"]) {
                const r = await decryptCli(s, ["--workers", workers]);
                assert.strictEqual(r.code, code, `workers ${workers}: ${r.stderr}`);
                assert.match(r.stderr, message);
                assert.deepStrictEqual(
                    readTree(s.out),
                    {},
                    "no file, partial or final, may remain",
                );
                if (fs.existsSync(s.out)) assert.deepStrictEqual(fs.readdirSync(s.out), []);
                const v = await runCli([
                    "verify",
                    "--quiet",
                    "--key",
                    `file:${s.key}`,
                    "--workers",
                    workers,
                    s.enc,
                ]);
                assert.strictEqual(v.code, code);
            }
        });
    }

    it("removes verified earlier files too when a later file fails (model-level all-or-nothing)", async () => {
        const s = await seal("late");
        const last = objectPath(s, "tokenizer/tokenizer.json");
        mutate(last, (b) => ((b[b.length - 20] ^= 1), b));
        await assert.rejects(
            decryptModel(new LocalModelSource(s.enc), s.out, FileKeyRing.fromFile(s.key), {
                workers: 0,
            }),
            (e: Error) =>
                e instanceof TamperError &&
                /tokenizer\/tokenizer\.json: chunk 3 of 4/.test(e.message),
        );
        assert.deepStrictEqual(fs.readdirSync(s.out), []);
    });

    it("stops the threads it started before the key when the manifest is refused", async () => {
        // Threads start as soon as the manifest is parsed; a refused signature must stop them
        // (and never hand them a key). Counts the Worker threads ChunkPool creates.
        // The module object itself (an import binding is read-only), to swap its Worker class.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const wt = require("worker_threads") as typeof import("worker_threads");
        const Real = wt.Worker;
        const started: { init: boolean; exited: Promise<number> }[] = [];
        class Counting extends Real {
            constructor(...a: ConstructorParameters<typeof Real>) {
                super(...a);
                const me = {
                    init: false,
                    exited: new Promise<number>((r) => this.once("exit", r)),
                };
                started.push(me);
                const post = this.postMessage.bind(this);
                this.postMessage = (
                    m: { type?: string },
                    t?: readonly import("worker_threads").TransferListItem[],
                ) => {
                    if (m?.type === "init") me.init = true;
                    post(m, t);
                };
            }
        }
        const s = await seal("threads");
        editManifest(
            s,
            (m) => ((m.files as { chunkRoot: string }[])[0].chunkRoot = "0".repeat(64)),
        );
        wt.Worker = Counting;
        try {
            await assert.rejects(
                decryptModel(new LocalModelSource(s.enc), s.out, FileKeyRing.fromFile(s.key), {
                    workers: 2,
                }),
                /manifest signature does not verify/,
            );
        } finally {
            wt.Worker = Real;
        }
        assert.strictEqual(started.length, 2, "both threads were started before the key");
        assert.ok(
            started.every((w) => !w.init),
            "no thread got the key of a refused manifest",
        );
        await Promise.all(started.map((w) => w.exited));
    });

    it("the library's verifyModel reports the same tamper as the CLI", async () => {
        const s = await seal("lib");
        fs.writeFileSync(path.join(s.enc, "README.md"), "extra");
        await assert.rejects(
            verifyModel(new LocalModelSource(s.enc), FileKeyRing.fromFile(s.key)),
            /does not list: README\.md/,
        );
    });
});

describe("model-vault reads format 1 models (sealed by the previous release)", () => {
    after(cleanupTemps);
    // Encrypted with the format 1 code (one plaintext SHA-256 per file) before format 2 existed;
    // the plaintext is sampleModel(64), which is deterministic.
    const fixture = path.join(__dirname, "fixtures", "v1");

    function copyFixture(label: string): Sealed {
        const dir = tempDir(label);
        const enc = path.join(dir, "enc");
        fs.cpSync(path.join(fixture, "model"), enc, { recursive: true });
        return {
            dir,
            src: "",
            enc,
            out: path.join(dir, "out"),
            key: path.join(fixture, "test-only.key"),
            files: sampleModel(CHUNK),
        };
    }

    it("is a format 1 model", () => {
        const m = parseManifest(fs.readFileSync(path.join(fixture, "model", "manifest.json")));
        assert.strictEqual(m.format, "model-vault/1");
        assert.ok(m.files.every((f) => f.sha256 !== undefined && f.chunkRoot === undefined));
    });

    for (const workers of ["0", "2"]) {
        it(`decrypts bit-for-bit with --workers ${workers}`, async () => {
            const s = copyFixture(`v1-${workers}`);
            const r = await decryptCli(s, ["--workers", workers]);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(readTree(s.out), s.files);
        });
    }

    const v1cases: [string, (s: Sealed) => void | Promise<void>, RegExp][] = [
        [
            "a flipped ciphertext byte",
            (s) => mutate(objectPath(s, SHARD1), (b) => ((b[64 + RECORD + 10] ^= 1), b)),
            /model-00001-of-00002\.safetensors: chunk 1 of 5 fails authentication/,
        ],
        [
            "a validly signed manifest whose plaintext SHA-256 does not match",
            (s) => resign(s, (m) => ((m.files as { sha256: string }[])[2].sha256 = "0".repeat(64))),
            /model-00001-of-00002\.safetensors: plaintext SHA-256 is [0-9a-f]{64}, the manifest says 0{64}/,
        ],
        [
            "a format 1 manifest relabelled as format 2",
            (s) => editManifest(s, (m) => (m.format = "model-vault/2")),
            /manifest is invalid: files\[0\] has unknown field 'sha256'/,
        ],
    ];
    for (const [what, tamper, message] of v1cases) {
        it(`refuses ${what} (exit 1), leaving nothing in the destination`, async () => {
            const s = copyFixture("v1-tamper");
            await tamper(s);
            for (const workers of ["0", "2"]) {
                const r = await decryptCli(s, ["--workers", workers]);
                assert.strictEqual(r.code, 1, `workers ${workers}: ${r.stderr}`);
                assert.match(r.stderr, message);
                assert.deepStrictEqual(readTree(s.out), {});
            }
        });
    }
});
