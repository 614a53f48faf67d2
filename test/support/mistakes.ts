/** Stack files with one of each class of configuration mistake (test/config/mistakes.test.ts). */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");

export const secret = "Sup3rS3cretPassw0rd2026";
export const token = "sk-live-4f9a8b7c6d5e4f3a2b1c";

/** The prod stack (two OKE clusters) with `edits` applied (each `[old, new]` must match). */
export function prodWith(edits: [string, string][]): string {
    let text = fs.readFileSync(path.join(root, "Pulumi.prod.yaml"), "utf8");
    for (const [from, to] of edits) {
        assert.ok(text.includes(from), `fixture edit does not apply: ${from}`);
        text = text.replace(from, to);
    }
    return text;
}

/** 1-based line of the only line of `text` containing `snippet`. */
export function lineOf(text: string, snippet: string, nth = 0): number {
    const lines = text.split("\n");
    const hits = lines.map((l, i) => (l.includes(snippet) ? i + 1 : 0)).filter((n) => n > 0);
    assert.ok(hits.length > nth, `no line with ${snippet}`);
    return hits[nth];
}

export function writeStack(dir: string, name: string, text: string): string {
    fs.copyFileSync(path.join(root, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const file = path.join(dir, `Pulumi.${name}.yaml`);
    fs.writeFileSync(file, text);
    return file;
}

/**
 * The prod stack (two OKE clusters) with: a stack-level mistake inherited by both clusters, a
 * made-up top-level key holding a password, an enum typo, and a second cluster whose tiers
 * override has a wrong value, a misspelt key, a made-up key holding a token and a prod rule broken.
 */
export function mistakesStack(): string {
    return prodWith([
        // A stack-level mistake, inherited by both clusters.
        ["    guardrails:\n      replicas: 3", "    guardrails:\n      replicas: 0"],
        // A made-up top-level key holding a password.
        [
            "  secure-llm-platform:ociAuth:",
            `  secure-llm-platform:dbPassword: ${secret}\n  secure-llm-platform:ociAuth:`,
        ],
        // An enum typo.
        ["    protectionMode: HSM", "    protectionMode: HMS"],
        // The second cluster overrides part of the tiers section: one value wrong, one key
        // misspelt, one key made up with a token under it, one prod rule broken.
        [
            "          hostname: llm-fra.example.com\n",
            [
                "          hostname: llm-fra.example.com",
                "          rateLimitRps: 0",
                "          replicaz: 3",
                `          apiKey: ${token}`,
                "        inference:",
                "          replicas: 1",
                "",
            ].join("\n"),
        ],
    ]);
}
