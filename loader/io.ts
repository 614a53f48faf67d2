/**
 * Byte plumbing with bounded memory: exact-length reads from files and from streams (the
 * manifest, and GetObject bodies).
 */
import * as fsp from "fs/promises";
import { Readable } from "stream";

/** Sequential reader of one stored object. */
export interface ObjectReader {
    /**
     * Reads the next `length` bytes into `buf` from offset 0. Returns fewer only at the end of
     * the object (0 once it is exhausted).
     */
    read(buf: Buffer, length: number): Promise<number>;
    close(): Promise<void>;
}

/** Reads a local file with positional reads (no stream buffers, no copies beyond the kernel's). */
export class FileObjectReader implements ObjectReader {
    private position = 0;

    private constructor(private readonly fh: fsp.FileHandle) {}

    static async open(filePath: string): Promise<FileObjectReader> {
        return new FileObjectReader(await fsp.open(filePath, "r"));
    }

    async read(buf: Buffer, length: number): Promise<number> {
        let got = 0;
        while (got < length) {
            const { bytesRead } = await this.fh.read(buf, got, length - got, this.position);
            if (bytesRead === 0) break;
            got += bytesRead;
            this.position += bytesRead;
        }
        return got;
    }

    async close(): Promise<void> {
        await this.fh.close();
    }
}

/**
 * Reads from a stream of arbitrary-sized pieces (an HTTP response body) into exact-length
 * records. Pulling through the async iterator gives backpressure: the socket is read only as
 * fast as records are consumed, so at most one piece is buffered here.
 */
export class StreamObjectReader implements ObjectReader {
    private readonly it: AsyncIterator<Uint8Array | string>;
    private pending: Buffer | undefined;
    private done = false;

    constructor(source: AsyncIterable<Uint8Array | string>) {
        this.it = source[Symbol.asyncIterator]();
    }

    /** Wraps a Node or WHATWG readable stream, as the OCI SDK may return either. */
    static from(body: Readable | ReadableStream | AsyncIterable<Uint8Array>): StreamObjectReader {
        if (body instanceof Readable || Symbol.asyncIterator in (body as object)) {
            return new StreamObjectReader(body as AsyncIterable<Uint8Array>);
        }
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        return new StreamObjectReader(Readable.fromWeb(body as any));
    }

    async read(buf: Buffer, length: number): Promise<number> {
        let got = 0;
        while (got < length) {
            if (!this.pending || this.pending.length === 0) {
                if (this.done) break;
                const next = await this.it.next();
                if (next.done) {
                    this.done = true;
                    break;
                }
                const v = next.value;
                this.pending =
                    typeof v === "string"
                        ? Buffer.from(v)
                        : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
                continue;
            }
            const n = Math.min(length - got, this.pending.length);
            this.pending.copy(buf, got, 0, n);
            this.pending = this.pending.subarray(n);
            got += n;
        }
        return got;
    }

    async close(): Promise<void> {
        this.pending = undefined;
        if (!this.done) {
            this.done = true;
            await this.it.return?.();
        }
    }
}
