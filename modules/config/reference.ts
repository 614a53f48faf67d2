/**
 * Documents generated from the schema (./spec.ts): the README "Configuration reference" and the
 * JSON Schema of a stack file for editors. Both are checked in; `npm run docs:config` rewrites
 * them and test/config/reference.test.ts fails when either is stale.
 */
import { z } from "zod";
import { defOf, schemaAt, unwrap } from "./shape";
import { fieldDocs, layerShape, stackSchema } from "./spec";

/** The markers around the generated part of README.md. */
export const referenceMarkers = {
    begin: "<!-- config-reference:begin (generated from modules/config/spec.ts by `npm run docs:config`; do not edit) -->",
    end: "<!-- config-reference:end -->",
} as const;

interface Row {
    readonly key: string;
    readonly def: string;
    readonly allowed: string;
    readonly meaning: string;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function constantDefault(node: z.ZodType): unknown {
    const d = defOf(node) as unknown as { type: string; defaultValue?: unknown };
    return d.type === "default" ? d.defaultValue : undefined;
}

/** Allowed values in words: enum values, a range, a pattern's description, a type. */
function allowedOf(node: z.ZodType): string {
    const inner = unwrap(node);
    const d = defOf(inner);
    const doc = fieldDocs.get(node);
    switch (d.type) {
        case "enum":
            return Object.values(d.entries ?? {})
                .map((v) => `\`${v}\``)
                .join(", ");
        case "boolean":
            return "`true`, `false`";
        case "number": {
            const js = z.toJSONSchema(inner) as {
                minimum?: number;
                maximum?: number;
                type?: string;
            };
            const kind = js.type === "integer" ? "integer" : "number";
            return js.minimum !== undefined && js.maximum !== undefined
                ? `${kind} ${js.minimum}–${js.maximum}`
                : kind;
        }
        case "string":
            return doc?.expected && doc.expected !== "a non-empty string" ? doc.expected : "string";
        case "array": {
            const el = d.element ? unwrap(d.element) : undefined;
            if (el && defOf(el).type === "object") {
                return "list of objects (below)";
            }
            return `list of: ${d.element ? allowedOf(d.element) : "values"}`;
        }
        case "record":
            return doc?.expected ?? "map";
        case "union":
            return doc?.expected ?? "";
        default:
            return doc?.expected ?? d.type;
    }
}

function defaultOf(node: z.ZodType): string {
    const doc = fieldDocs.get(node);
    if (doc?.defaultText !== undefined) {
        return doc.defaultText;
    }
    const c = constantDefault(node);
    if (c !== undefined) {
        return `\`${JSON.stringify(c).replace(/^"(.*)"$/, "$1")}\``;
    }
    if (doc?.required !== undefined) {
        return doc.required;
    }
    return "none";
}

/** Rows for the keys of an object node, recursing into nested objects and lists of objects. */
function rows(
    node: z.ZodType,
    prefix: string,
    skip: readonly string[] = [],
    shallow: readonly string[] = [],
): Row[] {
    const d = defOf(unwrap(node));
    const out: Row[] = [];
    for (const [key, child] of Object.entries(d.shape ?? {})) {
        if (skip.includes(key)) {
            continue;
        }
        const name = `${prefix}${key}`;
        const inner = unwrap(child);
        const cd = defOf(inner);
        const description = child.description ?? inner.description ?? "";
        if (cd.type === "object") {
            out.push({
                key: `\`${name}\``,
                def: fieldDocs.get(child)?.defaultText ?? "",
                allowed: "object",
                meaning: description,
            });
            out.push(...rows(child, `${name}.`));
        } else if (
            cd.type === "array" &&
            cd.element &&
            defOf(unwrap(cd.element)).type === "object"
        ) {
            out.push({
                key: `\`${name}[]\``,
                def: defaultOf(child),
                allowed: allowedOf(child),
                meaning: description,
            });
            if (!shallow.includes(key)) {
                out.push(...rows(cd.element, `${name}[].`));
            }
        } else {
            out.push({
                key: `\`${name}\``,
                def: defaultOf(child),
                allowed: allowedOf(child),
                meaning: description,
            });
        }
    }
    return out;
}

function table(r: readonly Row[]): string {
    return [
        "| key | default | allowed | meaning |",
        "|---|---|---|---|",
        ...r.map((x) => `| ${x.key} | ${cell(x.def)} | ${cell(x.allowed)} | ${cell(x.meaning)} |`),
    ].join("\n");
}

const layerNames = Object.keys(layerShape);

/** The README section between {@link referenceMarkers}, from the schema. */
export function configReferenceMarkdown(): string {
    const cluster = schemaAt(stackSchema, ["clusters", 0])!;
    const nodePool = schemaAt(stackSchema, ["clusters", 0, "nodePools", 0])!;
    const parts = [
        "Every key lives under the project namespace (`secure-llm-platform:<key>` in `Pulumi.<stack>.yaml`).",
        "Every value is validated before any resource is declared; an invalid one stops `pulumi up` (a",
        "`pulumi.RunError`: the list once, no stack trace) and `npm run plan` (exit 2), each problem once,",
        "at the stack file line that wrote it, with the value (never a value under an unknown key or one",
        "that looks like a credential) and what is expected, with a did-you-mean for misspelt keys and",
        "values. Unknown keys are refused, so a typo never falls back to a default silently. Editors",
        "can validate a stack file with [schema/pulumi-stack.schema.json](schema/pulumi-stack.schema.json)",
        "(for the YAML language server: `# yaml-language-server: $schema=schema/pulumi-stack.schema.json`).",
        "",
        "The in-cluster sections (`baseline`, `tiers`, `networkPolicy`, `observability`, `kubeflow`) can be",
        "set at stack level and overridden per cluster (`clusters[i].<section>`, deep-merged; a list",
        "replaces the inherited one), so every cluster gets the same platform and only what a cluster says",
        "differs. This reference is generated from `modules/config/spec.ts` (`npm run docs:config`).",
        "",
        "### Stack",
        "",
        table([
            ...rows(stackSchema, "", layerNames, ["clusters"]),
            {
                key: "`kubeconfig-<cluster>`",
                def: "none",
                allowed: "secret",
                meaning:
                    "**secret**: the kubeconfig of an existing cluster (`pulumi config set --secret kubeconfig-<cluster> < file`; `kubeconfigKey` renames it); a plaintext value is refused",
            },
        ]),
        "",
        "### Clusters (`clusters[i]`)",
        "",
        table(rows(cluster, "", layerNames, ["nodePools"])),
        "",
        "Node pools (`clusters[i].nodePools[j]`):",
        "",
        table(rows(nodePool, "")),
        "",
        "GPU pools are tainted `nvidia.com/gpu=present:NoSchedule`, Kata pools `kata=true:NoSchedule` (through kubelet extra args in cloud-init: managed pools have no taint field).",
    ];
    for (const name of layerNames) {
        const node = (layerShape as Record<string, z.ZodType>)[name];
        parts.push(
            "",
            `### \`${name}\``,
            "",
            `${node.description ?? ""}. Stack level \`${name}\`, per cluster \`clusters[i].${name}\`.`,
            "",
            table(rows(node, "")),
        );
    }
    return parts.join("\n");
}

/** README.md with the generated section replaced by `section`. */
export function withReference(readme: string, section: string): string {
    const b = readme.indexOf(referenceMarkers.begin);
    const e = readme.indexOf(referenceMarkers.end);
    if (b < 0 || e < b) {
        throw new Error(
            `README.md has no ${referenceMarkers.begin} … ${referenceMarkers.end} block under "## Configuration reference"`,
        );
    }
    return `${readme.slice(0, b + referenceMarkers.begin.length)}\n\n${section}\n\n${readme.slice(e)}`;
}

/**
 * The JSON Schema of a `Pulumi.<stack>.yaml` for editors: the project's keys under `config`, each
 * namespaced (`secure-llm-platform:<key>`) or bare, with `{secure: …}` values for the kubeconfig
 * keys, and the other namespaces (`oci:region`, …) and the file's own keys left open.
 */
export function stackFileJsonSchema(project = "secure-llm-platform"): Record<string, unknown> {
    const root = z.toJSONSchema(stackSchema, {
        io: "input",
        unrepresentable: "any",
        reused: "ref",
    }) as {
        properties: Record<string, unknown>;
        $defs?: Record<string, unknown>;
        required?: string[];
        description?: string;
    };
    const properties: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(root.properties)) {
        properties[`${project}:${k}`] = v;
    }
    const secure = {
        type: "object",
        properties: { secure: { type: "string" } },
        required: ["secure"],
        additionalProperties: false,
        description: "an encrypted value (pulumi config set --secret)",
    };
    return {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        $id: "https://secure-llm-platform.invalid/schema/pulumi-stack.schema.json",
        title: `Pulumi.<stack>.yaml of ${project}`,
        description: `Generated from modules/config/spec.ts by \`npm run docs:config\`. ${root.description ?? ""}`,
        type: "object",
        $defs: root.$defs,
        properties: {
            config: {
                type: "object",
                properties,
                required: (root.required ?? []).map((k) => `${project}:${k}`),
                patternProperties: {
                    [`^${project}:kubeconfig-[a-z0-9-]+$`]: secure,
                    [`^(?!${project}:)[A-Za-z0-9_.-]+:.+$`]: {},
                },
                additionalProperties: false,
            },
            secretsprovider: { type: "string" },
            encryptedkey: { type: "string" },
            encryptionsalt: { type: "string" },
            environment: {},
        },
        additionalProperties: false,
    };
}
