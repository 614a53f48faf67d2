/**
 * Plans a variant of a committed stack (its stack file with one section changed) into a scratch
 * folder, for configurations no committed stack has, such as tenants for the Kata sandbox policy.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { repoRoot } from "./env";
import { K8sObject, PlannedResource } from "./plan";
import { parseAllDocuments } from "yaml";

/**
 * Plans `Pulumi.<base>.yaml` with `edit` applied to its `config` map, as stack `name`, and returns
 * every manifest of every cluster (keyed by cluster) and every resource.
 */
export function planVariant(
    base: string,
    name: string,
    edit: (config: Record<string, unknown>) => void,
): { manifests: Map<string, K8sObject[]>; resources: PlannedResource[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-plan-variant-"));
    const doc = parse(fs.readFileSync(path.join(repoRoot, `Pulumi.${base}.yaml`), "utf8")) as {
        config: Record<string, unknown>;
    };
    edit(doc.config);
    fs.mkdirSync(path.join(dir, "config"));
    fs.writeFileSync(path.join(dir, "config", `Pulumi.${name}.yaml`), stringify(doc));
    execFileSync(
        process.execPath,
        [
            "-r",
            "ts-node/register/transpile-only",
            "tools/plan/cli.ts",
            "--stack",
            name,
            "--config-dir",
            path.join(dir, "config"),
            "--out",
            path.join(dir, "out"),
        ],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 },
    );
    const manifests = path.join(dir, "out", name, "manifests");
    const out = new Map<string, K8sObject[]>();
    for (const f of fs
        .readdirSync(manifests)
        .filter((x) => x.endsWith(".yaml"))
        .sort()) {
        out.set(
            f.slice(0, -".yaml".length),
            parseAllDocuments(fs.readFileSync(path.join(manifests, f), "utf8"))
                .map((d) => d.toJS() as K8sObject | null)
                .filter((o): o is K8sObject => o !== null),
        );
    }
    const resources = JSON.parse(
        fs.readFileSync(path.join(dir, "out", name, "resources.json"), "utf8"),
    ) as PlannedResource[];
    fs.rmSync(dir, { recursive: true, force: true });
    return { manifests: out, resources };
}
