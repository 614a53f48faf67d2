/**
 * The exact files the offline plan renders, for the real-software suites: each stack is planned
 * once per mocha process into a scratch folder, and suites read manifests and Helm values from there.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml, parseAllDocuments, stringify } from "yaml";
import { runPlanCli } from "../../support/plan-cli";
import { repoRoot } from "./env";

const planned = new Map<string, string>();

/** Plans `stack` (once per process) and returns its output folder `<out>/<stack>`. */
export function planStack(stack: string): string {
    const have = planned.get(stack);
    if (have) {
        return have;
    }
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "slp-plan-"));
    execFileSync(
        process.execPath,
        [
            "-r",
            "ts-node/register/transpile-only",
            "tools/plan/cli.ts",
            "--stack",
            stack,
            "--out",
            out,
        ],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 },
    );
    const dir = path.join(out, stack);
    planned.set(stack, dir);
    return dir;
}

/**
 * Plans `stack` with its shipped stack file changed by `edit` (the `config:` map, keys with the
 * project prefix), through `--config-dir`, into a fresh scratch folder `root` (`<root>/out/<stack>`
 * is the output; remove `root` when done). Throws with the CLI's output unless it exits 0.
 */
export async function planEditedStack(
    stack: string,
    edit: (config: Record<string, unknown>) => void,
    prefix = "slp-plan-edited-",
): Promise<{ root: string; out: string }> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const file = `Pulumi.${stack}.yaml`;
    const doc = parseYaml(fs.readFileSync(path.join(repoRoot, file), "utf8"));
    edit(doc.config);
    fs.mkdirSync(path.join(root, "config"));
    fs.writeFileSync(path.join(root, "config", file), stringify(doc));
    const r = await runPlanCli([
        "--stack",
        stack,
        "--out",
        path.join(root, "out"),
        "--config-dir",
        path.join(root, "config"),
    ]);
    if (r.code !== 0) {
        throw new Error(`plan of edited ${stack} exited ${r.code}:\n${r.out}`);
    }
    return { root, out: path.join(root, "out", stack) };
}

/** A Kubernetes object as the plan wrote it. */
export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; [k: string]: unknown };
    [k: string]: unknown;
}

/** Every object of one cluster's manifest file, in the order the plan wrote them. */
export function manifests(stack: string, cluster: string): K8sObject[] {
    const file = path.join(planStack(stack), "manifests", `${cluster}.yaml`);
    return parseAllDocuments(fs.readFileSync(file, "utf8"))
        .map((d) => d.toJS() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null);
}

/** Cluster names of a planned stack (one manifest file each). */
export function clusters(stack: string): string[] {
    return fs
        .readdirSync(path.join(planStack(stack), "manifests"))
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => f.slice(0, -".yaml".length))
        .sort();
}

/** A resource of resources.json (Helm releases carry their values in `inputs.values`). */
export interface PlannedResource {
    urn: string;
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    [k: string]: unknown;
}

/** Every resource the plan recorded for `stack`. */
export function resources(stack: string): PlannedResource[] {
    return JSON.parse(
        fs.readFileSync(path.join(planStack(stack), "resources.json"), "utf8"),
    ) as PlannedResource[];
}

/** The one object of `kind` named `name` (in `namespace` when given); throws naming what is missing. */
export function findObject(
    objects: readonly K8sObject[],
    kind: string,
    name: string,
    namespace?: string,
): K8sObject {
    const hit = objects.find(
        (o) =>
            o.kind === kind &&
            o.metadata.name === name &&
            (namespace === undefined || o.metadata.namespace === namespace),
    );
    if (!hit) {
        throw new Error(`the plan renders no ${kind} ${namespace ? `${namespace}/` : ""}${name}`);
    }
    return hit;
}
