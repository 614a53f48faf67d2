/** IPv4 CIDR arithmetic for network planning and validation (pure). */

/** A parsed IPv4 CIDR block. */
export interface Cidr {
    readonly base: number;
    readonly prefix: number;
}

/** Parses `a.b.c.d/n`; returns undefined when malformed or when host bits are set. */
export function parseCidr(text: string): Cidr | undefined {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
    if (!m) {
        return undefined;
    }
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32) {
        return undefined;
    }
    const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
    if ((base & maskOf(prefix)) >>> 0 !== base) {
        return undefined;
    }
    return { base, prefix };
}

function maskOf(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Formats a block back to `a.b.c.d/n`. */
export function formatCidr(c: Cidr): string {
    const b = c.base;
    return `${b >>> 24}.${(b >>> 16) & 255}.${(b >>> 8) & 255}.${b & 255}/${c.prefix}`;
}

/** True when the two blocks share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
    const p = Math.min(a.prefix, b.prefix);
    const m = maskOf(p);
    return (a.base & m) >>> 0 === (b.base & m) >>> 0;
}

/** True when `inner` lies wholly inside `outer`. */
export function contains(outer: Cidr, inner: Cidr): boolean {
    return inner.prefix >= outer.prefix && overlaps(outer, inner);
}

/**
 * The `index`-th sub-block of `parent` with `newBits` more prefix bits, like Terraform's
 * `cidrsubnet()`. Throws when the index does not fit.
 */
export function subnet(parent: Cidr, newBits: number, index: number): Cidr {
    const prefix = parent.prefix + newBits;
    if (prefix > 32 || index < 0 || index >= 2 ** newBits) {
        throw new RangeError(
            `cannot carve sub-block ${index} of /${prefix} from ${formatCidr(parent)}`,
        );
    }
    return { base: (parent.base + index * 2 ** (32 - prefix)) >>> 0, prefix };
}
