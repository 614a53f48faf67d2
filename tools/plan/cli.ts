/**
 * `npm run plan -- [-s NAME | --all] [--out DIR] [--config-dir DIR] [--json]`: what `pulumi preview`
 * would do, offline. Each stack is planned in its own process (the program is a module and runs
 * once per process), two at a time. Progress goes to stderr on a terminal; the verdict, warnings and
 * the diff against the previous plan in the same folder go to stdout (or one JSON document with
 * `--json`). Every usage or I/O error is one line and exit 2.
 */
import { fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs as parseNodeArgs } from "util";
import { didYouMean } from "../../modules/config/suggest";
import {
    PlanDiff,
    diffSnapshots,
    isEmptyDiff,
    readSnapshot,
    renderDiff,
    summarizeDiff,
} from "./diff";
import { exitCodes } from "./exit-codes";
import type { StackPlanResult } from "./run-stack";
import { listStacks } from "./stackfile";

const usage = `usage: npm run plan -- [-s NAME | --all] [--out DIR] [--config-dir DIR] [--json]

  -s, --stack NAME   plan Pulumi.NAME.yaml (default: dev)
  --all              plan every Pulumi.*.yaml in the project
  --out DIR          write DIR/<stack>/{resources.json,manifests/<cluster>.yaml,reachability.json,report.md}
                     (default: .plan); an earlier plan there is diffed against the new one
  --config-dir DIR   read Pulumi.<stack>.yaml files from DIR (default: the project folder)
  --json             print one JSON document (verdicts, problems, warnings, diff) instead of text
  -h, --help         this text

Exit codes: 0 clean; 1 a mandatory policy, schema or reachability violation; 2 a config, usage or I/O error.`;

/** Parsed command line. */
export interface PlanArgs {
    readonly stacks: string[] | "all";
    readonly out: string;
    readonly configDir?: string;
    readonly json: boolean;
}

/** A usage or I/O error: printed as one line, exit 2. */
export class UsageError extends Error {}

const options = {
    stack: { type: "string", short: "s" },
    all: { type: "boolean" },
    out: { type: "string" },
    "config-dir": { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
} as const;

/** Parses the command line; throws a {@link UsageError} for a usage error. */
export function parseArgs(argv: readonly string[]): PlanArgs | "help" {
    let values;
    try {
        ({ values } = parseNodeArgs({ args: [...argv], options, strict: true }));
    } catch (e) {
        const msg = (e as Error).message;
        const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(msg)?.[1];
        if (unknown !== undefined) {
            const names = Object.keys(options).map((o) => `--${o}`);
            throw new UsageError(`unknown option ${unknown}${didYouMean(unknown, names)}`);
        }
        const missing = /Option '([^']+)' argument missing/.exec(msg)?.[1];
        if (missing !== undefined) {
            throw new UsageError(`${missing.replace(/ <value>$/, "")} needs a value`);
        }
        const positional = /Unexpected argument '([^']+)'/.exec(msg)?.[1];
        if (positional !== undefined) {
            throw new UsageError(`unexpected argument ${positional}; name a stack with -s NAME`);
        }
        throw new UsageError(msg);
    }
    if (values.help) {
        return "help";
    }
    const stack = values.stack;
    if (values.all && stack !== undefined) {
        throw new UsageError("--stack and --all are exclusive");
    }
    if (stack !== undefined && !/^[A-Za-z0-9_.-]+$/.test(stack)) {
        throw new UsageError(
            `--stack ${JSON.stringify(stack)}: expected a stack name (letters, digits, '_', '.', '-')`,
        );
    }
    for (const [flag, v] of [
        ["--out", values.out],
        ["--config-dir", values["config-dir"]],
    ] as const) {
        if (v !== undefined && (v === "" || v.startsWith("-"))) {
            throw new UsageError(`${flag} needs a folder, got ${JSON.stringify(v)}`);
        }
    }
    return {
        stacks: values.all ? "all" : [stack ?? "dev"],
        out: values.out ?? ".plan",
        configDir: values["config-dir"],
        json: values.json ?? false,
    };
}

/** The stacks to plan, checked against the stack files that exist; throws a {@link UsageError}. */
export function resolveStacks(requested: string[] | "all", dir: string): string[] {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
        throw new UsageError(`--config-dir ${dir}: no such folder`);
    }
    const known = listStacks(dir);
    if (requested === "all") {
        if (known.length === 0) {
            throw new UsageError(`no Pulumi.<stack>.yaml in ${dir}`);
        }
        return known;
    }
    for (const s of requested) {
        if (!known.includes(s)) {
            throw new UsageError(
                `no stack ${s}: ${path.join(dir, `Pulumi.${s}.yaml`)} does not exist` +
                    `${didYouMean(s, known)}; stacks here: ${known.join(", ") || "none"}`,
            );
        }
    }
    return requested;
}

/** Creates the output folder if needed and proves it writable; throws a {@link UsageError}. */
export function prepareOut(out: string): void {
    try {
        // Folder by folder: Node's recursive mkdir spins forever under /proc.
        const missing: string[] = [];
        for (let d = out; !fs.existsSync(d); d = path.dirname(d)) {
            missing.unshift(d);
        }
        for (const d of missing) {
            fs.mkdirSync(d);
        }
        const probe = path.join(out, `.plan-write-test-${process.pid}`);
        fs.writeFileSync(probe, "");
        fs.rmSync(probe);
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? "error";
        throw new UsageError(`--out ${out}: cannot write there (${code})`);
    }
}

type Progress = (stack: string, step: string) => void;

function planInChild(
    projectDir: string,
    stack: string,
    out: string,
    configDir: string | undefined,
    progress: Progress,
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
        child.on("message", (m: StackPlanResult | { progress: string }) => {
            if ("progress" in m) {
                progress(stack, m.progress);
            } else {
                result = m;
            }
        });
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

/** One stack's outcome as the CLI reports it. */
export interface StackReport extends StackPlanResult {
    /** `blocked`: clean, but a deploy refuses it (StackPlanResult.blockers); exits 0 like clean. */
    readonly verdict: "clean" | "blocked" | "violations" | "config error";
    /** Against the plan that was in the output folder before; absent on a first plan. */
    readonly diff?: PlanDiff;
}

function verdictOf(code: number, blockers?: readonly string[]): StackReport["verdict"] {
    return code === exitCodes.clean
        ? (blockers ?? []).length > 0
            ? "blocked"
            : "clean"
        : code === exitCodes.configOrUsage
          ? "config error"
          : "violations";
}

/** The terminal text for one stack. */
export function renderStack(r: StackReport, cwd = process.cwd()): string[] {
    const lines = [
        `${r.stack}: ${r.verdict}; ${r.resourceCount} resources; ${r.seconds.toFixed(1)} s` +
            (r.outDir ? `; ${path.relative(cwd, r.outDir) || "."}/` : ""),
    ];
    for (const p of r.problems) {
        lines.push(`  ✗ ${p}`);
    }
    for (const b of r.blockers ?? []) {
        lines.push(`  ⊘ ${b}`);
    }
    for (const w of r.warnings ?? []) {
        lines.push(`  ! ${w.replace(/\n/g, "\n    ")}`);
    }
    if (r.diff) {
        if (isEmptyDiff(r.diff)) {
            lines.push("  no changes since the previous plan");
        } else {
            lines.push(`  since the previous plan: ${summarizeDiff(r.diff)}`);
            lines.push(...renderDiff(r.diff).map((l) => `    ${l}`));
        }
    }
    return lines;
}

async function main(): Promise<number> {
    const projectDir = path.resolve(__dirname, "..", "..");
    let args: PlanArgs;
    let stacks: string[];
    let out: string;
    let configDir: string | undefined;
    try {
        const parsed = parseArgs(process.argv.slice(2));
        if (parsed === "help") {
            console.log(usage);
            return exitCodes.clean;
        }
        args = parsed;
        configDir = args.configDir === undefined ? undefined : path.resolve(args.configDir);
        stacks = resolveStacks(args.stacks, configDir ?? projectDir);
        out = path.resolve(args.out);
        prepareOut(out);
    } catch (e) {
        if (e instanceof UsageError) {
            console.error(`plan: ${e.message} (see --help)`);
            return exitCodes.configOrUsage;
        }
        throw e;
    }
    const tty = process.stderr.isTTY === true && !args.json;
    const progress: Progress = (stack, step) => {
        if (tty) {
            process.stderr.write(`… ${stack}: ${step}\n`);
        }
    };
    const previous = new Map(stacks.map((s) => [s, readSnapshot(path.join(out, s))]));
    const queue = [...stacks];
    const reports: StackReport[] = [];
    const workers = Math.max(1, Math.min(2, os.availableParallelism?.() ?? 2, queue.length));
    await Promise.all(
        Array.from({ length: workers }, async () => {
            for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
                progress(s, "starting");
                const r = await planInChild(projectDir, s, out, configDir, progress);
                const before = previous.get(s);
                const after = r.outDir ? readSnapshot(r.outDir) : undefined;
                reports.push({
                    ...r,
                    verdict: verdictOf(r.exitCode, r.blockers),
                    diff: before && after ? diffSnapshots(before, after) : undefined,
                });
                progress(s, `done (${verdictOf(r.exitCode, r.blockers)})`);
            }
        }),
    );
    reports.sort((a, b) => stacks.indexOf(a.stack) - stacks.indexOf(b.stack));
    const code = reports.some((r) => r.exitCode === exitCodes.configOrUsage)
        ? exitCodes.configOrUsage
        : reports.some((r) => r.exitCode !== 0)
          ? exitCodes.violation
          : exitCodes.clean;
    if (args.json) {
        console.log(JSON.stringify({ exitCode: code, stacks: reports }, null, 2));
    } else {
        for (const r of reports) {
            console.log(renderStack(r).join("\n"));
        }
    }
    return code;
}

if (require.main === module) {
    main().then(
        (code) => (process.exitCode = code),
        (e: unknown) => {
            console.error(`plan: internal error: ${e instanceof Error ? e.stack : String(e)}`);
            process.exitCode = exitCodes.violation;
        },
    );
}
