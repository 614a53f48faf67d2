/**
 * The output-filter tier (Presidio) as seen from the evaluation pod: unreachable by design, since
 * only the guardrails tier may call it (network intent, issue 4). The rails' masking action fails
 * closed when Presidio does not answer (`guardrails/default/actions.py`
 * `mask_sensitive_data_presidio` withholds the response), so evaluating a candidate as it is would
 * withhold every answer that the blocking rails let through.
 *
 * The evaluation therefore serves a copy of the candidate whose `custom_data.presidio` URLs point at
 * a loopback stand-in started here, which finds no entities and returns the text unchanged. Only
 * those two values differ between the copy and the candidate: every rail that decides blocking
 * (input rails, self check output, prompts, models) is evaluated byte for byte as promoted, and the
 * digest the promote step checks is computed over the original candidate, never over the copy.
 * What the evaluation does not exercise is the masking itself (see pipelines/README.md).
 */
import * as http from "http";
import { AddressInfo } from "net";
import { RefusedError, RuleBundle } from "../bundle";

/** The `custom_data.presidio` keys the masking action calls (`actions.py` `_mask`). */
export const presidioUrlKeys = ["analyzer_url", "anonymizer_url"] as const;

/** Trailing comment on every rewritten line, so a served copy says what it is. */
export const standInComment = "# evaluation stand-in (pipelines/evaluate/presidio-standin.ts)";

/** A running stand-in. */
export interface PresidioStandIn {
    /** `http://127.0.0.1:<port>`: answers `POST /analyze` and `POST /anonymize`. */
    readonly url: string;
    /** Requests answered so far, by path, for the report. */
    readonly calls: Readonly<Record<string, number>>;
    stop(): Promise<void>;
}

/** Largest request body read: one model answer plus Presidio's fields. */
const maxBodyBytes = 1024 * 1024;

/**
 * Starts the stand-in on 127.0.0.1 (ephemeral port unless given): `/analyze` finds nothing
 * (`[]`), `/anonymize` returns the text unchanged, `GET /health` answers; anything else is 404.
 */
export async function startPresidioStandIn(port = 0): Promise<PresidioStandIn> {
    const calls: Record<string, number> = {};
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (c: Buffer) => {
            size += c.length;
            if (size > maxBodyBytes) {
                res.writeHead(413).end();
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on("end", () => {
            const route = `${req.method} ${(req.url ?? "").split("?")[0]}`;
            if (route === "GET /health") {
                res.writeHead(200, { "content-type": "text/plain" }).end("ok");
                return;
            }
            if (route !== "POST /analyze" && route !== "POST /anonymize") {
                res.writeHead(404).end();
                return;
            }
            let body: Record<string, unknown>;
            try {
                body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            } catch {
                res.writeHead(400).end("body is not JSON");
                return;
            }
            calls[route] = (calls[route] ?? 0) + 1;
            const answer =
                route === "POST /analyze"
                    ? []
                    : { text: typeof body.text === "string" ? body.text : "", items: [] };
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify(answer));
        });
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        calls,
        stop: () =>
            new Promise<void>((r) => {
                server.closeAllConnections();
                server.close(() => r());
            }),
    };
}

const isYaml = (k: string) => k.endsWith(".yml") || k.endsWith(".yaml");

/** Indentation of a line and its key, or undefined for blank, comment and non-key lines. */
function keyOf(line: string): { indent: number; key: string } | undefined {
    const m = /^( *)([A-Za-z_][-A-Za-z0-9_]*):(\s|$)/.exec(line);
    return m ? { indent: m[1].length, key: m[2] } : undefined;
}

/** The keys enclosing line `i` of a block-style YAML document, outermost first. */
function parentsOf(lines: readonly string[], i: number): string[] {
    const out: string[] = [];
    let indent = keyOf(lines[i])?.indent ?? 0;
    for (let j = i - 1; j >= 0 && indent > 0; j--) {
        const k = keyOf(lines[j]);
        if (k && k.indent < indent) {
            out.unshift(k.key);
            indent = k.indent;
        }
    }
    return out;
}

/**
 * The copy of a candidate the evaluation serves: `config.yml`'s `custom_data.presidio.analyzer_url`
 * and `anonymizer_url` point at `standInUrl`; every other byte of every file is the candidate's.
 * A candidate without them is returned as it is. Refuses (rather than guessing) when a URL key is
 * written in a form this line-level rewrite cannot place with certainty: flow style, another YAML
 * file, more than once, or outside `custom_data.presidio`.
 */
export function evaluationCopy(candidate: RuleBundle, standInUrl: string): RuleBundle {
    const out: Record<string, string> = { ...candidate };
    const config = candidate["config.yml"] ?? "";
    const lines = config.split("\n");
    for (const key of presidioUrlKeys) {
        const mentions = Object.entries(candidate)
            .filter(([k]) => isYaml(k))
            .reduce((n, [, text]) => n + text.split(key).length - 1, 0);
        const at = lines.map((l, i) => (keyOf(l)?.key === key ? i : -1)).filter((i) => i >= 0);
        if (mentions === 0) continue;
        const where = parentsOf(lines, at[0] ?? 0);
        if (
            at.length !== 1 ||
            mentions !== 1 ||
            where.length !== 2 ||
            where[0] !== "custom_data" ||
            where[1] !== "presidio"
        ) {
            throw new RefusedError(
                `the candidate's ${key} must appear exactly once, as a block-style ` +
                    `"custom_data: presidio: ${key}: <url>" line of config.yml (found ${mentions} ` +
                    `mention(s) in the rule set's YAML files): the evaluation points it at a local ` +
                    `stand-in and refuses to guess where it is`,
            );
        }
        const indent = " ".repeat(keyOf(lines[at[0]])!.indent);
        lines[at[0]] = `${indent}${key}: ${standInUrl}  ${standInComment}`;
    }
    out["config.yml"] = lines.join("\n");
    if (candidate["config.yml"] === undefined) delete out["config.yml"];
    return out;
}
