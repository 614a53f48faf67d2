/**
 * The difference between two plans of the same stack, like the summary `pulumi preview` prints:
 * resources and Kubernetes objects added, changed and removed, and the allowed flows that appeared
 * or disappeared in the reachability analysis. Pure over two snapshots; the CLI reads them from the
 * output folder before and after planning.
 */
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";

/** What a plan folder holds, reduced to what the diff compares. */
export interface PlanSnapshot {
    /** URN → canonical JSON of the resource's inputs (secrets already redacted by the plan). */
    readonly resources: ReadonlyMap<string, string>;
    /** `<cluster>: <Kind> <namespace>/<name>` → canonical JSON of the object. */
    readonly objects: ReadonlyMap<string, string>;
    /** `<cluster>: <from> → <to> <ports>` for every allowed connection and egress destination. */
    readonly flows: ReadonlySet<string>;
}

/** Added, changed and removed keys of one kind of thing. */
export interface ChangeSet {
    readonly added: readonly string[];
    readonly changed: readonly string[];
    readonly removed: readonly string[];
}

/** What changed between two plans. */
export interface PlanDiff {
    readonly resources: ChangeSet;
    readonly objects: ChangeSet;
    readonly flows: { readonly added: readonly string[]; readonly removed: readonly string[] };
}

/** The file the plan writes with one cluster's flows, read back by the next plan's diff. */
export const flowsFile = "reachability.json";

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
export function canonicalJson(v: unknown): string {
    return JSON.stringify(v, (_k, x: unknown) =>
        x !== null && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(
                  Object.entries(x as Record<string, unknown>).sort(([a], [b]) =>
                      a < b ? -1 : a > b ? 1 : 0,
                  ),
              )
            : x,
    );
}

/** Reads a plan folder (`<out>/<stack>`); undefined when there is no earlier plan there. */
export function readSnapshot(dir: string): PlanSnapshot | undefined {
    const resourcesFile = path.join(dir, "resources.json");
    if (!fs.existsSync(resourcesFile)) {
        return undefined;
    }
    const resources = new Map<string, string>();
    for (const r of JSON.parse(fs.readFileSync(resourcesFile, "utf8")) as {
        urn: string;
        inputs: unknown;
    }[]) {
        resources.set(r.urn, canonicalJson(r.inputs));
    }
    const objects = new Map<string, string>();
    const manifestsDir = path.join(dir, "manifests");
    for (const f of fs.existsSync(manifestsDir) ? fs.readdirSync(manifestsDir).sort() : []) {
        if (!f.endsWith(".yaml")) {
            continue;
        }
        const cluster = f.slice(0, -".yaml".length);
        const text = fs.readFileSync(path.join(manifestsDir, f), "utf8");
        for (const doc of parseAllDocuments(text)) {
            const o = doc.toJS() as {
                kind?: string;
                metadata?: { name?: string; namespace?: string };
            } | null;
            if (o?.kind && o.metadata?.name) {
                const ns = o.metadata.namespace ? `${o.metadata.namespace}/` : "";
                objects.set(`${cluster}: ${o.kind} ${ns}${o.metadata.name}`, canonicalJson(o));
            }
        }
    }
    const flowsPath = path.join(dir, flowsFile);
    const flows = new Set<string>(
        fs.existsSync(flowsPath)
            ? (JSON.parse(fs.readFileSync(flowsPath, "utf8")) as string[])
            : [],
    );
    return { resources, objects, flows };
}

function changes(
    before: ReadonlyMap<string, string>,
    after: ReadonlyMap<string, string>,
): ChangeSet {
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    for (const [k, v] of after) {
        const old = before.get(k);
        if (old === undefined) {
            added.push(k);
        } else if (old !== v) {
            changed.push(k);
        }
    }
    for (const k of before.keys()) {
        if (!after.has(k)) {
            removed.push(k);
        }
    }
    return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}

/** What changed from `before` to `after`. */
export function diffSnapshots(before: PlanSnapshot, after: PlanSnapshot): PlanDiff {
    return {
        resources: changes(before.resources, after.resources),
        objects: changes(before.objects, after.objects),
        flows: {
            added: [...after.flows].filter((f) => !before.flows.has(f)).sort(),
            removed: [...before.flows].filter((f) => !after.flows.has(f)).sort(),
        },
    };
}

/** True when nothing changed. */
export function isEmptyDiff(d: PlanDiff): boolean {
    const n = (c: ChangeSet) => c.added.length + c.changed.length + c.removed.length;
    return n(d.resources) + n(d.objects) + d.flows.added.length + d.flows.removed.length === 0;
}

/** One line of counts, e.g. `resources +2 ~1 -0; objects +3 ~0 -1; flows +1 -0`. */
export function summarizeDiff(d: PlanDiff): string {
    const c = (s: ChangeSet) => `+${s.added.length} ~${s.changed.length} -${s.removed.length}`;
    return (
        `resources ${c(d.resources)}; objects ${c(d.objects)}; ` +
        `flows +${d.flows.added.length} -${d.flows.removed.length}`
    );
}

/** The diff as terminal lines (`+` added, `~` changed, `-` removed), flows first: they matter most. */
export function renderDiff(d: PlanDiff): string[] {
    const lines: string[] = [];
    for (const f of d.flows.added) lines.push(`+ flow ${f}`);
    for (const f of d.flows.removed) lines.push(`- flow ${f}`);
    const section = (what: string, s: ChangeSet) => {
        for (const k of s.added) lines.push(`+ ${what} ${k}`);
        for (const k of s.changed) lines.push(`~ ${what} ${k}`);
        for (const k of s.removed) lines.push(`- ${what} ${k}`);
    };
    section("object", d.objects);
    section("resource", d.resources);
    return lines;
}
