/**
 * model-vault against an OCI Object Storage stand-in (standin.ts) over HTTPS on 127.0.0.1: the
 * CLI as a separate process, compiled (loader/run.js), authenticating with the OCI SDK's config
 * file provider; listing and manifest through the SDK, chunk data through ranged GETs issued by
 * the chunk runners and signed by the SDK's request signer.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

import { repoRoot, scratchDir } from "../support/env";
import {
    makeApiIdentity,
    selfSignedCert,
    Standin,
    standinAccessArgs,
    startObjectStore,
} from "./standin";

const run = path.join(repoRoot, "loader", "run.js");

/** Runs the CLI as a child process; asynchronous, as the stand-in serves from this process. */
function cli(
    args: string[],
    env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const c = spawn(process.execPath, [run, ...args], {
            env: { ...process.env, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("error", reject);
        c.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

function tree(root: string): Record<string, string> {
    const out: Record<string, string> = {};
    const visit = (rel: string) => {
        for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
            const p = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) visit(p);
            else
                out[p] = crypto
                    .createHash("sha256")
                    .update(fs.readFileSync(path.join(root, p)))
                    .digest("hex");
        }
    };
    if (fs.existsSync(root)) visit("");
    return out;
}

describe("model-vault reads Object Storage with ranged GETs (HTTPS stand-in)", function () {
    this.timeout(300_000);
    const dir = scratchDir("mv-os");
    const bucketRoot = path.join(dir, "bucket");
    const prefix = "models/m1";
    const key = path.join(dir, "dev.key");
    const identity = makeApiIdentity(dir);
    const tls = selfSignedCert(dir);
    const uri = `oci-os://ns/models-bucket/${prefix}`;
    const servers: Standin[] = [];
    const model: Record<string, Buffer> = {
        "config.json": Buffer.from('{"architectures":["LlamaForCausalLM"]}'),
        "weights/model-00001-of-00002.safetensors": crypto.randomBytes(3 * 1024 * 1024 + 77),
        "weights/model-00002-of-00002.safetensors": crypto.randomBytes(2 * 1024 * 1024),
        "empty.txt": Buffer.alloc(0),
    };
    const sums = Object.fromEntries(
        Object.entries(model).map(([p, b]) => [
            p,
            crypto.createHash("sha256").update(b).digest("hex"),
        ]),
    );

    before(async () => {
        fs.writeFileSync(key, crypto.randomBytes(32));
        const src = path.join(dir, "src");
        for (const [p, b] of Object.entries(model)) {
            fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
            fs.writeFileSync(path.join(src, p), b);
        }
        const enc = await cli([
            "encrypt",
            "--quiet",
            "--key",
            `file:${key}`,
            "--chunk-size",
            "64K",
            src,
            path.join(bucketRoot, prefix),
        ]);
        assert.strictEqual(enc.code, 0, enc.stderr);
    });
    after(async () => {
        await Promise.all(servers.map((s) => s.close()));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    const serve = async (extra: Partial<Parameters<typeof startObjectStore>[0]> = {}) => {
        const s = await startObjectStore({
            root: bucketRoot,
            namespace: "ns",
            bucket: "models-bucket",
            publicKeyPem: identity.publicKeyPem,
            tls,
            ...extra,
        });
        servers.push(s);
        return s;
    };
    const decrypt = (s: Standin, out: string, extra: string[] = []) =>
        cli(
            [
                "decrypt",
                ...standinAccessArgs(key, identity.configFile, s.endpoint),
                "--workers",
                "2",
                "--connections",
                "4",
                "--segment-size",
                "256K",
                "--progress",
                "log",
                "--progress-interval",
                "0.1",
                ...extra,
                uri,
                out,
            ],
            { NODE_EXTRA_CA_CERTS: tls.certFile },
        );

    it("decrypts bit-for-bit through throttled connections, retrying injected 503s, with progress lines", async () => {
        const s = await serve({ bytesPerSecondPerConnection: 2 * 1024 * 1024, failEvery: 4 });
        const out = path.join(dir, "out-503");
        const r = await decrypt(s, out);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(tree(out), sums);
        assert.ok(s.stats.rangedGets >= 20, `ranged GETs: ${s.stats.rangedGets}`);
        assert.ok(s.stats.injectedFailures > 0, "the stand-in injected failures");
        assert.strictEqual(
            s.stats.unauthenticated,
            0,
            "every request verified under the SDK's signature",
        );
        assert.ok(
            s.stats.maxConcurrentConnections > 1,
            `connections: ${s.stats.maxConcurrentConnections}`,
        );
        // --connections 4 over 2 threads: each thread keeps 2 GETs in flight and a third task
        // queued behind them, never a third GET.
        assert.strictEqual(s.stats.maxConcurrentGets, 4, "ranged GETs in flight at most");
        assert.match(
            r.stderr,
            /model-vault: decrypted [\d.]+ \w+ of [\d.]+ MiB \(\d+%\), [\d.]+ \w+\/s, ETA \S+/,
        );
        assert.match(r.stdout, /GETs retried/);
    });

    it("resumes an answer cut off mid-segment at the first record it has not verified", async () => {
        const s = await serve({ bytesPerSecondPerConnection: 2 * 1024 * 1024, cutEvery: 3 });
        const out = path.join(dir, "out-cut");
        const r = await decrypt(s, out);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(tree(out), sums);
        assert.ok(s.stats.cutGets > 0, "the stand-in cut answers short");
        // 64 KiB chunks, 256 KiB segments: records start at 64 + i * (65536 + 16), segments at
        // every 4th. A GET from a record inside a segment is a resumption: it asks only for what
        // was not verified yet (a cut after half a segment leaves two records verified).
        const record = 65536 + 16;
        const resumed = s.stats.ranges.filter(
            (g) =>
                g.start > 0 && (g.start - 64) % record === 0 && ((g.start - 64) / record) % 4 !== 0,
        );
        assert.ok(resumed.length > 0, JSON.stringify(s.stats.ranges.slice(0, 12)));
        assert.match(r.stdout, /[1-9]\d* GETs retried/);
    });

    it("retries 429 throttling answers", async () => {
        const s = await serve({ failEvery: 3, failStatus: 429 });
        const out = path.join(dir, "out-429");
        const r = await decrypt(s, out);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(tree(out), sums);
        assert.ok(s.stats.injectedFailures > 0);
    });

    it("gives up with exit 4 when the store keeps failing, leaving nothing", async () => {
        const s = await serve({ failEvery: 1 });
        const out = path.join(dir, "out-down");
        const r = await cli(
            [
                "decrypt",
                "--quiet",
                ...standinAccessArgs(key, identity.configFile, s.endpoint),
                uri,
                out,
            ],
            { NODE_EXTRA_CA_CERTS: tls.certFile },
        );
        assert.strictEqual(r.code, 4, r.stderr);
        assert.match(r.stderr, /HTTP 503 \(gave up after 8 attempts\)/);
        assert.deepStrictEqual(tree(out), {});
    });

    it("names reordered chunks and another model's header as they stream in (exit 1)", async () => {
        const s = await serve();
        const record = 65536 + 16;
        const cases: [string, (b: Buffer) => void, RegExp][] = [
            [
                "000002.enc",
                (b) => {
                    const one = Buffer.from(b.subarray(64 + record, 64 + 2 * record));
                    b.copy(b, 64 + record, 64 + 2 * record, 64 + 3 * record);
                    one.copy(b, 64 + 2 * record);
                },
                /chunk 1 of \d+ holds chunk 2's data: chunks were reordered/,
            ],
            ["000003.enc", (b) => (b[16] ^= 1), /belongs to another model/],
        ];
        for (const [name, tamper, message] of cases) {
            const object = path.join(bucketRoot, prefix, "data", name);
            const original = fs.readFileSync(object);
            const changed = Buffer.from(original);
            tamper(changed);
            fs.writeFileSync(object, changed);
            try {
                const out = path.join(dir, `out-${name}`);
                const r = await decrypt(s, out);
                assert.strictEqual(r.code, 1, r.stderr);
                assert.match(r.stderr, message);
                assert.deepStrictEqual(tree(out), {});
            } finally {
                fs.writeFileSync(object, original);
            }
        }
    });

    it("refuses a modified object (exit 1) and an unauthenticated client (exit 4)", async () => {
        const s = await serve();
        const object = path.join(bucketRoot, prefix, "data", "000002.enc");
        const original = fs.readFileSync(object);
        const changed = Buffer.from(original);
        changed[64 + 3 * (65536 + 16) + 9] ^= 1;
        fs.writeFileSync(object, changed);
        try {
            const out = path.join(dir, "out-tamper");
            const r = await decrypt(s, out);
            assert.strictEqual(r.code, 1, r.stderr);
            assert.match(r.stderr, /chunk 3 of \d+ fails authentication/);
            assert.deepStrictEqual(tree(out), {});
        } finally {
            fs.writeFileSync(object, original);
        }
        const stranger = makeApiIdentity(scratchDir("mv-os-stranger"));
        const r = await cli(
            ["verify", "--quiet", ...standinAccessArgs(key, stranger.configFile, s.endpoint), uri],
            { NODE_EXTRA_CA_CERTS: tls.certFile },
        );
        assert.strictEqual(r.code, 4, r.stderr);
        assert.match(r.stderr, /authentication was not provided or was incorrect/);
    });
});
