/**
 * Serves a candidate rule set inside the evaluation step's own pod with the platform's guardrails
 * entrypoint (`python -m slp_guardrails`, images/guardrails: the same code path as the guardrails
 * pod, every rail always on), so the rules evaluated are byte for byte the rules promoted (the
 * promote step checks the digest) and run as they will run. The decisions are read from the
 * server's audit stream (its stdout): one `guardrails.decision` line per rail verdict and one
 * `guardrails.response` line ending each request, both keyed by the request id the evaluator sends.
 */
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, rmSync } from "fs";
import * as os from "os";
import * as path from "path";
import { createInterface } from "readline";
import { RuleBundle, writeBundle } from "../bundle";
import { Decision, DecisionSource } from "./evaluate";

/** Config id the candidate is served under. */
export const candidateConfigId = "candidate";

/** A running candidate server. */
export interface CandidateServer {
    readonly baseUrl: string;
    /** Its decision lines, by request id. */
    readonly decisions: DecisionSource;
    stop(): Promise<void>;
}

/** How to start the server. */
export interface ServeOptions {
    /** Python interpreter with nemoguardrails and slp_guardrails. Defaults to `python` (the image's venv). */
    readonly command?: string;
    /** Environment added to the server's (e.g. `PYTHONPATH`). Defaults to none. */
    readonly env?: Readonly<Record<string, string>>;
    /** TCP port on 127.0.0.1. Defaults to 8000. */
    readonly port?: number;
    /** Port of the entrypoint's metrics listener on 127.0.0.1. Defaults to `port + 1`. */
    readonly metricsPort?: number;
    /** Milliseconds to wait for the server to answer. Defaults to 180000 (rails load models). */
    readonly readyTimeoutMs?: number;
    /** Where the server's stdout lines go. Defaults to this process's stdout (the step's log). */
    readonly echo?: (line: string) => void;
}

/** The entrypoint's arguments for a config root (as the guardrails Deployment passes them). */
export function entrypointArgs(root: string, port: number, metricsPort: number): string[] {
    return [
        "-m",
        "slp_guardrails",
        `--config-root=${root}`,
        `--config-id=${candidateConfigId}`,
        "--host=127.0.0.1",
        `--port=${port}`,
        `--metrics-port=${metricsPort}`,
        // Evaluation sends non-streaming requests only.
        "--streaming=off",
    ];
}

/** Collects the audit stream's lines by request id. Exported for tests. */
export class AuditStream implements DecisionSource {
    private readonly decided = new Map<string, Decision[]>();
    private readonly done = new Set<string>();
    private readonly waiters = new Map<string, () => void>();

    /** Takes one line of the server's stdout; lines that are not audit JSON are ignored. */
    line(text: string): void {
        if (!text.startsWith("{")) return;
        let v: Record<string, unknown>;
        try {
            v = JSON.parse(text);
        } catch {
            return;
        }
        const rid = typeof v.request_id === "string" ? v.request_id : "";
        if (rid === "") return;
        if (v.event === "guardrails.decision") {
            const list = this.decided.get(rid) ?? [];
            list.push({
                direction: String(v.direction ?? ""),
                rails: Array.isArray(v.rails) ? v.rails.map(String) : [],
                verdict: String(v.verdict ?? ""),
                ...(typeof v.error === "string" ? { error: v.error } : {}),
            });
            this.decided.set(rid, list);
        } else if (v.event === "guardrails.response") {
            this.done.add(rid);
            this.waiters.get(rid)?.();
        }
    }

    async decisionsOf(rid: string, timeoutMs: number): Promise<readonly Decision[] | undefined> {
        if (!this.done.has(rid)) {
            await new Promise<void>((resolve) => {
                const t = setTimeout(resolve, timeoutMs);
                this.waiters.set(rid, () => {
                    clearTimeout(t);
                    resolve();
                });
            });
            this.waiters.delete(rid);
        }
        if (!this.done.has(rid)) return undefined;
        const out = this.decided.get(rid) ?? [];
        this.decided.delete(rid);
        this.done.delete(rid);
        return out;
    }
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
                `the guardrails server exited with code ${child.exitCode} before it was ready; check the rule set (its guardrails.config_error line says why)`,
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

/** Writes the bundle to a temporary config root and starts the entrypoint on it. */
export async function serveCandidate(
    bundle: RuleBundle,
    opts: ServeOptions = {},
): Promise<CandidateServer> {
    const root = mkdtempSync(path.join(os.tmpdir(), "rails-"));
    writeBundle(path.join(root, candidateConfigId), bundle);
    const port = opts.port ?? 8000;
    const child = spawn(
        opts.command ?? "python",
        entrypointArgs(root, port, opts.metricsPort ?? port + 1),
        {
            stdio: ["ignore", "pipe", "inherit"],
            env: { ...process.env, PYTHONUNBUFFERED: "1", ...opts.env },
        },
    );
    const audit = new AuditStream();
    // The audit lines carry rail names and verdicts only; they stay in the step's log.
    createInterface({ input: child.stdout! }).on("line", (l) => {
        audit.line(l);
        (opts.echo ?? ((x: string) => process.stdout.write(`${x}\n`)))(l);
    });
    // A missing executable is reported as an event, not thrown: keep it for waitReady.
    let spawnError: Error | undefined;
    child.on("error", (e) => (spawnError = e));
    const baseUrl = `http://127.0.0.1:${port}`;
    const stop = async () => {
        if (child.exitCode === null && spawnError === undefined) {
            const exited = new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
            if (child.exitCode === null) child.kill("SIGKILL");
        }
        rmSync(root, { recursive: true, force: true });
    };
    try {
        await waitReady(
            `${baseUrl}/health`,
            child,
            () => spawnError,
            opts.readyTimeoutMs ?? 180000,
        );
    } catch (e) {
        await stop();
        throw e;
    }
    return { baseUrl, decisions: audit, stop };
}
