import * as assert from "assert";

import { parseArgs, parseBytes } from "../../loader/cli";
import { TamperError, UsageError } from "../../loader/errors";
import {
    canonicalJson,
    chunkAad,
    chunkCount,
    chunkNonce,
    ciphertextSize,
    objectHeader,
    objectNameFor,
    parseManifest,
    signedBytes,
    unsafePathReason,
} from "../../loader/format";
import { checkCryptoEndpoint } from "../../loader/keys";
import { parseOciUri } from "../../loader/storage";

const MODEL_ID = "0123456789abcdef0123456789abcdef";

function manifestJson(over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        format: "model-vault/2",
        modelId: MODEL_ID,
        createdAt: "2025-01-01T00:00:00.000Z",
        cipher: "AES-256-GCM",
        chunkSize: 1024,
        dataKey: { provider: "file", keyId: `file:sha256:${"a".repeat(32)}`, wrapped: "AAAA" },
        files: [
            {
                path: "a/b.bin",
                size: 2049,
                chunks: 3,
                chunkRoot: "f".repeat(64),
                object: "data/000000.enc",
            },
        ],
        signature: { alg: "HMAC-SHA256", keyId: `file:sha256:${"a".repeat(32)}`, value: "AAAA" },
        ...over,
    };
}

const parse = (o: unknown) => parseManifest(Buffer.from(JSON.stringify(o)));

describe("model-vault format", () => {
    it("sizes chunks and objects, with one (empty) chunk for an empty file", () => {
        assert.strictEqual(chunkCount(0, 16), 1);
        assert.strictEqual(chunkCount(16, 16), 1);
        assert.strictEqual(chunkCount(17, 16), 2);
        assert.strictEqual(ciphertextSize(0, 16), 64 + 16);
        assert.strictEqual(ciphertextSize(33, 16), 64 + 33 + 3 * 16);
        assert.strictEqual(objectNameFor(7), "data/000007.enc");
    });

    it("gives every chunk position its own nonce and AAD, and marks the final chunk", () => {
        const h = objectHeader(MODEL_ID, 2, "w.bin");
        assert.notDeepStrictEqual(chunkNonce(2, 0), chunkNonce(2, 1));
        assert.notDeepStrictEqual(chunkNonce(1, 0), chunkNonce(2, 0));
        const a = chunkAad(h, 100, 16, 0, 7);
        const last = chunkAad(h, 100, 16, 6, 7);
        assert.strictEqual(a[a.length - 1], 0);
        assert.strictEqual(last[last.length - 1], 1);
        assert.notDeepStrictEqual(chunkAad(h, 100, 16, 0, 7), chunkAad(h, 99, 16, 0, 7));
        assert.notDeepStrictEqual(
            chunkAad(h, 100, 16, 0, 7),
            chunkAad(objectHeader(MODEL_ID, 2, "x.bin"), 100, 16, 0, 7),
        );
    });

    it("refuses paths that could escape the destination", () => {
        for (const bad of [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "a/\u0000",
            "a/.",
        ]) {
            assert.ok(unsafePathReason(bad), `expected ${JSON.stringify(bad)} to be refused`);
        }
        for (const ok of ["config.json", "a/b/c.safetensors", ".hidden", "a..b"]) {
            assert.strictEqual(unsafePathReason(ok), undefined, ok);
        }
    });

    it("signs canonical JSON, so key order and whitespace do not matter but values do", () => {
        assert.strictEqual(
            canonicalJson({ b: 1, a: [{ d: 2, c: "x" }] }),
            '{"a":[{"c":"x","d":2}],"b":1}',
        );
        const m = parse(manifestJson());
        const reverseKeys = (v: unknown): unknown =>
            Array.isArray(v)
                ? v.map(reverseKeys)
                : v !== null && typeof v === "object"
                  ? Object.fromEntries(
                        Object.entries(v)
                            .reverse()
                            .map(([k, x]) => [k, reverseKeys(x)]),
                    )
                  : v;
        const reordered = parseManifest(
            Buffer.from(JSON.stringify(reverseKeys(manifestJson()), null, 4)),
        );
        assert.deepStrictEqual(signedBytes(m), signedBytes(reordered));
        const changed = parse(manifestJson({ createdAt: "2025-01-02T00:00:00.000Z" }));
        assert.notDeepStrictEqual(signedBytes(m), signedBytes(changed));
    });

    it("accepts a well-formed manifest", () => {
        const m = parse(manifestJson());
        assert.strictEqual(m.files[0].path, "a/b.bin");
    });

    const rejects: [string, Record<string, unknown>, RegExp][] = [
        ["an unsigned manifest", { signature: undefined }, /unsigned/],
        [
            "an unknown format, naming the formats it reads",
            { format: "model-vault/3" },
            /manifest format "model-vault\/3" is not one this loader reads \(model-vault\/1, model-vault\/2\)/,
        ],
        [
            "a format 2 manifest with a format 1 plaintext digest",
            {
                files: [
                    {
                        path: "a/b.bin",
                        size: 2049,
                        chunks: 3,
                        sha256: "f".repeat(64),
                        object: "data/000000.enc",
                    },
                ],
            },
            /files\[0\] has unknown field 'sha256'/,
        ],
        [
            "a format 1 manifest with a format 2 chunk root",
            { format: "model-vault/1" },
            /files\[0\] has unknown field 'chunkRoot'/,
        ],
        ["an unknown field", { extra: 1 }, /unknown field 'extra'/],
        [
            "a path with ..",
            { files: [{ ...(manifestJson().files as object[])[0], path: "../../etc/cron.d/x" }] },
            /'\.\.' segment/,
        ],
        [
            "an absolute path",
            { files: [{ ...(manifestJson().files as object[])[0], path: "/root/x" }] },
            /absolute/,
        ],
        [
            "a wrong chunk count",
            { files: [{ ...(manifestJson().files as object[])[0], chunks: 2 }] },
            /needs 3/,
        ],
        [
            "a non-canonical object name",
            { files: [{ ...(manifestJson().files as object[])[0], object: "../x" }] },
            /object is not data\/000000.enc/,
        ],
        ["a chunk size of 0", { chunkSize: 0 }, /chunkSize/],
        [
            "an unsupported signature",
            { signature: { alg: "none", keyId: "x", value: "AAAA" } },
            /not supported/,
        ],
    ];
    for (const [what, over, re] of rejects) {
        it(`refuses ${what}`, () => {
            const o = manifestJson(over);
            for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
            assert.throws(
                () => parse(o),
                (e: Error) => e instanceof TamperError && re.test(e.message),
            );
        });
    }

    it("refuses duplicate paths and a path that is both file and folder", () => {
        const f = (manifestJson().files as Record<string, unknown>[])[0];
        const dup = manifestJson({ files: [f, { ...f, object: "data/000001.enc" }] });
        assert.throws(() => parse(dup), /listed twice/);
        const nested = manifestJson({
            files: [
                { ...f, path: "a" },
                { ...f, path: "a/b", object: "data/000001.enc" },
            ],
        });
        assert.throws(() => parse(nested), /both a file and a folder/);
        assert.throws(() => parseManifest(Buffer.from("{not json")), /not JSON/);
    });

    it("parses oci-os URIs and refuses malformed ones", () => {
        assert.deepStrictEqual(parseOciUri("oci-os://ns/bucket/models/llama/v1/"), {
            namespace: "ns",
            bucket: "bucket",
            prefix: "models/llama/v1",
        });
        assert.deepStrictEqual(parseOciUri("oci-os://ns/bucket"), {
            namespace: "ns",
            bucket: "bucket",
            prefix: "",
        });
        assert.throws(() => parseOciUri("oci-os://ns"), UsageError);
        assert.throws(() => parseOciUri("oci-os://ns/b/../x"), UsageError);
    });

    it("only calls KMS endpoints that are OCI's or explicitly configured", () => {
        checkCryptoEndpoint("https://abcd1234-crypto.kms.eu-frankfurt-1.oraclecloud.com");
        assert.throws(
            () => checkCryptoEndpoint("https://evil.example.com"),
            /not a public OCI KMS crypto endpoint/,
        );
        assert.throws(
            () =>
                checkCryptoEndpoint("https://x-crypto.kms.eu-frankfurt-1.oraclecloud.com.evil.io"),
            /not a public/,
        );
        checkCryptoEndpoint("https://kms.private.example/", "https://kms.private.example");
        assert.throws(
            () =>
                checkCryptoEndpoint(
                    "https://abcd-crypto.kms.eu-frankfurt-1.oraclecloud.com",
                    "https://kms.private.example",
                ),
            /configured/,
        );
    });

    it("parses the CLI, including KServe's bare <source-uri> <dest-dir> order", () => {
        assert.deepStrictEqual(parseArgs(["oci-os://n/b/p", "/mnt/models"]).command, "decrypt");
        const p = parseArgs(["encrypt", "--key=file:/k", "--chunk-size", "1M", "a", "b"]);
        assert.strictEqual(p.command, "encrypt");
        assert.strictEqual(p.flags.get("--key"), "file:/k");
        assert.deepStrictEqual(p.positional, ["a", "b"]);
        assert.throws(() => parseArgs(["decrypt", "--bogus", "a", "b"]), /unknown option --bogus/);
        assert.throws(() => parseArgs(["frobnicate", "a", "b", "c"]), /unknown command/);
        assert.strictEqual(parseBytes("4M", "x"), 4 * 1024 * 1024);
        assert.strictEqual(parseBytes("64KiB", "x"), 65536);
        assert.throws(() => parseBytes("lots", "x"), UsageError);
    });
});
