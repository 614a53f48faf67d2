/**
 * Scale benchmark for the offline plan (issue 9): plans a generated 1-cluster stack and a
 * generated N-cluster stack (default 20) of the same shape, and prints the time ratio. Linear
 * scaling means the ratio stays near N (fixed start-up cost makes it lower).
 *
 *   npm run bench:plan-scale [-- --clusters 20]
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";

const root = path.resolve(__dirname, "..");

/** A stack with `n` copies of the dev stack's first cluster, each in its own VCN. */
export function generateStack(n: number): Record<string, unknown> {
    const dev = parse(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")) as {
        config: Record<string, unknown>;
    };
    const config = { ...dev.config };
    const template = (config["secure-llm-platform:clusters"] as Record<string, unknown>[])[0];
    config["secure-llm-platform:clusters"] = Array.from({ length: n }, (_, i) => {
        const c = JSON.parse(JSON.stringify(template)) as {
            name: string;
            network: { vcnCidr: string };
        };
        c.name = `fleet-${String(i + 1).padStart(2, "0")}`;
        c.network.vcnCidr = `10.${100 + i}.0.0/16`;
        return c;
    });
    return { config };
}

function planSeconds(
    dir: string,
    stack: string,
    out: string,
): { seconds: number; resources: number } {
    const started = process.hrtime.bigint();
    const r = spawnSync(
        process.execPath,
        [
            "-r",
            "ts-node/register/transpile-only",
            path.join(root, "tools/plan/cli.ts"),
            "--stack",
            stack,
            "--config-dir",
            dir,
            "--out",
            out,
        ],
        { cwd: root, encoding: "utf8", env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" } },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.status !== 0) {
        throw new Error(`planning ${stack} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
    const resources = (
        JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")) as unknown[]
    ).length;
    return { seconds, resources };
}

function main(): void {
    const i = process.argv.indexOf("--clusters");
    const n = i > 0 ? Number(process.argv[i + 1]) : 20;
    if (!Number.isInteger(n) || n < 2 || n > 100) {
        console.error("--clusters: expected an integer from 2 to 100");
        process.exit(2);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-scale-"));
    try {
        fs.writeFileSync(path.join(dir, "Pulumi.fleet1.yaml"), stringify(generateStack(1)));
        fs.writeFileSync(path.join(dir, `Pulumi.fleet${n}.yaml`), stringify(generateStack(n)));
        const one = planSeconds(dir, "fleet1", path.join(dir, "out"));
        const many = planSeconds(dir, `fleet${n}`, path.join(dir, "out"));
        const ratio = many.seconds / one.seconds;
        console.log(
            `1 cluster:   ${one.resources} resources in ${one.seconds.toFixed(2)} s (whole command)`,
        );
        console.log(
            `${n} clusters: ${many.resources} resources in ${many.seconds.toFixed(2)} s (whole command)`,
        );
        console.log(
            `resource ratio ${(many.resources / one.resources).toFixed(2)}; time ratio ${ratio.toFixed(2)} (linear would be ≤ ${n})`,
        );
        console.log(
            `time per cluster: ${(many.seconds / n).toFixed(2)} s at ${n} vs ${one.seconds.toFixed(2)} s at 1`,
        );
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    main();
}
