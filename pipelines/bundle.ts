/**
 * A guardrail rule set as the pipelines move it: the `data` of the `guardrails-rails` ConfigMap,
 * one key per file of a rails configuration directory. Keys are ConfigMap keys, so nested paths
 * are flattened (`rails/input.co` → `rails__input.co`); NeMo Guardrails loads every `.co` file
 * under the config directory, so the flat layout serves the same rails.
 */
import { createHash } from "crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import * as path from "path";

/** A rule set or model reference that must not be promoted; the CLI exits 1. */
export class RefusedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "RefusedError";
    }
}

/** ConfigMap key → file content. */
export type RuleBundle = Readonly<Record<string, string>>;

/** ConfigMap keys (Kubernetes `IsConfigMapKey`), minus names that escape a directory. */
const keyPattern = /^[-._a-zA-Z0-9]+$/;

/** Largest bundle accepted: ConfigMaps hold at most 1 MiB, and the bundle travels as an argument. */
export const maxBundleBytes = 96 * 1024;

/** Files whose content is executed by the guardrails server: code, not rules. */
export function isCode(key: string): boolean {
    return key.endsWith(".py");
}

/** Parses and checks a bundle given as JSON text. */
export function parseBundle(text: string): RuleBundle {
    if (Buffer.byteLength(text, "utf8") > maxBundleBytes) {
        throw new RefusedError(
            `the rule set is ${Buffer.byteLength(text, "utf8")} bytes; at most ${maxBundleBytes} are accepted`,
        );
    }
    let v: unknown;
    try {
        v = JSON.parse(text);
    } catch {
        throw new RefusedError(
            'the rule set must be a JSON object of file name → content, e.g. {"config.yml": "..."}',
        );
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
        throw new RefusedError("the rule set must be a JSON object of file name → content");
    }
    const out: Record<string, string> = {};
    for (const [k, content] of Object.entries(v)) {
        if (!keyPattern.test(k) || k === "." || k === "..") {
            throw new RefusedError(
                `rule file name ${JSON.stringify(k)} is not a ConfigMap key (letters, digits, '-', '_', '.')`,
            );
        }
        if (typeof content !== "string") {
            throw new RefusedError(`rule file ${k}: content must be a string`);
        }
        out[k] = content;
    }
    if (out["config.yml"] === undefined) {
        throw new RefusedError(
            "the rule set has no config.yml; every rails configuration needs one",
        );
    }
    return out;
}

/** SHA-256 of a bundle, independent of key order: what evaluation certifies and promotion checks. */
export function bundleDigest(b: RuleBundle): string {
    const h = createHash("sha256");
    for (const k of Object.keys(b).sort()) {
        h.update(k, "utf8").update("\0").update(b[k], "utf8").update("\0");
    }
    return h.digest("hex");
}

/** Writes a bundle as a rails configuration directory. */
export function writeBundle(dir: string, b: RuleBundle): void {
    mkdirSync(dir, { recursive: true });
    for (const [k, content] of Object.entries(b)) {
        writeFileSync(path.join(dir, k), content, { mode: 0o444 });
    }
}

/** Reads a rails configuration directory (e.g. `guardrails/default`) into a bundle. */
export function bundleFromDirectory(dir: string): RuleBundle {
    const out: Record<string, string> = {};
    const walk = (rel: string) => {
        for (const name of readdirSync(path.join(dir, rel)).sort()) {
            const r = rel === "" ? name : `${rel}/${name}`;
            const st = statSync(path.join(dir, r));
            if (st.isDirectory()) walk(r);
            else if (st.isFile())
                out[r.split("/").join("__")] = readFileSync(path.join(dir, r), "utf8");
        }
    };
    walk("");
    return out;
}

/**
 * Keys whose code differs between the deployed and the candidate bundle. Pipelines ship rules,
 * not code: a change to `actions.py`/`config.py` goes through review and `pulumi up`.
 */
export function changedCode(deployed: RuleBundle, candidate: RuleBundle): string[] {
    const keys = new Set([...Object.keys(deployed), ...Object.keys(candidate)].filter(isCode));
    return [...keys].filter((k) => deployed[k] !== candidate[k]).sort();
}
