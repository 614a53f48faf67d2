/**
 * What is generated from the config schema (modules/config/spec.ts) is checked in and current:
 * the README "Configuration reference" and schema/pulumi-stack.schema.json; the JSON Schema
 * accepts every shipped stack file and refuses a typo; every constant default of the schema is
 * the default the section parsers apply.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import { z } from "zod";
import { parseConfig } from "../../modules/config";
import { defOf, unwrap } from "../../modules/config/shape";
import { layerShape, stackSchema } from "../../modules/config/spec";
import { generated, jsonSchemaFile, readmeFile } from "../../tools/docs/config";
import { listStacks } from "../../tools/plan/stackfile";
import { stackRaw } from "../support/stacks";

const root = path.resolve(__dirname, "..", "..");

describe("config schema: generated documents", () => {
    it("README's configuration reference is the one generated from the schema (npm run docs:config)", () => {
        assert.ok(
            fs.readFileSync(readmeFile, "utf8") === generated().readme,
            "README.md is stale: run npm run docs:config and commit it",
        );
    });

    it("schema/pulumi-stack.schema.json is the one generated from the schema", () => {
        assert.ok(
            fs.readFileSync(jsonSchemaFile, "utf8") === generated().jsonSchema,
            "schema/pulumi-stack.schema.json is stale: run npm run docs:config and commit it",
        );
    });

    it("documents every key of every section in the README", () => {
        const readme = fs.readFileSync(readmeFile, "utf8");
        for (const key of ["vault.rotationDays", "gateway.auth.apiKeysSecret", "engine"]) {
            assert.ok(readme.includes(`\`${key}\``), key);
        }
        for (const section of Object.keys(layerShape)) {
            assert.ok(readme.includes(`### \`${section}\``), section);
        }
    });
});

describe("config schema: JSON Schema for editors", () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(jsonSchemaFile, "utf8")));
    const stackDoc = (name: string) =>
        parse(fs.readFileSync(path.join(root, `Pulumi.${name}.yaml`), "utf8")) as Record<
            string,
            any
        >;

    it("accepts every shipped stack file", () => {
        const stacks = listStacks(root);
        assert.ok(stacks.length >= 4);
        for (const s of stacks) {
            assert.ok(validate(stackDoc(s)), `${s}: ${ajv.errorsText(validate.errors)}`);
        }
    });

    it("refuses a misspelt key and an out-of-range value", () => {
        const doc = stackDoc("prod");
        doc.config["secure-llm-platform:vault"].rotationDay = 90;
        assert.equal(validate(doc), false);
        assert.match(ajv.errorsText(validate.errors), /additional properties/);
        const doc2 = stackDoc("prod");
        doc2.config["secure-llm-platform:vault"].rotationDays = 7;
        assert.equal(validate(doc2), false);
        assert.match(ajv.errorsText(validate.errors), /rotationDays must be >= 60/);
    });
});

/** Every leaf below `node` with a constant default, as [path segments, default]. */
function constantDefaults(node: z.ZodType, at: string[] = []): [string[], unknown][] {
    const d = defOf(unwrap(node));
    const out: [string[], unknown][] = [];
    for (const [key, child] of Object.entries(d.shape ?? {})) {
        const cd = defOf(child) as unknown as { type: string; defaultValue?: unknown };
        if (cd.type === "default") {
            out.push([[...at, key], cd.defaultValue]);
        } else if (defOf(unwrap(child)).type === "object") {
            out.push(...constantDefaults(child, [...at, key]));
        }
    }
    return out;
}

describe("config schema: one set of defaults", () => {
    it("every constant default of the schema is what the parsers apply", () => {
        // A minimal OKE stack: only what is required, so every default applies.
        const dev = stackRaw("dev");
        const c = dev.clusters[0];
        const raw = {
            environment: "dev",
            compartmentId: dev.compartmentId,
            tenancyId: dev.tenancyId,
            homeRegion: dev.homeRegion,
            clusters: [{ name: c.name, region: c.region, nodePools: c.nodePools }],
        };
        const cfg = parseConfig(raw, { stack: "t" }) as unknown as Record<string, any>;
        const cluster = cfg.clusters[0];
        const get = (o: any, segs: string[]) => segs.reduce((v, s) => v?.[s], o);
        const checked: string[] = [];
        for (const [segs, def] of constantDefaults(stackSchema)) {
            const [first] = segs;
            const base = first in layerShape ? cluster.layer : cfg;
            if (get(base, segs.slice(0, -1)) === undefined) {
                continue; // an optional object the minimal stack does not set (ingress.acme)
            }
            const value = get(base, segs);
            assert.deepEqual(value, def, `${segs.join(".")}: schema says ${JSON.stringify(def)}`);
            checked.push(segs.join("."));
        }
        const clusterSchema = defOf(unwrap(stackSchema)).shape!.clusters as z.ZodType;
        const el = defOf(unwrap(clusterSchema)).element!;
        for (const [segs, def] of constantDefaults(el)) {
            if (segs[0] === "capabilities") {
                continue; // existing clusters only; an OKE cluster derives them from its pools
            }
            const base = segs[0] in layerShape ? cluster.layer : cluster;
            if (get(base, segs.slice(0, -1)) === undefined) {
                continue;
            }
            const value = get(base, segs);
            assert.deepEqual(value, def, `clusters[].${segs.join(".")}`);
            checked.push(`clusters[].${segs.join(".")}`);
        }
        assert.ok(checked.length > 60, `checked ${checked.length} defaults`);
    });
});
