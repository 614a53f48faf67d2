/**
 * The bypass matrix: for one proxy's allowlist, the DNS zone the stand-in internet serves and the
 * requests a client tries, each with what must happen. Names are derived from the allowlist the
 * plan rendered, so the matrix follows the allowlist wherever it changes.
 *
 * Addresses: 203.0.113.0/24, 198.51.100.0/24 and 2001:db8::/32 (documentation ranges) stand in
 * for the public internet; everything else is a range the proxy must never reach. All of them sit
 * on the namespace's loopback, so a connection Squid should not make succeeds and is seen.
 */
import { domainToASCII } from "url";
import { Zone, reverseName } from "./stand-in-internet";

/** What a case must produce. */
export type Expect =
    /** The tunnel opens and reaches one of these addresses on `port` (any of a name's A/AAAA). */
    | { outcome: "tunnel"; reach: readonly string[]; port: number }
    /** Squid answers with this status and reaches nothing. */
    | { outcome: "refused"; status: 400 | 403 | 500 }
    /** Squid answers itself (its internal icons) with this status and reaches nothing. */
    | { outcome: "internal"; status: number };

/** One request of the matrix. */
export interface Case {
    readonly group: string;
    readonly title: string;
    /** `public`: allowlisted names resolve to public stand-ins; `hostile`: to private addresses. */
    readonly phase: "public" | "hostile";
    /** Raw request head sent to the proxy (CONNECT tunnels then speak TLS to the origin). */
    readonly head: string;
    /** TLS server name for a tunnel. */
    readonly sni?: string;
    /** The requested name, when it is a name: no DNS query may be made for it unless allowlisted. */
    readonly name?: string;
    readonly expect: Expect;
}

/** Addresses the namespace's loopback carries, besides 127.0.0.1 and ::1. */
export const namespaceAddresses = [
    "203.0.113.10",
    "203.0.113.11",
    "203.0.113.12",
    "203.0.113.13",
    "203.0.113.50",
    "203.0.113.51",
    "203.0.113.60",
    "203.0.113.70",
    "203.0.113.80",
    "198.51.100.7",
    "2001:db8::a",
    "2001:db8::b",
    "2001:db8::c",
    "2001:db8::d",
    "10.1.2.3",
    "10.244.7.7",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.1.1",
    "169.254.169.254",
    "192.0.0.8",
    "198.18.0.1",
    "fd00::1",
    "fe80::1",
    "fec0::1",
    "64:ff9b::a01:203",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a01:203",
];

/** The pod's own address (its hostname resolves to it through /etc/hosts, as the kubelet writes it). */
export const podAddress = "10.244.7.7";

const evil = "evil.example";
const evilAddr = "198.51.100.7";

/** Private addresses an allowlisted name may be pointed at: label → records. */
const privateTargets: readonly [string, { A?: string[]; AAAA?: string[] }][] = [
    ["rfc1918-10", { A: ["10.1.2.3"] }],
    ["rfc1918-172", { A: ["172.16.5.4"] }],
    ["rfc1918-192", { A: ["192.168.1.1"] }],
    ["cgnat", { A: ["100.64.0.1"] }],
    ["link-local", { A: ["169.254.1.1"] }],
    ["metadata", { A: ["169.254.169.254"] }],
    ["loopback", { A: ["127.0.0.1"] }],
    ["this-network", { A: ["0.0.0.0"] }],
    ["ietf-protocol", { A: ["192.0.0.8"] }],
    ["benchmarking", { A: ["198.18.0.1"] }],
    ["ula6", { AAAA: ["fd00::1"] }],
    ["link-local6", { AAAA: ["fe80::1"] }],
    ["site-local6", { AAAA: ["fec0::1"] }],
    ["loopback6", { AAAA: ["::1"] }],
    ["unspecified6", { AAAA: ["::"] }],
    ["v4mapped-10", { AAAA: ["::ffff:10.1.2.3"] }],
    ["v4mapped-metadata", { AAAA: ["::ffff:169.254.169.254"] }],
    ["nat64-10", { AAAA: ["64:ff9b::a01:203"] }],
    ["nat64-metadata", { AAAA: ["64:ff9b::a9fe:a9fe"] }],
    ["nat64-local-use", { AAAA: ["64:ff9b:1::a01:203"] }],
    ["public-and-private", { A: ["203.0.113.51", "10.1.2.3"] }],
    ["public4-and-ula6", { A: ["203.0.113.51"], AAAA: ["fd00::1"] }],
];

/** Addresses the hostile phase points each exact allowlisted name at, in turn. */
const hostileTargets = ["169.254.169.254", "10.1.2.3", "192.168.1.1", "127.0.0.1", "100.64.0.1"];

const connect = (authority: string, host = authority) =>
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const get = (url: string, host: string) =>
    `GET ${url} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: slp-test\r\nConnection: close\r\n\r\n`;
const refused: Expect = { outcome: "refused", status: 403 };
const invalid: Expect = { outcome: "refused", status: 400 };

/** The allowlist split into exact names and wildcard bases (`*.x` → `x`). */
export function splitAllowlist(domains: readonly string[]): { exact: string[]; bases: string[] } {
    return {
        exact: domains.filter((d) => !d.startsWith("*.")),
        bases: domains.filter((d) => d.startsWith("*.")).map((d) => d.slice(2)),
    };
}

/** True when `name` is allowed by the allowlist as the intent means it (`*.` = subdomains only). */
export function allowedName(domains: readonly string[], name: string): boolean {
    const n = name.toLowerCase().replace(/\.+$/, "");
    const { exact, bases } = splitAllowlist(domains);
    return exact.includes(n) || bases.some((b) => n.endsWith(`.${b}`));
}

/** A look-alike of `name` with its first `o` (or `a`, `e`) replaced by a Cyrillic homoglyph. */
function homoglyph(name: string): string {
    const map: Record<string, string> = { o: "\u043e", a: "\u0430", e: "\u0435" };
    const i = [...name].findIndex((c) => c in map);
    return i < 0 ? `\u0430${name}` : `${name.slice(0, i)}${map[name[i]]}${name.slice(i + 1)}`;
}

/** The zones and the cases for one allowlist. */
export function matrix(domains: readonly string[]): {
    zones: Record<"public" | "hostile", Zone>;
    cases: Case[];
} {
    const { exact, bases } = splitAllowlist(domains);
    const pub: Zone = {
        [evil]: { A: [evilAddr] },
        "internal.evil.example": { A: ["10.1.2.3"] },
    };
    const hostile: Zone = {};
    const cases: Case[] = [];
    const add = (c: Case) => cases.push(c);

    exact.forEach((e, i) => {
        pub[e] = { A: [`203.0.113.${10 + i}`], AAAA: [`2001:db8::${(10 + i).toString(16)}`] };
        hostile[e] = { A: [hostileTargets[i % hostileTargets.length]] };
    });
    // Reverse zones point at the first allowlisted name: the old configuration allowed these.
    const first = exact[0] ?? `api.${bases[0]}`;
    const ptr = (addr: string) => ({ addr, name: first });
    const reverse = [
        ptr("203.0.113.13"),
        ptr(evilAddr),
        ptr("203.0.113.10"),
        ptr("2001:db8::d"),
        ptr("2001:db8::a"),
        ptr("169.254.169.254"),
    ];

    // Allowed names, as requested in every spelling that names the same host.
    for (const e of exact) {
        const [a, aaaa] = [pub[e].A ?? [], pub[e].AAAA ?? []];
        const tunnel: Expect = { outcome: "tunnel", reach: [...a, ...aaaa], port: 443 };
        add({
            group: "allowed",
            title: `${e}:443`,
            phase: "public",
            head: connect(`${e}:443`),
            sni: e,
            name: e,
            expect: tunnel,
        });
    }
    const e0 = exact[0];
    if (e0 !== undefined) {
        const reach = [...(pub[e0].A ?? []), ...(pub[e0].AAAA ?? [])];
        const tunnel: Expect = { outcome: "tunnel", reach, port: 443 };
        const spellings: [string, string][] = [
            ["no port (Squid assumes 443)", e0],
            ["trailing dot (Squid strips it)", `${e0}.:443`],
            ["upper case (Squid lower-cases)", `${e0.toUpperCase()}:443`],
            ["port with a leading zero", `${e0}:0443`],
            ["junk after the port is ignored: still the allowlisted host", `${e0}:443@${evil}:443`],
        ];
        for (const [why, authority] of spellings) {
            add({
                group: "allowed",
                title: `${authority} — ${why}`,
                phase: "public",
                head: connect(authority),
                sni: e0,
                name: e0,
                expect: tunnel,
            });
        }
        add({
            group: "allowed",
            title: `${e0}:443 with Host: ${evil} — the request line decides, not the Host header`,
            phase: "public",
            head: connect(`${e0}:443`, evil),
            sni: e0,
            name: e0,
            expect: tunnel,
        });
    }
    bases.forEach((b, j) => {
        pub[`api.${b}`] = { A: [`203.0.113.${50 + j}`] };
        pub[`deep.api.${b}`] = { A: ["203.0.113.60"] };
        pub[b] = { A: ["203.0.113.70"] };
        add({
            group: "allowed",
            title: `api.${b}:443 (under *.${b})`,
            phase: "public",
            head: connect(`api.${b}:443`),
            sni: `api.${b}`,
            name: `api.${b}`,
            expect: { outcome: "tunnel", reach: [`203.0.113.${50 + j}`], port: 443 },
        });
        add({
            group: "allowed",
            title: `deep.api.${b}:443 (two labels under *.${b})`,
            phase: "public",
            head: connect(`deep.api.${b}:443`),
            sni: `deep.api.${b}`,
            name: `deep.api.${b}`,
            expect: { outcome: "tunnel", reach: ["203.0.113.60"], port: 443 },
        });
        pub[`ipv6-only.${b}`] = { AAAA: ["2001:db8::b"] };
        add({
            group: "allowed",
            title: `ipv6-only.${b}:443 → AAAA 2001:db8::b only`,
            phase: "public",
            head: connect(`ipv6-only.${b}:443`),
            sni: `ipv6-only.${b}`,
            name: `ipv6-only.${b}`,
            expect: { outcome: "tunnel", reach: ["2001:db8::b"], port: 443 },
        });
    });

    // Look-alikes: each resolves to the evil address, so a wrong allow would be seen reaching it.
    const lookalike = (
        title: string,
        name: string,
        expect: Expect = refused,
        authority = `${name}:443`,
    ) => {
        if (!allowedName(domains, name) && !name.includes("@") && /^[\x21-\x7e]+$/.test(name)) {
            pub[name.toLowerCase().replace(/\.+$/, "")] = { A: [evilAddr] };
        }
        add({
            group: "look-alike",
            title,
            phase: "public",
            head: connect(authority),
            sni: undefined,
            name,
            expect,
        });
    };
    lookalike(`${evil}:443 — not on the list`, evil);
    for (const e of exact) {
        lookalike(`${e}.${evil} — allowlisted name as a prefix`, `${e}.${evil}`);
        lookalike(`evil-${e} — allowlisted name as a suffix after a hyphen`, `evil-${e}`);
        lookalike(`evil${e} — allowlisted name as a suffix without a dot`, `evil${e}`);
        lookalike(`${e}-${evil} — allowlisted name glued to another domain`, `${e}-${evil}`);
        const idn = domainToASCII(homoglyph(e));
        lookalike(`${idn} — punycode homoglyph of ${e}`, idn);
        lookalike(`${homoglyph(e)} — raw UTF-8 homoglyph of ${e}`, homoglyph(e));
        lookalike(`${evil}@${e}:443 — userinfo before an allowlisted name`, `${evil}@${e}`);
    }
    if (e0 !== undefined && !allowedName(domains, `sub.${e0}`)) {
        lookalike(`sub.${e0} — subdomain of an exact (non-wildcard) entry`, `sub.${e0}`);
    }
    for (const b of bases) {
        lookalike(`${b} — the apex of *.${b} (subdomains only)`, b);
        lookalike(`${b}.${evil} — wildcard base as a prefix`, `${b}.${evil}`);
        lookalike(`x${b} — wildcard base glued to a label`, `x${b}`);
        lookalike(`evil-${b} — wildcard base after a hyphen`, `evil-${b}`);
        const idn = domainToASCII(`api.${homoglyph(b)}`);
        lookalike(`${idn} — under a punycode homoglyph of ${b}`, idn);
        lookalike(
            `api.${homoglyph(b)} — under a raw UTF-8 homoglyph of ${b}`,
            `api.${homoglyph(b)}`,
        );
        lookalike(`${evil}@${b}:443 — userinfo before the wildcard base`, `${evil}@${b}`);
        // Squid matches `.base` as a string suffix: any bytes before it pass and are resolved. Not
        // a way out (the name is under the allowlisted zone), but it is looked up.
        lookalike(
            `${evil}@api.${b}:443 — userinfo-like junk under *.${b}: resolved, NXDOMAIN`,
            `${evil}@api.${b}`,
            { outcome: "refused", status: 500 },
        );
        add({
            group: "look-alike",
            title: `.${b}:443 — leading dot`,
            phase: "public",
            head: connect(`.${b}:443`),
            name: `.${b}`,
            expect: invalid,
        });
    }

    // IP literals: decided as literals, never by reverse DNS, never allowlisted.
    const literal = (title: string, authority: string) =>
        add({
            group: "ip-literal",
            title,
            phase: "public",
            head: connect(authority),
            expect: refused,
        });
    literal(`203.0.113.13:443 — PTR names ${first}`, "203.0.113.13:443");
    literal(`${evilAddr}:443 — evil address whose PTR names ${first}`, `${evilAddr}:443`);
    if (e0 !== undefined) {
        literal(`203.0.113.10:443 — ${e0}'s own address (PTR ${first})`, "203.0.113.10:443");
        literal(`[2001:db8::a]:443 — ${e0}'s own IPv6 address (PTR ${first})`, "[2001:db8::a]:443");
        literal(`3405803786:443 — 203.0.113.10 as one decimal number`, "3405803786:443");
    }
    literal("203.0.113.99:443 — no PTR", "203.0.113.99:443");
    literal(`[2001:db8::d]:443 — IPv6 literal, PTR names ${first}`, "[2001:db8::d]:443");
    literal("169.254.169.254:443 — metadata address", "169.254.169.254:443");
    literal(
        "[::ffff:169.254.169.254]:443 — metadata as IPv4-mapped IPv6",
        "[::ffff:169.254.169.254]:443",
    );
    literal("[fd00::1]:443 — IPv6 ULA", "[fd00::1]:443");
    literal("10.1.2.3:443 — RFC 1918", "10.1.2.3:443");

    // Allowlisted names resolving to places the proxy must never reach.
    const b0 = bases[0];
    if (b0 !== undefined) {
        for (const [label, records] of privateTargets) {
            const name = `${label}.${b0}`;
            pub[name] = { ...records };
            add({
                group: "private-destination",
                title: `${name} → ${[...(records.A ?? []), ...(records.AAAA ?? [])].join(", ")}`,
                phase: "public",
                head: connect(`${name}:443`),
                sni: name,
                name,
                expect: refused,
            });
        }
        pub[`cname.${b0}`] = { CNAME: "internal.evil.example" };
        add({
            group: "private-destination",
            title: `cname.${b0} → CNAME internal.evil.example → 10.1.2.3`,
            phase: "public",
            head: connect(`cname.${b0}:443`),
            name: `cname.${b0}`,
            expect: refused,
        });
        pub[`rebind.${b0}`] = { sequenceA: [["203.0.113.80"], ["10.1.2.3"]] };
        add({
            group: "private-destination",
            title: `rebind.${b0} → 203.0.113.80 on the first query, 10.1.2.3 after (TTL 60): Squid connects to the address it checked`,
            phase: "public",
            head: connect(`rebind.${b0}:443`),
            sni: `rebind.${b0}`,
            name: `rebind.${b0}`,
            expect: { outcome: "tunnel", reach: ["203.0.113.80"], port: 443 },
        });
    }
    exact.forEach((e, i) => {
        const target = hostileTargets[i % hostileTargets.length];
        add({
            group: "private-destination",
            title: `${e} → ${target} (allowlisted name, hostile DNS)`,
            phase: "hostile",
            head: connect(`${e}:443`),
            sni: e,
            name: e,
            expect: refused,
        });
    });

    // Other ports and plain HTTP on an allowlisted name.
    const any = e0 ?? `api.${b0}`;
    for (const [title, authority, expect] of [
        [`${any}:8443 — TLS on another port`, `${any}:8443`, refused],
        [`${any}:80`, `${any}:80`, refused],
        [`${any}:22`, `${any}:22`, refused],
        [`${any}:65979 — 443 + 65536`, `${any}:65979`, invalid],
    ] as const) {
        add({ group: "port", title, phase: "public", head: connect(authority), name: any, expect });
    }
    for (const [title, url] of [
        [`GET http://${any}/ — plain HTTP, absolute URI`, `http://${any}/`],
        [`GET http://${any}:443/`, `http://${any}:443/`],
        [`GET https://${any}/ — Squid would open the TLS itself`, `https://${any}/`],
        [`GET http://${evil}/`, `http://${evil}/`],
        ["GET http://10.1.2.3/", "http://10.1.2.3/"],
        [
            "GET http://169.254.169.254/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/",
        ],
    ] as const) {
        add({
            group: "plain-http",
            title,
            phase: "public",
            head: get(url, new URL(url).host),
            name: new URL(url).hostname,
            expect: refused,
        });
    }
    for (const [title, url, status] of [
        [
            "GET http://10.1.2.3/squid-internal-static/icons/SN.png — answered by Squid itself",
            "http://10.1.2.3/squid-internal-static/icons/SN.png",
            200,
        ],
        [
            `GET http://${any}/squid-internal-static/icons/SN.png — answered by Squid itself`,
            `http://${any}/squid-internal-static/icons/SN.png`,
            200,
        ],
        [
            "GET http://10.1.2.3/squid-internal-static/icons/../../../x — dot segments stay internal",
            "http://10.1.2.3/squid-internal-static/icons/../../../x",
            404,
        ],
    ] as const) {
        add({
            group: "plain-http",
            title,
            phase: "public",
            head: get(url, new URL(url).host),
            expect: { outcome: "internal", status },
        });
    }
    add({
        group: "probe",
        title: "GET /squid-internal-static/icons/SN.png (the kubelet's probe, origin form)",
        phase: "public",
        head: `GET /squid-internal-static/icons/SN.png HTTP/1.1\r\nHost: ${podAddress}:3128\r\nUser-Agent: kube-probe/1.34\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
        expect: { outcome: "internal", status: 200 },
    });

    for (const r of reverse) {
        pub[reverseName(r.addr)] = { PTR: r.name };
    }
    return { zones: { public: pub, hostile }, cases };
}
