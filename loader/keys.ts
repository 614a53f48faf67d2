/**
 * Key backends: where a model's data key comes from, how it is wrapped, and how the manifest is
 * signed and verified. Two backends share one interface:
 *
 * - {@link FileKeyRing}: a local 32-byte key (development, tests, benchmarks, no cloud). It wraps
 *   a fresh random data key with AES-256-GCM and signs the manifest with HMAC-SHA256, each under
 *   its own HKDF subkey.
 * - {@link OciKmsKeyRing}: OCI KMS `GenerateDataEncryptionKey` / `Decrypt` with the vault's model
 *   key, and KMS asymmetric `Sign` / `Verify` with a separate signing key, so that permission to
 *   use the wrapping key is not enough to forge a model.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import type { KmsCryptoClient, models } from "oci-keymanagement";

import { KeyError, TamperError, UsageError } from "./errors";
import {
    hkdf,
    KMS_SIGNING_ALGORITHMS,
    KmsSigningAlgorithm,
    Manifest,
    ManifestDataKey,
    ManifestSignature,
    signedBytes,
    UnsignedManifest,
} from "./format";

/** What encrypt needs from a key backend. */
export interface KeyRing {
    /** Human-readable name for messages, e.g. `file:/keys/dev.key` or a key OCID. */
    readonly description: string;
    /** A fresh 32-byte data key for one model, and its wrapped form for the manifest. */
    generateDataKey(modelId: string): Promise<{ plaintext: Buffer; dataKey: ManifestDataKey }>;
    /** Signs a manifest body. */
    sign(manifest: UnsignedManifest): Promise<ManifestSignature>;
}

/** What decrypt and verify need from a key backend. */
export interface KeyOpener {
    readonly description: string;
    /** Throws {@link TamperError} unless the manifest's signature verifies under a trusted key. */
    verifyManifest(manifest: Manifest): Promise<void>;
    /** The plaintext data key of a manifest whose signature has been verified. */
    unwrapDataKey(manifest: Manifest): Promise<Buffer>;
}

/** AAD of a wrapped data key under a file key: binds it to its model. */
function wrapAad(modelId: string): Buffer {
    return Buffer.from(`model-vault/1 data-key ${modelId}`, "utf8");
}

/** A local 32-byte key used both to wrap data keys and to sign manifests (HKDF subkeys). */
export class FileKeyRing implements KeyRing, KeyOpener {
    public readonly description: string;
    /** `file:sha256:<hex>`: names the key in manifests without revealing it. */
    public readonly fingerprint: string;
    private readonly wrapKey: Buffer;
    private readonly macKey: Buffer;

    constructor(key: Buffer, description = "file key") {
        if (key.length !== 32) {
            throw new KeyError(
                `${description}: a file key must be exactly 32 bytes, got ${key.length}`,
            );
        }
        this.description = description;
        const none = Buffer.alloc(0);
        const fp = crypto.createHash("sha256").update(hkdf(key, none, "model-vault/1 fingerprint"));
        this.fingerprint = `file:sha256:${fp.digest().subarray(0, 16).toString("hex")}`;
        this.wrapKey = hkdf(key, none, "model-vault/1 key-wrap");
        this.macKey = hkdf(key, none, "model-vault/1 manifest-hmac");
    }

    /**
     * Reads a key file: 32 raw bytes, or 64 hex characters (optionally newline-terminated, as
     * `openssl rand -hex 32` writes). Anything else is refused rather than hashed into a key.
     */
    static fromFile(keyPath: string): FileKeyRing {
        let raw: Buffer;
        try {
            raw = fs.readFileSync(keyPath);
        } catch (e) {
            throw new KeyError(`cannot read key file ${keyPath}: ${(e as Error).message}`);
        }
        const text = raw.toString("latin1").trim();
        const key =
            raw.length !== 32 && /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, "hex") : raw;
        return new FileKeyRing(key, `file:${keyPath}`);
    }

    async generateDataKey(
        modelId: string,
    ): Promise<{ plaintext: Buffer; dataKey: ManifestDataKey }> {
        const plaintext = crypto.randomBytes(32);
        const nonce = crypto.randomBytes(12);
        const c = crypto.createCipheriv("aes-256-gcm", this.wrapKey, nonce);
        c.setAAD(wrapAad(modelId));
        const ct = Buffer.concat([c.update(plaintext), c.final()]);
        const wrapped = Buffer.concat([nonce, ct, c.getAuthTag()]).toString("base64");
        return { plaintext, dataKey: { provider: "file", keyId: this.fingerprint, wrapped } };
    }

    async sign(manifest: UnsignedManifest): Promise<ManifestSignature> {
        const value = crypto
            .createHmac("sha256", this.macKey)
            .update(signedBytes(manifest))
            .digest();
        return { alg: "HMAC-SHA256", keyId: this.fingerprint, value: value.toString("base64") };
    }

    async verifyManifest(manifest: Manifest): Promise<void> {
        const { dataKey, signature } = manifest;
        if (dataKey.provider !== "file") {
            throw new KeyError(
                `the model's data key is wrapped by OCI KMS key ${dataKey.keyId}, not a file key; ` +
                    `run without --key ${this.description}`,
            );
        }
        if (dataKey.keyId !== this.fingerprint) {
            throw new KeyError(
                `wrong key: the model was sealed with ${dataKey.keyId} but ${this.description} ` +
                    `is ${this.fingerprint}`,
            );
        }
        if (signature.alg !== "HMAC-SHA256" || signature.keyId !== this.fingerprint) {
            throw new TamperError(
                `manifest signature is ${signature.alg} by ${signature.keyId}; a file-key model ` +
                    `must be signed HMAC-SHA256 by ${this.fingerprint}: the manifest was modified`,
            );
        }
        const expected = crypto
            .createHmac("sha256", this.macKey)
            .update(signedBytes(manifest))
            .digest();
        const actual = Buffer.from(signature.value, "base64");
        if (actual.length !== expected.length || !crypto.timingSafeEqual(actual, expected)) {
            throw new TamperError(
                "manifest signature does not verify: the manifest was modified after it was signed",
            );
        }
    }

    async unwrapDataKey(manifest: Manifest): Promise<Buffer> {
        const wrapped = Buffer.from(manifest.dataKey.wrapped, "base64");
        if (wrapped.length !== 12 + 32 + 16) {
            throw new TamperError(`wrapped data key is ${wrapped.length} bytes, expected 60`);
        }
        try {
            const d = crypto.createDecipheriv("aes-256-gcm", this.wrapKey, wrapped.subarray(0, 12));
            d.setAAD(wrapAad(manifest.modelId));
            d.setAuthTag(wrapped.subarray(44));
            return Buffer.concat([d.update(wrapped.subarray(12, 44)), d.final()]);
        } catch {
            throw new TamperError(
                "wrapped data key does not authenticate under this key for this model id " +
                    "(modified, or copied from another model)",
            );
        }
    }
}

/** The KMS crypto-plane calls model-vault makes; the SDK's `KmsCryptoClient` satisfies it. */
export type KmsCryptoLike = Pick<
    KmsCryptoClient,
    "generateDataEncryptionKey" | "decrypt" | "sign" | "verify"
>;

/** Options of {@link OciKmsKeyRing}. */
export interface OciKmsKeyRingOptions {
    /** A KMS crypto client bound to the given crypto endpoint (workload identity, instance principal...). */
    readonly clientFor: (cryptoEndpoint: string) => KmsCryptoLike | Promise<KmsCryptoLike>;
    /** Encrypt only: OCID of the AES master key that wraps data keys. */
    readonly keyId?: string;
    /**
     * The vault's crypto endpoint. Encrypt: required. Decrypt: when set, the manifest must name
     * exactly this endpoint (for private or non-commercial-realm endpoints); when unset, the
     * manifest's endpoint must look like a public OCI KMS crypto endpoint.
     */
    readonly cryptoEndpoint?: string;
    /** Encrypt only: OCID of the asymmetric key that signs manifests. */
    readonly signingKeyId?: string;
    /** Encrypt only: signing algorithm. Defaults to `SHA_256_RSA_PKCS_PSS`. */
    readonly signingAlgorithm?: KmsSigningAlgorithm;
    /**
     * Decrypt only: when non-empty, the wrapping key and the signing key named by a manifest must
     * both be in this list. Defaults to trusting whatever keys IAM lets this principal use.
     */
    readonly trustedKeyIds?: readonly string[];
}

/**
 * Public OCI KMS crypto endpoints look like `https://<vault>-crypto.kms.<region>.<realm domain>`.
 * A manifest is attacker-controlled until verified, and the endpoint it names is where the
 * Verify and Decrypt calls go: an endpoint of the attacker's would simply answer "valid". So a
 * manifest's endpoint is only followed when it is this shape (TLS then proves it is Oracle's) or
 * equals the one configured.
 */
const PUBLIC_CRYPTO_ENDPOINT =
    /^https:\/\/[a-z0-9-]+-crypto\.kms\.[a-z0-9-]+\.(oraclecloud|oraclegovcloud|oraclecloud\d+)\.(com|uk)\/?$/;

/** Throws {@link KeyError} unless `endpoint` may be called; see {@link PUBLIC_CRYPTO_ENDPOINT}. */
export function checkCryptoEndpoint(endpoint: string, configured?: string): void {
    const norm = (u: string) => u.replace(/\/+$/, "");
    if (configured !== undefined) {
        if (norm(endpoint) !== norm(configured)) {
            throw new KeyError(
                `manifest names KMS crypto endpoint ${endpoint}, but this loader is configured ` +
                    `for ${configured} (OCI_KMS_CRYPTO_ENDPOINT / --crypto-endpoint)`,
            );
        }
        return;
    }
    if (!PUBLIC_CRYPTO_ENDPOINT.test(endpoint)) {
        throw new KeyError(
            `refusing KMS crypto endpoint ${endpoint} named by the manifest: it is not a public ` +
                "OCI KMS crypto endpoint; set OCI_KMS_CRYPTO_ENDPOINT to allow a private one",
        );
    }
}

/** Describes an SDK error (OciError has statusCode and serviceCode) for a KeyError message. */
function describeKmsError(e: unknown): string {
    const o = e as { statusCode?: number; serviceCode?: string; message?: string };
    const code = [o.statusCode, o.serviceCode].filter((x) => x !== undefined).join(" ");
    return code ? `${code}: ${o.message ?? String(e)}` : (o.message ?? String(e));
}

/** OCI KMS envelope keys and manifest signatures. */
export class OciKmsKeyRing implements KeyRing, KeyOpener {
    public readonly description: string;

    constructor(private readonly opts: OciKmsKeyRingOptions) {
        this.description = opts.keyId ?? "OCI KMS key named by the manifest";
        const alg = opts.signingAlgorithm;
        if (alg !== undefined && !KMS_SIGNING_ALGORITHMS.includes(alg)) {
            throw new UsageError(
                `signing algorithm ${alg} is not supported; use one of ${KMS_SIGNING_ALGORITHMS.join(", ")}`,
            );
        }
    }

    private async call<T>(
        op: string,
        keyId: string,
        endpoint: string,
        fn: (c: KmsCryptoLike) => Promise<T>,
    ) {
        try {
            return await fn(await this.opts.clientFor(endpoint));
        } catch (e) {
            throw new KeyError(
                `KMS ${op} with key ${keyId} at ${endpoint} failed: ${describeKmsError(e)}`,
            );
        }
    }

    private encryptSide(): { keyId: string; cryptoEndpoint: string } {
        const { keyId, cryptoEndpoint } = this.opts;
        if (!keyId || !cryptoEndpoint) {
            throw new UsageError(
                "encrypting with OCI KMS needs the key OCID (--key) and the vault's crypto endpoint " +
                    "(--crypto-endpoint or OCI_KMS_CRYPTO_ENDPOINT)",
            );
        }
        return { keyId, cryptoEndpoint };
    }

    async generateDataKey(
        modelId: string,
    ): Promise<{ plaintext: Buffer; dataKey: ManifestDataKey }> {
        const { keyId, cryptoEndpoint } = this.encryptSide();
        const res = await this.call("GenerateDataEncryptionKey", keyId, cryptoEndpoint, (c) =>
            c.generateDataEncryptionKey({
                generateKeyDetails: {
                    keyId,
                    includePlaintextKey: true,
                    keyShape: { algorithm: "AES" as models.KeyShape.Algorithm, length: 32 },
                    associatedData: kmsAssociatedData(modelId),
                },
            }),
        );
        const plaintext = Buffer.from(res.generatedKey.plaintext ?? "", "base64");
        if (plaintext.length !== 32) {
            throw new KeyError(`KMS returned a ${plaintext.length}-byte data key; expected 32`);
        }
        return {
            plaintext,
            dataKey: {
                provider: "oci-kms",
                keyId,
                cryptoEndpoint,
                wrapped: res.generatedKey.ciphertext,
            },
        };
    }

    async sign(manifest: UnsignedManifest): Promise<ManifestSignature> {
        const { cryptoEndpoint } = this.encryptSide();
        const signingKeyId = this.opts.signingKeyId;
        if (!signingKeyId) {
            throw new UsageError(
                "encrypting with OCI KMS needs an asymmetric signing key (--signing-key or " +
                    "MODEL_VAULT_SIGNING_KEY_ID): an unsigned manifest would be refused",
            );
        }
        const alg = this.opts.signingAlgorithm ?? "SHA_256_RSA_PKCS_PSS";
        const digest = crypto.createHash("sha256").update(signedBytes(manifest)).digest("base64");
        const res = await this.call("Sign", signingKeyId, cryptoEndpoint, (c) =>
            c.sign({
                signDataDetails: {
                    keyId: signingKeyId,
                    message: digest,
                    messageType: "DIGEST" as models.SignDataDetails.MessageType,
                    signingAlgorithm: alg as models.SignDataDetails.SigningAlgorithm,
                },
            }),
        );
        return {
            alg,
            keyId: signingKeyId,
            keyVersionId: res.signedData.keyVersionId,
            cryptoEndpoint,
            value: res.signedData.signature,
        };
    }

    private checkTrusted(what: string, keyId: string): void {
        const trusted = this.opts.trustedKeyIds ?? [];
        if (trusted.length > 0 && !trusted.includes(keyId)) {
            throw new KeyError(
                `${what} ${keyId} is not among the trusted keys (MODEL_VAULT_TRUSTED_KEY_IDS)`,
            );
        }
    }

    async verifyManifest(manifest: Manifest): Promise<void> {
        const { dataKey, signature } = manifest;
        if (dataKey.provider !== "oci-kms") {
            throw new KeyError(
                `the model's data key is wrapped by a local file key (${dataKey.keyId}); ` +
                    "pass --key file:PATH",
            );
        }
        if (signature.alg === "HMAC-SHA256") {
            throw new TamperError(
                "manifest of a KMS-wrapped model is signed with HMAC-SHA256 instead of a KMS " +
                    "signing key: the manifest was modified",
            );
        }
        this.checkTrusted("manifest signing key", signature.keyId);
        this.checkTrusted("data key wrapping key", dataKey.keyId);
        checkCryptoEndpoint(signature.cryptoEndpoint, this.opts.cryptoEndpoint);
        const digest = crypto.createHash("sha256").update(signedBytes(manifest)).digest("base64");
        const res = await this.call("Verify", signature.keyId, signature.cryptoEndpoint, (c) =>
            c.verify({
                verifyDataDetails: {
                    keyId: signature.keyId,
                    keyVersionId: signature.keyVersionId,
                    message: digest,
                    messageType: "DIGEST" as models.VerifyDataDetails.MessageType,
                    signature: signature.value,
                    signingAlgorithm: signature.alg as models.VerifyDataDetails.SigningAlgorithm,
                },
            }),
        );
        if (res.verifiedData.isSignatureValid !== true) {
            throw new TamperError(
                `manifest signature does not verify under KMS key ${signature.keyId}: ` +
                    "the manifest was modified after it was signed",
            );
        }
    }

    async unwrapDataKey(manifest: Manifest): Promise<Buffer> {
        const dataKey = manifest.dataKey;
        if (dataKey.provider !== "oci-kms") throw new KeyError("data key is not KMS-wrapped");
        checkCryptoEndpoint(dataKey.cryptoEndpoint, this.opts.cryptoEndpoint);
        const res = await this.call("Decrypt", dataKey.keyId, dataKey.cryptoEndpoint, (c) =>
            c.decrypt({
                decryptDataDetails: {
                    keyId: dataKey.keyId,
                    ciphertext: dataKey.wrapped,
                    associatedData: kmsAssociatedData(manifest.modelId),
                },
            }),
        );
        const plaintext = Buffer.from(res.decryptedData.plaintext ?? "", "base64");
        if (plaintext.length !== 32) {
            throw new KeyError(`KMS unwrapped a ${plaintext.length}-byte data key; expected 32`);
        }
        return plaintext;
    }
}

/** KMS associated data binding a wrapped data key to its model: a key moved to another manifest will not unwrap. */
export function kmsAssociatedData(modelId: string): { [key: string]: string } {
    return { "model-vault": "1", modelId };
}
