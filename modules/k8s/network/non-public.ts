/**
 * Address ranges that are not the public internet (pure data, no imports: the one home of these
 * lists, read by the intent, the NetworkPolicy renderer through it, and the Squid renderer).
 */

/** Private, shared and link-local ranges: never reachable through the egress proxy (IMDS included). */
export const nonPublicCidrs = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
] as const;

/**
 * IPv4 destinations no egress proxy may reach, whatever name led there: the non-public ranges, "this
 * network" `0.0.0.0/8` (connecting to 0.0.0.0 reaches the proxy's own host), IETF protocol
 * assignments `192.0.0.0/24`, benchmarking `198.18.0.0/15`, and multicast plus reserved space
 * `224.0.0.0/3` (224/4 multicast, 240/4 reserved, the broadcast address) — RFC 6890's special-purpose
 * registry. Squid's `private_dst` and the proxies' NetworkPolicy `ipBlock.except` are both this list.
 */
export const proxyRefusedIpv4Cidrs = [
    ...nonPublicCidrs,
    "0.0.0.0/8",
    "192.0.0.0/24",
    "198.18.0.0/15",
    "224.0.0.0/3",
] as const;

function ipv4Bits(addr: string): number {
    return addr.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** `a.b.c.d/len` inside the NAT64 well-known prefix `64:ff9b::/96` (RFC 6052). */
export function nat64Cidr(cidr: string): string {
    const [addr, len] = cidr.split("/");
    const bits = ipv4Bits(addr);
    const hi = Math.floor(bits / 65536).toString(16);
    const lo = (bits % 65536).toString(16);
    return `64:ff9b::${hi}:${lo}/${96 + Number(len)}`;
}

/**
 * IPv6 destinations no egress proxy may reach: unspecified, loopback, ULA, link-local, site-local,
 * multicast, the local-use NAT64 prefix, and every refused IPv4 range as a NAT64 address.
 * IPv4-mapped addresses (`::ffff:0:0/96`) need no entry in Squid, which stores every IPv4 address in
 * that form, so the IPv4 ranges match them. NetworkPolicy needs none of these: the proxies' egress
 * rule opens `0.0.0.0/0` only, so no IPv6 destination is allowed at all.
 */
export const proxyRefusedIpv6Cidrs: readonly string[] = [
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
    "64:ff9b:1::/48",
    ...proxyRefusedIpv4Cidrs.map(nat64Cidr),
];
