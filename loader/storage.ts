/**
 * Where encrypted models live: a local folder or an OCI Object Storage prefix, behind one
 * interface. Layout, the same in both: `<root>/manifest.json` and `<root>/data/<index>.enc`.
 * Plaintext never goes to Object Storage; decrypt always writes a local folder (see vault.ts).
 */
import * as fs from "fs";
import * as fsp from "fs/promises";
import * as path from "path";
import { Readable } from "stream";
import type { Range } from "oci-common";
import type { ObjectStorageClient } from "oci-objectstorage";

import { StorageError, TamperError, UsageError } from "./errors";
import { MANIFEST_NAME, MAX_MANIFEST_BYTES } from "./format";
import type { TaskSource } from "./chunks";
import { FileObjectReader, ObjectReader, StreamObjectReader } from "./io";

/** One object (or file) under a model root. */
export interface StoredObject {
    /** Name relative to the root, `/`-separated. */
    readonly name: string;
    /** Bytes; -1 for something that is not a regular file (symlink, device...). */
    readonly size: number;
}

/** Read side of an encrypted model. */
export interface ModelSource {
    /** Where it is, for messages. */
    readonly location: string;
    /** The manifest bytes; {@link TamperError} if there is none. */
    readManifest(): Promise<Buffer>;
    /** Every object under the root, including ones the manifest does not list. */
    list(): Promise<StoredObject[]>;
    open(name: string): Promise<ObjectReader>;
    /**
     * How chunk runners read object `name` of `size` bytes (see chunks.ts): a file descriptor,
     * an HTTPS URL for ranged GETs from the runner's thread, or ranges fetched by {@link fetchRange}.
     */
    openRanged(name: string, size: number): Promise<RangedObject>;
    /**
     * Bytes `[start, start + length)` of object `name`, listed at `objectSize` bytes (for sources
     * of kind `host`). An object whose size changed since the listing is a {@link TamperError}.
     */
    fetchRange(
        name: string,
        start: number,
        length: number,
        objectSize: number,
    ): Promise<Uint8Array>;
    /** Headers for a ranged GET of `url` (for sources of kind `http`). */
    sign(url: string, headers: Record<string, string>): Promise<Record<string, string>>;
}

/** An object opened for ranged reads by chunk runners. */
export interface RangedObject {
    readonly source: TaskSource;
    close(): Promise<void>;
}

/** A ciphertext object being written by chunk runners with positional writes. */
export interface ObjectFile {
    /** Descriptor the runners write records into. */
    readonly fd: number;
    /** Closes the object and gives it its final name. */
    commit(): Promise<void>;
    /** Closes the object without naming it (a failed run; {@link ModelTarget.abort} removes it). */
    discard(): Promise<void>;
}

/** Write side of an encrypted model. */
export interface ModelTarget {
    readonly location: string;
    /** Refuses a target that already holds anything, so models are never mixed. */
    prepare(): Promise<void>;
    writeObject(name: string, size: number, body: AsyncIterable<Buffer>): Promise<void>;
    /**
     * Opens object `name` for positional writes, when the target supports them (a local folder):
     * then threads write their records at their offsets, in any order.
     */
    createObject?(name: string): Promise<ObjectFile>;
    /** Writes the manifest, last, which is what makes the model loadable. */
    commit(manifest: Buffer): Promise<void>;
    /** Removes whatever a failed run wrote (best effort). */
    abort(): Promise<void>;
}

/** The `oci-os://` URI of a model prefix, parsed. */
export interface OciLocation {
    readonly namespace: string;
    readonly bucket: string;
    /** Object-name prefix without leading or trailing `/`; may be empty (bucket root). */
    readonly prefix: string;
}

/** URI scheme of OCI Object Storage model locations. */
export const OCI_SCHEME = "oci-os://";

/** Whether a location argument names Object Storage rather than a local folder. */
export function isOciUri(location: string): boolean {
    return location.startsWith(OCI_SCHEME);
}

/** Parses `oci-os://namespace/bucket[/prefix]`. */
export function parseOciUri(uri: string): OciLocation {
    if (!isOciUri(uri)) throw new UsageError(`${uri} is not an ${OCI_SCHEME} URI`);
    const rest = uri.slice(OCI_SCHEME.length);
    const [namespace, bucket, ...prefixParts] = rest.split("/");
    if (!namespace || !/^[A-Za-z0-9._-]+$/.test(namespace)) {
        throw new UsageError(
            `${uri}: expected ${OCI_SCHEME}<namespace>/<bucket>/<prefix>; bad namespace`,
        );
    }
    if (!bucket || !/^[A-Za-z0-9._-]+$/.test(bucket)) {
        throw new UsageError(
            `${uri}: expected ${OCI_SCHEME}<namespace>/<bucket>/<prefix>; bad bucket`,
        );
    }
    const prefix = prefixParts.filter((p) => p !== "").join("/");
    if (prefixParts.some((p) => p === "." || p === "..")) {
        throw new UsageError(`${uri}: the prefix may not contain '.' or '..' segments`);
    }
    return { namespace, bucket, prefix };
}

/** Walks a folder without following symlinks; returns every entry that is not a folder. */
export async function walk(root: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const visit = async (rel: string): Promise<void> => {
        const entries = await fsp.readdir(path.join(root, rel), { withFileTypes: true });
        for (const e of entries) {
            const name = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) await visit(name);
            else if (e.isFile())
                out.push({ name, size: (await fsp.lstat(path.join(root, name))).size });
            else out.push({ name, size: -1 });
        }
    };
    await visit("");
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function ioError(what: string, e: unknown): StorageError {
    return new StorageError(`${what}: ${(e as Error).message}`);
}

/** An encrypted model in a local folder. */
export class LocalModelSource implements ModelSource {
    constructor(public readonly location: string) {}

    async readManifest(): Promise<Buffer> {
        let st: fs.Stats;
        try {
            st = await fsp.stat(this.location);
        } catch {
            throw new UsageError(`source folder ${this.location} does not exist`);
        }
        if (!st.isDirectory()) throw new UsageError(`source ${this.location} is not a folder`);
        const p = path.join(this.location, MANIFEST_NAME);
        let mst: fs.Stats;
        try {
            mst = await fsp.lstat(p);
        } catch {
            throw new TamperError(
                `${p} is missing: not an encrypted model, or its manifest was removed`,
            );
        }
        if (!mst.isFile()) throw new TamperError(`${p} is not a regular file`);
        if (mst.size > MAX_MANIFEST_BYTES)
            throw new TamperError(`${p} is larger than ${MAX_MANIFEST_BYTES} bytes`);
        try {
            return await fsp.readFile(p);
        } catch (e) {
            throw ioError(`cannot read ${p}`, e);
        }
    }

    async list(): Promise<StoredObject[]> {
        try {
            return await walk(this.location);
        } catch (e) {
            throw ioError(`cannot list ${this.location}`, e);
        }
    }

    async open(name: string): Promise<ObjectReader> {
        try {
            return await FileObjectReader.open(path.join(this.location, name));
        } catch (e) {
            throw ioError(`cannot open ${path.join(this.location, name)}`, e);
        }
    }

    async openRanged(name: string): Promise<RangedObject> {
        const p = path.join(this.location, name);
        let fh: fsp.FileHandle;
        try {
            // O_NOFOLLOW: the listing saw a regular file; a symlink swapped in since is refused.
            fh = await fsp.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
        } catch (e) {
            throw ioError(`cannot open ${p}`, e);
        }
        return { source: { kind: "fd", fd: fh.fd }, close: () => fh.close() };
    }

    async fetchRange(): Promise<Uint8Array> {
        throw new Error("a local model is read by the chunk runners directly");
    }

    async sign(): Promise<Record<string, string>> {
        throw new Error("a local model needs no signed requests");
    }
}

/** Writes an encrypted model into a new or empty local folder. */
export class LocalModelTarget implements ModelTarget {
    private readonly written: string[] = [];

    constructor(public readonly location: string) {}

    async prepare(): Promise<void> {
        await fsp.mkdir(this.location, { recursive: true, mode: 0o755 });
        const entries = await fsp.readdir(this.location);
        if (entries.length > 0) {
            throw new UsageError(`destination ${this.location} is not empty; use a new folder`);
        }
    }

    async writeObject(name: string, _size: number, body: AsyncIterable<Buffer>): Promise<void> {
        const final = path.join(this.location, name);
        await fsp.mkdir(path.dirname(final), { recursive: true, mode: 0o755 });
        const tmp = `${final}.partial-${process.pid}`;
        this.written.push(tmp);
        const fh = await fsp.open(tmp, "wx", 0o644);
        try {
            for await (const chunk of body) await fh.write(chunk, 0, chunk.length);
        } finally {
            await fh.close();
        }
        await fsp.rename(tmp, final);
        this.written.push(final);
    }

    async createObject(name: string): Promise<ObjectFile> {
        const final = path.join(this.location, name);
        await fsp.mkdir(path.dirname(final), { recursive: true, mode: 0o755 });
        const tmp = `${final}.partial-${process.pid}`;
        this.written.push(tmp);
        const fh = await fsp.open(tmp, "wx", 0o644);
        return {
            fd: fh.fd,
            commit: async () => {
                await fh.close();
                await fsp.rename(tmp, final);
                this.written.push(final);
            },
            discard: () => fh.close().catch(() => undefined),
        };
    }

    async commit(manifest: Buffer): Promise<void> {
        const final = path.join(this.location, MANIFEST_NAME);
        const tmp = `${final}.partial-${process.pid}`;
        this.written.push(tmp);
        await fsp.writeFile(tmp, manifest, { flag: "wx", mode: 0o644 });
        await fsp.rename(tmp, final);
    }

    async abort(): Promise<void> {
        await Promise.all(
            this.written.map((f) => fsp.rm(f, { force: true }).catch(() => undefined)),
        );
    }
}

/** The Object Storage calls model-vault makes; the SDK's `ObjectStorageClient` satisfies it. */
export type ObjectStorageLike = Pick<
    ObjectStorageClient,
    "getObject" | "putObject" | "listObjects" | "headObject" | "deleteObject"
>;

function statusOf(e: unknown): number | undefined {
    return (e as { statusCode?: number }).statusCode;
}

/** Base of the Object Storage source and target: names and listing. */
abstract class OciModelBase {
    public readonly location: string;

    constructor(
        protected readonly client: ObjectStorageLike,
        protected readonly loc: OciLocation,
    ) {
        this.location = `${OCI_SCHEME}${loc.namespace}/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ""}`;
    }

    protected objectName(name: string): string {
        return this.loc.prefix ? `${this.loc.prefix}/${name}` : name;
    }

    async list(limit?: number): Promise<StoredObject[]> {
        const prefix = this.loc.prefix ? `${this.loc.prefix}/` : undefined;
        const out: StoredObject[] = [];
        let start: string | undefined;
        try {
            do {
                const res = await this.client.listObjects({
                    namespaceName: this.loc.namespace,
                    bucketName: this.loc.bucket,
                    prefix,
                    start,
                    fields: "name,size",
                    limit: limit ?? 1000,
                });
                for (const o of res.listObjects.objects) {
                    out.push({ name: o.name.slice(prefix?.length ?? 0), size: o.size ?? -1 });
                }
                start = res.listObjects.nextStartWith;
            } while (start && (limit === undefined || out.length < limit));
        } catch (e) {
            throw ioError(`cannot list ${this.location}`, e);
        }
        return out;
    }
}

/**
 * Direct HTTPS access to Object Storage for chunk runners: the service endpoint and a signer
 * (the OCI SDK's request signer with the run's credentials). Runners send ranged GETs from their
 * own threads and ask the thread holding the credentials to sign each one.
 */
export interface OciRangedAccess {
    /** The Object Storage endpoint, e.g. `https://objectstorage.eu-frankfurt-1.oraclecloud.com`. */
    readonly endpoint: string;
    /** Headers (authorization, date, host...) that sign a GET of `url` with `headers`. */
    sign(url: string, headers: Record<string, string>): Promise<Record<string, string>>;
}

/** Refuses an Object Storage endpoint that is not HTTPS, except on the loopback interface. */
export function checkObjectStorageEndpoint(endpoint: string): string {
    let u: URL;
    try {
        u = new URL(endpoint);
    } catch {
        throw new UsageError(`Object Storage endpoint ${JSON.stringify(endpoint)} is not a URL`);
    }
    const loopback =
        u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
    if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
        throw new UsageError(
            `Object Storage endpoint ${endpoint} is not https:// (plain http is accepted on 127.0.0.1 only)`,
        );
    }
    return endpoint.replace(/\/+$/, "");
}

/**
 * An encrypted model under an Object Storage prefix. The manifest and listing go through the
 * SDK client; chunk data is read with ranged GETs, from the runners' threads when
 * {@link OciRangedAccess} is given, else through the client (`GetObject` with `Range`).
 */
export class OciModelSource extends OciModelBase implements ModelSource {
    constructor(
        client: ObjectStorageLike,
        loc: OciLocation,
        private readonly ranged?: OciRangedAccess,
    ) {
        super(client, loc);
    }

    /** The URL of an object under this source's prefix. */
    objectUrl(name: string): string {
        const enc = encodeURIComponent;
        return (
            `${this.ranged!.endpoint}/n/${enc(this.loc.namespace)}/b/${enc(this.loc.bucket)}` +
            `/o/${enc(this.objectName(name))}`
        );
    }

    async openRanged(name: string, size: number): Promise<RangedObject> {
        return {
            source: this.ranged
                ? { kind: "http", url: this.objectUrl(name), objectSize: size }
                : { kind: "host", objectSize: size },
            close: async () => undefined,
        };
    }

    async fetchRange(
        name: string,
        start: number,
        length: number,
        objectSize: number,
    ): Promise<Uint8Array> {
        const tamper = (message: string) => Object.assign(new Error(message), { kind: "tamper" });
        let res;
        try {
            res = await this.client.getObject({
                namespaceName: this.loc.namespace,
                bucketName: this.loc.bucket,
                objectName: this.objectName(name),
                // The SDK reads `startByte`/`endByte` from its Range class (oci-common 2.139.1
                // request-generator.js) and sends `Range: bytes=<start>-<end>`.
                range: { startByte: start, endByte: start + length - 1 } as unknown as Range,
            });
        } catch (e) {
            if (statusOf(e) === 404) throw tamper(`${this.location}/${name} is missing`);
            throw ioError(`cannot read ${this.location}/${name}`, e);
        }
        // The SDK parses Content-Range into a Range whose contentLength is the object's size.
        const total = (res.contentRange as { contentLength?: number | null } | undefined)
            ?.contentLength;
        if (typeof total === "number" && total !== objectSize) {
            throw tamper(
                `${this.location}/${name} ${total < objectSize ? "is truncated" : "was extended"}: ` +
                    `${total} bytes, expected ${objectSize} (it changed after it was listed)`,
            );
        }
        const reader = StreamObjectReader.from(res.value);
        try {
            const buf = Buffer.allocUnsafeSlow(length);
            const n = await reader.read(buf, length);
            if (n === length && (await reader.read(Buffer.alloc(1), 1)) > 0) {
                throw new StorageError(
                    `${this.location}/${name}: more bytes than the range asked for`,
                );
            }
            return n === length ? buf : buf.subarray(0, n);
        } finally {
            await reader.close();
        }
    }

    async sign(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
        if (!this.ranged) throw new Error("no direct Object Storage access configured");
        return this.ranged.sign(url, headers);
    }

    async readManifest(): Promise<Buffer> {
        const reader = await this.open(MANIFEST_NAME);
        try {
            const buf = Buffer.allocUnsafe(MAX_MANIFEST_BYTES + 1);
            const n = await reader.read(buf, buf.length);
            if (n > MAX_MANIFEST_BYTES) {
                throw new TamperError(
                    `manifest at ${this.location} is larger than ${MAX_MANIFEST_BYTES} bytes`,
                );
            }
            return Buffer.from(buf.subarray(0, n));
        } finally {
            await reader.close();
        }
    }

    async open(name: string): Promise<ObjectReader> {
        try {
            const res = await this.client.getObject({
                namespaceName: this.loc.namespace,
                bucketName: this.loc.bucket,
                objectName: this.objectName(name),
            });
            return StreamObjectReader.from(res.value);
        } catch (e) {
            if (statusOf(e) === 404) {
                throw new TamperError(`${this.location}/${name} is missing`);
            }
            throw ioError(`cannot read ${this.location}/${name}`, e);
        }
    }
}

/** Writes an encrypted model under an empty Object Storage prefix with streamed PutObject. */
export class OciModelTarget extends OciModelBase implements ModelTarget {
    private readonly written: string[] = [];

    async prepare(): Promise<void> {
        const existing = await this.list(1);
        if (existing.length > 0) {
            throw new UsageError(
                `destination ${this.location} already holds objects (${existing[0].name}); use a new prefix`,
            );
        }
    }

    private async put(name: string, size: number, body: Readable | Buffer): Promise<void> {
        const objectName = this.objectName(name);
        this.written.push(objectName);
        try {
            await this.client.putObject({
                namespaceName: this.loc.namespace,
                bucketName: this.loc.bucket,
                objectName,
                contentLength: size,
                putObjectBody: body,
                // Never overwrite: a concurrent writer to the same prefix fails instead of mixing models.
                ifNoneMatch: "*",
            });
        } catch (e) {
            throw ioError(`cannot write ${this.location}/${name}`, e);
        }
    }

    async writeObject(name: string, size: number, body: AsyncIterable<Buffer>): Promise<void> {
        await this.put(name, size, Readable.from(body, { objectMode: false }));
    }

    async commit(manifest: Buffer): Promise<void> {
        await this.put(MANIFEST_NAME, manifest.length, manifest);
    }

    async abort(): Promise<void> {
        await Promise.all(
            this.written.map((objectName) =>
                this.client
                    .deleteObject({
                        namespaceName: this.loc.namespace,
                        bucketName: this.loc.bucket,
                        objectName,
                    })
                    .catch(() => undefined),
            ),
        );
    }
}
