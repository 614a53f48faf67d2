/**
 * Structural validation of a raw stack configuration against the schema (./spec.ts): unknown keys
 * (with did-you-mean, their values never echoed), types, enum values (with did-you-mean),
 * patterns, ranges and required keys. Each problem is reported at the key the user wrote: a
 * stack-level section at `secure-llm-platform:<section>…`, a cluster override at
 * `secure-llm-platform:clusters[i].<section>…`.
 */
import { z } from "zod";
import { fieldDocs, stackSchema } from "./spec";
import { didYouMean } from "./suggest";
import { refusedMessage, refusedSecurityKeys } from "./tiers";
import { ConfigIssue, hiddenValue, isObject, unknownKeyExpected } from "./validate";

type Segment = string | number;

/** The key path of `segments` under `project:`, e.g. `p:clusters[0].tiers.gateway`. */
export function keyPath(project: string, segments: readonly PropertyKey[]): string {
    let out = `${project}:`;
    for (const s of segments) {
        if (typeof s === "number") {
            out += `[${s}]`;
        } else {
            out += out.endsWith(":") ? String(s) : `.${String(s)}`;
        }
    }
    return out;
}

interface Def {
    readonly type: string;
    readonly shape?: Record<string, z.ZodType>;
    readonly innerType?: z.ZodType;
    readonly element?: z.ZodType;
    readonly valueType?: z.ZodType;
    readonly keyType?: z.ZodType;
    readonly in?: z.ZodType;
    readonly entries?: Record<string, string>;
    readonly options?: z.ZodType[];
}

/** The zod definition of a schema node (zod 4 keeps it at `_zod.def`). */
export function defOf(schema: z.ZodType): Def {
    return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The node with optional/default wrappers removed. */
export function unwrap(schema: z.ZodType): z.ZodType {
    let s = schema;
    for (;;) {
        const d = defOf(s);
        if (
            (d.type === "optional" ||
                d.type === "default" ||
                d.type === "nullable" ||
                d.type === "prefault") &&
            d.innerType
        ) {
            s = d.innerType;
        } else if (d.type === "pipe" && d.in) {
            s = d.in;
        } else {
            return s;
        }
    }
}

/** The schema node at `segments` below `root` (as it sits in its parent), or undefined. */
export function schemaAt(root: z.ZodType, segments: readonly PropertyKey[]): z.ZodType | undefined {
    let node: z.ZodType | undefined = root;
    for (const seg of segments) {
        if (node === undefined) {
            return undefined;
        }
        const d = defOf(unwrap(node));
        if (d.type === "object" && d.shape) {
            node = d.shape[String(seg)];
        } else if (d.type === "array") {
            node = d.element;
        } else if (d.type === "record") {
            node = d.valueType;
        } else {
            return undefined;
        }
    }
    return node;
}

/** Keys an object node allows, or undefined when the node is not an object. */
function allowedKeys(root: z.ZodType, segments: readonly PropertyKey[]): string[] | undefined {
    const node = schemaAt(root, segments);
    if (node === undefined) {
        return undefined;
    }
    const d = defOf(unwrap(node));
    if (d.type === "object" && d.shape) {
        return Object.keys(d.shape);
    }
    if (d.type === "record" && d.keyType) {
        const k = defOf(unwrap(d.keyType));
        return k.entries ? Object.values(k.entries) : undefined;
    }
    return undefined;
}

/** A copy without null-valued entries: the parsers treat `key: null` (YAML `key:`) as unset. */
function withoutNulls(v: unknown): unknown {
    if (Array.isArray(v)) {
        return v.map(withoutNulls);
    }
    if (isObject(v)) {
        return Object.fromEntries(
            Object.entries(v)
                .filter(([, x]) => x !== null)
                .map(([k, x]) => [k, withoutNulls(x)]),
        );
    }
    return v;
}

function valueAt(root: unknown, segments: readonly PropertyKey[]): unknown {
    let v = root;
    for (const s of segments) {
        if (v === null || typeof v !== "object") {
            return undefined;
        }
        v = (v as Record<PropertyKey, unknown>)[s];
    }
    return v;
}

/**
 * Validates the shape of `raw` (short keys → decoded values). `extraTopLevel` are keys allowed at
 * the top besides the schema's (the kubeconfig keys of existing clusters).
 */
export function checkShape(
    raw: Readonly<Record<string, unknown>>,
    project: string,
    extraTopLevel: readonly string[] = [],
): ConfigIssue[] {
    const input = withoutNulls(
        Object.fromEntries(Object.entries(raw).filter(([k]) => !extraTopLevel.includes(k))),
    );
    const result = stackSchema.safeParse(input, { reportInput: true });
    if (result.success) {
        return [];
    }
    const out: ConfigIssue[] = [];
    for (const issue of result.error.issues) {
        const segs = issue.path as Segment[];
        if (issue.code === "unrecognized_keys") {
            const allowed = allowedKeys(stackSchema, segs) ?? [];
            const inTiers = segs[0] === "tiers" || (segs[0] === "clusters" && segs[2] === "tiers");
            for (const key of issue.keys) {
                const refused = inTiers && (refusedSecurityKeys as readonly string[]).includes(key);
                out.push({
                    path: keyPath(project, [...segs, key]),
                    value: refused ? valueAt(input, [...segs, key]) : hiddenValue,
                    expected: refused
                        ? refusedMessage
                        : unknownKeyExpected(
                              key,
                              segs.length === 0 ? [...allowed, "kubeconfig-<cluster>"] : allowed,
                          ),
                });
            }
            continue;
        }
        const value = issue.input;
        let expected = issue.message;
        if (issue.code === "invalid_value" && typeof value === "string") {
            expected += didYouMean(
                value,
                issue.values.filter((x): x is string => typeof x === "string"),
            );
        }
        if (value === undefined) {
            const doc = fieldDocs.get(schemaAt(stackSchema, segs) ?? stackSchema);
            expected = doc?.expected ?? expected;
        }
        out.push({ path: keyPath(project, segs), value, expected });
    }
    return out;
}

/** True when `path` is `under` or below it (`a.b` is under `a`, `a[0]` is under `a`). */
export function isUnder(path: string, under: string): boolean {
    return (
        path === under ||
        path.startsWith(`${under}.`) ||
        path.startsWith(`${under}[`) ||
        (under.endsWith(":") && path.startsWith(under))
    );
}
