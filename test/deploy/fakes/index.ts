/**
 * A temporary directory of stand-in executables (`pulumi`, `oci`, `ssh`, `skopeo`: fake-cli.js)
 * to put first on PATH, with the log of every call they received and their shared state.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** One recorded call. */
export interface FakeCall {
    readonly tool: "pulumi" | "oci" | "ssh" | "skopeo";
    readonly argv: string[];
    readonly env: Record<string, string>;
    readonly t: number;
    readonly reached?: Record<string, boolean>;
    readonly listening?: number;
    readonly closed?: number;
    readonly refused?: boolean;
}

export interface Fakes {
    readonly dir: string;
    readonly bin: string;
    readonly state: string;
    /** Environment for a process that must find the fakes (PATH first) and their log/state. */
    readonly env: Record<string, string>;
    calls(): FakeCall[];
    /** Reads a state file of the fakes. */
    stateFile<T>(name: string): T;
    writeState(name: string, value: unknown): void;
    remove(): void;
}

export function makeFakes(
    tools: readonly FakeCall["tool"][],
    extraEnv: Record<string, string> = {},
): Fakes {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slp-fakes-"));
    const bin = path.join(dir, "bin");
    const state = path.join(dir, "state");
    fs.mkdirSync(bin);
    fs.mkdirSync(state);
    const log = path.join(dir, "calls.jsonl");
    fs.writeFileSync(log, "");
    const script = path.join(__dirname, "fake-cli.js");
    for (const t of tools) {
        const f = path.join(bin, t);
        fs.writeFileSync(f, `#!/bin/sh\nexec "${process.execPath}" "${script}" ${t} "$@"\n`);
        fs.chmodSync(f, 0o755);
    }
    const env = {
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        FAKE_LOG: log,
        FAKE_STATE: state,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        ...extraEnv,
    };
    return {
        dir,
        bin,
        state,
        env,
        calls: () =>
            fs
                .readFileSync(log, "utf8")
                .split("\n")
                .filter((l) => l.trim() !== "")
                .map((l) => JSON.parse(l) as FakeCall),
        stateFile: <T>(name: string) =>
            JSON.parse(fs.readFileSync(path.join(state, name), "utf8")) as T,
        writeState: (name, value) =>
            fs.writeFileSync(path.join(state, name), JSON.stringify(value, null, 2)),
        remove: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

/** Runs `fn` with `env` merged into process.env, restoring it afterwards. */
export async function withEnv<T>(
    env: Record<string, string | undefined>,
    fn: () => Promise<T>,
): Promise<T> {
    const before = { ...process.env };
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    try {
        return await fn();
    } finally {
        for (const k of Object.keys(process.env)) if (!(k in before)) delete process.env[k];
        Object.assign(process.env, before);
    }
}
