/**
 * Progress of a long run: bytes done, rate and ETA, as one line rewritten in place on a terminal,
 * or as a log line every few seconds where stderr is a log (an init container).
 */

/** Where progress goes and how often. */
export interface ProgressOptions {
    /** Receives a finished line (log mode) or the current line (terminal mode). */
    readonly write: (text: string) => void;
    /** `tty`: one line rewritten in place (`\r`); `log`: a line per interval. */
    readonly mode: "tty" | "log";
    /** Seconds between updates. Defaults to 0.5 on a terminal and 10 in log mode. */
    readonly intervalSeconds?: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** `1.25 GiB`, `312.0 MiB`, `512 B`: sizes as people read them. */
export function formatBytes(n: number): string {
    if (n >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
    if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
    if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${n} B`;
}

/** `1 h 02 min`, `3 min 05 s`, `12 s`. */
export function formatDuration(seconds: number): string {
    const s = Math.max(0, Math.round(seconds));
    if (s >= 3600)
        return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
    if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    return `${s} s`;
}

/** The text of one progress report. Pure, so the format is tested without clocks. */
export function progressLine(
    verb: string,
    done: number,
    total: number,
    seconds: number,
    fetched: number,
    retries: number,
): string {
    const rate = seconds > 0 ? done / seconds : 0;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    const eta = rate > 0 ? formatDuration((total - done) / rate) : "unknown";
    let line =
        `${verb} ${formatBytes(done)} of ${formatBytes(total)} (${pct}%), ` +
        `${formatBytes(rate)}/s, ETA ${eta}`;
    if (fetched > 0) line += `; downloaded ${formatBytes(fetched)}`;
    if (retries > 0) line += `, ${retries} ranged GET${retries === 1 ? "" : "s"} retried`;
    return line;
}

/** Counts bytes and reports them on a timer until {@link Progress.finish}. */
export class Progress {
    private done = 0;
    private fetched = 0;
    private retries = 0;
    private readonly started = process.hrtime.bigint();
    private readonly timer: NodeJS.Timeout | undefined;

    constructor(
        private readonly verb: string,
        private readonly total: number,
        private readonly opts?: ProgressOptions,
    ) {
        if (opts) {
            const every = opts.intervalSeconds ?? (opts.mode === "tty" ? 0.5 : 10);
            this.timer = setInterval(() => this.report(), every * 1000);
            this.timer.unref();
        }
    }

    add(bytes: number, fetched = 0, retries = 0): void {
        this.done += bytes;
        this.fetched += fetched;
        this.retries += retries;
    }

    private seconds(): number {
        return Number(process.hrtime.bigint() - this.started) / 1e9;
    }

    private report(): void {
        if (!this.opts) return;
        const line = progressLine(
            this.verb,
            this.done,
            this.total,
            this.seconds(),
            this.fetched,
            this.retries,
        );
        this.opts.write(this.opts.mode === "tty" ? `\r${line}\u001b[K` : line);
    }

    /** Stops the timer; on a terminal, ends the line. */
    finish(): void {
        if (this.timer) clearInterval(this.timer);
        if (this.opts?.mode === "tty") {
            this.report();
            this.opts.write("\n");
        }
    }
}
