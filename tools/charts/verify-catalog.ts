/**
 * Checks the chart catalog (modules/k8s/chart-contents.ts) against what the pinned charts really
 * render: every Helm release the offline plan recorded is rendered with `helm template`, our
 * values and the chart sources in `--charts`, and every pod, its Pod Security level (the shared
 * rules of modules/security), its labels, and the objects the catalog names are compared.
 *
 *   npm run plan -- --all
 *   npm run charts:verify -- --charts DIR --helm PATH [--plan .plan]
 *
 * DIR holds one unpacked chart per folder named like the chart (see docs/charts.md for how to
 * lay it out from the pinned sources). CI has no chart sources, so this runs on a workstation
 * when a pin changes; the fast suite then checks the catalog against namespaces and the intent.
 * Exit 0: no difference; 1: differences (listed); 2: usage.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { ChartContents, chartContents } from "../../modules/k8s/chart-contents";
import { podSecurityViolations } from "../../modules/security/kubernetes";
import { podView } from "../../modules/security/pods";

interface Rendered {
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly level?: string;
    readonly labels?: Record<string, string>;
}

const clusterScoped = new Set([
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "RuntimeClass",
    "PriorityClass",
    "IngressClass",
    "Namespace",
    "ClusterPolicy",
    "Installation",
    "APIServer",
    "Goldmane",
    "Whisker",
]);
/** Kinds the catalog must list whenever a chart renders them. */
const mustList = new Set([
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "RuntimeClass",
    "IngressClass",
    "Installation",
    "APIServer",
    "Goldmane",
    "Whisker",
    "ClusterPolicy",
]);

/** A rendered document, as far as the comparison reads it. */
interface Doc {
    readonly kind: string;
    readonly apiVersion: string;
    readonly metadata: {
        readonly name: string;
        readonly namespace?: string;
        readonly labels?: Record<string, string>;
    };
    readonly spec?: {
        readonly template?: { readonly metadata?: { readonly labels?: Record<string, string> } };
    };
}

/** The inputs of a recorded Helm release. */
interface ReleaseRecord {
    readonly name: string;
    readonly chart: string;
    readonly version: string;
    readonly namespace: string;
    readonly values?: Record<string, unknown>;
}

function render(helm: string, chartDir: string, release: ReleaseRecord): Rendered[] {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slp-charts-"));
    const valuesFile = path.join(tmp, "values.json");
    fs.writeFileSync(valuesFile, JSON.stringify(release.values ?? {}));
    try {
        const text = execFileSync(
            helm,
            [
                "template",
                release.name,
                chartDir,
                "-n",
                release.namespace,
                "-f",
                valuesFile,
                "--kube-version",
                "1.34.2",
                "--api-versions",
                "monitoring.coreos.com/v1",
                "--api-versions",
                "cert-manager.io/v1",
            ],
            { maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] },
        ).toString();
        return parseAllDocuments(text)
            .map((d) => d.toJS() as Doc | null)
            .filter((o): o is Doc => o !== null && typeof o.kind === "string")
            .map((o) => {
                const ns = clusterScoped.has(o.kind)
                    ? ""
                    : String(o.metadata.namespace ?? release.namespace);
                const [group, version] = String(o.apiVersion).includes("/")
                    ? String(o.apiVersion).split("/")
                    : ["core", String(o.apiVersion)];
                const pod = podView(`kubernetes:${group}/${version}:${o.kind}`, o.metadata.name, o);
                if (pod === undefined)
                    return { kind: o.kind, namespace: ns, name: o.metadata.name };
                const v = podSecurityViolations(pod);
                const level = v.some((x) => x.includes("PSS baseline"))
                    ? "privileged"
                    : v.some((x) => x.includes("PSS restricted"))
                      ? "baseline"
                      : "restricted";
                const labels = o.spec?.template?.metadata?.labels ?? o.metadata?.labels ?? {};
                return { kind: o.kind, namespace: ns, name: o.metadata.name, level, labels };
            });
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

function compare(c: ChartContents, rendered: readonly Rendered[]): string[] {
    const out: string[] = [];
    const pods = rendered.filter((r) => r.level !== undefined);
    for (const p of pods) {
        const m = c.pods.find(
            (x) => x.kind === p.kind && x.name === p.name && x.namespace === p.namespace,
        );
        if (m === undefined)
            out.push(
                `rendered, not in the catalog: ${p.kind} ${p.namespace}/${p.name} (${p.level})`,
            );
        else if (m.level !== p.level)
            out.push(`${p.name}: catalog says ${m.level}, renders ${p.level}`);
        else if (!Object.entries(m.podLabels).every(([k, v]) => p.labels?.[k] === v)) {
            out.push(
                `${p.name}: catalog labels ${JSON.stringify(m.podLabels)} not on the rendered pods`,
            );
        }
    }
    for (const m of c.pods.filter((x) => !x.operatorMade)) {
        if (
            !pods.some((p) => p.kind === m.kind && p.name === m.name && p.namespace === m.namespace)
        ) {
            out.push(`in the catalog, not rendered: ${m.kind} ${m.namespace}/${m.name}`);
        }
    }
    for (const r of rendered) {
        const outside = r.namespace !== "" && r.namespace !== c.namespace && r.level === undefined;
        if (
            (mustList.has(r.kind) || outside) &&
            !c.objects.some((o) => o.kind === r.kind && o.name === r.name)
        ) {
            out.push(`rendered, not in the catalog's objects: ${r.kind} ${r.namespace}/${r.name}`);
        }
    }
    return out;
}

function main(argv: string[]): number {
    const arg = (k: string) => {
        const i = argv.indexOf(k);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const chartsDir = arg("--charts");
    const helm = arg("--helm") ?? "helm";
    const planDir = arg("--plan") ?? ".plan";
    if (chartsDir === undefined || !fs.existsSync(chartsDir) || !fs.existsSync(planDir)) {
        process.stderr.write(
            "usage: verify-catalog --charts DIR [--helm PATH] [--plan DIR] (after npm run plan -- --all)\n",
        );
        return 2;
    }
    let differences = 0;
    const seen = new Set<string>();
    for (const stack of fs.readdirSync(planDir).sort()) {
        const file = path.join(planDir, stack, "resources.json");
        if (!fs.existsSync(file)) continue;
        const resources = JSON.parse(fs.readFileSync(file, "utf8")) as {
            type: string;
            name: string;
            inputs: ReleaseRecord;
        }[];
        for (const r of resources.filter((x) => x.type === "kubernetes:helm.sh/v3:Release")) {
            const i = r.inputs;
            const key = JSON.stringify([i.chart, i.version, i.namespace, i.values]);
            if (seen.has(key)) continue;
            seen.add(key);
            const c = chartContents({
                name: i.name,
                chart: i.chart,
                version: i.version,
                namespace: i.namespace,
                values: i.values ?? {},
            });
            const where = `${stack} ${r.name}`;
            if (c === undefined) {
                process.stdout.write(`${where}: ${i.chart} ${i.version} is not in the catalog\n`);
                differences++;
                continue;
            }
            const dir = path.join(chartsDir, String(i.chart).split("/").pop()!);
            const diffs = compare(c, render(helm, dir, i));
            for (const d of diffs) process.stdout.write(`${where}: ${d}\n`);
            process.stdout.write(
                `${where}: ${diffs.length === 0 ? "matches" : `${diffs.length} difference(s)`}\n`,
            );
            differences += diffs.length;
        }
    }
    process.stdout.write(
        `${seen.size} distinct release(s) rendered; ${differences} difference(s)\n`,
    );
    return differences === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
