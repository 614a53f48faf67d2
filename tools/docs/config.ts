/**
 * `npm run docs:config`: rewrites the README "Configuration reference" block and
 * schema/pulumi-stack.schema.json from the config schema (modules/config/spec.ts). With `--check`
 * it only reports whether they are stale (exit 1), as test/config/reference.test.ts does in CI.
 */
import * as fs from "fs";
import * as path from "path";
import {
    configReferenceMarkdown,
    stackFileJsonSchema,
    withReference,
} from "../../modules/config/reference";

const root = path.resolve(__dirname, "..", "..");
export const readmeFile = path.join(root, "README.md");
export const jsonSchemaFile = path.join(root, "schema", "pulumi-stack.schema.json");

/** The generated files' wanted contents. */
export function generated(): { readme: string; jsonSchema: string } {
    return {
        readme: withReference(fs.readFileSync(readmeFile, "utf8"), configReferenceMarkdown()),
        jsonSchema: `${JSON.stringify(stackFileJsonSchema(), null, 2)}\n`,
    };
}

if (require.main === module) {
    const check = process.argv.includes("--check");
    const want = generated();
    const files: [string, string][] = [
        [readmeFile, want.readme],
        [jsonSchemaFile, want.jsonSchema],
    ];
    let stale = 0;
    for (const [file, text] of files) {
        const have = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        if (have === text) {
            continue;
        }
        if (check) {
            console.error(`${path.relative(root, file)} is stale: run npm run docs:config`);
            stale++;
        } else {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, text);
            console.log(`wrote ${path.relative(root, file)}`);
        }
    }
    process.exitCode = stale > 0 ? 1 : 0;
}
