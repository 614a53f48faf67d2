/** Dependency-graph facts of a plan: modules, counts and the critical path of `pulumi up`. */
import type { RecordedResource } from "./mocks";

/** The platform module a resource belongs to: the nearest `secure-llm-platform:<module>:` ancestor. */
export function moduleOf(
    r: RecordedResource,
    byUrn: ReadonlyMap<string, RecordedResource>,
): string {
    let cur: RecordedResource | undefined = r;
    while (cur !== undefined) {
        const [pkg, mod] = cur.type.split(":");
        // Shared building blocks (secure-llm-platform:k8s:*) count toward the module that uses them.
        if (
            pkg === "secure-llm-platform" &&
            mod !== "k8s" &&
            cur.type !== "secure-llm-platform:oci:OkeCluster"
        ) {
            return mod;
        }
        if (cur.type === "secure-llm-platform:oci:OkeCluster") {
            return "oci";
        }
        cur = cur.parent ? byUrn.get(cur.parent) : undefined;
    }
    return r.type.startsWith("pulumi:providers:") ? "providers" : "(top level)";
}

/** Counts by a key, sorted by count then key. */
export function countBy<T>(items: readonly T[], key: (t: T) => string): [string, number][] {
    const m = new Map<string, number>();
    for (const i of items) {
        m.set(key(i), (m.get(key(i)) ?? 0) + 1);
    }
    return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/**
 * The longest chain of custom resources that must be created one after another, following
 * dependencies (a dependency on a component means all of its custom descendants) and providers.
 * This is the lower bound on `pulumi up` time in resource-creation steps.
 */
export function criticalPath(resources: readonly RecordedResource[]): RecordedResource[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const children = new Map<string, RecordedResource[]>();
    for (const r of resources) {
        if (r.parent) {
            const list = children.get(r.parent) ?? [];
            list.push(r);
            children.set(r.parent, list);
        }
    }
    const customDescendants = new Map<string, string[]>();
    const descend = (urn: string): string[] => {
        const cached = customDescendants.get(urn);
        if (cached) {
            return cached;
        }
        const out: string[] = [];
        for (const c of children.get(urn) ?? []) {
            if (c.custom) {
                out.push(c.urn);
            }
            out.push(...descend(c.urn));
        }
        customDescendants.set(urn, out);
        return out;
    };
    const preds = (r: RecordedResource): string[] => {
        const out: string[] = [];
        const add = (urn: string) => {
            const d = byUrn.get(urn);
            if (d === undefined || d.urn === r.urn) {
                return;
            }
            if (d.custom) {
                out.push(d.urn);
            } else {
                out.push(...descend(d.urn));
            }
        };
        r.dependencies.forEach(add);
        if (r.provider) {
            const i = r.provider.lastIndexOf("::");
            add(i > 0 ? r.provider.slice(0, i) : r.provider);
        }
        return out;
    };
    const depth = new Map<string, { len: number; prev?: string }>();
    const visiting = new Set<string>();
    const longest = (urn: string): number => {
        const known = depth.get(urn);
        if (known) {
            return known.len;
        }
        if (visiting.has(urn)) {
            return 0;
        }
        visiting.add(urn);
        let best = { len: 1 } as { len: number; prev?: string };
        for (const p of preds(byUrn.get(urn)!)) {
            const l = longest(p) + 1;
            if (l > best.len) {
                best = { len: l, prev: p };
            }
        }
        visiting.delete(urn);
        depth.set(urn, best);
        return best.len;
    };
    let end: string | undefined;
    let endLen = 0;
    for (const r of resources) {
        if (r.custom) {
            const l = longest(r.urn);
            if (l > endLen) {
                endLen = l;
                end = r.urn;
            }
        }
    }
    const chain: RecordedResource[] = [];
    for (let cur = end; cur !== undefined; cur = depth.get(cur)?.prev) {
        chain.unshift(byUrn.get(cur)!);
    }
    return chain;
}
