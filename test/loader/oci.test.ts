import * as assert from "assert";
import * as path from "path";
import { Readable } from "stream";

import { KeyError } from "../../loader/errors";
import { parseManifest } from "../../loader/format";
import { OciKmsKeyRing } from "../../loader/keys";
import type { CliDeps } from "../../loader/cli";
import type { ObjectStorageLike } from "../../loader/storage";
import { FakeKmsVault, FakeObjectStorage, FakeOciError } from "./fakes";
import {
    cleanupTemps,
    keyFile,
    readTree,
    runCli,
    sampleModel,
    tempDir,
    writeTree,
} from "./helpers";

const ENDPOINT = "https://fakevault-crypto.kms.eu-frankfurt-1.oraclecloud.com";
const MODEL_KEY = "ocid1.key.oc1.eu-frankfurt-1.models";
const SIGNING_KEY = "ocid1.key.oc1.eu-frankfurt-1.signer";
const URI = "oci-os://tenancyns/models/llama/v1";
const PREFIX = "llama/v1";

interface World {
    readonly vault: FakeKmsVault;
    readonly store: FakeObjectStorage;
    readonly deps: Partial<CliDeps>;
    readonly endpointsCalled: string[];
    readonly dir: string;
    readonly src: string;
    readonly out: string;
    readonly files: Record<string, Buffer>;
}

function world(label: string): World {
    const vault = new FakeKmsVault(ENDPOINT);
    vault.addAesKey(MODEL_KEY);
    vault.addSigningKey(SIGNING_KEY);
    const store = new FakeObjectStorage();
    const endpointsCalled: string[] = [];
    const dir = tempDir(label);
    const files = sampleModel(64);
    writeTree(path.join(dir, "model"), files);
    return {
        vault,
        store,
        endpointsCalled,
        dir,
        src: path.join(dir, "model"),
        out: path.join(dir, "out"),
        files,
        deps: {
            objectStorage: () => store.client(),
            kmsCrypto: (e) => {
                endpointsCalled.push(e);
                if (e !== ENDPOINT) throw new FakeOciError(404, "NotFound", `no vault at ${e}`);
                return vault.client();
            },
        },
    };
}

async function encryptKms(w: World, extra: string[] = []) {
    return runCli(
        [
            "encrypt",
            "--quiet",
            "--key",
            MODEL_KEY,
            "--crypto-endpoint",
            ENDPOINT,
            "--signing-key",
            SIGNING_KEY,
            "--chunk-size",
            "64",
            ...extra,
            w.src,
            URI,
        ],
        w.deps,
    );
}

function manifestOf(w: World): Record<string, unknown> {
    return JSON.parse(w.store.get("tenancyns", "models", `${PREFIX}/manifest.json`)!.toString());
}

function putManifest(w: World, m: Record<string, unknown>): void {
    w.store.set("tenancyns", "models", `${PREFIX}/manifest.json`, Buffer.from(JSON.stringify(m)));
}

describe("model-vault with OCI KMS and Object Storage (in-process fakes)", () => {
    after(cleanupTemps);

    it("encrypts into a prefix: KMS data key, KMS signature, nothing in plaintext", async () => {
        const w = world("kms-enc");
        const r = await encryptKms(w);
        assert.strictEqual(r.code, 0, r.stderr);
        const names = [...w.store.objects.keys()].sort();
        assert.deepStrictEqual(names, [
            "tenancyns/models/llama/v1/data/000000.enc",
            "tenancyns/models/llama/v1/data/000001.enc",
            "tenancyns/models/llama/v1/data/000002.enc",
            "tenancyns/models/llama/v1/data/000003.enc",
            "tenancyns/models/llama/v1/data/000004.enc",
            "tenancyns/models/llama/v1/data/000005.enc",
            "tenancyns/models/llama/v1/manifest.json",
        ]);
        const m = parseManifest(w.store.get("tenancyns", "models", `${PREFIX}/manifest.json`)!);
        assert.deepStrictEqual(
            { provider: m.dataKey.provider, keyId: m.dataKey.keyId },
            { provider: "oci-kms", keyId: MODEL_KEY },
        );
        assert.strictEqual(m.signature.alg, "SHA_256_RSA_PKCS_PSS");
        assert.strictEqual(m.signature.keyId, SIGNING_KEY);
        assert.deepStrictEqual(w.vault.calls, ["GenerateDataEncryptionKey", "Sign"]);
        const needle = w.files["config.json"].subarray(0, 20);
        for (const body of w.store.objects.values())
            assert.ok(!body.includes(needle), "plaintext leaked");
        assert.ok(
            w.store.calls
                .filter((c) => c.startsWith("PutObject"))
                .pop()!
                .endsWith("manifest.json"),
            "manifest last",
        );
    });

    it("decrypts as KServe's storage initializer from oci-os://, bit-for-bit, key and endpoint from the manifest", async () => {
        const w = world("kms-dec");
        assert.strictEqual((await encryptKms(w)).code, 0);
        w.vault.calls.length = 0;
        const r = await runCli([URI, w.out], { ...w.deps, env: { OCI_AUTH: "workload" } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(readTree(w.out), w.files);
        assert.deepStrictEqual(w.vault.calls, ["Verify", "Decrypt"]);
        const v = await runCli(["verify", "--quiet", URI], w.deps);
        assert.strictEqual(v.code, 0, v.stderr);
    });

    const tampers: [string, (w: World) => void, number, RegExp][] = [
        [
            "an extra object under the prefix",
            (w) =>
                w.store.set("tenancyns", "models", `${PREFIX}/data/000006.enc`, Buffer.from("x")),
            1,
            /does not list: data\/000006\.enc/,
        ],
        [
            "a missing object",
            (w) => w.store.delete("tenancyns", "models", `${PREFIX}/data/000003.enc`),
            1,
            /data\/000003\.enc is missing/,
        ],
        [
            "a flipped byte in an object",
            (w) => {
                const b = w.store.get("tenancyns", "models", `${PREFIX}/data/000002.enc`)!;
                b[100] ^= 4;
            },
            1,
            /chunk 0 of 5 fails authentication/,
        ],
        [
            "a modified manifest (KMS Verify says invalid)",
            (w) => {
                const m = manifestOf(w);
                (m.files as { chunkRoot: string }[])[1].chunkRoot = "1".repeat(64);
                putManifest(w, m);
            },
            1,
            /manifest signature does not verify under KMS key ocid1\.key\.oc1\.eu-frankfurt-1\.signer/,
        ],
        [
            "a manifest re-signed with HMAC instead of KMS",
            (w) => {
                const m = manifestOf(w);
                m.signature = { alg: "HMAC-SHA256", keyId: "x", value: "AAAA" };
                putManifest(w, m);
            },
            1,
            /signed with HMAC-SHA256 instead of a KMS signing key/,
        ],
        [
            "a manifest pointing Verify at an attacker's endpoint",
            (w) => {
                const m = manifestOf(w);
                (m.signature as { cryptoEndpoint: string }).cryptoEndpoint =
                    "https://kms.attacker.example";
                putManifest(w, m);
            },
            3,
            /refusing KMS crypto endpoint https:\/\/kms\.attacker\.example/,
        ],
    ];

    for (const [what, tamper, code, message] of tampers) {
        it(`refuses ${what} (exit ${code}) and writes nothing`, async () => {
            const w = world("kms-tamper");
            assert.strictEqual((await encryptKms(w)).code, 0);
            tamper(w);
            const r = await runCli(["decrypt", "--quiet", URI, w.out], w.deps);
            assert.strictEqual(r.code, code, r.stderr);
            assert.match(r.stderr, message);
            assert.deepStrictEqual(readTree(w.out), {});
            assert.ok(
                w.endpointsCalled.every((e) => e === ENDPOINT),
                "only the real vault may be called",
            );
        });
    }

    for (const [what, cut, message] of [
        [
            "cut short",
            -5,
            /is truncated: \d+ bytes, expected \d+ \(it changed after it was listed\)/,
        ],
        ["extended", 3, /was extended: \d+ bytes, expected \d+ \(it changed after it was listed\)/],
    ] as const) {
        it(`refuses an object whose stream is ${what} after the listing was checked`, async () => {
            const w = world("kms-toctou");
            assert.strictEqual((await encryptKms(w)).code, 0);
            const client = w.store.client();
            const racing: ObjectStorageLike = {
                ...client,
                getObject: async (req) => {
                    const res = await client.getObject(req);
                    if (!req.objectName.endsWith("000002.enc")) return res;
                    const body = w.store.get(req.namespaceName, req.bucketName, req.objectName)!;
                    const changed =
                        cut < 0
                            ? body.subarray(0, body.length + cut)
                            : Buffer.concat([body, Buffer.alloc(cut)]);
                    // What a server answers once the object was replaced: the range of the new
                    // bytes, and the new size in Content-Range.
                    const r = req.range as unknown as { startByte: number; endByte: number };
                    const part = changed.subarray(r.startByte, r.endByte + 1);
                    return {
                        ...res,
                        contentLength: part.length,
                        contentRange: { ...res.contentRange, contentLength: changed.length },
                        value: Readable.from([part]),
                    } as unknown as typeof res;
                },
            };
            const r = await runCli(["decrypt", "--quiet", URI, w.out], {
                ...w.deps,
                objectStorage: () => racing,
            });
            assert.strictEqual(r.code, 1, r.stderr);
            assert.match(r.stderr, message);
            assert.deepStrictEqual(readTree(w.out), {});
        });
    }

    it("enforces MODEL_VAULT_TRUSTED_KEY_IDS (exit 3)", async () => {
        const w = world("kms-trust");
        assert.strictEqual((await encryptKms(w)).code, 0);
        const r = await runCli(["verify", URI], {
            ...w.deps,
            env: { MODEL_VAULT_TRUSTED_KEY_IDS: "ocid1.key.oc1..other" },
        });
        assert.strictEqual(r.code, 3);
        assert.match(r.stderr, /is not among the trusted keys/);
        const ok = await runCli(["verify", "--quiet", URI], {
            ...w.deps,
            env: { MODEL_VAULT_TRUSTED_KEY_IDS: `${MODEL_KEY}, ${SIGNING_KEY}` },
        });
        assert.strictEqual(ok.code, 0, ok.stderr);
    });

    it("reports a KMS refusal as a key problem (exit 3) naming the call, key and status", async () => {
        const w = world("kms-deny");
        assert.strictEqual((await encryptKms(w)).code, 0);
        const denied = new FakeKmsVault(ENDPOINT);
        const r = await runCli(["verify", URI], { ...w.deps, kmsCrypto: () => denied.client() });
        assert.strictEqual(r.code, 3);
        assert.match(
            r.stderr,
            /KMS Verify with key ocid1\.key\.oc1\.eu-frankfurt-1\.signer .* failed: 404 NotAuthorizedOrNotFound/,
        );
    });

    it("binds the wrapped data key to its model id through KMS associated data", async () => {
        const w = world("kms-bind");
        assert.strictEqual((await encryptKms(w)).code, 0);
        const m = parseManifest(w.store.get("tenancyns", "models", `${PREFIX}/manifest.json`)!);
        const ring = new OciKmsKeyRing({ clientFor: () => w.vault.client() });
        assert.strictEqual((await ring.unwrapDataKey(m)).length, 32);
        await assert.rejects(
            ring.unwrapDataKey({ ...m, modelId: "f".repeat(32) }),
            (e: Error) =>
                e instanceof KeyError && /KMS Decrypt .* 400 InvalidParameter/.test(e.message),
        );
    });

    it("refuses KMS encryption without a signing key, and a non-empty prefix (exit 2)", async () => {
        const w = world("kms-usage");
        const r = await runCli(
            ["encrypt", "--key", MODEL_KEY, "--crypto-endpoint", ENDPOINT, w.src, URI],
            w.deps,
        );
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /needs an asymmetric signing key/);
        assert.strictEqual(w.store.objects.size, 0, "the failed run removed what it uploaded");
        assert.strictEqual((await encryptKms(w)).code, 0);
        const again = await encryptKms(w);
        assert.strictEqual(again.code, 2);
        assert.match(again.stderr, /already holds objects/);
    });

    it("removes uploaded objects when an upload fails (exit 4)", async () => {
        const w = world("kms-abort");
        const client = w.store.client();
        const failing: ObjectStorageLike = {
            ...client,
            putObject: async (req) => {
                if (req.objectName.endsWith("000003.enc"))
                    throw new FakeOciError(503, "ServiceUnavailable", "try later");
                return client.putObject(req);
            },
        };
        const r = await encryptKms({ ...w, deps: { ...w.deps, objectStorage: () => failing } });
        assert.strictEqual(r.code, 4);
        assert.match(
            r.stderr,
            /cannot write oci-os:\/\/tenancyns\/models\/llama\/v1\/data\/000003\.enc: try later/,
        );
        assert.strictEqual(w.store.objects.size, 0);
    });

    it("tells a file-key model from a KMS model and says which key to pass (exit 3)", async () => {
        const w = world("kms-mix");
        assert.strictEqual((await encryptKms(w)).code, 0);
        const key = keyFile(w.dir);
        const r1 = await runCli(["verify", "--key", `file:${key}`, URI], w.deps);
        assert.strictEqual(r1.code, 3);
        assert.match(r1.stderr, /wrapped by OCI KMS key .*; run without --key/);
        const fileUri = "oci-os://tenancyns/models/file-model";
        assert.strictEqual(
            (await runCli(["encrypt", "--quiet", "--key", `file:${key}`, w.src, fileUri], w.deps))
                .code,
            0,
        );
        const r2 = await runCli(["verify", fileUri], w.deps);
        assert.strictEqual(r2.code, 3);
        assert.match(r2.stderr, /wrapped by a local file key .*; pass --key file:PATH/);
        assert.strictEqual(
            (await runCli(["verify", "--quiet", "--key", `file:${key}`, fileUri], w.deps)).code,
            0,
        );
    });
});
