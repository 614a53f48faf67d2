/**
 * Helm values semantics the chart suites need (pure): which of our keys a chart's values tree does
 * not define, and the values Helm hands the templates (chart defaults coalesced with ours).
 */

type Tree = Record<string, unknown>;

const isMap = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A path pattern over values keys, dot-separated: `*` matches one key, a trailing `.**` everything
 * below, and `[...]` a key that holds dots. `grafana.[grafana.ini].**` allows any key under the
 * `grafana.ini` key of `grafana`.
 */
export function pathMatches(pattern: string, path: readonly string[]): boolean {
    const parts = (pattern.match(/\[[^\]]*\]|[^.]+/g) ?? []).map((p) =>
        p.startsWith("[") ? p.slice(1, -1) : p,
    );
    for (let i = 0; i < parts.length; i++) {
        if (parts[i] === "**") return path.length > i;
        if (i >= path.length) return false;
        if (parts[i] !== "*" && parts[i] !== path[i]) return false;
    }
    return parts.length === path.length;
}

/**
 * Every key path of `ours` that the chart's default values do not define. A key is defined when
 * the chart's tree has it; below a key whose default is a non-empty map, our keys must be keys of
 * that map; below an empty or null default (a map the chart documents only in comments, or a
 * free-form map), our keys are reported unless `freeForm` allows them. Lists and scalars are
 * replaced whole by Helm, so nothing below them is checked here (the schema and the templates
 * decide their shape).
 */
export function undefinedKeys(
    ours: Tree,
    defaults: Tree,
    freeForm: readonly string[],
    at: readonly string[] = [],
): string[] {
    const out: string[] = [];
    for (const [k, v] of Object.entries(ours)) {
        const p = [...at, k];
        if (freeForm.some((f) => pathMatches(f, p))) continue;
        if (!(k in defaults)) {
            out.push(p.join("."));
            continue;
        }
        const d = defaults[k];
        if (isMap(v) && (isMap(d) || d === null)) {
            out.push(...undefinedKeys(v, isMap(d) ? d : {}, freeForm, p));
        }
    }
    return out;
}

/**
 * Helm's coalescing of user values over chart defaults: maps merge key by key, anything else
 * replaces the default, and a null user value deletes the key.
 */
export function coalesce(defaults: unknown, ours: unknown): unknown {
    if (!isMap(ours) || !isMap(defaults)) return ours === undefined ? defaults : ours;
    const out: Tree = { ...defaults };
    for (const [k, v] of Object.entries(ours)) {
        if (v === null) {
            delete out[k];
        } else {
            out[k] = coalesce(defaults[k], v);
        }
    }
    return out;
}

/** The defaults tree of a chart with its subcharts' defaults under their keys (parent values win). */
export function withSubcharts(parent: Tree, subcharts: Readonly<Record<string, Tree>>): Tree {
    const out: Tree = { ...parent };
    for (const [key, sub] of Object.entries(subcharts)) {
        out[key] = coalesce(sub, parent[key] ?? {});
    }
    return out;
}
