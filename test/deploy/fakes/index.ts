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
    /** The OCI config file of the run (`<TF_HOME_OVERRIDE>/.oci/config`). */
    readonly ociConfig: string;
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
    // The OCI config file the providers and the stand-in `oci` read: a session-token profile
    // (what `oci session authenticate` or scripts/oci-token-exchange.sh writes), under the home
    // the OCI provider reads (TF_HOME_OVERRIDE, modules/access.ts providerConfigFile).
    const home = path.join(dir, "oci-home");
    fs.mkdirSync(path.join(home, ".oci"), { recursive: true, mode: 0o700 });
    const ociDir = path.join(home, ".oci");
    fs.writeFileSync(path.join(ociDir, "token"), "stand-in-session-token", { mode: 0o600 });
    fs.writeFileSync(
        path.join(ociDir, "config"),
        [
            "[DEFAULT]",
            "region=us-ashburn-1",
            `key_file=${path.join(ociDir, "session.pem")}`,
            `security_token_file=${path.join(ociDir, "token")}`,
            "fingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
            "",
        ].join("\n"),
        { mode: 0o600 },
    );
    const env = {
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        TF_HOME_OVERRIDE: home,
        FAKE_LOG: log,
        FAKE_STATE: state,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        ...extraEnv,
    };
    return {
        dir,
        ociConfig: path.join(ociDir, "config"),
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
