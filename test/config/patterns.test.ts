/**
 * Every field pattern and numeric range of the stack configuration has one home, the `patterns`
 * and `ranges` tables of modules/config/validate.ts: the schema (spec.ts, and through it the JSON
 * Schema) and the section parsers take it from there, so a rule and its message cannot drift
 * between the two.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ocidOf, OcidKind } from "../../modules/config/ocids";
import { globalEntryTtl } from "../../modules/config/fleet";
import { patterns, ranges } from "../../modules/config/validate";

const root = path.resolve(__dirname, "..", "..");
const configDir = path.join(root, "modules", "config");
/** A regex literal given as a (key) pattern or bound to a module-level constant. */
const literal =
    /(?:[pP]attern:\s*|^const \w+ = )\/(?:[^/\\\n[]|\\.|\[(?:[^\]\\]|\\.)*\])+\/[a-z]*[,;]/gm;

/** The TypeScript sources of modules/config but validate.ts, as [file name, text]. */
function otherConfigSources(): [string, string][] {
    return fs
        .readdirSync(configDir)
        .filter((f) => f.endsWith(".ts") && f !== "validate.ts")
        .map((f) => [f, fs.readFileSync(path.join(configDir, f), "utf8")]);
}

/** Every `pattern` string in a JSON Schema document. */
function schemaPatterns(node: unknown, out = new Set<string>()): Set<string> {
    if (Array.isArray(node)) {
        node.forEach((n) => schemaPatterns(n, out));
    } else if (typeof node === "object" && node !== null) {
        for (const [k, v] of Object.entries(node)) {
            if (k === "pattern" && typeof v === "string") {
                out.add(v);
            } else {
                schemaPatterns(v, out);
            }
        }
    }
    return out;
}

describe("config patterns: one home for each field rule", () => {
    it("every pattern of the JSON Schema is an entry of the patterns table or an OCID kind", () => {
        const schema: unknown = JSON.parse(
            fs.readFileSync(path.join(root, "schema", "pulumi-stack.schema.json"), "utf8"),
        );
        const table = new Set(Object.values(patterns).map((p) => p.pattern.source));
        const found = [...schemaPatterns(schema)];
        assert.ok(found.length > 40, `only ${found.length} patterns in the JSON Schema`);
        const strays = found.filter((p) => {
            if (table.has(p)) {
                return false;
            }
            // ocidOf(...kinds) builds `^ocid1\.(a|b)\.…`: the one home of the OCID-kind rules.
            const kinds = /^\^ocid1\\\.\(([a-z|]+)\)/.exec(p)?.[1].split("|") as
                | [OcidKind, ...OcidKind[]]
                | undefined;
            return kinds === undefined || ocidOf(...kinds).pattern.source !== p;
        });
        assert.deepEqual(strays, [], "patterns written outside modules/config/validate.ts");
    });

    it("no file of modules/config but validate.ts writes a field pattern literal", () => {
        const found: string[] = [];
        for (const [file, text] of otherConfigSources()) {
            for (const m of text.matchAll(literal)) {
                found.push(`${file}: ${m[0]}`);
            }
        }
        assert.deepEqual(found, []);
    });

    it("the scan above finds a pattern literal where one is written", () => {
        const sample = [
            "        pattern: /^[a-z0-9._/-]+$/,",
            "const dnsName = /^([a-z0-9]\\.)+[a-z]$/;",
            "    keyPattern: /^[A-Za-z0-9_.-]{1,100}$/,",
        ].join("\n");
        assert.equal([...sample.matchAll(literal)].length, 3);
    });

    it("every numeric range of the JSON Schema is an entry of the ranges table", () => {
        const schema: unknown = JSON.parse(
            fs.readFileSync(path.join(root, "schema", "pulumi-stack.schema.json"), "utf8"),
        );
        const table = new Set(
            [...Object.values(ranges), globalEntryTtl].map((r) => `${r.min}..${r.max}`),
        );
        const found: string[] = [];
        const walk = (node: unknown): void => {
            if (Array.isArray(node)) {
                node.forEach(walk);
            } else if (typeof node === "object" && node !== null) {
                const o = node as Record<string, unknown>;
                // A bound alone (a quota's CPU given as a number: nonnegative) has no parser copy.
                if (typeof o.minimum === "number" && typeof o.maximum === "number") {
                    found.push(`${String(o.minimum)}..${String(o.maximum)}`);
                }
                Object.values(o).forEach(walk);
            }
        };
        walk(schema);
        assert.ok(found.length > 25, `only ${found.length} ranges in the JSON Schema`);
        assert.deepEqual(
            found.filter((r) => !table.has(r)),
            [],
            "ranges written outside modules/config/validate.ts",
        );
    });

    it("no file of modules/config but validate.ts writes a numeric range literal", () => {
        const found: string[] = [];
        for (const [file, text] of otherConfigSources()) {
            // Named, exported bounds (globalEntryTtl, supportedKubernetesMinors) are a home too.
            for (const m of text.matchAll(/^(?!export const).*\bmin: \d+,\s*max: \d+.*$/gm)) {
                found.push(`${file}: ${m[0].trim()}`);
            }
        }
        assert.deepEqual(found, []);
    });
});
