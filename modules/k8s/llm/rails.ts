/**
 * The guardrails rails configuration as data: read from `guardrails/<configId>/`, rendered with
 * the in-cluster endpoints of the catalog, checksummed (a change rolls the pods) and checked for
 * flows that are referenced but never defined. All pure except {@link readRailFiles}.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

/** Rail files by path relative to the config directory (`config.yml`, `rails/input.co`, ...). */
export type RailFiles = Readonly<Record<string, string>>;

/** Root of the rails configurations in the repository. */
export const railsRoot = path.resolve(__dirname, "..", "..", "..", "guardrails");

/** File names that belong in a rails ConfigMap. Anything else in the directory is refused. */
const railFilePattern =
    /^(config\.yml|prompts\.yml|actions\.py|config\.py|rails\/[A-Za-z0-9_-]+\.co)$/;

/** Reads every rail file of `guardrails/<configId>/`; refuses stray files (they would not be mounted). */
export function readRailFiles(configId: string, root: string = railsRoot): RailFiles {
    const dir = path.join(root, configId);
    if (!fs.existsSync(path.join(dir, "config.yml"))) {
        throw new Error(
            `rails configuration ${configId} not found: expected ${path.join(dir, "config.yml")}; ` +
                "set tiers.guardrails.configId to a directory under guardrails/",
        );
    }
    const out: Record<string, string> = {};
    const walk = (rel: string) => {
        for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const p = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) {
                if (entry.name !== "__pycache__") {
                    walk(p);
                }
            } else if (railFilePattern.test(p)) {
                out[p] = fs.readFileSync(path.join(dir, p), "utf8");
            } else {
                throw new Error(
                    `guardrails/${configId}/${p} is not a rail file (config.yml, prompts.yml, actions.py, ` +
                        "config.py, rails/*.co); remove it or rename it",
                );
            }
        }
    };
    walk("");
    return out;
}

/** In-cluster endpoints and settings rendered into config.yml. */
export interface RailsEndpoints {
    readonly configId: string;
    /** OpenAI base URL of the inference tier, `http://<host>:<port>/v1`. */
    readonly inferenceBaseUrl: string;
    /** Served model name. */
    readonly modelName: string;
    /** `http://<host>:1337/heuristics`. */
    readonly jailbreakEndpoint: string;
    readonly presidioAnalyzerUrl: string;
    readonly presidioAnonymizerUrl: string;
    /** Presidio entities to mask. */
    readonly entities: readonly string[];
}

/** Returns the files with config.yml's endpoints, model and entities set from `e`. */
export function renderRailFiles(files: RailFiles, e: RailsEndpoints): RailFiles {
    const doc = YAML.parseDocument(files["config.yml"] ?? "");
    const cfg = (doc.toJS() ?? {}) as { models?: { type?: string }[] };
    const main = (cfg.models ?? []).findIndex((m) => m.type === "main");
    if (main < 0) {
        throw new Error(
            `guardrails/${e.configId}/config.yml has no model of type main; add one (engine openai)`,
        );
    }
    // nemoguardrails 0.22+ refuses `vllm_openai`/`openai_api_base`: its own OpenAI-compatible
    // client takes `engine: openai`, `model` and `parameters.base_url`.
    for (const stale of ["openai_api_base", "model_name", "openai_api_key", "api_key"]) {
        doc.deleteIn(["models", main, "parameters", stale]);
    }
    doc.setIn(["models", main, "engine"], "openai");
    doc.setIn(["models", main, "model"], e.modelName);
    doc.setIn(["models", main, "parameters", "base_url"], e.inferenceBaseUrl);
    doc.setIn(["rails", "config", "jailbreak_detection", "server_endpoint"], e.jailbreakEndpoint);
    // Masking rails cannot rewrite chunks already sent: the entrypoint streams the checked answer.
    doc.setIn(["rails", "output", "streaming", "enabled"], false);
    doc.setIn(["custom_data", "config_id"], e.configId);
    doc.setIn(["custom_data", "presidio", "analyzer_url"], e.presidioAnalyzerUrl);
    doc.setIn(["custom_data", "presidio", "anonymizer_url"], e.presidioAnonymizerUrl);
    doc.setIn(["custom_data", "presidio", "entities"], doc.createNode([...e.entities]));
    return { ...files, "config.yml": doc.toString() };
}

/** SHA-256 over every file's path and content, in path order: the pod-template annotation. */
export function railsChecksum(files: RailFiles): string {
    const h = createHash("sha256");
    for (const p of Object.keys(files).sort()) {
        h.update(p).update("\0").update(files[p]).update("\0");
    }
    return h.digest("hex");
}

/** ConfigMap key of a rail file (keys may not contain `/`). */
export function configMapKey(relPath: string): string {
    return relPath.replace(/\//g, "__");
}

/**
 * Flows NeMo Guardrails 0.24.1 ships in `nemoguardrails/library/` (Colang 1.0), which a config
 * may name without defining. Only these; a name outside this list must be defined in rails/*.co.
 */
export const builtinFlows = [
    "self check input",
    "self check output",
    "self check facts",
    "self check hallucination",
    "jailbreak detection heuristics",
    "jailbreak detection model",
    "mask sensitive data on input",
    "mask sensitive data on output",
    "mask sensitive data on retrieval",
    "detect sensitive data on input",
    "detect sensitive data on output",
    "content safety check input",
    "content safety check output",
    "topic safety check input",
    "injection detection",
] as const;

/** Flow names referenced by config.yml (`rails.<kind>.flows`) and by `do <flow>` in .co files. */
export function referencedFlows(files: RailFiles): string[] {
    const cfg = (YAML.parse(files["config.yml"] ?? "") ?? {}) as {
        rails?: Record<string, { flows?: unknown[] } | undefined>;
    };
    const out = new Set<string>();
    for (const kind of ["input", "output", "retrieval", "dialog", "execution"]) {
        for (const f of cfg.rails?.[kind]?.flows ?? []) {
            if (typeof f === "string") {
                // `content safety check input $model=content_safety`: the flow name ends before `$`.
                out.add(f.split("$")[0].trim());
            }
        }
    }
    for (const [p, text] of Object.entries(files)) {
        if (p.endsWith(".co")) {
            for (const m of text.matchAll(/^\s*do\s+([a-z][a-z0-9 _]*?)\s*$/gim)) {
                out.add(m[1]);
            }
        }
    }
    return [...out];
}

/** Flow and subflow names defined by `define flow|subflow <name>` in the .co files. */
export function definedFlows(files: RailFiles): string[] {
    const out = new Set<string>();
    for (const [p, text] of Object.entries(files)) {
        if (p.endsWith(".co")) {
            for (const m of text.matchAll(/^\s*define\s+(?:flow|subflow)\s+(.+?)\s*$/gm)) {
                out.add(m[1]);
            }
        }
    }
    return [...out];
}

/** Flows a configuration names that neither its .co files nor the library define. Pure. */
export function missingFlows(files: RailFiles): string[] {
    const defined = new Set<string>([...definedFlows(files), ...builtinFlows]);
    return referencedFlows(files).filter((f) => !defined.has(f));
}
