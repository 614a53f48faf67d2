/**
 * A stand-in for OCI Object Storage on 127.0.0.1 (OCI itself cannot run here), speaking the parts
 * of its REST API model-vault uses, as the OCI SDK (oci-objectstorage 2.139.1) sends them:
 *
 * - `GET /n/{namespace}/b/{bucket}/o?prefix=&start=&limit=&fields=` (ListObjects): JSON
 *   `{objects: [{name, size}], nextStartWith}`;
 * - `GET` and `HEAD /n/{namespace}/b/{bucket}/o/{object}` (GetObject, HeadObject), with
 *   `Range: bytes=a-b` answered `206` and `Content-Range: bytes a-b/size`;
 * - every request must carry an OCI API signature (`Authorization: Signature version="1",...`
 *   over `x-date (request-target) host`, RSA-SHA256) that verifies under the configured public
 *   key, else `401 NotAuthenticated`.
 *
 * It serves a local folder as one bucket, can throttle every connection to a byte rate (so
 * parallel downloads matter, as on a real link), and can fail every n-th ranged GET with 503 or
 * 429 (so retries are exercised). Errors use OCI's JSON shape `{code, message}`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as path from "path";

/** Settings of {@link startObjectStore}. */
export interface StandinOptions {
    /** Folder whose files are the bucket's objects (object name = relative path). */
    readonly root: string;
    readonly namespace: string;
    readonly bucket: string;
    /** PEM public key that request signatures must verify under. */
    readonly publicKeyPem: string;
    /** TLS certificate and key (PEM); plain HTTP when absent. */
    readonly tls?: { readonly cert: string; readonly key: string };
    /** Bytes per second per connection; unlimited when absent. */
    readonly bytesPerSecondPerConnection?: number;
    /** Answer every n-th ranged object GET with `failStatus` instead. Defaults to never. */
    readonly failEvery?: number;
    /** 503 or 429. Defaults to 503. */
    readonly failStatus?: number;
    /** Send only the first half of every n-th ranged GET's bytes, then drop the connection. */
    readonly cutEvery?: number;
}

/** What the stand-in saw. */
export interface StandinStats {
    requests: number;
    rangedGets: number;
    injectedFailures: number;
    unauthenticated: number;
    bytesSent: number;
    maxConcurrentConnections: number;
    /** The most ranged GETs answered at the same time. */
    maxConcurrentGets: number;
    /** Ranged GETs cut short by `cutEvery`. */
    cutGets: number;
    /** Every ranged GET answered: object name and first byte. */
    ranges: { object: string; start: number }[];
}

/** A running stand-in. */
export interface Standin {
    /** `https://127.0.0.1:<port>` (or http). */
    readonly endpoint: string;
    readonly stats: StandinStats;
    close(): Promise<void>;
}

/** The signing string of OCI's API signature: `name: value` of each signed header. */
function signingString(req: http.IncomingMessage, headers: string[]): string {
    return headers
        .map((h) =>
            h === "(request-target)"
                ? `(request-target): ${req.method!.toLowerCase()} ${req.url}`
                : `${h}: ${req.headers[h] ?? ""}`,
        )
        .join("\n");
}

/** Whether the request carries a valid OCI API signature under `publicKey`. */
export function verifyOciSignature(
    req: http.IncomingMessage,
    publicKey: crypto.KeyObject,
): boolean {
    const auth = String(req.headers.authorization ?? "");
    if (!auth.startsWith("Signature ")) return false;
    const params = new Map<string, string>();
    for (const m of auth.slice("Signature ".length).matchAll(/(\w+)="([^"]*)"/g)) {
        params.set(m[1], m[2]);
    }
    const headers = (params.get("headers") ?? "").split(" ");
    if (params.get("algorithm") !== "rsa-sha256") return false;
    for (const required of ["(request-target)", "host"]) {
        if (!headers.includes(required)) return false;
    }
    if (!headers.includes("x-date") && !headers.includes("date")) return false;
    return crypto.verify(
        "sha256",
        Buffer.from(signingString(req, headers)),
        publicKey,
        Buffer.from(params.get("signature") ?? "", "base64"),
    );
}

function walk(root: string, rel = ""): { name: string; size: number }[] {
    const out: { name: string; size: number }[] = [];
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const name = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) out.push(...walk(root, name));
        else if (e.isFile()) out.push({ name, size: fs.statSync(path.join(root, name)).size });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the stand-in on 127.0.0.1 (a free port). */
export async function startObjectStore(opts: StandinOptions): Promise<Standin> {
    const publicKey = crypto.createPublicKey(opts.publicKeyPem);
    const stats: StandinStats = {
        requests: 0,
        rangedGets: 0,
        injectedFailures: 0,
        unauthenticated: 0,
        bytesSent: 0,
        maxConcurrentConnections: 0,
        maxConcurrentGets: 0,
        cutGets: 0,
        ranges: [],
    };
    let rangedCount = 0;
    let gets = 0;
    let objectGets = 0;
    let connections = 0;
    const base = `/n/${encodeURIComponent(opts.namespace)}/b/${encodeURIComponent(opts.bucket)}/o`;

    const error = (res: http.ServerResponse, status: number, code: string, message: string) => {
        const body = JSON.stringify({ code, message });
        res.writeHead(status, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "opc-request-id": crypto.randomBytes(8).toString("hex"),
        });
        res.end(body);
    };

    /** Sends bytes `start..end` of `file`; `written` runs once the last of them is handed on. */
    const send = async (
        res: http.ServerResponse,
        file: string,
        start: number,
        end: number,
        written: () => void,
        cut: boolean,
    ) => {
        const rate = opts.bytesPerSecondPerConnection;
        const fd = fs.openSync(file, "r");
        try {
            // A connection throttled to `rate` sends each slice when the link would have
            // finished the previous ones (`due`, from the response's first byte on). A timer
            // that fires late is caught up (up to 20 ms), so the delivered rate is the nominal
            // one, not less by the timers' lateness; no credit carries over between responses.
            const slice = 256 * 1024;
            let due = Date.now();
            for (let off = start; off <= end && !res.destroyed; ) {
                const buf = Buffer.allocUnsafe(Math.min(slice, end + 1 - off));
                const n = fs.readSync(fd, buf, 0, buf.length, off);
                if (rate) {
                    const now = Date.now();
                    const at = Math.max(due, now - 20);
                    due = at + (n / rate) * 1000;
                    if (at > now) await sleep(at - now);
                }
                if (cut && off - start >= (end + 1 - start) / 2) {
                    stats.cutGets++;
                    res.socket?.destroy();
                    return;
                }
                const flushed = res.write(n === buf.length ? buf : buf.subarray(0, n));
                stats.bytesSent += n;
                off += n;
                if (off > end) written();
                if (!flushed) await new Promise((r) => res.once("drain", r));
            }
        } finally {
            fs.closeSync(fd);
        }
        res.end();
    };

    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
        stats.requests++;
        if (!verifyOciSignature(req, publicKey)) {
            stats.unauthenticated++;
            return error(
                res,
                401,
                "NotAuthenticated",
                "The required information to complete authentication was not provided or was incorrect.",
            );
        }
        const url = new URL(req.url!, "http://standin");
        if (req.method === "GET" && url.pathname === base) {
            const prefix = url.searchParams.get("prefix") ?? "";
            const start = url.searchParams.get("start") ?? "";
            const limit = Math.min(Number(url.searchParams.get("limit") ?? 1000), 1000);
            const all = walk(opts.root).filter((o) => o.name.startsWith(prefix) && o.name >= start);
            const page = all.slice(0, limit);
            const body = JSON.stringify({
                objects: page,
                nextStartWith: all.length > limit ? all[limit].name : undefined,
            });
            res.writeHead(200, {
                "content-type": "application/json",
                "content-length": Buffer.byteLength(body),
            });
            return res.end(body);
        }
        if (
            !url.pathname.startsWith(`${base}/`) ||
            (req.method !== "GET" && req.method !== "HEAD")
        ) {
            return error(res, 404, "NotFound", `no route for ${req.method} ${url.pathname}`);
        }
        const name = decodeURIComponent(url.pathname.slice(base.length + 1));
        const file = path.join(opts.root, name);
        if (name.split("/").includes("..") || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
            return error(
                res,
                404,
                "ObjectNotFound",
                `The object '${name}' was not found in the bucket '${opts.bucket}'`,
            );
        }
        const size = fs.statSync(file).size;
        const ranged = req.headers.range !== undefined;
        if (
            req.method === "GET" &&
            ranged &&
            opts.failEvery &&
            ++objectGets % opts.failEvery === 0
        ) {
            stats.injectedFailures++;
            const status = opts.failStatus ?? 503;
            if (status === 429) res.setHeader("retry-after", "0");
            return error(
                res,
                status,
                status === 429 ? "TooManyRequests" : "ServiceUnavailable",
                "injected by the stand-in",
            );
        }
        let start = 0;
        let end = size - 1;
        let status = 200;
        const range = req.headers.range;
        if (range !== undefined) {
            const m = /^bytes=(\d+)-(\d*)$/.exec(range);
            if (!m || Number(m[1]) >= size) {
                res.setHeader("content-range", `bytes */${size}`);
                return error(res, 416, "InvalidRange", `range ${range} is not satisfiable`);
            }
            start = Number(m[1]);
            end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
            status = 206;
            stats.rangedGets++;
            stats.ranges.push({ object: name, start });
        }
        const headers: http.OutgoingHttpHeaders = {
            "content-type": "application/octet-stream",
            "content-length": end - start + 1,
            "accept-ranges": "bytes",
            etag: `"${size}"`,
            "opc-request-id": crypto.randomBytes(8).toString("hex"),
        };
        if (status === 206) headers["content-range"] = `bytes ${start}-${end}/${size}`;
        res.writeHead(status, headers);
        if (req.method === "HEAD") return res.end();
        // A ranged GET is in flight from its arrival until its last byte is written (the client
        // cannot have that byte, and start its next GET on the connection slot, any earlier).
        let inFlight = status === 206;
        const done = () => {
            if (inFlight) gets--;
            inFlight = false;
        };
        if (inFlight) {
            stats.maxConcurrentGets = Math.max(stats.maxConcurrentGets, ++gets);
            res.once("close", done);
        }
        const cut = inFlight && !!opts.cutEvery && ++rangedCount % opts.cutEvery === 0;
        send(res, file, start, end, done, cut).catch(() => res.destroy());
    };

    const server = opts.tls
        ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
        : http.createServer(handler);
    server.keepAliveTimeout = 30_000;
    server.on(opts.tls ? "secureConnection" : "connection", (s: net.Socket) => {
        connections++;
        stats.maxConcurrentConnections = Math.max(stats.maxConcurrentConnections, connections);
        s.once("close", () => connections--);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
        endpoint: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
        stats,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** An OCI API signing identity for the stand-in: an RSA key and a config file naming it. */
export interface ApiIdentity {
    readonly configFile: string;
    readonly publicKeyPem: string;
}

/** Writes an OCI SDK config file (`[DEFAULT]` profile) with a fresh RSA key into `dir`. */
/**
 * The model-vault CLI options that reach a stand-in: the local data key, config-file auth as
 * `configFile`'s identity, and the stand-in's endpoint.
 */
export function standinAccessArgs(key: string, configFile: string, endpoint: string): string[] {
    return [
        "--key",
        `file:${key}`,
        "--auth",
        "config",
        "--config-file",
        configFile,
        "--os-endpoint",
        endpoint,
    ];
}

export function makeApiIdentity(dir: string, region = "eu-frankfurt-1"): ApiIdentity {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const keyFile = path.join(dir, "oci_api_key.pem");
    fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const der = publicKey.export({ type: "spki", format: "der" });
    const fingerprint = (
        crypto.createHash("md5").update(der).digest("hex").match(/../g) ?? []
    ).join(":");
    const configFile = path.join(dir, "oci_config");
    fs.writeFileSync(
        configFile,
        [
            "[DEFAULT]",
            "user=ocid1.user.oc1..standin",
            `fingerprint=${fingerprint}`,
            "tenancy=ocid1.tenancy.oc1..standin",
            `region=${region}`,
            `key_file=${keyFile}`,
            "",
        ].join("\n"),
    );
    return {
        configFile,
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
}

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI. */
export function selfSignedCert(dir: string): { cert: string; key: string; certFile: string } {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { execFileSync } = require("child_process") as typeof import("child_process");
    const certFile = path.join(dir, "standin.crt");
    const keyFile = path.join(dir, "standin.key");
    execFileSync(
        "openssl",
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            keyFile,
            "-out",
            certFile,
        ],
        { stdio: "ignore" },
    );
    return {
        cert: fs.readFileSync(certFile, "utf8"),
        key: fs.readFileSync(keyFile, "utf8"),
        certFile,
    };
}
