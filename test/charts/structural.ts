/**
 * A CRD's openAPIV3Schema as a JSON Schema ajv can run, with the API server's structural-schema
 * semantics (pure):
 * - an object with `properties` and no `additionalProperties` admits no other field: the API
 *   server prunes unknown fields (and strict field validation, the default of `kubectl apply` and
 *   server-side apply, refuses them), so a field we set that the CRD lacks is a setting that never
 *   happened;
 * - `x-kubernetes-preserve-unknown-fields: true` keeps any field below it;
 * - `x-kubernetes-int-or-string: true` is an integer or a string;
 * - `x-kubernetes-embedded-resource: true` is an object with apiVersion, kind and metadata;
 * - an object schema with neither `properties` nor `additionalProperties` keeps nothing;
 * - `nullable: true` also admits null;
 * - `metadata` at the root is ObjectMeta, which the CRD does not describe.
 * CEL rules (`x-kubernetes-validations`) are not evaluated here.
 */

type Schema = Record<string, any>;

const keep = new Set([
    "type",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
    "multipleOf",
]);

/**
 * A Go (RE2) pattern as a JavaScript one: letters after `(?i)` become two-case classes; a
 * pattern JavaScript still cannot compile is dropped (undefined).
 */
export function goPattern(p: string): string | undefined {
    let js = p;
    const i = js.indexOf("(?i)");
    if (i >= 0) {
        js =
            js.slice(0, i) +
            js.slice(i + 4).replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
    }
    try {
        new RegExp(js, "u");
        return js;
    } catch {
        return undefined;
    }
}

/** Values found at the same place in every element of `v` (arrays) or `v` itself. */
const elements = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Converts `s` for validating `instances` (the values found at this place): subtrees no instance
 * reaches are left unconstrained, which keeps the compiled validators of 1 MB CRDs small; every
 * field an instance sets is still checked against the full subtree.
 */
function convert(s: Schema, root: boolean, instances: readonly unknown[] = []): Schema {
    const out: Schema = {};
    for (const [k, v] of Object.entries(s)) {
        if (keep.has(k)) out[k] = v;
    }
    if (typeof out.pattern === "string") {
        const js = goPattern(out.pattern);
        if (js === undefined) delete out.pattern;
        else out.pattern = js;
    }
    if (s["x-kubernetes-int-or-string"] === true) {
        delete out.type;
        out.anyOf = [{ type: "integer" }, { type: "string" }];
    }
    for (const k of ["allOf", "anyOf", "oneOf"] as const) {
        if (Array.isArray(s[k])) {
            // Structural schemas repeat only value validations inside these (no types or fields).
            const branches = s[k].map((b: Schema) => convert(b, false, instances));
            out[k] = out[k] ? [...out[k], ...branches] : branches;
        }
    }
    if (s.not !== undefined) out.not = convert(s.not, false, instances);
    if (s.items !== undefined && !Array.isArray(s.items)) {
        out.items = convert(s.items, false, instances.flatMap(elements));
    }
    const preserve = s["x-kubernetes-preserve-unknown-fields"] === true;
    if (s.properties !== undefined) {
        out.properties = Object.fromEntries(
            Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => {
                const below = instances.filter(isObj).flatMap((i) => (k in i ? [i[k]] : []));
                return [k, below.length > 0 ? convert(v, false, below) : {}];
            }),
        );
    }
    if (root) {
        out.properties = {
            ...(out.properties ?? {}),
            apiVersion: { type: "string" },
            kind: { type: "string" },
            metadata: { type: "object" },
        };
    }
    if (s["x-kubernetes-embedded-resource"] === true) {
        out.properties = {
            ...(out.properties ?? {}),
            apiVersion: { type: "string" },
            kind: { type: "string" },
            metadata: { type: "object" },
        };
    }
    if (s.additionalProperties !== undefined) {
        const known = new Set(Object.keys(s.properties ?? {}));
        const below = instances
            .filter(isObj)
            .flatMap((i) => Object.entries(i).filter(([k]) => !known.has(k)))
            .map(([, v]) => v);
        out.additionalProperties =
            typeof s.additionalProperties === "boolean"
                ? s.additionalProperties
                : convert(s.additionalProperties, false, below);
    } else if (!preserve && (out.properties !== undefined || s.type === "object")) {
        // An object schema without properties keeps no field at all unless it preserves them.
        out.additionalProperties = false;
    }
    if (s.nullable === true) {
        return { anyOf: [out, { type: "null" }] };
    }
    return out;
}

/** The JSON Schema that validates `instance` against a CRD version's `openAPIV3Schema`. */
export function structuralToJsonSchema(openAPIV3Schema: Schema, instance: unknown): Schema {
    return convert(openAPIV3Schema, true, [instance]);
}
