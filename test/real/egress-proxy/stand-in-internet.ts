/**
 * Stand-in for the internet and the cluster DNS, run inside the suite's network namespace (as root,
 * for port 53): an authoritative DNS server answering A, AAAA, CNAME and PTR from a zone file the
 * suite writes, TLS origins on 443 and 8443 and a plain HTTP origin on 80 that accept on every
 * address of the namespace and report which address and port a connection reached, and a bridge
 * from a Unix socket to the proxy's port (Unix sockets cross network namespaces, so the suite's
 * client reaches the proxy without a link out of the namespace). Every DNS query and every origin
 * connection is appended to the events file as one JSON line.
 *
 * Usage: stand-in-internet.ts <zone.json> <events.jsonl> <bridge.sock> <proxyPort> <key.pem> <cert.pem>
 */
import * as dgram from "dgram";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as tls from "tls";

/** Records of one name; `A` may change per query (`sequence`) to model a rebinding answer. */
export interface ZoneEntry {
    A?: string[];
    AAAA?: string[];
    CNAME?: string;
    PTR?: string;
    /** A records of the 1st, 2nd, ... query for A (the last repeats). */
    sequenceA?: string[][];
}
export type Zone = Record<string, ZoneEntry>;

/** One line of the events file. */
export type InternetEvent =
    | { kind: "dns"; name: string; type: string }
    | { kind: "origin"; port: number; local: string; sni?: string; request?: string };

const typeNames: Record<number, string> = { 1: "A", 5: "CNAME", 12: "PTR", 28: "AAAA" };

/** The 16 bytes of an IPv6 address (`::` and a dotted IPv4 tail allowed). */
export function ipv6Bytes(addr: string): Buffer {
    let text = addr;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
        const o = v4[1].split(".").map(Number);
        text = `${text.slice(0, -v4[1].length)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
    }
    const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups =
        tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    if (groups.length !== 8) {
        throw new Error(`not an IPv6 address: ${addr}`);
    }
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
}

/** The reverse-DNS name of an address (`in-addr.arpa` or nibble `ip6.arpa`). */
export function reverseName(addr: string): string {
    if (net.isIPv4(addr)) {
        return `${addr.split(".").reverse().join(".")}.in-addr.arpa`;
    }
    const nibbles = ipv6Bytes(addr).toString("hex").split("").reverse();
    return `${nibbles.join(".")}.ip6.arpa`;
}

function encodeName(name: string): Buffer {
    const parts = name
        .replace(/\.$/, "")
        .split(".")
        .filter((l) => l.length > 0)
        .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "latin1")]));
    return Buffer.concat([...parts, Buffer.from([0])]);
}

function readName(buf: Buffer, offset: number): { name: string; end: number } {
    const labels: string[] = [];
    let i = offset;
    while (buf[i] !== 0) {
        const len = buf[i];
        labels.push(buf.subarray(i + 1, i + 1 + len).toString("latin1"));
        i += 1 + len;
    }
    return { name: labels.join("."), end: i + 1 };
}

function rr(owner: Buffer, type: number, rdata: Buffer): Buffer {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(60, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([owner, fixed, rdata]);
}

/** The answer to one DNS query, or null when the packet is not a query we understand. */
export function answer(zone: Zone, query: Buffer, counts: Map<string, number>): Buffer | null {
    if (query.length < 12 || query.readUInt16BE(4) !== 1) {
        return null;
    }
    const { name: rawName, end } = readName(query, 12);
    const qtype = query.readUInt16BE(end);
    const question = query.subarray(12, end + 4);
    const name = rawName.toLowerCase();
    const answers: Buffer[] = [];
    let owner: Buffer = Buffer.from([0xc0, 0x0c]);
    let entry = zone[name];
    const known = entry !== undefined;
    // Follow one CNAME, as a recursive resolver would hand it to Squid.
    if (entry?.CNAME !== undefined && qtype !== 5) {
        answers.push(rr(owner, 5, encodeName(entry.CNAME)));
        owner = encodeName(entry.CNAME);
        entry = zone[entry.CNAME.toLowerCase()];
    }
    if (entry !== undefined) {
        if (qtype === 1) {
            const n = counts.get(name) ?? 0;
            counts.set(name, n + 1);
            const seq = entry.sequenceA;
            const a = seq ? seq[Math.min(n, seq.length - 1)] : (entry.A ?? []);
            for (const addr of a) {
                answers.push(rr(owner, 1, Buffer.from(addr.split(".").map(Number))));
            }
        } else if (qtype === 28) {
            for (const addr of entry.AAAA ?? []) {
                answers.push(rr(owner, 28, ipv6Bytes(addr)));
            }
        } else if (qtype === 12 && entry.PTR !== undefined) {
            answers.push(rr(owner, 12, encodeName(entry.PTR)));
        } else if (qtype === 5 && entry.CNAME !== undefined) {
            answers.push(rr(owner, 5, encodeName(entry.CNAME)));
        }
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    const rd = query.readUInt16BE(2) & 0x0100;
    header.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, question, ...answers]);
}

function main(argv: string[]): void {
    const [zoneFile, eventsFile, bridgePath, proxyPort, keyFile, certFile] = argv;
    const zone = JSON.parse(fs.readFileSync(zoneFile, "utf8")) as Zone;
    const record = (e: InternetEvent) => fs.appendFileSync(eventsFile, `${JSON.stringify(e)}\n`);
    const counts = new Map<string, number>();
    const bound: Promise<void>[] = [];
    const listening = (srv: { once(e: string, f: () => void): unknown }) =>
        bound.push(
            new Promise((resolve, reject) => {
                srv.once("listening", resolve);
                srv.once("error", reject as () => void);
            }),
        );

    const dns = dgram.createSocket("udp4");
    dns.on("message", (msg, rinfo) => {
        if (msg.length >= 12) {
            const { name, end } = readName(msg, 12);
            record({
                kind: "dns",
                name: name.toLowerCase(),
                type: typeNames[msg.readUInt16BE(end)] ?? String(msg.readUInt16BE(end)),
            });
        }
        const reply = answer(zone, msg, counts);
        if (reply) {
            dns.send(reply, rinfo.port, rinfo.address);
        }
    });
    listening(dns);
    dns.bind(53, "127.0.0.1");

    const key = fs.readFileSync(keyFile);
    const cert = fs.readFileSync(certFile);
    for (const port of [443, 8443]) {
        const origin = tls.createServer({ key, cert }, (s) => {
            const local = (s.localAddress ?? "").replace(/^::ffff:/, "");
            const sni =
                (s as tls.TLSSocket & { servername?: string | false }).servername || undefined;
            record({ kind: "origin", port, local, sni });
            s.once("data", () => {
                const body = JSON.stringify({ port, local, sni });
                s.end(
                    `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
                );
            });
            s.on("error", () => undefined);
        });
        listening(origin);
        origin.listen({ port, host: "::", ipv6Only: false });
    }
    const plain = http.createServer((req, res) => {
        const local = (req.socket.localAddress ?? "").replace(/^::ffff:/, "");
        record({ kind: "origin", port: 80, local, request: `${req.method} ${req.url}` });
        res.end(JSON.stringify({ port: 80, local }));
    });
    listening(plain);
    plain.listen({ port: 80, host: "::", ipv6Only: false });

    fs.rmSync(bridgePath, { force: true });
    const bridge = net.createServer((client) => {
        const upstream = net.connect(Number(proxyPort), "127.0.0.1");
        client.pipe(upstream).pipe(client);
        const close = () => {
            client.destroy();
            upstream.destroy();
        };
        client.on("error", close);
        upstream.on("error", close);
        client.on("close", close);
        upstream.on("close", close);
    });
    listening(bridge);
    bridge.listen(bridgePath);

    void Promise.all(bound).then(
        () => process.stdout.write("stand-in internet ready\n"),
        (err: Error) => {
            process.stderr.write(`stand-in internet failed to listen: ${err.message}\n`);
            process.exit(1);
        },
    );
}

if (require.main === module) {
    main(process.argv.slice(2));
}
