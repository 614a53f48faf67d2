/**
 * `npm run plan -- [--stack NAME | --all] [--out DIR]`: what `pulumi preview` would do, offline.
 * Each stack is planned in its own process (the program is a module and runs once per process),
 * two at a time.
 */
import { fork } from "child_process";
import * as os from "os";
import * as path from "path";
import { exitCodes } from "./exit-codes";
import type { StackPlanResult } from "./run-stack";
import { listStacks } from "./stackfile";

const usage = `usage: npm run plan -- [--stack NAME | --all] [--out DIR] [--config-dir DIR]

  --stack NAME       plan Pulumi.NAME.yaml (default: dev)
  --all              plan every Pulumi.*.yaml in the project
  --out DIR          write DIR/<stack>/{resources.json,manifests/<cluster>.yaml,report.md} (default: .plan)
  --config-dir DIR   read Pulumi.<stack>.yaml files from DIR (default: the project's stackConfigDir)

Exit codes: 0 clean; 1 a mandatory policy, schema or reachability violation; 2 a config or usage error.`;

/** Parsed command line. */
export interface PlanArgs {
    readonly stacks: string[] | "all";
    readonly out: string;
    readonly configDir?: string;
}

/** Parses the command line; throws a message for a usage error. */
export function parseArgs(argv: readonly string[]): PlanArgs | "help" {
    let stack: string | undefined;
    let all = false;
    let out = ".plan";
    let configDir: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) {
                throw new Error(`${a} needs a value`);
            }
            return v;
        };
        if (a === "--help" || a === "-h") {
            return "help";
        } else if (a === "--stack") {
            stack = value();
        } else if (a.startsWith("--stack=")) {
            stack = a.slice("--stack=".length);
        } else if (a === "--all") {
            all = true;
        } else if (a === "--out") {
            out = value();
        } else if (a.startsWith("--out=")) {
            out = a.slice("--out=".length);
        } else if (a === "--config-dir") {
            configDir = value();
        } else if (a.startsWith("--config-dir=")) {
            configDir = a.slice("--config-dir=".length);
        } else {
            throw new Error(`unknown argument ${a}`);
        }
    }
    if (all && stack !== undefined) {
        throw new Error("--stack and --all are exclusive");
    }
    if (stack !== undefined && !/^[A-Za-z0-9_.-]+$/.test(stack)) {
        throw new Error(`--stack ${stack}: expected a stack name (letters, digits, '_', '.', '-')`);
    }
    return { stacks: all ? "all" : [stack ?? "dev"], out, configDir };
}

function planInChild(
    projectDir: string,
    stack: string,
    out: string,
    configDir?: string,
): Promise<StackPlanResult> {
    return new Promise((resolve) => {
        let result: StackPlanResult | undefined;
        const child = fork(
            path.join(__dirname, "worker.ts"),
            [projectDir, stack, out, configDir ?? ""],
            {
                execArgv: ["-r", "ts-node/register/transpile-only"],
                env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
            },
        );
        child.on("message", (m) => (result = m as StackPlanResult));
        child.on("exit", (code) => {
            resolve(
                result ?? {
                    stack,
                    exitCode: exitCodes.violation,
                    problems: [`planning ${stack} exited with code ${code} and no result`],
                    resourceCount: 0,
                    seconds: 0,
                },
            );
        });
    });
}

async function main(): Promise<number> {
    let args: PlanArgs | "help";
    try {
        args = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`plan: ${(e as Error).message}\n\n${usage}`);
        return exitCodes.configOrUsage;
    }
    if (args === "help") {
        console.log(usage);
        return exitCodes.clean;
    }
    const projectDir = path.resolve(__dirname, "..", "..");
    const configDir = args.configDir === undefined ? undefined : path.resolve(args.configDir);
    const stacks = args.stacks === "all" ? listStacks(configDir ?? projectDir) : args.stacks;
    if (stacks.length === 0) {
        console.error(`plan: no Pulumi.<stack>.yaml in ${projectDir}`);
        return exitCodes.configOrUsage;
    }
    const out = path.resolve(args.out);
    const queue = [...stacks];
    const results: StackPlanResult[] = [];
    const workers = Math.max(1, Math.min(2, os.availableParallelism?.() ?? 2, queue.length));
    await Promise.all(
        Array.from({ length: workers }, async () => {
            for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
                results.push(await planInChild(projectDir, s, out, configDir));
            }
        }),
    );
    results.sort((a, b) => stacks.indexOf(a.stack) - stacks.indexOf(b.stack));
    for (const r of results) {
        const verdict =
            r.exitCode === 0 ? "clean" : r.exitCode === 2 ? "config error" : "violations";
        console.log(
            `${r.stack}: ${verdict}; ${r.resourceCount} resources; ${r.seconds.toFixed(1)} s` +
                (r.warningCount ? `; ${r.warningCount} warning(s) in report.md` : "") +
                (r.outDir ? `; ${path.relative(process.cwd(), r.outDir) || "."}/` : ""),
        );
        for (const p of r.problems) {
            console.log(`  - ${p}`);
        }
    }
    if (results.some((r) => r.exitCode === exitCodes.configOrUsage)) {
        return exitCodes.configOrUsage;
    }
    return results.some((r) => r.exitCode !== 0) ? exitCodes.violation : exitCodes.clean;
}

if (require.main === module) {
    main().then((code) => (process.exitCode = code));
}
