/**
 * Every manifest the plan writes, server-side applied to a real kube-apiserver (built from the
 * pinned k8s.io/kubernetes module, etcd from go.etcd.io/etcd/server) with Pod Security admission and
 * ValidatingAdmissionPolicy on: each cluster of each stack in a fresh etcd prefix. Pod templates are
 * admitted as dry-run Pods in their namespaces; the platform's policies must type-check clean; pods
 * that break one rule each must be refused by the admission that owns the rule.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    ApiServer,
    ControlPlaneBinaries,
    ensureControlPlaneBinaries,
    Etcd,
    kubernetesVersion,
    makePki,
    Pki,
    startApiServer,
    startEtcd,
} from "../support/apiserver";
import { planVariant } from "../support/apiserver-plan";
import { repoRoot, scratchDir } from "../support/env";
import { clusters, K8sObject, manifests, resources } from "../support/plan";
import { stopAll } from "../support/proc";
import {
    ClusterRun,
    externalNamespaces,
    Refusal,
    runCluster,
    strictProbeKinds,
    tryTenantSandbox,
} from "./checks";
import { Outcome } from "./cluster";

const stacks = fs
    .readdirSync(repoRoot)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();

/** The tenant this suite adds to the dev stack, so the Kata sandbox policy is rendered. */
const tenantVariant = "dev-with-tenant";

interface Row {
    readonly scope: string;
    readonly kind: string;
    readonly name: string;
    readonly result: string;
    readonly detail: string;
}

const rows: Row[] = [];
let reportFile = "";

function record(scope: string, outcomes: readonly Outcome[]): void {
    for (const o of outcomes) {
        rows.push({
            scope,
            kind: o.kind,
            name: o.name,
            result: o.result,
            detail: [o.detail, ...o.warnings.map((w) => `warning: ${w}`)]
                .filter(Boolean)
                .join("; "),
        });
    }
}

function refused(r: Refusal): boolean {
    return r.status === 403 || r.status === 422;
}

/** Whether `r` ended the way the rule's owner says it must. */
function asExpected(r: Refusal): boolean {
    if (r.gap) {
        return true;
    }
    if (r.id.startsWith("compliant") || (r.expected === null && r.where !== "policy")) {
        return r.status === 201;
    }
    if (r.expected === null) {
        // Left to Pod Security by the policy: either outcome is recorded, neither is a failure.
        return true;
    }
    const fragments = r.expected.split(" … ");
    return refused(r) && fragments.every((f) => r.message.includes(f));
}

function table(title: string, head: string[], body: string[][]): string {
    const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
    return [
        `### ${title}`,
        "",
        `| ${head.join(" | ")} |`,
        `| ${head.map(() => "---").join(" | ")} |`,
        ...body.map((r) => `| ${r.map(esc).join(" | ")} |`),
        "",
    ].join("\n");
}

describe(`real kube-apiserver ${kubernetesVersion}: the plan's manifests admitted`, function () {
    let bins: ControlPlaneBinaries;
    let pki: Pki;
    let etcd: Etcd;
    let work: string;
    let failed = false;

    before(async function () {
        // A cold build of the control plane from the module proxy takes tens of minutes here.
        this.timeout(100 * 60_000);
        bins = await ensureControlPlaneBinaries((l) => console.log(`      ${l}`));
        work = scratchDir("apiserver");
        pki = makePki(path.join(work, "pki"));
        etcd = await startEtcd(bins, path.join(work, "etcd"));
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed") {
            failed = true;
        }
    });

    after(async function () {
        this.timeout(120_000);
        await stopAll();
        if (rows.length > 0) {
            reportFile = path.join(os.tmpdir(), `slp-apiserver-report-${process.pid}.md`);
            const summary = new Map<string, Map<string, number>>();
            for (const r of rows) {
                const key = `${r.scope}\u0000${r.kind}`;
                const m = summary.get(key) ?? new Map<string, number>();
                m.set(r.result, (m.get(r.result) ?? 0) + 1);
                summary.set(key, m);
            }
            const text = [
                table(
                    "By stack/cluster and kind",
                    ["stack/cluster", "kind", "admitted", "refused", "skipped"],
                    [...summary].map(([k, m]) => [
                        ...k.split("\u0000"),
                        String(m.get("admitted") ?? 0),
                        String(m.get("refused") ?? 0),
                        String(m.get("skipped") ?? 0),
                    ]),
                ),
                table(
                    "Not admitted, and every pod template (with warnings)",
                    ["stack/cluster", "kind/name", "result", "detail"],
                    rows
                        .filter((r) => r.result !== "admitted" || r.kind.startsWith("Pod from"))
                        .map((r) => [r.scope, `${r.kind} ${r.name}`, r.result, r.detail]),
                ),
            ].join("\n");
            const full = table(
                "Every object",
                ["stack/cluster", "kind/name", "result", "detail"],
                rows.map((r) => [r.scope, `${r.kind} ${r.name}`, r.result, r.detail]),
            );
            fs.writeFileSync(reportFile, `${text}\n${full}`);
            console.log(`\n${text}\n      full table: ${reportFile}\n`);
        }
        if (work && !failed) {
            fs.rmSync(work, { recursive: true, force: true });
        } else if (work) {
            console.log(`      logs kept in ${work}`);
        }
    });

    async function onFreshCluster<T>(
        scope: string,
        run: (api: ApiServer) => Promise<T>,
    ): Promise<T> {
        const dir = path.join(work, scope.replace(/\//g, "-"));
        const api = await startApiServer({
            bins,
            pki,
            etcd,
            etcdPrefix: `/registry-${scope.replace(/\//g, "-")}`,
            dir,
        });
        try {
            return await run(api);
        } finally {
            await api.stop();
        }
    }

    for (const stack of stacks) {
        describe(`stack ${stack}`, function () {
            const runs = new Map<string, ClusterRun>();

            before(async function () {
                this.timeout(30 * 60_000);
                for (const cluster of clusters(stack)) {
                    const scope = `${stack}/${cluster}`;
                    const run = await onFreshCluster(scope, (api) =>
                        runCluster(
                            api,
                            manifests(stack, cluster),
                            externalNamespaces(resources(stack), cluster),
                        ),
                    );
                    runs.set(cluster, run);
                    record(scope, [...run.crds, ...run.objects, ...run.pods]);
                    console.log(
                        `      ${scope}: ${run.objects.length} objects, ${run.pods.length} pod templates, ${run.refusals.length} violation attempts`,
                    );
                }
            });

            it("applies every CRD of the charts folder and of External Secrets 0.19.2", function () {
                const bad = [...runs].flatMap(([c, r]) =>
                    r.crds
                        .filter((o) => o.result !== "admitted")
                        .map((o) => `${c}: ${o.name}: ${o.detail}`),
                );
                assert.deepEqual(bad, []);
                assert.ok(
                    [...runs.values()].every((r) => r.crds.length > 0),
                    "no CRD applied",
                );
            });

            it("admits every object the plan renders (server-side apply)", function () {
                const bad = [...runs].flatMap(([c, r]) =>
                    r.objects
                        .filter((o) => o.result === "refused")
                        .map((o) => `${c}: ${o.kind} ${o.name}: ${o.detail}`),
                );
                assert.deepEqual(bad, []);
            });

            it("refuses a field the schema lacks (strict field validation), custom resources included", function () {
                for (const [c, r] of runs) {
                    assert.deepEqual(
                        r.strictProbes.map((o) => o.kind).sort(),
                        [...strictProbeKinds].sort(),
                        `${c}: not every probed kind rendered`,
                    );
                    for (const o of r.strictProbes) {
                        assert.equal(
                            o.result,
                            "refused",
                            `${c}: ${o.kind} ${o.name} with an unknown field was ${o.result}`,
                        );
                        assert.match(
                            o.detail,
                            /spec\.slpNoSuchField: field not declared in schema|unknown field "spec\.slpNoSuchField"/,
                            `${c}: ${o.kind}: ${o.detail}`,
                        );
                    }
                }
            });

            it("skips only kinds listed as served outside the charts folder", function () {
                const bad = [...runs].flatMap(([c, r]) =>
                    r.objects
                        .filter((o) => o.result === "skipped" && o.detail.startsWith("UNEXPECTED"))
                        .map((o) => `${c}: ${o.kind} ${o.name}: ${o.detail}`),
                );
                assert.deepEqual(bad, []);
            });

            it("admits a Pod from every pod template, in its namespace, at its Pod Security level", function () {
                const all = [...runs.values()].flatMap((r) => r.pods);
                assert.ok(all.length > 0, "the plan renders no pod template");
                const bad = [...runs].flatMap(([c, r]) =>
                    r.pods
                        .filter((o) => o.result !== "admitted")
                        .map((o) => `${c}: ${o.kind} ${o.name}: ${o.detail}`),
                );
                assert.deepEqual(bad, []);
            });

            it("declares a Pod Security enforce level on every namespace with workloads", function () {
                const bad = [...runs].flatMap(([c, r]) => r.unlabelled.map((ns) => `${c}: ${ns}`));
                assert.deepEqual(bad, []);
            });

            it("type-checks every ValidatingAdmissionPolicy clean (status.typeChecking)", function () {
                const checks = [...runs].flatMap(([c, r]) => r.typeChecks.map((t) => ({ c, t })));
                assert.ok(checks.length > 0, "no ValidatingAdmissionPolicy rendered");
                const bad = checks.flatMap(({ c, t }) =>
                    t.warnings.map((w) => `${c}: ${t.policy}: ${w}`),
                );
                assert.deepEqual(bad, []);
            });

            it("refuses each violating pod by the admission that owns the rule", function () {
                const all = [...runs].flatMap(([c, r]) => r.refusals.map((x) => ({ c, x })));
                assert.ok(
                    all.some(({ x }) => x.where === "policy"),
                    "no platform pod policy tried",
                );
                const bad = all
                    .filter(({ x }) => !asExpected(x))
                    .map(
                        ({ c, x }) =>
                            `${c} [${x.where}] ${x.id}: expected ${x.expected ?? "admitted"}, got ${x.status} ${x.message}`,
                    );
                const left = all
                    .filter(
                        ({ x }) =>
                            x.where === "policy" &&
                            x.expected === null &&
                            !x.id.startsWith("compliant"),
                    )
                    .map(
                        ({ x }) =>
                            `${x.id}: ${refused(x) ? "refused by the policy too" : "left to Pod Security"}`,
                    );
                console.log(
                    table(
                        `Violating pods (${stack})`,
                        ["stack/cluster", "namespace", "pod", "expected", "result"],
                        all.map(({ c, x }) => [
                            `${stack}/${c}`,
                            x.where,
                            x.id,
                            x.gap
                                ? "GAP: nobody owns the rule"
                                : (x.expected ??
                                  (x.where === "policy" && !x.id.startsWith("compliant")
                                      ? "(left to Pod Security)"
                                      : "admitted")),
                            x.status === 201
                                ? "admitted"
                                : `${x.status} ${x.message.slice(0, 160)}`,
                        ]),
                    ),
                );
                if (left.length > 0) {
                    console.log(
                        `      not in the platform policy: ${[...new Set(left)].join("; ")}`,
                    );
                }
                const gaps = all
                    .filter(({ x }) => x.gap)
                    .map(
                        ({ c, x }) => `${c}: ${x.id}: ${x.status === 201 ? "ADMITTED" : "refused"}`,
                    );
                if (gaps.length > 0) {
                    console.log(
                        `      GAP (no admission owns the rule in a platform namespace): ${gaps.join("; ")}`,
                    );
                }
                assert.deepEqual(bad, []);
            });

            it("lets Calico's accounts do what the policy-only install needs, and no more", function () {
                const all = [...runs].flatMap(([c, r]) => r.calico.map((x) => ({ c, x })));
                if (all.length === 0) {
                    this.skip();
                }
                console.log(
                    table(
                        `Calico accounts (${stack})`,
                        ["cluster", "request", "expected", "status"],
                        all.map(({ c, x }) => [c, x.what, x.expected, String(x.status)]),
                    ),
                );
                const bad = all
                    .filter(({ x }) =>
                        x.expected === "admitted" ? x.status !== 200 : x.status !== 403,
                    )
                    .map(({ c, x }) => `${c}: ${x.what}: expected ${x.expected}, got ${x.status}`);
                assert.deepEqual(bad, []);
            });

            it("lets the rollout identity only restart its Deployments", function () {
                const all = [...runs].flatMap(([c, r]) => r.rollout.map((x) => ({ c, x })));
                if (all.length === 0) {
                    this.skip();
                }
                console.log(
                    table(
                        `Rollout identity (${stack})`,
                        ["cluster", "request", "expected", "result"],
                        all.map(({ c, x }) => [
                            c,
                            x.what,
                            x.expected,
                            x.status === 200
                                ? "admitted"
                                : `${x.status} ${x.message.slice(0, 160)}`,
                        ]),
                    ),
                );
                const bad = all
                    .filter(({ x }) =>
                        x.expected === "admitted"
                            ? x.status !== 200
                            : !(x.status === 403 || x.status === 422) ||
                              !x.message.toLowerCase().includes(x.expected.toLowerCase()),
                    )
                    .map(
                        ({ c, x }) =>
                            `${c}: ${x.what}: expected ${x.expected}, got ${x.status} ${x.message}`,
                    );
                assert.deepEqual(bad, []);
            });
        });
    }

    describe(`stack ${tenantVariant} (dev with one tenant)`, function () {
        const runs = new Map<string, { run: ClusterRun; tenant: Refusal[] }>();
        let variant: Map<string, K8sObject[]>;

        before(async function () {
            this.timeout(30 * 60_000);
            const planned = planVariant("dev", tenantVariant, (config) => {
                const key = "secure-llm-platform:baseline";
                const baseline = (config[key] ?? {}) as Record<string, unknown>;
                config[key] = { ...baseline, tenants: [{ name: "realtest" }] };
            });
            variant = planned.manifests;
            for (const [cluster, objects] of variant) {
                const scope = `${tenantVariant}/${cluster}`;
                const out = await onFreshCluster(scope, async (api) => ({
                    run: await runCluster(
                        api,
                        objects,
                        externalNamespaces(planned.resources, cluster),
                    ),
                    tenant: await tryTenantSandbox(api.client, objects),
                }));
                runs.set(cluster, out);
                record(scope, [...out.run.crds, ...out.run.objects, ...out.run.pods]);
            }
        });

        it("renders a tenant namespace", function () {
            const tenants = [...variant.values()].flatMap((objs) =>
                objs.filter((o) => o.kind === "Namespace" && o.metadata.name.startsWith("tenant-")),
            );
            assert.ok(tenants.length > 0, "no tenant namespace in the plan");
        });

        it("admits every object and every pod template", function () {
            const bad = [...runs].flatMap(([c, { run }]) =>
                [...run.objects, ...run.pods]
                    .filter((o) => o.result === "refused")
                    .map((o) => `${c}: ${o.kind} ${o.name}: ${o.detail}`),
            );
            assert.deepEqual(bad, []);
        });

        it("type-checks the tenant sandbox policy clean", function () {
            const checks = [...runs.values()].flatMap(({ run }) => run.typeChecks);
            assert.ok(
                checks.some((t) => t.policy === "slp-tenant-sandbox"),
                "no sandbox policy",
            );
            assert.deepEqual(
                checks.flatMap((t) => t.warnings.map((w) => `${t.policy}: ${w}`)),
                [],
            );
        });

        it("refuses a tenant pod outside Kata and admits it in each Kata RuntimeClass", function () {
            const all = [...runs].flatMap(([c, { tenant }]) => tenant.map((x) => ({ c, x })));
            assert.ok(all.length >= 2, "no tenant pods tried");
            console.log(
                table(
                    `Tenant pods (${tenantVariant})`,
                    ["cluster", "pod", "expected", "result"],
                    all.map(({ c, x }) => [
                        c,
                        x.id,
                        x.expected ?? "admitted",
                        x.status === 201 ? "admitted" : `${x.status} ${x.message.slice(0, 160)}`,
                    ]),
                ),
            );
            const bad = all
                .filter(({ x }) => !asExpected(x))
                .map(
                    ({ c, x }) =>
                        `${c} ${x.id}: expected ${x.expected ?? "admitted"}, got ${x.status} ${x.message}`,
                );
            assert.deepEqual(bad, []);
        });
    });
});
