/**
 * Plans one stack in this process: installs the mocks, hands the program its configuration the
 * way the CLI would, runs the real entry point (`index.ts`), waits for every registration and
 * writes `resources.json`, `manifests/<cluster>.yaml` and `report.md` into `<out>/<stack>/`.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
    ConfigValidationError,
    formatIssue,
    loadConfig,
    stackFileLocator,
} from "../../modules/config";
import { imageGate } from "../../modules/images";
import {
    analyzeCluster,
    analyzeCrossCluster,
    analyzeStack,
    ClusterAnalysis,
    StackAnalysis,
} from "./analysis";
import { flowsFile } from "./diff";
import { FleetReport, compareFleet, fleetMembers, renderFleetMarkdown } from "./fleet";
import {
    chartPodManifests,
    chartsMarkdown,
    hostNetworkFlowsOf,
    hostNetworkMarkdown,
} from "./charts";
import { countBy, criticalPath, moduleOf } from "./graph";
import {
    Manifest,
    SchemaResult,
    isKubernetesObject,
    objectLabel,
    providerUrn,
    sortManifests,
    toManifest,
    toMultiDocYaml,
    validateManifest,
} from "./manifests";
import {
    RecordedResource,
    installMocks,
    recordedInvokes,
    recordedResources,
    redactSecrets,
    settle,
} from "./mocks";
import { readStackConfig, StackFileError } from "./stackfile";

import { exitCodes } from "./exit-codes";

export { exitCodes };

/** What planning one stack produced. */
export interface StackPlanResult {
    readonly stack: string;
    readonly exitCode: number;
    /** One line per problem, already formatted for the terminal. */
    readonly problems: readonly string[];
    readonly resourceCount: number;
    /** Warnings the program logged (also listed in report.md). */
    readonly warnings?: readonly string[];
    readonly outDir?: string;
    readonly seconds: number;
    /** Differences between the stack's clusters (tools/plan/fleet.ts). */
    readonly fleet?: FleetReport;
    /**
     * Why `pulumi up` and `npm run deploy` refuse the stack although every check of the plan
     * passed (images that cannot be verified: modules/images.ts). Verdict "blocked" when present.
     */
    readonly blockers?: readonly string[];
}

/** Plans `stack` of the project in `projectDir`, writing into `outRoot/<stack>/`. */
export async function planStack(
    projectDir: string,
    stack: string,
    outRoot: string,
    configDir?: string,
    onProgress: (step: string) => void = () => undefined,
): Promise<StackPlanResult> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let stackConfig;
    try {
        stackConfig = readStackConfig(projectDir, stack, configDir);
    } catch (e) {
        if (e instanceof StackFileError) {
            return {
                stack,
                exitCode: exitCodes.configOrUsage,
                problems: [e.message],
                resourceCount: 0,
                seconds: elapsed(),
            };
        }
        throw e;
    }
    onProgress("running the program");
    installMocks({ project: stackConfig.project, stack });
    pulumi.runtime.setAllConfig(stackConfig.values, stackConfig.secretKeys);

    // The program's warnings (e.g. unverified image digests) go to the report, not the terminal.
    const warnings: string[] = [];
    const log = pulumi.log as { warn: (msg: string, ...rest: unknown[]) => Promise<void> };
    log.warn = async (msg: string) => {
        warnings.push(msg);
    };

    const asyncErrors: unknown[] = [];
    const onRejection = (e: unknown) => asyncErrors.push(e);
    process.on("unhandledRejection", onRejection);
    let programExports: Record<string, unknown> = {};
    // The plan renders a stack whose images a deploy would refuse, and lists them as blockers.
    imageGate.mode = "report";
    imageGate.blocked.length = 0;
    try {
        // The real program, exactly as `pulumi up` runs it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(path.join(projectDir, "index.ts")) as unknown;
        // An exported function is called and awaited, as @pulumi/pulumi's cmd/run does.
        programExports = (typeof program === "function" ? await program() : program) as Record<
            string,
            unknown
        >;
        await settle();
    } catch (e) {
        process.off("unhandledRejection", onRejection);
        if (e instanceof ConfigValidationError) {
            // Each issue at the line of the stack file this plan read (test: test/config/mistakes.test.ts).
            const located = e.withLocations(
                stackFileLocator(
                    stackConfig.file,
                    stackConfig.project,
                    path.relative(process.cwd(), stackConfig.file).startsWith("..")
                        ? stackConfig.file
                        : path.relative(process.cwd(), stackConfig.file),
                ),
            );
            return {
                stack,
                exitCode: exitCodes.configOrUsage,
                problems: located.issues.map((i) => `config: ${formatIssue(i)}`),
                resourceCount: 0,
                seconds: elapsed(),
            };
        }
        return {
            stack,
            exitCode: exitCodes.violation,
            problems: [`program error: ${describe(e)}`],
            resourceCount: 0,
            seconds: elapsed(),
        };
    }
    await new Promise((r) => setImmediate(r));
    process.off("unhandledRejection", onRejection);

    const resources = [...recordedResources()];
    const problems: string[] = asyncErrors.map((e) => `program error: ${describe(e)}`);
    const outputs = await resolveOutputs(programExports);
    problems.push(...outputs.problems);

    const outDir = path.join(outRoot, stack);
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(path.join(outDir, "manifests"), { recursive: true });

    fs.writeFileSync(
        path.join(outDir, "resources.json"),
        JSON.stringify(
            resources.map((r) => ({
                urn: r.urn,
                type: r.type,
                name: r.name,
                parent: r.parent ?? null,
                provider: providerUrn(r.provider) ?? null,
                dependencies: r.dependencies,
                protect: r.protect,
                retainOnDelete: r.retainOnDelete,
                inputs: redactSecrets(r.inputs),
            })),
            null,
            2,
        ) + "\n",
    );

    const found = clustersFromProviders(await clusterProviderUrns(projectDir), resources);
    problems.push(...found.problems);
    const clusters = found.clusters;
    const clusterAnalyses: ClusterAnalysis[] = [];
    const schemaResults: SchemaResult[] = [];
    const flows: string[] = [];
    const manifestsByCluster = new Map<string, Manifest[]>();
    for (const c of clusters) {
        onProgress(`cluster ${c.name}: schemas, policies, reachability`);
        const objects = resources.filter(
            (r) => isKubernetesObject(r) && providerUrn(r.provider) === c.providerUrn,
        );
        const manifests = sortManifests(objects.map(toManifest));
        manifestsByCluster.set(c.name, manifests);
        const results = objects.map((r) =>
            validateManifest(toManifest(r), r.type.endsWith("Patch")),
        );
        schemaResults.push(...results);
        for (const res of results) {
            for (const err of res.errors) {
                problems.push(`schema: ${c.name}: ${res.object}: ${err}`);
            }
        }
        fs.writeFileSync(
            path.join(outDir, "manifests", `${c.name}.yaml`),
            toMultiDocYaml(manifests),
        );
        const releases = resources.filter(
            (r) =>
                r.type === "kubernetes:helm.sh/v3:Release" &&
                providerUrn(r.provider) === c.providerUrn,
        );
        const analysis = analyzeCluster(c.name, manifests, chartPodManifests(releases, manifests));
        flows.push(...analysis.flows.map((f) => `${c.name}: ${f}`));
        flows.push(
            ...hostNetworkFlowsOf(manifests).map(
                (f) =>
                    `${c.name}: host-network ${f.namespace}/${f.from} -> ${f.to} (${f.port}): ${f.purpose}`,
            ),
        );
        clusterAnalyses.push({
            ...analysis,
            markdown: `${analysis.markdown}\n\n${chartsMarkdown(releases, manifests.length)}\n\n${hostNetworkMarkdown(manifests)}`,
        });
        problems.push(...analysis.violations.map((v) => `${c.name}: ${v}`));
    }
    // Across clusters (issue 16): edges to other clusters' load balancers, and their verdicts.
    const cross =
        clusterAnalyses.length > 1
            ? analyzeCrossCluster(clusterAnalyses.map((a) => a.reachability))
            : undefined;
    flows.push(...(cross?.flows ?? []).map((f) => `cross-cluster: ${f}`));
    problems.push(...(cross?.violations ?? []));
    fs.writeFileSync(path.join(outDir, flowsFile), JSON.stringify(flows, null, 2) + "\n");
    // The program has validated the config already; read it again for names and exceptions.
    const platform = loadConfig();
    const fleet = compareFleet(
        fleetMembers(platform.clusters, manifestsByCluster),
        platform.fleet.exceptions,
    );
    problems.push(...fleet.violations);
    const stackAnalysis = analyzeStack(resources, stackConfig.values);
    problems.push(...stackAnalysis.violations);
    const blockers = imageGate.blocked.map((i) => `deploy refused: ${formatIssue(i)}`);

    fs.writeFileSync(
        path.join(outDir, "report.md"),
        renderReport({
            stack,
            resources,
            clusterAnalyses,
            stackAnalysis,
            fleet,
            schemaResults,
            outputs: outputs.rows,
            problems,
            warnings,
            invokes: countBy(recordedInvokes(), (i) => i.token),
            crossClusterMarkdown: cross?.markdown,
            blockers,
        }),
    );
    return {
        stack,
        exitCode: problems.length > 0 ? exitCodes.violation : exitCodes.clean,
        problems,
        resourceCount: resources.length,
        warnings,
        outDir,
        seconds: elapsed(),
        fleet,
        blockers: blockers.length > 0 ? blockers : undefined,
    };
}

function describe(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/** A cluster of the stack and the URN of its Kubernetes provider. */
export interface ClusterRef {
    readonly name: string;
    readonly providerUrn: string;
}

/**
 * The clusters, from the provider URN of each cluster as the platform declared it, checked against
 * the Kubernetes providers the mocks recorded and put in their registration order. Pure.
 */
export function clustersFromProviders(
    providerUrns: ReadonlyMap<string, string>,
    resources: readonly Pick<RecordedResource, "type" | "urn">[],
): { clusters: ClusterRef[]; problems: string[] } {
    const recorded = resources
        .filter((r) => r.type === "pulumi:providers:kubernetes")
        .map((r) => r.urn);
    const clusters: ClusterRef[] = [];
    const problems: string[] = [];
    for (const [name, providerUrn] of providerUrns) {
        if (recorded.includes(providerUrn)) {
            clusters.push({ name, providerUrn });
        } else {
            problems.push(
                `plan: cluster ${name}: its Kubernetes provider ${providerUrn} was never registered`,
            );
        }
    }
    clusters.sort((a, b) => recorded.indexOf(a.providerUrn) - recorded.indexOf(b.providerUrn));
    return { clusters, problems };
}

/**
 * The provider URN of each cluster of the program that just ran, from the map the platform exposes
 * (`clusterProviders` of modules/platform.ts, loaded from the project the program came from, so
 * it is the same module instance).
 */
async function clusterProviderUrns(projectDir: string): Promise<Map<string, string>> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const platform = require(path.join(projectDir, "modules", "platform")) as {
        clusterProviders?: ReadonlyMap<string, pulumi.ProviderResource>;
    };
    const out = new Map<string, string>();
    for (const [name, provider] of platform.clusterProviders ?? new Map()) {
        out.set(name, await new Promise<string>((resolve) => provider.urn.apply(resolve)));
    }
    return out;
}

interface OutputRow {
    readonly name: string;
    readonly secret: boolean;
}

/**
 * Resolves the program's exports and checks that anything that looks like a credential is a
 * secret output (a kubeconfig in plaintext state is a leak).
 */
async function resolveOutputs(
    exports: Record<string, unknown>,
): Promise<{ rows: OutputRow[]; problems: string[] }> {
    const rows: OutputRow[] = [];
    const problems: string[] = [];
    const visit = async (v: unknown, at: string): Promise<void> => {
        if (pulumi.Output.isInstance(v)) {
            const secret = await pulumi.isSecret(v);
            rows.push({ name: at, secret });
            const leaf = at.split(".").pop() ?? at;
            if (
                !secret &&
                (/kubeconfig|password|token|credential/i.test(leaf) || /^secret$/i.test(leaf))
            ) {
                problems.push(`outputs: ${at} holds a credential but is not a secret output`);
            }
            return;
        }
        if (Array.isArray(v)) {
            for (let i = 0; i < v.length; i++) {
                await visit(v[i], `${at}[${i}]`);
            }
            return;
        }
        if (typeof v === "object" && v !== null) {
            for (const [k, x] of Object.entries(v)) {
                await visit(x, at ? `${at}.${k}` : k);
            }
            return;
        }
        if (v !== undefined) {
            rows.push({ name: at, secret: false });
        }
    };
    await visit(exports, "");
    return { rows, problems };
}

interface ReportInput {
    readonly stack: string;
    /** Deploy blockers (verdict "blocked" when there is no violation). */
    readonly blockers?: readonly string[];
    readonly resources: readonly RecordedResource[];
    readonly clusterAnalyses: readonly ClusterAnalysis[];
    readonly stackAnalysis: StackAnalysis;
    readonly fleet?: FleetReport;
    readonly schemaResults: readonly SchemaResult[];
    readonly outputs: readonly OutputRow[];
    readonly problems: readonly string[];
    readonly warnings: readonly string[];
    readonly invokes: readonly [string, number][];
    /** Reachability across clusters, for stacks with several. */
    readonly crossClusterMarkdown?: string;
}

function table(
    headers: readonly string[],
    rows: readonly (readonly (string | number)[])[],
): string {
    const esc = (x: string | number) => String(x).replace(/\|/g, "\\|");
    return [
        `| ${headers.join(" | ")} |`,
        `| ${headers.map(() => "---").join(" | ")} |`,
        ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
    ].join("\n");
}

/** The human-readable plan. */
export function renderReport(r: ReportInput): string {
    const byUrn = new Map(r.resources.map((x) => [x.urn, x]));
    const custom = r.resources.filter((x) => x.custom);
    const path = criticalPath(r.resources);
    const withSchema = r.schemaResults.filter((s) => s.schema !== undefined);
    const noSchema = countBy(
        r.schemaResults.filter((s) => s.schema === undefined),
        (s) => s.object.split(" ")[0],
    );
    const lines: string[] = [];
    lines.push(`# Offline plan: stack \`${r.stack}\``);
    lines.push("");
    const blockers = r.blockers ?? [];
    lines.push(
        r.problems.length > 0
            ? `**Verdict: ${r.problems.length} violation(s).** The plan exits 1.`
            : blockers.length > 0
              ? `**Verdict: blocked.** No mandatory policy, schema or reachability violation, but \`pulumi up\` and \`npm run deploy\` refuse this stack before any resource until the ${blockers.length} deploy blocker(s) below are resolved.`
              : "**Verdict: clean.** No mandatory policy, schema or reachability violation.",
    );
    lines.push("");
    lines.push(
        `${r.resources.length} registrations (${custom.length} cloud/cluster resources, ` +
            `${r.resources.length - custom.length} components); ` +
            `${r.clusterAnalyses.length} cluster(s): ${r.clusterAnalyses.map((c) => `\`${c.cluster}\``).join(", ")}.`,
    );
    if (r.problems.length > 0) {
        lines.push("", "## Violations", "", ...r.problems.map((p) => `- ${p}`));
    }
    if (blockers.length > 0) {
        lines.push("", "## Deploy blockers", "", ...blockers.map((p) => `- ${p}`));
    }
    if (r.warnings.length > 0) {
        lines.push(
            "",
            "## Warnings from the program",
            "",
            ...r.warnings.map((w) => `- ${w.replace(/\n/g, "\n  ")}`),
        );
    }
    lines.push("", "## Resources by module", "");
    lines.push(
        table(
            ["module", "resources"],
            countBy(r.resources, (x) => moduleOf(x, byUrn)),
        ),
    );
    lines.push("", "## Resources by type", "");
    lines.push(
        table(
            ["type", "count"],
            countBy(r.resources, (x) => x.type),
        ),
    );
    lines.push("", "## Critical path", "");
    lines.push(
        `The longest chain of resources that must be created one after another has ${path.length} step(s); ` +
            "no other serialization is declared.",
    );
    lines.push("", ...path.map((x, i) => `${i + 1}. \`${x.type}\` ${x.name}`));
    lines.push("", "## Policy findings", "");
    lines.push(r.stackAnalysis.policyMarkdown);
    lines.push("", "## Schema validation", "");
    lines.push(
        `${withSchema.length} object(s) validated against their OpenAPI schema; ` +
            `${r.schemaResults.filter((s) => s.errors.length > 0).length} with errors.`,
    );
    if (noSchema.length > 0) {
        lines.push(
            "",
            "Kinds with no schema bundled offline (checked only for apiVersion, kind and metadata.name):",
            "",
            table(["kind", "objects"], noSchema),
        );
    }
    for (const c of r.clusterAnalyses) {
        lines.push("", `## Cluster \`${c.cluster}\``, "", c.markdown);
    }
    if (r.fleet !== undefined && r.fleet.clusters.length > 1) {
        lines.push("", "## Fleet consistency", "", renderFleetMarkdown(r.fleet));
    }
    if (r.crossClusterMarkdown !== undefined) {
        lines.push("", "## Reachability across clusters", "", r.crossClusterMarkdown);
    }
    lines.push("", "## Stack outputs", "");
    lines.push(
        table(
            ["output", "secret"],
            r.outputs.map((o) => [o.name, o.secret ? "yes" : "no"]),
        ),
    );
    lines.push("", "## Invokes answered offline", "");
    lines.push(r.invokes.length === 0 ? "None." : table(["invoke", "calls"], r.invokes));
    if (r.stackAnalysis.notes.length > 0) {
        lines.push("", "## Notes", "", ...r.stackAnalysis.notes.map((n) => `- ${n}`));
    }
    lines.push("");
    return lines.join("\n");
}

/** Exposed for tests: the label helper. */
export { objectLabel, Manifest };
