/**
 * Starting and stopping the servers a real-software suite runs: every process is started on
 * 127.0.0.1 (or inside a network namespace the suite made), logs to a file the failure message
 * points at, and is killed with its process group when the suite ends.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";

/** A started server. */
export interface Started {
    readonly name: string;
    readonly child: ChildProcess;
    readonly logFile: string;
    /** Everything the process wrote to stdout and stderr so far. */
    log(): string;
    /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it exited. */
    stop(graceMs?: number): Promise<void>;
}

const running = new Set<Started>();

/** Options for {@link start}. */
export interface StartOptions {
    readonly env?: NodeJS.ProcessEnv;
    readonly cwd?: string;
    /** Replace the environment instead of extending `process.env`. Defaults to false. */
    readonly cleanEnv?: boolean;
}

/** Starts `cmd args` in its own process group, stdout and stderr to `logFile`. */
export function start(
    name: string,
    cmd: string,
    args: readonly string[],
    logFile: string,
    opts: StartOptions = {},
): Started {
    const fd = fs.openSync(logFile, "a");
    const child = spawn(cmd, args, {
        cwd: opts.cwd,
        env: opts.cleanEnv ? opts.env : { ...process.env, ...opts.env },
        stdio: ["ignore", fd, fd],
        detached: true,
    });
    fs.closeSync(fd);
    let exited = child.exitCode !== null;
    const exitedP = new Promise<void>((resolve) => {
        child.once("exit", () => {
            exited = true;
            resolve();
        });
        child.once("error", () => {
            exited = true;
            resolve();
        });
    });
    const started: Started = {
        name,
        child,
        logFile,
        log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""),
        stop: async (graceMs = 5000) => {
            running.delete(started);
            if (exited || child.pid === undefined) {
                return;
            }
            try {
                process.kill(-child.pid, "SIGTERM");
            } catch {
                return;
            }
            const timer = setTimeout(() => {
                try {
                    process.kill(-child.pid!, "SIGKILL");
                } catch {
                    /* already gone */
                }
            }, graceMs);
            await exitedP;
            clearTimeout(timer);
        },
    };
    running.add(started);
    return started;
}

/** Stops every process this module started and has not stopped yet. */
export async function stopAll(): Promise<void> {
    await Promise.all([...running].map((s) => s.stop()));
}

process.on("exit", () => {
    for (const s of running) {
        if (s.child.pid !== undefined) {
            try {
                process.kill(-s.child.pid, "SIGKILL");
            } catch {
                /* gone */
            }
        }
    }
});

/** Ports {@link freePort} handed out in this process: never handed out twice. */
const issuedPorts = new Set<number>();

/** The first port of the kernel's ephemeral range (the local ports of outgoing connections). */
function ephemeralLow(): number {
    try {
        const low = Number(
            fs
                .readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
                .trim()
                .split(/\s+/)[0],
        );
        return Number.isInteger(low) && low > 11000 ? low : 32768;
    } catch {
        return 32768;
    }
}

function canBind(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server a test starts. It is taken
 * below the ephemeral range: a port of that range (what `listen(0)` picks) can become the local
 * port of any outgoing connection between this call and the server's bind (seen: nginx failing
 * with EADDRINUSE), a port below it only by another explicit bind.
 */
export async function freePort(): Promise<number> {
    const low = 10000;
    const high = ephemeralLow() - 1;
    for (let i = 0; i < 500; i++) {
        const port = low + Math.floor(Math.random() * (high - low + 1));
        if (issuedPorts.has(port) || !(await canBind(port))) continue;
        issuedPorts.add(port);
        return port;
    }
    throw new Error(`no free TCP port on 127.0.0.1 between ${low} and ${high}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `check` resolves true, failing after `timeoutMs` with the server's log tail, or at
 * once when the process has exited.
 */
export async function waitUntil(
    server: Started,
    what: string,
    check: () => Promise<boolean>,
    timeoutMs = 60_000,
): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (server.child.exitCode !== null || server.child.signalCode !== null) {
            throw new Error(
                `${server.name} exited (${server.child.exitCode ?? server.child.signalCode}) before ${what}; log ${server.logFile}:\n${tail(server.log())}`,
            );
        }
        if (await check().catch(() => false)) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(
                `${server.name}: ${what} not reached within ${timeoutMs} ms; log ${server.logFile}:\n${tail(server.log())}`,
            );
        }
        await sleep(200);
    }
}

/** Resolves true when `url` answers with a status below 500 (any body). */
export function httpAnswers(url: string): Promise<boolean> {
    return new Promise((resolve) => {
        const req = http.get(url, (res) => {
            res.resume();
            resolve((res.statusCode ?? 500) < 500);
        });
        req.on("error", () => resolve(false));
        req.setTimeout(2000, () => {
            req.destroy();
            resolve(false);
        });
    });
}

/** Resolves true when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect(port, host);
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}

/** The last `lines` lines of a log. */
export function tail(text: string, lines = 40): string {
    return text.split("\n").slice(-lines).join("\n");
}
