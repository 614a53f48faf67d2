/**
 * Network namespaces and a pod-like sandbox for the egress-proxy suite. The namespace has only a
 * loopback interface, which carries every address a test needs (public stand-ins, private,
 * link-local, metadata, IPv6), so nothing a process inside does can leave the machine and every
 * destination it might be tricked into exists and reports when reached.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

function ip(args: string[]): string {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A network namespace made by {@link createNetns}. */
export interface Netns {
    readonly name: string;
    /** `ip netns exec <name>`, to put in front of a command. */
    readonly exec: readonly string[];
    /** Deletes the namespace (idempotent). */
    remove(): void;
}

/** A fresh namespace `<prefix>-<random>` with loopback up and `addresses` (no prefix length) on it. */
export function createNetns(prefix: string, addresses: readonly string[]): Netns {
    const name = `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
    ip(["netns", "add", name]);
    const remove = () => {
        try {
            ip(["netns", "delete", name]);
        } catch {
            /* already gone */
        }
    };
    try {
        ip(["-n", name, "link", "set", "lo", "up"]);
        for (const a of addresses) {
            const v6 = a.includes(":");
            ip([
                "-n",
                name,
                "addr",
                "add",
                `${a}/${v6 ? 128 : 32}`,
                "dev",
                "lo",
                ...(v6 ? ["nodad"] : []),
            ]);
        }
    } catch (err) {
        remove();
        throw err;
    }
    return { name, exec: ["ip", "netns", "exec", name], remove };
}

/** A container of a rendered pod template, as far as the sandbox reproduces it. */
export interface SandboxContainer {
    readonly command: readonly string[];
    readonly securityContext: {
        runAsUser: number;
        runAsGroup: number;
        readOnlyRootFilesystem?: boolean;
    };
    readonly volumeMounts: readonly { name: string; mountPath: string }[];
}

/** The pod's volumes by name: a ConfigMap's files, or an emptyDir. */
export type SandboxVolumes = Record<string, { files: Record<string, string> } | { emptyDir: true }>;

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/**
 * Arguments that run `container` in `netns` the way the kubelet would: a private mount namespace
 * where `/etc` is an overlay (so mount points such as `/etc/squid-platform` and the pod's
 * `/etc/hosts` and `/etc/resolv.conf` exist there only), each ConfigMap mounted read-only at its
 * path, each emptyDir a fresh tmpfs, the root filesystem read-only when the container says so, and
 * the command run as the container's UID/GID with no capabilities and no new privileges.
 * `etcFiles` are written into the overlay's `/etc` (`hosts`, `resolv.conf`). `work` is a scratch
 * folder outside every mount path.
 */
export function podSandboxArgs(
    netns: Netns,
    container: SandboxContainer,
    volumes: SandboxVolumes,
    etcFiles: Record<string, string>,
    work: string,
): string[] {
    const sc = container.securityContext;
    const fifo = path.join(work, "stdio.fifo");
    const lines = [
        // The container's stdout and stderr are a pipe its user owns, as runc leaves them, so a
        // process that reopens /dev/stdout (Squid's `stdio:` logs) can; `cat` copies it to the log.
        `rm -f ${fifo}`,
        `mkfifo -m 0600 ${fifo}`,
        `chown ${sc.runAsUser}:${sc.runAsGroup} ${fifo}`,
        `cat ${fifo} &`,
        `exec >${fifo} 2>&1`,
        `mount -t overlay overlay -o lowerdir=/etc,upperdir=${work}/etc-upper,workdir=${work}/etc-work /etc`,
    ];
    fs.mkdirSync(path.join(work, "etc-upper"), { recursive: true });
    fs.mkdirSync(path.join(work, "etc-work"), { recursive: true });
    for (const [file, text] of Object.entries(etcFiles)) {
        const src = path.join(work, `etc-${file}`);
        fs.writeFileSync(src, text);
        lines.push(`rm -f /etc/${file}`, `cp ${src} /etc/${file}`);
    }
    const emptyDirs: string[] = [];
    for (const m of container.volumeMounts) {
        const v = volumes[m.name];
        if (v === undefined) {
            throw new Error(`the sandbox has no volume ${m.name} for ${m.mountPath}`);
        }
        if ("files" in v) {
            const src = path.join(work, `volume-${m.name}`);
            fs.mkdirSync(src, { recursive: true });
            for (const [file, text] of Object.entries(v.files)) {
                fs.writeFileSync(path.join(src, file), text);
            }
            lines.push(
                `mkdir -p ${m.mountPath}`,
                `mount -t tmpfs -o size=4m,mode=0755 tmpfs ${m.mountPath}`,
                `cp ${src}/* ${m.mountPath}/`,
                `chmod 0644 ${m.mountPath}/*`,
                `mount -o remount,ro ${m.mountPath}`,
            );
        } else {
            emptyDirs.push(m.mountPath);
        }
    }
    // Last, as /tmp may be one of them and hides `work`.
    for (const p of emptyDirs) {
        lines.push(`mkdir -p ${p}`, `mount -t tmpfs -o size=64m,mode=0777 tmpfs ${p}`);
    }
    lines.push("mount -o remount,ro /etc");
    if (container.securityContext.readOnlyRootFilesystem) {
        lines.push("mount -o remount,bind,ro /");
    }
    lines.push(
        [
            "exec setpriv",
            `--reuid=${sc.runAsUser}`,
            `--regid=${sc.runAsGroup}`,
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            ...container.command.map(shellQuote),
        ].join(" "),
    );
    return [
        ...netns.exec,
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-euc",
        lines.join("\n"),
    ];
}
