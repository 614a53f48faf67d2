/**
 * Reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` the way the Pulumi CLI hands configuration to a
 * program: project-level defaults first, stack values over them, every key namespaced, objects as
 * JSON strings, and `secure:` values (which need the stack's secrets provider) replaced by
 * placeholders whose keys are marked secret.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** Configuration as the runtime receives it. */
export interface StackConfig {
    readonly project: string;
    readonly stack: string;
    /** Path of the stack file read (`Pulumi.<stack>.yaml`), for error messages with its lines. */
    readonly file: string;
    /** Full key (`namespace:key`) → value string. */
    readonly values: Record<string, string>;
    /** Full keys whose values are secret. */
    readonly secretKeys: string[];
}

/** A problem reading a project or stack file (a usage error: exit 2). */
export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** The value a `secure:` entry is replaced with offline. */
export function secretPlaceholder(key: string): string {
    return `[secret:${key}]`;
}

function readYaml(file: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        throw new StackFileError(`cannot read ${file}`);
    }
    try {
        const doc = parse(text) as unknown;
        return typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>) : {};
    } catch (e) {
        throw new StackFileError(`${file} is not valid YAML: ${(e as Error).message}`);
    }
}

/** Stack names for which a `Pulumi.<stack>.yaml` exists in `dir`, sorted. */
export function listStacks(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

function stackFile(dir: string, stack: string): string {
    for (const ext of ["yaml", "yml"]) {
        const f = path.join(dir, `Pulumi.${stack}.${ext}`);
        if (fs.existsSync(f)) {
            return f;
        }
    }
    throw new StackFileError(
        `no stack file Pulumi.${stack}.yaml in ${dir}; stacks here: ${listStacks(dir).join(", ") || "none"}`,
    );
}

/**
 * Reads `Pulumi.yaml` from `dir` and `Pulumi.<stack>.yaml` from `configDir` (the project's
 * `stackConfigDir`, by default `dir`) into runtime configuration.
 */
export function readStackConfig(dir: string, stack: string, configDir?: string): StackConfig {
    const projectFile = path.join(dir, "Pulumi.yaml");
    const projectDoc = readYaml(projectFile);
    const project = projectDoc.name;
    if (typeof project !== "string" || project.length === 0) {
        throw new StackFileError(`${projectFile}: 'name' must be the project name`);
    }
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const fullKey = (k: string) => (k.includes(":") ? k : `${project}:${k}`);

    const projectConfig = projectDoc.config ?? {};
    if (typeof projectConfig !== "object" || projectConfig === null) {
        throw new StackFileError(`${projectFile}: 'config' must be a map`);
    }
    for (const [k, decl] of Object.entries(projectConfig as Record<string, unknown>)) {
        // Long form {type, default, value, secret}; short form is the value itself.
        const isDecl =
            typeof decl === "object" &&
            decl !== null &&
            !Array.isArray(decl) &&
            Object.keys(decl).every((x) =>
                ["type", "description", "default", "value", "secret", "items"].includes(x),
            );
        const d = decl as Record<string, unknown>;
        const v = isDecl ? (d.value ?? d.default) : decl;
        if (v !== undefined) {
            store(fullKey(k), v, values, secretKeys);
        }
    }

    const stackDir =
        configDir ??
        (typeof projectDoc.stackConfigDir === "string"
            ? path.join(dir, projectDoc.stackConfigDir)
            : dir);
    const file = stackFile(stackDir, stack);
    const stackDoc = readYaml(file);
    const stackConfig = stackDoc.config ?? {};
    if (typeof stackConfig !== "object" || stackConfig === null || Array.isArray(stackConfig)) {
        throw new StackFileError(`Pulumi.${stack}.yaml: 'config' must be a map of keys to values`);
    }
    for (const [k, v] of Object.entries(stackConfig as Record<string, unknown>)) {
        store(fullKey(k), v, values, secretKeys);
    }
    return { project, stack, file, values, secretKeys: [...secretKeys].sort() };
}

function store(
    key: string,
    raw: unknown,
    values: Record<string, string>,
    secretKeys: Set<string>,
): void {
    let secret = false;
    const walk = (v: unknown, at: string): unknown => {
        if (isSecure(v)) {
            secret = true;
            return secretPlaceholder(at);
        }
        if (Array.isArray(v)) {
            return v.map((x, i) => walk(x, `${at}[${i}]`));
        }
        if (typeof v === "object" && v !== null) {
            return Object.fromEntries(
                Object.entries(v).map(([k, x]) => [k, walk(x, `${at}.${k}`)]),
            );
        }
        return v;
    };
    const value = walk(raw, key);
    values[key] = typeof value === "string" ? value : JSON.stringify(value);
    if (secret) {
        secretKeys.add(key);
    } else {
        secretKeys.delete(key);
    }
}

function isSecure(v: unknown): boolean {
    return (
        typeof v === "object" &&
        v !== null &&
        !Array.isArray(v) &&
        Object.keys(v).length === 1 &&
        typeof (v as Record<string, unknown>).secure === "string"
    );
}
