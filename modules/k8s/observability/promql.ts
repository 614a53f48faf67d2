/**
 * A small PromQL scanner that finds the metric names a query reads: identifiers that are not
 * functions, aggregations, keywords, label names in matchers or grouping lists, numbers or
 * durations. Good enough to check alerts and panels against the metric registry.
 */

const keywords = new Set([
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atop",
    "inf",
    "nan",
    "start",
    "end",
]);
const groupingKeywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);

/** Metric names referenced by a PromQL expression (Grafana `$variables` are ignored). */
export function metricNamesIn(expr: string): string[] {
    const names = new Set<string>();
    let s = expr
        // Grafana template variables: ${var}, $var, [[var]].
        .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]/g, "1");
    // Label matchers: keep only an explicit __name__ matcher.
    s = s.replace(/\{[^}]*\}/g, (m) => {
        const byName = /__name__\s*=\s*"([^"]+)"/.exec(m);
        if (byName) {
            names.add(byName[1]!);
        }
        return " ";
    });
    // Remaining string literals (e.g. label_replace arguments), range and subquery brackets.
    s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ").replace(/\[[^\]]*\]/g, " ");
    const token =
        /([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?(?:ms|[smhdwy])*)|([A-Za-z_:][A-Za-z0-9_:]*)|(\()|(\))|(\S)/g;
    let skipGroupDepth = 0;
    let pendingGroup = false;
    let depth = 0;
    for (let m = token.exec(s); m !== null; m = token.exec(s)) {
        if (m[3] !== undefined) {
            depth++;
            if (pendingGroup) {
                skipGroupDepth = depth;
                pendingGroup = false;
            }
            continue;
        }
        if (m[4] !== undefined) {
            if (skipGroupDepth === depth) {
                skipGroupDepth = 0;
            }
            depth--;
            continue;
        }
        const ident = m[2];
        if (ident === undefined || skipGroupDepth !== 0) {
            continue;
        }
        if (groupingKeywords.has(ident)) {
            pendingGroup = true;
            continue;
        }
        if (keywords.has(ident.toLowerCase())) {
            continue;
        }
        const rest = s.slice(token.lastIndex);
        if (/^\s*\(/.test(rest) || /^\s*(by|without)\s*\(/.test(rest)) {
            continue; // a function or aggregation call (`sum by (le) (...)`)
        }
        names.add(ident);
    }
    return [...names].sort();
}
