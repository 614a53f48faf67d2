/**
 * In-process fakes of the OCI KMS crypto plane and Object Storage, implementing the SDK client
 * methods model-vault calls with the SDK's own request and response types. They keep real
 * semantics that matter to fail-closed behaviour: keys live in one vault (endpoint), associated
 * data must match, missing objects are 404, listings paginate. The fake KMS's ciphertext and
 * signature encodings are its own (not wire-compatible with OCI), which the tests do not rely on.
 */
import * as crypto from "crypto";
import type { requests as kmsRequests, responses as kmsResponses } from "oci-keymanagement";
import type { requests as osRequests, responses as osResponses } from "oci-objectstorage";
import { Readable } from "stream";

import type { KmsCryptoLike } from "../../loader/keys";
import type { ObjectStorageLike } from "../../loader/storage";

/** Shape of the SDK's OciError, which model-vault reads statusCode/serviceCode from. */
export class FakeOciError extends Error {
    constructor(
        public readonly statusCode: number,
        public readonly serviceCode: string,
        message: string,
    ) {
        super(message);
    }
}

function canonical(ad: { [k: string]: string } | undefined): Buffer {
    const keys = Object.keys(ad ?? {}).sort();
    return Buffer.from(JSON.stringify(keys.map((k) => [k, ad![k]])));
}

/** One fake vault: AES master keys and ECDSA signing keys behind one crypto endpoint. */
export class FakeKmsVault {
    public readonly calls: string[] = [];
    private readonly aesKeys = new Map<string, Buffer>();
    private readonly signKeys = new Map<string, crypto.KeyPairKeyObjectResult>();

    constructor(public readonly cryptoEndpoint: string) {}

    addAesKey(ocid: string): string {
        this.aesKeys.set(ocid, crypto.randomBytes(32));
        return ocid;
    }

    addSigningKey(ocid: string): string {
        this.signKeys.set(ocid, crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }));
        return ocid;
    }

    private aes(keyId: string): Buffer {
        const k = this.aesKeys.get(keyId);
        if (!k)
            throw new FakeOciError(
                404,
                "NotAuthorizedOrNotFound",
                `key ${keyId} not found in this vault`,
            );
        return k;
    }

    private signer(keyId: string): crypto.KeyPairKeyObjectResult {
        const k = this.signKeys.get(keyId);
        if (!k)
            throw new FakeOciError(
                404,
                "NotAuthorizedOrNotFound",
                `key ${keyId} not found in this vault`,
            );
        return k;
    }

    /** A client bound to this vault, typed as the SDK's KmsCryptoClient methods. */
    client(): KmsCryptoLike & Pick<import("oci-keymanagement").KmsCryptoClient, "encrypt"> {
        return {
            generateDataEncryptionKey: async (
                req: kmsRequests.GenerateDataEncryptionKeyRequest,
            ): Promise<kmsResponses.GenerateDataEncryptionKeyResponse> => {
                this.calls.push("GenerateDataEncryptionKey");
                const d = req.generateKeyDetails;
                const plaintext = crypto.randomBytes(d.keyShape.length);
                const ciphertext = this.wrap(d.keyId, plaintext, d.associatedData);
                return {
                    opcRequestId: "fake",
                    generatedKey: { ciphertext, plaintext: plaintext.toString("base64") },
                };
            },
            encrypt: async (
                req: kmsRequests.EncryptRequest,
            ): Promise<kmsResponses.EncryptResponse> => {
                this.calls.push("Encrypt");
                const d = req.encryptDataDetails;
                const ciphertext = this.wrap(
                    d.keyId,
                    Buffer.from(d.plaintext, "base64"),
                    d.associatedData,
                );
                return { opcRequestId: "fake", encryptedData: { ciphertext } };
            },
            decrypt: async (
                req: kmsRequests.DecryptRequest,
            ): Promise<kmsResponses.DecryptResponse> => {
                this.calls.push("Decrypt");
                const d = req.decryptDataDetails;
                const raw = Buffer.from(d.ciphertext, "base64");
                try {
                    const dec = crypto.createDecipheriv(
                        "aes-256-gcm",
                        this.aes(d.keyId),
                        raw.subarray(0, 12),
                    );
                    dec.setAAD(canonical(d.associatedData));
                    dec.setAuthTag(raw.subarray(raw.length - 16));
                    const pt = Buffer.concat([
                        dec.update(raw.subarray(12, raw.length - 16)),
                        dec.final(),
                    ]);
                    return {
                        opcRequestId: "fake",
                        decryptedData: { plaintext: pt.toString("base64"), plaintextChecksum: "0" },
                    };
                } catch (e) {
                    if (e instanceof FakeOciError) throw e;
                    throw new FakeOciError(
                        400,
                        "InvalidParameter",
                        "The ciphertext or associated data is invalid",
                    );
                }
            },
            sign: async (req: kmsRequests.SignRequest): Promise<kmsResponses.SignResponse> => {
                this.calls.push("Sign");
                const d = req.signDataDetails;
                const sig = crypto.sign(
                    "sha256",
                    Buffer.from(d.message, "base64"),
                    this.signer(d.keyId).privateKey,
                );
                return {
                    opcRequestId: "fake",
                    signedData: {
                        keyId: d.keyId,
                        keyVersionId: `${d.keyId}.v1`,
                        signature: sig.toString("base64"),
                        signingAlgorithm: d.signingAlgorithm as never,
                    },
                };
            },
            verify: async (
                req: kmsRequests.VerifyRequest,
            ): Promise<kmsResponses.VerifyResponse> => {
                this.calls.push("Verify");
                const d = req.verifyDataDetails;
                if (d.keyVersionId !== `${d.keyId}.v1`) {
                    throw new FakeOciError(404, "NotAuthorizedOrNotFound", "key version not found");
                }
                const ok = crypto.verify(
                    "sha256",
                    Buffer.from(d.message, "base64"),
                    this.signer(d.keyId).publicKey,
                    Buffer.from(d.signature, "base64"),
                );
                return { opcRequestId: "fake", verifiedData: { isSignatureValid: ok } };
            },
        };
    }

    private wrap(
        keyId: string,
        plaintext: Buffer,
        ad: { [k: string]: string } | undefined,
    ): string {
        const iv = crypto.randomBytes(12);
        const c = crypto.createCipheriv("aes-256-gcm", this.aes(keyId), iv);
        c.setAAD(canonical(ad));
        const ct = Buffer.concat([c.update(plaintext), c.final()]);
        return Buffer.concat([iv, ct, c.getAuthTag()]).toString("base64");
    }
}

/** An in-memory Object Storage namespace; `getObject` streams in odd-sized pieces. */
export class FakeObjectStorage {
    /** `namespace/bucket/object` → bytes. */
    public readonly objects = new Map<string, Buffer>();
    public readonly calls: string[] = [];

    constructor(private readonly pieceBytes = 7777) {}

    private key(ns: string, bucket: string, name: string): string {
        return `${ns}/${bucket}/${name}`;
    }

    get(ns: string, bucket: string, name: string): Buffer | undefined {
        return this.objects.get(this.key(ns, bucket, name));
    }

    set(ns: string, bucket: string, name: string, body: Buffer): void {
        this.objects.set(this.key(ns, bucket, name), body);
    }

    delete(ns: string, bucket: string, name: string): void {
        this.objects.delete(this.key(ns, bucket, name));
    }

    client(): ObjectStorageLike {
        return {
            getObject: async (
                req: osRequests.GetObjectRequest,
            ): Promise<osResponses.GetObjectResponse> => {
                this.calls.push(`GetObject ${req.objectName}`);
                const whole = this.get(req.namespaceName, req.bucketName, req.objectName);
                if (!whole)
                    throw new FakeOciError(404, "ObjectNotFound", `${req.objectName} not found`);
                // Range as the SDK's request generator reads it: startByte and endByte inclusive.
                const range = req.range as unknown as
                    | { startByte: number; endByte: number }
                    | undefined;
                const body = range ? whole.subarray(range.startByte, range.endByte + 1) : whole;
                const piece = this.pieceBytes;
                const pieces = function* () {
                    for (let o = 0; o < body.length; o += piece) yield body.subarray(o, o + piece);
                };
                return {
                    contentLength: body.length,
                    // Shaped like the SDK's parsed Content-Range (oci-common Range).
                    contentRange: range
                        ? {
                              startByte: range.startByte,
                              endByte: range.endByte,
                              contentLength: whole.length,
                          }
                        : undefined,
                    value: Readable.from(pieces()),
                } as Partial<osResponses.GetObjectResponse> as osResponses.GetObjectResponse;
            },
            headObject: async (
                req: osRequests.HeadObjectRequest,
            ): Promise<osResponses.HeadObjectResponse> => {
                this.calls.push(`HeadObject ${req.objectName}`);
                const body = this.get(req.namespaceName, req.bucketName, req.objectName);
                if (!body)
                    throw new FakeOciError(404, "ObjectNotFound", `${req.objectName} not found`);
                return {
                    contentLength: body.length,
                } as Partial<osResponses.HeadObjectResponse> as osResponses.HeadObjectResponse;
            },
            putObject: async (
                req: osRequests.PutObjectRequest,
            ): Promise<osResponses.PutObjectResponse> => {
                this.calls.push(`PutObject ${req.objectName}`);
                const k = this.key(req.namespaceName, req.bucketName, req.objectName);
                if (req.ifNoneMatch === "*" && this.objects.has(k)) {
                    throw new FakeOciError(412, "IfNoneMatchFailed", `${req.objectName} exists`);
                }
                const b = req.putObjectBody;
                let body: Buffer;
                if (b instanceof Readable) {
                    const parts: Buffer[] = [];
                    for await (const c of b) parts.push(Buffer.from(c as Uint8Array));
                    body = Buffer.concat(parts);
                } else if (typeof b === "string" || b instanceof Uint8Array) {
                    body = Buffer.from(b as Uint8Array);
                } else {
                    throw new Error("fake putObject supports Readable, Buffer and string bodies");
                }
                if (req.contentLength !== undefined && req.contentLength !== body.length) {
                    throw new FakeOciError(
                        400,
                        "InvalidContentLength",
                        `sent ${body.length} of ${req.contentLength}`,
                    );
                }
                this.objects.set(k, body);
                return {
                    eTag: "fake",
                } as Partial<osResponses.PutObjectResponse> as osResponses.PutObjectResponse;
            },
            deleteObject: async (
                req: osRequests.DeleteObjectRequest,
            ): Promise<osResponses.DeleteObjectResponse> => {
                this.calls.push(`DeleteObject ${req.objectName}`);
                this.objects.delete(this.key(req.namespaceName, req.bucketName, req.objectName));
                return {} as osResponses.DeleteObjectResponse;
            },
            listObjects: async (
                req: osRequests.ListObjectsRequest,
            ): Promise<osResponses.ListObjectsResponse> => {
                this.calls.push(`ListObjects ${req.prefix ?? ""}`);
                const base = `${req.namespaceName}/${req.bucketName}/`;
                const names = [...this.objects.keys()]
                    .filter((k) => k.startsWith(base))
                    .map((k) => k.slice(base.length))
                    .filter(
                        (n) =>
                            n.startsWith(req.prefix ?? "") &&
                            (req.start === undefined || n >= req.start),
                    )
                    .sort();
                const limit = Math.min(req.limit ?? 1000, 3); // tiny pages exercise pagination
                const page = names.slice(0, limit);
                return {
                    opcClientRequestId: "fake",
                    opcRequestId: "fake",
                    listObjects: {
                        objects: page.map((name) => ({
                            name,
                            size: this.objects.get(base + name)!.length,
                        })),
                        nextStartWith: names.length > limit ? names[limit] : undefined,
                    },
                };
            },
        };
    }
}
