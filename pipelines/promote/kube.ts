/**
 * The few Kubernetes API calls promotion makes, with the pod's own ServiceAccount token. Node
 * built-ins only. {@link KubeApi} is the seam tests replace.
 */
import { readFileSync } from "fs";
import * as https from "https";

/** The parts of a Kubernetes object promotion reads; everything else is passed through. */
export interface KubeObject {
    metadata?: {
        resourceVersion?: string;
        annotations?: Record<string, string>;
        [key: string]: unknown;
    };
    data?: Record<string, string>;
    [key: string]: unknown;
}

/** The calls promotion needs; each matches one verb the rollout Role grants. */
export interface KubeApi {
    /** `get`. */
    get(path: string): Promise<KubeObject>;
    /** `update` (full replace, with `metadata.resourceVersion` for optimistic concurrency). */
    put(path: string, body: unknown): Promise<KubeObject>;
    /** `patch` (strategic merge). */
    patch(path: string, body: unknown): Promise<KubeObject>;
}

/** An API error with the HTTP status, so callers can say what to do. */
export class KubeError extends Error {
    constructor(
        public readonly status: number,
        message: string,
    ) {
        super(message);
        this.name = "KubeError";
    }
}

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A client for the API server the pod runs under (`KUBERNETES_SERVICE_HOST`/`_PORT`). */
export function inClusterApi(env: NodeJS.ProcessEnv = process.env): KubeApi {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    if (!host) {
        throw new Error(
            "KUBERNETES_SERVICE_HOST is not set; promotion runs inside the cluster, as the rollout ServiceAccount",
        );
    }
    let token: string;
    let ca: Buffer;
    try {
        token = readFileSync(`${saDir}/token`, "utf8").trim();
        ca = readFileSync(`${saDir}/ca.crt`);
    } catch {
        throw new Error(
            `no ServiceAccount token in ${saDir}; run the pipeline with service account slp-rollout`,
        );
    }
    const call = (method: string, path: string, body?: unknown, contentType = "application/json") =>
        new Promise<KubeObject>((resolve, reject) => {
            const data = body === undefined ? undefined : JSON.stringify(body);
            const req = https.request(
                {
                    host: host.includes(":") ? `[${host}]` : host,
                    port: Number(port),
                    method,
                    path,
                    ca,
                    timeout: 30000,
                    headers: {
                        authorization: `Bearer ${token}`,
                        accept: "application/json",
                        ...(data === undefined
                            ? {}
                            : {
                                  "content-type": contentType,
                                  "content-length": Buffer.byteLength(data),
                              }),
                    },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        const status = res.statusCode ?? 0;
                        if (status < 200 || status >= 300) {
                            let msg = text;
                            try {
                                msg = (JSON.parse(text) as { message?: string }).message ?? text;
                            } catch {
                                // not a Status object: keep the raw text
                            }
                            reject(
                                new KubeError(status, `${method} ${path}: HTTP ${status}: ${msg}`),
                            );
                            return;
                        }
                        try {
                            resolve(JSON.parse(text) as KubeObject);
                        } catch {
                            reject(
                                new KubeError(status, `${method} ${path}: response is not JSON`),
                            );
                        }
                    });
                },
            );
            req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
            req.on("error", reject);
            if (data !== undefined) req.write(data);
            req.end();
        });
    return {
        get: (p) => call("GET", p),
        put: (p, b) => call("PUT", p, b),
        patch: (p, b) => call("PATCH", p, b, "application/strategic-merge-patch+json"),
    };
}
