/**
 * The model-vault on-disk format, versions 1 and 2: manifest schema, object layout, nonce and AAD
 * construction, key derivation, the per-chunk hash list of version 2. Everything here is pure so the format can be tested (and
 * re-implemented) without storage or KMS. docs/model-vault.md is the normative description;
 * keep the two in step.
 */
import * as crypto from "crypto";
import * as path from "path";

import { TamperError, UsageError } from "./errors";

/** Value of the manifest's `format` field for models encrypt writes now. */
export const FORMAT = "model-vault/2";
/**
 * The first format: one SHA-256 of each file's plaintext, which pins a file's chunks to one
 * thread. Still read (decrypt and verify), never written.
 */
export const FORMAT_V1 = "model-vault/1";
/** Formats this loader reads. */
export const FORMATS = [FORMAT_V1, FORMAT] as const;
export type FormatName = (typeof FORMATS)[number];
/** Name of the manifest object at the root of an encrypted model. */
export const MANIFEST_NAME = "manifest.json";
/** Folder (object name prefix) holding one ciphertext object per model file. */
export const DATA_DIR = "data";
/** Only cipher of formats 1 and 2. */
export const CIPHER = "AES-256-GCM";
/** Bytes of a GCM authentication tag; every chunk record ends with one. */
export const TAG_BYTES = 16;
/** Bytes of the header at the start of every ciphertext object. */
export const HEADER_BYTES = 64;
/** Magic at the start of every ciphertext object. */
export const OBJECT_MAGIC = Buffer.from("MVLTDATA", "ascii");
/**
 * Default plaintext bytes per chunk: large enough to amortise per-chunk cost (a message to a
 * worker, a read, a write, a tag), small enough that the buffers in flight stay a few MiB per
 * file. 4 MiB measured ~5-10% less CPU on decrypt but needs 4x the buffers per file decrypted in
 * parallel (32 MiB each), so 1 MiB stays the default; the chunk size is per model (manifest).
 */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Smallest chunk size accepted; tests use tiny chunks to exercise multi-chunk paths cheaply. */
export const MIN_CHUNK_SIZE = 16;
/** Largest chunk size accepted; bounds the memory a manifest can make the loader allocate. */
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
/** Largest manifest read; a bigger one is refused before parsing. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** Most files a manifest may list (file indexes are 32-bit in nonces). */
export const MAX_FILES = 1_000_000;
/** Domain-separation prefix of the bytes the manifest signature covers, per format. */
export function signedPrefix(format: FormatName): Buffer {
    return Buffer.from(`${format} manifest\n`, "ascii");
}
/** Domain-separation prefix of a version-2 file's chunk hash list (see {@link chunkRoot}). */
export const CHUNK_ROOT_PREFIX = Buffer.from("model-vault/2 chunk-root\n", "ascii");
/** Bytes of one chunk record's SHA-256 in a hash list. */
export const DIGEST_BYTES = 32;

/** Where the data key came from and how to unwrap it. */
export type ManifestDataKey =
    | {
          /** A local 32-byte key file wrapped the data key (development, tests, benchmarks). */
          readonly provider: "file";
          /** `file:sha256:<hex>` fingerprint of the wrapping key (not the key). */
          readonly keyId: string;
          /** base64(nonce 12 ‖ ciphertext 32 ‖ tag 16) under the file key's wrap subkey. */
          readonly wrapped: string;
      }
    | {
          /** OCI KMS `GenerateDataEncryptionKey` produced and wrapped the data key. */
          readonly provider: "oci-kms";
          /** OCID of the KMS master key that wrapped the data key. */
          readonly keyId: string;
          /** The vault's crypto endpoint that can unwrap it. */
          readonly cryptoEndpoint: string;
          /** KMS ciphertext of the data key, as returned by KMS. */
          readonly wrapped: string;
      };

/** How the manifest was signed. */
export type ManifestSignature =
    | {
          readonly alg: "HMAC-SHA256";
          /** Same fingerprint as the data key's `keyId`: the file key signs in development. */
          readonly keyId: string;
          /** base64 HMAC over {@link signedBytes}. */
          readonly value: string;
      }
    | {
          /** A KMS asymmetric signing algorithm over the SHA-256 digest of {@link signedBytes}. */
          readonly alg: KmsSigningAlgorithm;
          readonly keyId: string;
          readonly keyVersionId: string;
          readonly cryptoEndpoint: string;
          readonly value: string;
      };

/** KMS signing algorithms over a SHA-256 digest that format 1 accepts. */
export const KMS_SIGNING_ALGORITHMS = [
    "SHA_256_RSA_PKCS_PSS",
    "SHA_256_RSA_PKCS1_V1_5",
    "ECDSA_SHA_256",
] as const;
export type KmsSigningAlgorithm = (typeof KMS_SIGNING_ALGORITHMS)[number];

/** One plaintext file of the model. */
export interface ManifestFile {
    /** Relative POSIX path inside the model directory. */
    readonly path: string;
    /** Plaintext bytes. */
    readonly size: number;
    /** Number of chunk records; `max(1, ceil(size / chunkSize))`. */
    readonly chunks: number;
    /** Format 1 only: lower-case hex SHA-256 of the plaintext file. */
    readonly sha256?: string;
    /**
     * Format 2 only: lower-case hex {@link chunkRoot} of the SHA-256 of every chunk record
     * (ciphertext ‖ tag) of the file's object, in order.
     */
    readonly chunkRoot?: string;
    /** Name of the ciphertext object, relative to the model root: `data/<index>.enc`. */
    readonly object: string;
}

/** The signed description of an encrypted model. */
export interface Manifest {
    readonly format: FormatName;
    /** 128-bit random id, lower-case hex; binds every chunk and the wrapped key to this model. */
    readonly modelId: string;
    /** ISO-8601 time of encryption (informational). */
    readonly createdAt: string;
    readonly cipher: typeof CIPHER;
    /** Plaintext bytes per chunk (the last chunk of a file may be shorter). */
    readonly chunkSize: number;
    readonly dataKey: ManifestDataKey;
    readonly files: readonly ManifestFile[];
    readonly signature: ManifestSignature;
}

/** A manifest before it is signed. */
export type UnsignedManifest = Omit<Manifest, "signature">;

/** Number of chunk records of a file of `size` bytes. Empty files still have one (empty) chunk. */
export function chunkCount(size: number, chunkSize: number): number {
    return Math.max(1, Math.ceil(size / chunkSize));
}

/** Exact byte length of the ciphertext object for a plaintext file. */
export function ciphertextSize(size: number, chunkSize: number): number {
    return HEADER_BYTES + size + chunkCount(size, chunkSize) * TAG_BYTES;
}

/** Name of the ciphertext object of the file at `index` (zero-padded so listings sort). */
export function objectNameFor(index: number): string {
    return `${DATA_DIR}/${String(index).padStart(6, "0")}.enc`;
}

/**
 * Checks a manifest path: relative, POSIX, no `.`/`..`/empty segments, no backslash or control
 * characters. Returns the reason it is unsafe, or undefined. Pure so both encrypt (walking a
 * source folder) and decrypt (trusting nothing in a manifest) use the same rule.
 */
export function unsafePathReason(p: string): string | undefined {
    if (p.length === 0) return "is empty";
    if (p.length > 4096) return "is longer than 4096 characters";
    if (p.startsWith("/")) return "is absolute";
    if (p.includes("\\")) return "contains a backslash";
    if (/[\u0000-\u001f\u007f]/.test(p)) return "contains a control character";
    for (const segment of p.split("/")) {
        if (segment === "") return "has an empty segment";
        if (segment === "." || segment === "..") return `has a '${segment}' segment`;
        if (segment.length > 255) return "has a segment longer than 255 characters";
    }
    if (path.posix.normalize(p) !== p) return "is not normalised";
    return undefined;
}

/** Serialises JSON with object keys sorted at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
    if (value === null || typeof value !== "object") {
        if (typeof value === "number" && !Number.isSafeInteger(value)) {
            throw new UsageError(`canonical JSON holds integers only, got ${value}`);
        }
        return JSON.stringify(value);
    }
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    const obj = value as Record<string, unknown>;
    const parts = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
    return `{${parts.join(",")}}`;
}

/**
 * The exact bytes a manifest signature covers: a domain-separation prefix and the canonical JSON
 * of every field except `signature`. Canonical form means re-serialising (or pretty-printing) the
 * manifest does not break the signature, while changing any value does.
 */
export function signedBytes(manifest: UnsignedManifest | Manifest): Buffer {
    const { signature: _omit, ...body } = manifest as Manifest;
    void _omit;
    return Buffer.concat([signedPrefix(manifest.format), Buffer.from(canonicalJson(body), "utf8")]);
}

/** Serialises a signed manifest for storage (pretty, canonical key order). */
export function serializeManifest(manifest: Manifest): Buffer {
    return Buffer.from(JSON.stringify(JSON.parse(canonicalJson(manifest)), null, 2) + "\n");
}

/** A fresh random model id. */
export function newModelId(): string {
    return crypto.randomBytes(16).toString("hex");
}

/**
 * The 64-byte header of a ciphertext object: magic, version, file index, model id and SHA-256 of
 * the file's path. It is not secret; it lets a swapped-in file be named precisely ("belongs to
 * another model", "holds file X's data") before any chunk fails, and it is also the start of
 * every chunk's AAD, so a forged header cannot make foreign data decrypt.
 */
export function objectHeader(
    modelId: string,
    index: number,
    filePath: string,
    version: number = formatVersion(FORMAT),
): Buffer {
    const h = Buffer.alloc(HEADER_BYTES);
    OBJECT_MAGIC.copy(h, 0);
    h.writeUInt16BE(version, 8);
    h.writeUInt16BE(0, 10);
    h.writeUInt32BE(index, 12);
    Buffer.from(modelId, "hex").copy(h, 16);
    crypto.createHash("sha256").update(filePath, "utf8").digest().copy(h, 32);
    return h;
}

/** Fields decoded from an object header; see {@link objectHeader}. */
export interface ObjectHeaderFields {
    readonly magicOk: boolean;
    readonly version: number;
    readonly index: number;
    readonly modelId: string;
    readonly pathHash: Buffer;
}

/** Decodes an object header without judging it. */
export function parseObjectHeader(h: Buffer): ObjectHeaderFields {
    return {
        magicOk: h.length >= HEADER_BYTES && h.subarray(0, 8).equals(OBJECT_MAGIC),
        version: h.length >= 10 ? h.readUInt16BE(8) : 0,
        index: h.length >= 16 ? h.readUInt32BE(12) : -1,
        modelId: h.subarray(16, 32).toString("hex"),
        pathHash: h.subarray(32, 64),
    };
}

/** Bytes of a chunk's AAD: header 64 ‖ file size u64 ‖ chunk size u32 ‖ index u64 ‖ count u64 ‖ final u8. */
export const AAD_BYTES = HEADER_BYTES + 8 + 4 + 8 + 8 + 1;

/**
 * Builds the AAD of chunk `chunkIndex`. It binds the chunk to the model (model id), the file
 * (index and path hash), its position (index), and the file's length (size, chunk count and the
 * final flag), so reordering, truncating, extending or transplanting chunks all fail the tag.
 */
export function chunkAad(
    header: Buffer,
    fileSize: number,
    chunkSize: number,
    chunkIndex: number,
    chunks: number,
): Buffer {
    const aad = Buffer.alloc(AAD_BYTES);
    header.copy(aad, 0, 0, HEADER_BYTES);
    let o = HEADER_BYTES;
    aad.writeBigUInt64BE(BigInt(fileSize), o);
    o += 8;
    aad.writeUInt32BE(chunkSize, o);
    o += 4;
    aad.writeBigUInt64BE(BigInt(chunkIndex), o);
    o += 8;
    aad.writeBigUInt64BE(BigInt(chunks), o);
    o += 8;
    aad.writeUInt8(chunkIndex === chunks - 1 ? 1 : 0, o);
    return aad;
}

/**
 * The 96-bit GCM nonce of a chunk: file index u32 ‖ chunk index u64. Deterministic nonces are
 * safe because every encryption run draws a fresh data key, and within a run each (file, chunk)
 * pair is encrypted exactly once; they also need no storage and cannot be shuffled.
 */
export function chunkNonce(fileIndex: number, chunkIndex: number): Buffer {
    const n = Buffer.alloc(12);
    n.writeUInt32BE(fileIndex, 0);
    n.writeBigUInt64BE(BigInt(chunkIndex), 4);
    return n;
}

/** HKDF-SHA256 with the given salt and info label. */
export function hkdf(ikm: Buffer, salt: Buffer, info: string, length = 32): Buffer {
    return Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from(info, "utf8"), length));
}

/**
 * The chunk-encryption key of a model, derived from its data key with the model id as salt, so
 * the raw data key is never used directly and each purpose has its own key.
 */
export function chunkKey(dataKey: Buffer, modelId: string, format: FormatName = FORMAT): Buffer {
    return hkdf(dataKey, Buffer.from(modelId, "hex"), `${format} chunk-encryption`);
}

/** The version number of a format name: 1 or 2 (also the object header's version field). */
export function formatVersion(format: FormatName): number {
    return format === FORMAT_V1 ? 1 : 2;
}

/**
 * The root of a version-2 file's two-level hash tree: SHA-256 of a domain-separation prefix and
 * the SHA-256 of every chunk record (ciphertext ‖ tag), in chunk order. The manifest signs it, so
 * it is a collision-resistant commitment to every ciphertext byte of the file (and, through
 * decryption under the model's key, to its plaintext), while each record's own SHA-256 can be
 * computed by whichever thread decrypts that record.
 */
export function chunkRoot(digests: Buffer): string {
    return crypto.createHash("sha256").update(CHUNK_ROOT_PREFIX).update(digests).digest("hex");
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function fail(msg: string): never {
    throw new TamperError(`manifest is invalid: ${msg}`);
}

function expectObject(v: unknown, where: string, keys: readonly string[], optional: string[] = []) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) fail(`${where} is not an object`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
        if (!keys.includes(k) && !optional.includes(k)) fail(`${where} has unknown field '${k}'`);
    }
    for (const k of keys) if (!(k in o)) fail(`${where} lacks field '${k}'`);
    return o;
}

function expectString(v: unknown, where: string, re?: RegExp): string {
    if (typeof v !== "string") fail(`${where} is not a string`);
    if (re && !re.test(v)) fail(`${where} has an unexpected form`);
    return v;
}

function expectInt(v: unknown, where: string, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
        fail(`${where} is not an integer in [${min}, ${max}]`);
    }
    return v;
}

/**
 * Parses and structurally validates a manifest. It does NOT check the signature (that needs a
 * key; see keys.ts) and it refuses anything unexpected: unknown fields, unsafe or duplicate paths,
 * a path that is both a file and a folder, object names other than the canonical ones,
 * inconsistent chunk counts. A missing signature is reported as such, since it is a likely attack.
 */
export function parseManifest(bytes: Buffer): Manifest {
    if (bytes.length > MAX_MANIFEST_BYTES) fail(`larger than ${MAX_MANIFEST_BYTES} bytes`);
    let raw: unknown;
    try {
        raw = JSON.parse(bytes.toString("utf8"));
    } catch (e) {
        fail(`not JSON (${(e as Error).message})`);
    }
    if (raw !== null && typeof raw === "object" && !("signature" in raw)) {
        throw new TamperError("manifest is unsigned: it has no 'signature'; refusing to load it");
    }
    const m = expectObject(raw, "manifest", [
        "format",
        "modelId",
        "createdAt",
        "cipher",
        "chunkSize",
        "dataKey",
        "files",
        "signature",
    ]);
    if (!FORMATS.includes(m.format as FormatName)) {
        throw new TamperError(
            `manifest format ${JSON.stringify(m.format)} is not one this loader reads ` +
                `(${FORMATS.join(", ")}); a newer format needs a newer model-vault`,
        );
    }
    const format = m.format as FormatName;
    const digestField = format === FORMAT_V1 ? "sha256" : "chunkRoot";
    if (m.cipher !== CIPHER) fail(`cipher is ${JSON.stringify(m.cipher)}, expected "${CIPHER}"`);
    const modelId = expectString(m.modelId, "modelId", HEX32);
    const createdAt = expectString(m.createdAt, "createdAt");
    const chunkSize = expectInt(m.chunkSize, "chunkSize", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
    const dataKey = parseDataKey(m.dataKey);
    const signature = parseSignature(m.signature);
    if (!Array.isArray(m.files)) fail("files is not an array");
    if (m.files.length > MAX_FILES) fail(`lists more than ${MAX_FILES} files`);
    const seen = new Set<string>();
    const files = m.files.map((f: unknown, i: number): ManifestFile => {
        const where = `files[${i}]`;
        const o = expectObject(f, where, ["path", "size", "chunks", digestField, "object"]);
        const p = expectString(o.path, `${where}.path`);
        const why = unsafePathReason(p);
        if (why) fail(`${where}.path ${JSON.stringify(p)} ${why}`);
        if (p === MANIFEST_NAME) fail(`${where}.path may not be ${MANIFEST_NAME}`);
        if (seen.has(p)) fail(`${where}.path ${JSON.stringify(p)} is listed twice`);
        seen.add(p);
        const size = expectInt(o.size, `${where}.size`, 0, Number.MAX_SAFE_INTEGER);
        const chunks = expectInt(o.chunks, `${where}.chunks`, 1, Number.MAX_SAFE_INTEGER);
        if (chunks !== chunkCount(size, chunkSize)) {
            fail(
                `${where}.chunks is ${chunks} but size ${size} needs ${chunkCount(size, chunkSize)}`,
            );
        }
        const digest = expectString(o[digestField], `${where}.${digestField}`, HEX64);
        const object = expectString(o.object, `${where}.object`);
        if (object !== objectNameFor(i)) fail(`${where}.object is not ${objectNameFor(i)}`);
        return { path: p, size, chunks, [digestField]: digest, object };
    });
    for (const p of seen) {
        const parts = p.split("/");
        for (let k = 1; k < parts.length; k++) {
            const dir = parts.slice(0, k).join("/");
            if (seen.has(dir)) fail(`${JSON.stringify(dir)} is both a file and a folder`);
        }
    }
    return {
        format,
        modelId,
        createdAt,
        cipher: CIPHER,
        chunkSize,
        dataKey,
        files,
        signature,
    };
}

function parseDataKey(v: unknown): ManifestDataKey {
    const provider = (v as { provider?: unknown } | null)?.provider;
    if (provider === "file") {
        const o = expectObject(v, "dataKey", ["provider", "keyId", "wrapped"]);
        return {
            provider,
            keyId: expectString(o.keyId, "dataKey.keyId", /^file:sha256:[0-9a-f]{32}$/),
            wrapped: expectString(o.wrapped, "dataKey.wrapped", BASE64),
        };
    }
    if (provider === "oci-kms") {
        const o = expectObject(v, "dataKey", ["provider", "keyId", "cryptoEndpoint", "wrapped"]);
        return {
            provider,
            keyId: expectString(o.keyId, "dataKey.keyId", /^ocid1\.key\./),
            cryptoEndpoint: expectString(o.cryptoEndpoint, "dataKey.cryptoEndpoint", /^https:\/\//),
            wrapped: expectString(o.wrapped, "dataKey.wrapped", BASE64),
        };
    }
    fail(`dataKey.provider is ${JSON.stringify(provider)}, expected "file" or "oci-kms"`);
}

function parseSignature(v: unknown): ManifestSignature {
    const alg = (v as { alg?: unknown } | null)?.alg;
    if (alg === "HMAC-SHA256") {
        const o = expectObject(v, "signature", ["alg", "keyId", "value"]);
        return {
            alg,
            keyId: expectString(o.keyId, "signature.keyId"),
            value: expectString(o.value, "signature.value", BASE64),
        };
    }
    if (KMS_SIGNING_ALGORITHMS.includes(alg as KmsSigningAlgorithm)) {
        const o = expectObject(v, "signature", [
            "alg",
            "keyId",
            "keyVersionId",
            "cryptoEndpoint",
            "value",
        ]);
        return {
            alg: alg as KmsSigningAlgorithm,
            keyId: expectString(o.keyId, "signature.keyId", /^ocid1\.key\./),
            keyVersionId: expectString(o.keyVersionId, "signature.keyVersionId"),
            cryptoEndpoint: expectString(
                o.cryptoEndpoint,
                "signature.cryptoEndpoint",
                /^https:\/\//,
            ),
            value: expectString(o.value, "signature.value", BASE64),
        };
    }
    fail(`signature.alg ${JSON.stringify(alg)} is not supported`);
}
