/**
 * Maps a configuration key path (`secure-llm-platform:clusters[1].tiers.gateway.replicas`) to the
 * line of the stack file that wrote it, so an error reads `Pulumi.prod.yaml:42: …`. A key that is
 * missing is placed at the line of its nearest ancestor that exists.
 */
import * as fs from "fs";
import * as path from "path";
import { LineCounter, Node, isMap, isScalar, isSeq, parseDocument } from "yaml";

/** The 1-based line where `keyPath` (or its nearest existing ancestor) is written in `text`. */
export function lineOfKey(text: string, project: string, keyPath: string): number | undefined {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, keepSourceTokens: false });
    if (doc.errors.length > 0) {
        return undefined;
    }
    const colon = keyPath.indexOf(":");
    const ns = keyPath.slice(0, colon);
    const rest = keyPath.slice(colon + 1);
    const segs = rest.match(/[^.[\]]+/g) ?? [];
    if (segs.length === 0) {
        return undefined;
    }
    const config = isMap(doc.contents) ? doc.contents.get("config", true) : undefined;
    if (!isMap(config)) {
        return undefined;
    }
    const line = (offset: number | undefined) =>
        offset === undefined ? undefined : lc.linePos(offset).line;
    // Project keys may be written with or without the namespace.
    const first = config.items.find(
        (p) =>
            isScalar(p.key) &&
            (p.key.value === `${ns}:${segs[0]}` || (ns === project && p.key.value === segs[0])),
    );
    if (first === undefined || !isScalar(first.key)) {
        return line(config.range?.[0]);
    }
    let found = line(first.key.range?.[0]);
    let node = first.value as Node | null;
    for (const seg of segs.slice(1)) {
        if (isMap(node)) {
            const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
            if (pair === undefined || !isScalar(pair.key)) {
                return found;
            }
            found = line(pair.key.range?.[0]);
            node = pair.value as Node | null;
        } else if (isSeq(node) && /^\d+$/.test(seg)) {
            const item = node.items[Number(seg)] as Node | undefined;
            if (item === undefined) {
                return found;
            }
            found = line(item.range?.[0]);
            node = item;
        } else {
            return found;
        }
    }
    return found;
}

/** Locates key paths in one stack file; `label` is how the file is named in messages. */
export function stackFileLocator(
    file: string,
    project: string,
    label: string = path.basename(file),
): (keyPath: string) => string | undefined {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return () => undefined;
    }
    return (keyPath) => {
        const l = lineOfKey(text, project, keyPath);
        return l === undefined ? undefined : `${label}:${l}`;
    };
}

/**
 * The stack file of a program run the way the Pulumi CLI finds it: `Pulumi.<stack>.yaml` (or
 * `.yml`) in the project's `stackConfigDir`, else in the project directory (the program's working
 * directory under `pulumi up`). Undefined when there is none.
 */
export function findStackFile(projectDir: string, stack: string): string | undefined {
    let dir = projectDir;
    try {
        const projectText = fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8");
        const configDir = (parseDocument(projectText).toJS() as { stackConfigDir?: unknown })
            ?.stackConfigDir;
        if (typeof configDir === "string") {
            dir = path.join(projectDir, configDir);
        }
    } catch {
        // no project file: look beside the program
    }
    for (const ext of ["yaml", "yml"]) {
        const f = path.join(dir, `Pulumi.${stack}.${ext}`);
        if (fs.existsSync(f)) {
            return f;
        }
    }
    return undefined;
}
