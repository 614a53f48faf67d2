/**
 * Certificates for the real suites, made with openssl from the rendered cert-manager Certificate
 * objects (subject CN, DNS and IP SANs, usages, ECDSA P-256 like their `privateKey`), signed by a
 * CA made here as cert-manager's CA ClusterIssuer would sign them. cert-manager itself does not
 * run here (its issuance and renewal are not exercised; the files' layout and contents are).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { K8sObject, findObject } from "../support/plan";
import { podDir, projectSecret } from "./stack";

type Any = any;

/** A key and certificate on disk. */
export interface Issued {
    readonly key: string;
    readonly cert: string;
}

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
}

/** A self-signed CA (ECDSA P-256, like the rendered CA Certificate's privateKey). */
export function makeCa(dir: string, name: string, cn: string): Issued {
    const key = path.join(dir, `${name}.key`);
    const cert = path.join(dir, `${name}.crt`);
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], dir);
    openssl(
        [
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            `/CN=${cn}`,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        dir,
    );
    return { key, cert };
}

/** A leaf signed by `ca` with the subject, SANs and usages of a rendered Certificate's spec. */
export function issue(dir: string, name: string, ca: Issued, spec: Any): Issued {
    const key = path.join(dir, `${name}.key`);
    const csr = path.join(dir, `${name}.csr`);
    const cert = path.join(dir, `${name}.crt`);
    const ext = path.join(dir, `${name}.ext`);
    const eku = (spec.usages as string[])
        .filter((u) => u.endsWith(" auth"))
        .map((u) => (u === "server auth" ? "serverAuth" : "clientAuth"));
    const sans = [
        ...((spec.dnsNames as string[] | undefined) ?? []).map((d) => `DNS:${d}`),
        ...((spec.ipAddresses as string[] | undefined) ?? []).map((a) => `IP:${a}`),
    ];
    fs.writeFileSync(
        ext,
        [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            `extendedKeyUsage=${eku.join(",")}`,
            ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
        ].join("\n"),
    );
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], dir);
    openssl(["req", "-new", "-key", key, "-out", csr, "-subj", `/CN=${spec.commonName}`], dir);
    openssl(
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca.cert,
            "-CAkey",
            ca.key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            ext,
        ],
        dir,
    );
    return { key, cert };
}

/** The serial number of a certificate file (hex, upper case, as openssl prints it). */
export function serialOf(cert: string): string {
    return execFileSync("openssl", ["x509", "-noout", "-serial", "-in", cert], { encoding: "utf8" })
        .trim()
        .replace(/^serial=/, "")
        .toUpperCase();
}

/**
 * Writes a cert-manager Secret (tls.crt, tls.key, ca.crt) into `dir` as the kubelet mounts and
 * updates it (the `..data` layout, an atomic swap on every call), for the pod user.
 */
export function mountTls(dir: string, leaf: Issued, ca: Issued): void {
    podDir(dir);
    projectSecret(dir, {
        "tls.crt": fs.readFileSync(leaf.cert, "utf8"),
        "tls.key": fs.readFileSync(leaf.key, "utf8"),
        "ca.crt": fs.readFileSync(ca.cert, "utf8"),
    });
}

/** A cluster CA and the leaves of its rendered Certificates. */
export class Pki {
    readonly ca: Issued;
    private n = 0;

    constructor(
        readonly dir: string,
        name: string,
    ) {
        podDir(dir);
        this.ca = makeCa(dir, `${name}-ca`, `test mTLS CA (${name})`);
    }

    /** The spec of a rendered Certificate. */
    static spec(objects: readonly K8sObject[], name: string, namespace: string): Any {
        return (findObject(objects as K8sObject[], "Certificate", name, namespace) as Any).spec;
    }

    /** Issues a leaf for `spec` (a rendered Certificate's, possibly edited). */
    issue(name: string, spec: Any): Issued {
        return issue(this.dir, `${name}-${++this.n}`, this.ca, spec);
    }

    /** Issues the rendered Certificate and mounts it into `dir`. */
    mount(objects: readonly K8sObject[], name: string, namespace: string, dir: string): Issued {
        const leaf = this.issue(name, Pki.spec(objects, name, namespace));
        mountTls(dir, leaf, this.ca);
        return leaf;
    }
}

/** An answer over TLS. */
export interface TlsReply {
    readonly status: number;
    readonly text: string;
    /** Serial number of the server's certificate (hex, upper case). */
    readonly serverSerial: string;
}

/**
 * A client's TLS options: the server verified against `ca` under `servername`, `client`'s
 * certificate presented when given, no connection reuse (each request its own handshake).
 */
export function clientTlsOptions(opts: {
    readonly ca: Issued;
    readonly servername: string;
    readonly client?: Issued;
}): https.RequestOptions {
    return {
        servername: opts.servername,
        ca: fs.readFileSync(opts.ca.cert),
        ...(opts.client
            ? { cert: fs.readFileSync(opts.client.cert), key: fs.readFileSync(opts.client.key) }
            : {}),
        agent: false,
    };
}

/** One HTTPS request to 127.0.0.1:`port`, verifying the server against `ca` and `servername`. */
export function tlsRequest(opts: {
    readonly port: number;
    readonly ca: Issued;
    readonly servername: string;
    /** Client certificate to present; none when omitted. */
    readonly client?: Issued;
    readonly method: string;
    readonly path: string;
    readonly body?: unknown;
    readonly headers?: Record<string, string>;
}): Promise<TlsReply> {
    return new Promise((resolve, reject) => {
        const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
        const req = https.request(
            {
                host: "127.0.0.1",
                port: opts.port,
                method: opts.method,
                path: opts.path,
                ...clientTlsOptions(opts),
                headers: {
                    ...(data ? { "content-type": "application/json" } : {}),
                    ...opts.headers,
                },
            },
            (res) => {
                const serverSerial = String(
                    (res.socket as import("tls").TLSSocket).getPeerCertificate().serialNumber ?? "",
                ).toUpperCase();
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, text, serverSerial }));
            },
        );
        req.on("error", reject);
        req.setTimeout(120_000, () =>
            req.destroy(new Error(`${opts.method} ${opts.path} timed out`)),
        );
        req.end(data);
    });
}
