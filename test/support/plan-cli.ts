/** The offline plan CLI as `npm run plan -- <args>` runs it (without npm), for tests. */
import { spawn } from "child_process";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");

/** Runs the plan CLI with `args` and collects its exit code and its stdout and stderr together. */
export function runPlanCli(args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
        const child = spawn(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                path.join(root, "tools/plan/cli.ts"),
                ...args,
            ],
            { cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" } },
        );
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("exit", (code) => resolve({ code: code ?? -1, out }));
    });
}
