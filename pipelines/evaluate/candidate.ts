/**
 * Serves a candidate rule set with the NeMo Guardrails server inside the evaluation step's own pod,
 * so the rules evaluated are byte for byte the rules promoted (the promote step checks the digest).
 */
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import * as os from "os";
import * as path from "path";
import { RuleBundle, writeBundle } from "../bundle";

/** Config id the candidate is served under. */
export const candidateConfigId = "candidate";

/** A running candidate server. */
export interface CandidateServer {
    readonly baseUrl: string;
    stop(): Promise<void>;
}

/** How to start the server. */
export interface ServeOptions {
    /** Executable. Defaults to `nemoguardrails`. */
    readonly command?: string;
    /** TCP port on 127.0.0.1. Defaults to 8000. */
    readonly port?: number;
    /** Milliseconds to wait for the server to answer. Defaults to 180000 (rails load models). */
    readonly readyTimeoutMs?: number;
}

async function waitReady(
    url: string,
    child: ChildProcess,
    failed: () => Error | undefined,
    timeoutMs: number,
): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const err = failed();
        if (err) {
            throw new Error(`could not start the guardrails server: ${err.message}`);
        }
        if (child.exitCode !== null) {
            throw new Error(
                `the guardrails server exited with code ${child.exitCode} before it was ready; check the rule set`,
            );
        }
        try {
            const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
            if (res.ok) return;
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the guardrails server did not answer ${url} within ${timeoutMs} ms`);
}

/** Writes the bundle to a temporary config root and starts the server on it. */
export async function serveCandidate(
    bundle: RuleBundle,
    opts: ServeOptions = {},
): Promise<CandidateServer> {
    const root = mkdtempSync(path.join(os.tmpdir(), "rails-"));
    writeBundle(path.join(root, candidateConfigId), bundle);
    const port = opts.port ?? 8000;
    const child = spawn(
        opts.command ?? "nemoguardrails",
        ["server", `--config=${root}`, "--port", String(port), "--disable-chat-ui"],
        { stdio: ["ignore", "inherit", "inherit"] },
    );
    // A missing executable is reported as an event, not thrown: keep it for waitReady.
    let spawnError: Error | undefined;
    child.on("error", (e) => (spawnError = e));
    const baseUrl = `http://127.0.0.1:${port}`;
    const stop = async () => {
        if (child.exitCode === null && spawnError === undefined) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        }
        rmSync(root, { recursive: true, force: true });
    };
    try {
        await waitReady(
            `${baseUrl}/v1/rails/configs`,
            child,
            () => spawnError,
            opts.readyTimeoutMs ?? 180000,
        );
    } catch (e) {
        await stop();
        throw e;
    }
    return { baseUrl, stop };
}
