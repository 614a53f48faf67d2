/**
 * The egress proxies on real Squid: every proxy ConfigMap the plan renders for the `dev` stack runs,
 * unmodified, on Debian's Squid inside a network namespace this suite makes (loopback only), as the
 * Deployment runs it (its command, UID/GID, no capabilities, read-only root, its volumes), against
 * a stand-in internet (our DNS server and TLS/HTTP origins on every address of the namespace). The
 * bypass matrix of cases.ts is tried through it; docs/egress-proxy.md holds the observed matrix
 * (the suite writes it to `<cache>/egress-proxy/matrix.md`).
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { cacheDir, repoRoot, scratchDir } from "../support/env";
import { Netns, SandboxContainer, createNetns, podSandboxArgs } from "../support/egress-proxy";
import { ensureApt } from "../support/install";
import { egressProxyImage } from "../../../modules/constants/images";
import { serviceNamespaces } from "../../../modules/constants/namespaces";
import { imageReference } from "../../../modules/k8s/workload";
import { allowlistLabel } from "../../../modules/k8s/network/intent";
import { allowlistKey, squidConfKey } from "../../../modules/k8s/network/proxy";
import { K8sObject, clusters, manifests } from "../support/plan";
import { Started, start, stopAll, tail, waitUntil } from "../support/proc";
import { Case, allowedName, matrix, namespaceAddresses, podAddress } from "./cases";
import type { InternetEvent } from "./stand-in-internet";

const stack = "dev";
const proxyNamespace = serviceNamespaces.egressProxy;

/** What one case produced. */
interface Observed {
    status: number | null;
    /** Origins reached during the case (the stand-in's records). */
    reached: { local: string; port: number }[];
    dns: { name: string; type: string }[];
    /** The access-log lines Squid wrote for the case. */
    log: string[];
    error?: string;
}

interface Result {
    identity: string;
    c: Case;
    o: Observed;
    problems: string[];
}

interface Proxy {
    cluster: string;
    identity: string;
    domains: string[];
    files: Record<string, string>;
    container: SandboxContainer & { name: string };
    /** The container's image reference as rendered. */
    image: string;
    volumes: Record<string, unknown>[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The proxies of every cluster: ConfigMap data plus the Deployment's squid container. */
function renderedProxies(): Proxy[] {
    const out: Proxy[] = [];
    for (const cluster of clusters(stack)) {
        const objs = manifests(stack, cluster);
        for (const cm of objs.filter(
            (o) =>
                o.kind === "ConfigMap" &&
                o.metadata.namespace === proxyNamespace &&
                typeof (o.data as Record<string, string> | undefined)?.[squidConfKey] === "string",
        )) {
            const dep = objs.find(
                (o) =>
                    o.kind === "Deployment" &&
                    o.metadata.namespace === proxyNamespace &&
                    o.metadata.name === cm.metadata.name,
            ) as (K8sObject & { spec: any }) | undefined;
            if (!dep) {
                throw new Error(`ConfigMap ${cm.metadata.name} of ${cluster} has no Deployment`);
            }
            const pod = dep.spec.template.spec;
            const c = pod.containers.find((x: any) => x.name === "squid");
            const data = cm.data as Record<string, string>;
            out.push({
                cluster,
                identity: (cm.metadata.labels as Record<string, string>)[allowlistLabel],
                domains: data[allowlistKey].split("\n").filter((l) => l.length > 0),
                files: data,
                container: {
                    name: c.name,
                    command: c.command,
                    securityContext: c.securityContext,
                    volumeMounts: c.volumeMounts,
                },
                image: c.image,
                volumes: pod.volumes,
            });
        }
    }
    return out;
}

/** Sends `c.head` through the bridge; for an accepted CONNECT, speaks TLS to the origin. */
function exchange(bridge: string, c: Case): Promise<{ status: number | null; error?: string }> {
    return new Promise((resolve) => {
        const sock = net.connect({ path: bridge });
        let buf = Buffer.alloc(0);
        let done = false;
        const finish = (r: { status: number | null; error?: string }) => {
            if (!done) {
                done = true;
                clearTimeout(timer);
                sock.destroy();
                resolve(r);
            }
        };
        const timer = setTimeout(() => finish({ status: null, error: "timeout" }), 10_000);
        sock.on("error", (e) => finish({ status: null, error: e.message }));
        sock.on("close", () => {
            const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString("latin1"));
            finish({ status: m ? Number(m[1]) : null, error: m ? undefined : "closed" });
        });
        const onData = (d: Buffer) => {
            buf = Buffer.concat([buf, d]);
            const text = buf.toString("latin1");
            const end = text.indexOf("\r\n\r\n");
            if (end < 0 || !c.head.startsWith("CONNECT ")) {
                return;
            }
            const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
            sock.off("data", onData);
            if (status !== 200) {
                finish({ status });
                return;
            }
            const t = tls.connect({
                socket: sock,
                servername: c.sni && !net.isIP(c.sni) ? c.sni : undefined,
                rejectUnauthorized: false,
            });
            t.on("secureConnect", () =>
                t.write("GET / HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n"),
            );
            let body = "";
            t.on("data", (x) => (body += x.toString()));
            t.on("error", (e) => finish({ status, error: `tls: ${e.message}` }));
            t.on("end", () =>
                finish({ status, error: body.includes('"local"') ? undefined : "no origin reply" }),
            );
        };
        sock.on("data", onData);
        sock.write(Buffer.from(c.head, "utf8"));
    });
}

function readEvents(file: string): InternetEvent[] {
    if (!fs.existsSync(file)) {
        return [];
    }
    return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as InternetEvent);
}

const accessLines = (s: Started) =>
    s
        .log()
        .split("\n")
        .filter((l) => l.startsWith("{"));

function judge(domains: readonly string[], c: Case, o: Observed): string[] {
    const p: string[] = [];
    const e = c.expect;
    if (e.outcome === "tunnel") {
        if (o.status !== 200) p.push(`status ${o.status ?? o.error}, expected 200`);
        if (o.reached.length !== 1) p.push(`reached ${o.reached.length} origins, expected 1`);
        for (const r of o.reached) {
            if (!e.reach.includes(r.local) || r.port !== e.port) {
                p.push(
                    `reached ${r.local}:${r.port}, expected one of ${e.reach.join(", ")} on ${e.port}`,
                );
            }
        }
    } else {
        if (o.status !== e.status) p.push(`status ${o.status ?? o.error}, expected ${e.status}`);
        if (o.reached.length > 0) {
            p.push(`reached ${o.reached.map((r) => `${r.local}:${r.port}`).join(", ")}`);
        }
    }
    if (c.name !== undefined && !allowedName(domains, c.name) && o.dns.length > 0) {
        p.push(
            `looked up ${o.dns.map((d) => `${d.type} ${d.name}`).join(", ")} for a name off the allowlist`,
        );
    }
    const ptr = o.dns.filter((d) => d.type === "PTR");
    if (ptr.length > 0) p.push(`reverse lookups: ${ptr.map((d) => d.name).join(", ")}`);
    if (o.log.length !== 1) p.push(`${o.log.length} access-log lines, expected 1`);
    return p;
}

function describeObserved(o: Observed): string {
    const reached = o.reached.map((r) => `${r.local}:${r.port}`).join(", ");
    const log = o.log.map((l) => (JSON.parse(l) as { status: string }).status).join(", ");
    return `${o.status ?? o.error ?? "?"}${reached ? ` → ${reached}` : ", nothing reached"}${log ? ` (${log})` : ""}`;
}

function describeExpected(c: Case): string {
    const e = c.expect;
    return e.outcome === "tunnel"
        ? `tunnel to ${e.reach.join(" or ")}:${e.port}`
        : e.outcome === "refused"
          ? `refused ${e.status}`
          : `Squid answers ${e.status} itself`;
}

/** `[SECTION]` blocks of a Fluent Bit classic config: each a list of [key, value]. */
function fluentSections(text: string): { name: string; entries: [string, string][] }[] {
    const out: { name: string; entries: [string, string][] }[] = [];
    for (const line of text.split("\n")) {
        const head = /^\s*\[(\w+)\]\s*$/.exec(line);
        if (head) {
            out.push({ name: head[1], entries: [] });
        } else if (out.length > 0 && line.trim().length > 0) {
            const m = /^\s*(\S+)\s+(.*)$/.exec(line);
            if (m) out[out.length - 1].entries.push([m[1], m[2].trim()]);
        }
    }
    return out;
}

describe("egress proxy on real Squid: the rendered squid.conf in a network namespace", function () {
    const results: Result[] = [];
    const runs: {
        identity: string;
        phase: string;
        uid: string;
        gid: string;
        capEff: string;
        rootRo: boolean;
        cacheLog: boolean;
    }[] = [];
    let proxies: Proxy[] = [];
    let squidVersion = "";
    let scratch = "";
    let netns: Netns | undefined;
    let fluentBit = "";
    const warnings: string[] = [];

    before(async function () {
        ensureApt(["squid", "iproute2", "openssl", "util-linux"]);
        squidVersion = execFileSync("squid", ["-v"], { encoding: "utf8" }).split("\n")[0];
        proxies = renderedProxies();
        const fb = clusters(stack)
            .flatMap((cl) => manifests(stack, cl))
            .find(
                (o) =>
                    o.kind === "ConfigMap" &&
                    Object.values((o.data as Record<string, string>) ?? {}).some((v) =>
                        /Metric_Name\s+egress_denied_total/.test(v),
                    ),
            );
        fluentBit = fb
            ? Object.values(fb.data as Record<string, string>).find((v) =>
                  /egress_denied_total/.test(v),
              )!
            : "";
        scratch = scratchDir("egress-proxy");
        fs.chmodSync(scratch, 0o755);
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                path.join(scratch, "key.pem"),
                "-out",
                path.join(scratch, "cert.pem"),
                "-days",
                "1",
                "-subj",
                "/CN=stand-in internet",
            ],
            { stdio: "ignore" },
        );

        for (const p of proxies) {
            const { zones, cases } = matrix(p.domains);
            for (const phase of ["public", "hostile"] as const) {
                const phaseCases = cases.filter((c) => c.phase === phase);
                if (phaseCases.length === 0) continue;
                const work = path.join(scratch, `${p.cluster}-${p.identity}-${phase}`);
                fs.mkdirSync(work, { recursive: true });
                fs.chmodSync(work, 0o755);
                netns = createNetns("slp-egress", namespaceAddresses);
                const zoneFile = path.join(work, "zone.json");
                const eventsFile = path.join(work, "events.jsonl");
                const bridge = path.join(work, "proxy.sock");
                fs.writeFileSync(zoneFile, JSON.stringify(zones[phase], null, 1));
                const internet = start(
                    `stand-in internet (${p.identity}, ${phase})`,
                    netns.exec[0],
                    [
                        ...netns.exec.slice(1),
                        process.execPath,
                        "-r",
                        "ts-node/register/transpile-only",
                        path.join(__dirname, "stand-in-internet.ts"),
                        zoneFile,
                        eventsFile,
                        bridge,
                        "3128",
                        path.join(scratch, "key.pem"),
                        path.join(scratch, "cert.pem"),
                    ],
                    path.join(work, "internet.log"),
                    { cwd: repoRoot },
                );
                await waitUntil(internet, "its listeners", async () =>
                    internet.log().includes("ready"),
                );
                const volumes = Object.fromEntries(
                    p.volumes.map((v: any) => [
                        v.name,
                        v.configMap ? { files: p.files } : { emptyDir: true as const },
                    ]),
                );
                const args = podSandboxArgs(
                    netns,
                    p.container,
                    volumes,
                    {
                        // What the kubelet writes for a pod, and cluster DNS = the stand-in.
                        hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost\n${podAddress}\t${execFileSync("hostname", { encoding: "utf8" }).trim()}\n`,
                        // As the kubelet writes it for ClusterFirst: Squid must not expand names
                        // with the search list (the DNS log would show it).
                        "resolv.conf": `search ${proxyNamespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.0.0.1\noptions ndots:5\n`,
                    },
                    work,
                );
                const squid = start(
                    `squid (${p.identity}, ${phase})`,
                    args[0],
                    args.slice(1),
                    path.join(work, "squid.log"),
                );
                const probe =
                    phaseCases.find((c) => c.group === "probe") ??
                    matrix(p.domains).cases.find((c) => c.group === "probe")!;
                await waitUntil(
                    squid,
                    "the kubelet's probe path answering 200",
                    async () => (await exchange(bridge, probe)).status === 200,
                    30_000,
                );
                const pid = squid.child.pid!;
                const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
                const mounts = fs.readFileSync(`/proc/${pid}/mounts`, "utf8");
                runs.push({
                    identity: p.identity,
                    phase,
                    uid: /^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "",
                    gid: /^Gid:\s+(.*)$/m.exec(status)?.[1] ?? "",
                    capEff: /^CapEff:\s+(.*)$/m.exec(status)?.[1] ?? "",
                    rootRo: mounts.split("\n").some((l) => / \/ \S+ ro[, ]/.test(l)),
                    cacheLog: squid.log().includes("Accepting HTTP Socket connections"),
                });
                // Let the probes' log lines land before the first case counts lines.
                await sleep(300);
                for (const c of phaseCases) {
                    const events0 = readEvents(eventsFile).length;
                    const log0 = accessLines(squid).length;
                    const r = await exchange(bridge, c);
                    const deadline = Date.now() + 3000;
                    while (accessLines(squid).length === log0 && Date.now() < deadline) {
                        await sleep(50);
                    }
                    await sleep(100);
                    const events = readEvents(eventsFile).slice(events0);
                    const o: Observed = {
                        status: r.status,
                        error: r.error,
                        reached: events.flatMap((e) =>
                            e.kind === "origin" ? [{ local: e.local, port: e.port }] : [],
                        ),
                        dns: events.flatMap((e) =>
                            e.kind === "dns" ? [{ name: e.name, type: e.type }] : [],
                        ),
                        log: accessLines(squid).slice(log0),
                    };
                    results.push({ identity: p.identity, c, o, problems: judge(p.domains, c, o) });
                }
                warnings.push(
                    ...squid
                        .log()
                        .split("\n")
                        .filter(
                            (l) =>
                                !l.startsWith("{") &&
                                /WARNING|ERROR|FATAL|Operation not permitted/.test(l),
                        )
                        .map((l) => `${p.identity} ${phase}: ${l.replace(/^\S+ \S+\| /, "")}`),
                );
                if (squid.child.exitCode !== null) {
                    throw new Error(`squid exited during the cases:\n${tail(squid.log())}`);
                }
                await squid.stop();
                await internet.stop();
                netns.remove();
                netns = undefined;
            }
        }
        const md = [
            `Observed on ${squidVersion} (Debian ${fs.readFileSync("/etc/debian_version", "utf8").trim()}), stack \`${stack}\`.`,
            "",
            "| identity | group | case | expected | observed | verdict |",
            "|---|---|---|---|---|---|",
            ...results.map(
                (r) =>
                    `| ${r.identity} | ${r.c.group} | ${r.c.title.replace(/\|/g, "\\|")} | ${describeExpected(r.c)} | ${describeObserved(r.o)} | ${r.problems.length === 0 ? "pass" : `FAIL: ${r.problems.join("; ")}`} |`,
            ),
            "",
        ].join("\n");
        fs.mkdirSync(cacheDir("egress-proxy"), { recursive: true });
        fs.writeFileSync(cacheDir("egress-proxy", "matrix.md"), md);
    });

    after(async function () {
        await stopAll();
        netns?.remove();
        if (scratch && process.env.SLP_KEEP_SCRATCH === undefined) {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    });

    const group = (g: string) => () => {
        const mine = results.filter((r) => r.c.group === g);
        assert.ok(mine.length > 0, `no ${g} cases ran`);
        const bad = mine.filter((r) => r.problems.length > 0);
        assert.deepStrictEqual(
            bad.map((r) => `${r.identity}: ${r.c.title}: ${r.problems.join("; ")}`),
            [],
        );
    };

    it("runs the Squid the pod's image installs (images/egress-proxy/Dockerfile)", () => {
        const dockerfile = fs.readFileSync(
            path.join(repoRoot, "images", "egress-proxy", "Dockerfile"),
            "utf8",
        );
        const pinned = /^ARG SQUID_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
        const base = /^FROM docker\.io\/library\/debian:([a-z]+)-\d{8}@sha256:[0-9a-f]{64}$/m.exec(
            dockerfile,
        )?.[1];
        assert.ok(
            pinned && base,
            "the Dockerfile pins no SQUID_VERSION or no digest-pinned Debian base",
        );
        const version = (pkg: string) =>
            execFileSync("dpkg-query", ["-W", "-f=${Version}", pkg], { encoding: "utf8" });
        assert.strictEqual(version("squid"), pinned, "the suite's squid is not the image's");
        assert.strictEqual(version("squid-common"), pinned);
        const codename = /^VERSION_CODENAME=(\w+)$/m.exec(
            fs.readFileSync("/etc/os-release", "utf8"),
        )?.[1];
        assert.strictEqual(
            codename,
            base,
            "the suite runs on another Debian release than the image",
        );
        assert.strictEqual(
            egressProxyImage.tag,
            `squid-${pinned.replace(/[^A-Za-z0-9_.-]/g, "-")}`,
        );
        for (const p of proxies) {
            assert.strictEqual(p.image, imageReference(egressProxyImage), p.identity);
        }
    });

    it("renders a squid.conf for every egress identity of the stack", () => {
        assert.ok(proxies.length >= 2, `only ${proxies.length} proxies rendered`);
        for (const p of proxies) {
            assert.ok(p.domains.length > 0, `${p.identity} has an empty allowlist`);
        }
    });
    it(
        "tunnels allowlisted names, however spelled, to that name's own address only",
        group("allowed"),
    );
    it("refuses look-alike names without resolving them", group("look-alike"));
    it(
        "refuses IP literals, whatever their reverse DNS says, and never looks one up",
        group("ip-literal"),
    );
    it(
        "refuses allowlisted names that resolve to private, loopback, link-local, metadata or special addresses",
        group("private-destination"),
    );
    it("refuses other ports", group("port"));
    it("refuses plain HTTP; only Squid's own icons are answered, by Squid", group("plain-http"));
    it("answers the kubelet's probe", group("probe"));

    it("never sends a reverse lookup, and resolves only allowlisted names", () => {
        const bad = results.flatMap((r) => {
            const domains = proxies.find((p) => p.identity === r.identity)!.domains;
            // internal.evil.example: the CNAME target of an allowlisted name, chased by Squid.
            return r.o.dns
                .filter(
                    (d) =>
                        d.type === "PTR" ||
                        !(allowedName(domains, d.name) || d.name === "internal.evil.example"),
                )
                .map((d) => `${r.identity}: ${r.c.title}: ${d.type} ${d.name}`);
        });
        assert.ok(
            results.some((r) => r.o.dns.length > 0),
            "no DNS query seen at all: the stand-in DNS is not in use",
        );
        assert.deepStrictEqual(bad, []);
    });

    it("runs as the pod's non-root UID/GID, with no capabilities, on a read-only root", () => {
        assert.ok(runs.length > 0);
        for (const r of runs) {
            const p = proxies.find((x) => x.identity === r.identity)!;
            const { runAsUser, runAsGroup } = p.container.securityContext;
            assert.deepStrictEqual(
                r.uid.split(/\s+/).map(Number),
                [runAsUser, runAsUser, runAsUser, runAsUser],
                `${r.identity} ${r.phase}`,
            );
            assert.deepStrictEqual(r.gid.split(/\s+/).map(Number), [
                runAsGroup,
                runAsGroup,
                runAsGroup,
                runAsGroup,
            ]);
            assert.strictEqual(BigInt(`0x${r.capEff}`), 0n);
            assert.ok(r.rootRo, "root filesystem was writable");
        }
    });

    it("starts and serves without errors or warnings", () => {
        assert.ok(runs.length > 0);
        // Squid's cache.log was read (it reaches the FIFO): every run logged its listening port.
        assert.ok(
            runs.every((r) => r.cacheLog),
            "a run left no cache.log lines",
        );
        assert.deepStrictEqual(warnings, []);
    });

    it("logs one JSON line per request in the format the decision-metrics pipeline counts", () => {
        assert.ok(
            fluentBit.length > 0,
            "the plan renders no Fluent Bit config counting egress denials",
        );
        const sections = fluentSections(fluentBit);
        const filters = sections
            .filter((s) => s.name === "FILTER")
            .map(
                (s) =>
                    Object.fromEntries(s.entries.filter(([k]) => k !== "Label_Field")) as Record<
                        string,
                        string
                    > & { labels?: string[] },
            );
        const labelsOf = (i: number) =>
            sections
                .filter((s) => s.name === "FILTER")
                [i].entries.filter(([k]) => k === "Label_Field")
                .map(([, v]) => v);
        const grepIdx = filters.findIndex((f) => f.Name === "grep" && f.Match === "egress.*");
        const metricIdx = filters.findIndex((f) => f.Metric_Name === "egress_denied_total");
        assert.ok(grepIdx >= 0 && metricIdx >= 0, "egress grep or metric filter missing");
        const [gKey, gRe] = filters[grepIdx].Regex.split(/\s+/);
        const [mKey, mRe] = filters[metricIdx].Regex.split(/\s+/);
        const fields = [
            "event",
            "identity",
            "time",
            "duration_ms",
            "client",
            "status",
            "http_status",
            "method",
            "destination",
        ];
        let denied = 0;
        let counted = 0;
        for (const r of results) {
            for (const line of r.o.log) {
                const rec = JSON.parse(line) as Record<string, string>;
                assert.deepStrictEqual(Object.keys(rec), fields, line);
                assert.strictEqual(rec.identity, r.identity);
                assert.match(String(rec[gKey]), new RegExp(gRe), line);
                for (const l of labelsOf(metricIdx)) assert.ok(rec[l], `${l} missing in ${line}`);
                if (new RegExp(mRe).test(String(rec[mKey]))) counted += 1;
            }
            if (r.o.status === 403) denied += 1;
        }
        // Every 403 is counted as a denial; a 400 (unparsable request) is not (Squid logs it as
        // NONE_NONE/error), which the report states.
        assert.strictEqual(counted, denied);
    });
});
