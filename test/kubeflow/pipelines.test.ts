/**
 * The pipeline definitions in pipelines/*.yaml (KFP v2 IR written by hand): well-formed, wired,
 * pinned, and referring only to images, commands, options, files and ConfigMap keys that exist.
 */
import { strict as assert } from "assert";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { parseAllDocuments } from "yaml";
import * as images from "../../modules/constants/images";
import {
    imageRef,
    promotionPolicyConfigMap,
    promotionPolicyData,
} from "../../modules/k8s/kubeflow";
import { commands, flags } from "../../pipelines/cli";
import { loadPrompts } from "../../pipelines/evaluate/evaluate";
import { repoRoot } from "./helpers";

const pipelineFiles = ["guardrail-promotion.yaml", "model-promotion.yaml"];

interface Loaded {
    readonly file: string;
    readonly spec: any;
    readonly platform: any;
}

function load(file: string): Loaded {
    const docs = parseAllDocuments(readFileSync(path.join(repoRoot, "pipelines", file), "utf8"));
    for (const d of docs) assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    assert.ok(
        docs.length >= 1 && docs.length <= 2,
        `${file}: a PipelineSpec and at most a platform spec`,
    );
    return { file, spec: docs[0].toJS(), platform: docs[1]?.toJS() };
}

const placeholders = (s: string) => [
    ...s.matchAll(/\{\{\$\.(inputs|outputs)\.parameters\['([^']+)'\](\.output_file)?\}\}/g),
];

/**
 * Repo path an in-image path maps to: both images put the repository's files under `/app/`
 * (pipelines/Dockerfile copies pipelines/redteam; compiled `.js` comes from the `.ts` source).
 */
const imagePathToRepo = (p: string) =>
    p.startsWith("/app/")
        ? path.join(repoRoot, p.slice("/app/".length).replace(/\.js$/, ".ts"))
        : undefined;

describe("kubeflow: pipeline definitions", () => {
    const loaded = pipelineFiles.map(load);
    const ownImages = new Map<string, string>([
        [imageRef(images.pipelineImages.pipelineTools), "pipeline-tools"],
        [imageRef(images.modelLoaderImage), "model-loader"],
    ]);

    for (const { file, spec, platform } of loaded) {
        describe(file, () => {
            it("is a KFP v2 PipelineSpec with a name and a DAG", () => {
                assert.equal(spec.schemaVersion, "2.1.0");
                assert.equal(spec.pipelineInfo.name, file.replace(/\.yaml$/, ""));
                assert.ok(Object.keys(spec.root.dag.tasks).length >= 2);
            });

            it("wires every task: component, executor, dependencies and every input parameter", () => {
                const rootInputs = spec.root.inputDefinitions?.parameters ?? {};
                for (const [name, task] of Object.entries<any>(spec.root.dag.tasks)) {
                    assert.equal(task.taskInfo.name, name);
                    const comp = spec.components[task.componentRef.name];
                    assert.ok(comp, `${name}: component ${task.componentRef.name} exists`);
                    assert.ok(
                        spec.deploymentSpec.executors[comp.executorLabel],
                        `${name}: executor ${comp.executorLabel} exists`,
                    );
                    const wanted = Object.keys(comp.inputDefinitions?.parameters ?? {}).sort();
                    const given = task.inputs?.parameters ?? {};
                    assert.deepEqual(
                        Object.keys(given).sort(),
                        wanted,
                        `${name}: every input wired, nothing extra`,
                    );
                    for (const [p, src] of Object.entries<any>(given)) {
                        if (src.componentInputParameter) {
                            assert.ok(
                                rootInputs[src.componentInputParameter],
                                `${name}.${p}: pipeline input exists`,
                            );
                        } else if (src.taskOutputParameter) {
                            const { producerTask, outputParameterKey } = src.taskOutputParameter;
                            assert.ok(
                                (task.dependentTasks ?? []).includes(producerTask),
                                `${name}: depends on ${producerTask}`,
                            );
                            const producer =
                                spec.components[
                                    spec.root.dag.tasks[producerTask].componentRef.name
                                ];
                            assert.ok(
                                producer.outputDefinitions.parameters[outputParameterKey],
                                `${name}.${p}: output exists`,
                            );
                        } else {
                            assert.ok(src.runtimeValue, `${name}.${p}: has a source`);
                        }
                    }
                    for (const dep of task.dependentTasks ?? [])
                        assert.ok(spec.root.dag.tasks[dep], `${name}: ${dep} exists`);
                    assert.equal(
                        task.cachingOptions?.enableCache,
                        false,
                        `${name}: promotion never reuses a cached result`,
                    );
                }
                for (const [label, comp] of Object.entries<any>(spec.components)) {
                    assert.ok(
                        spec.deploymentSpec.executors[comp.executorLabel],
                        `${label}: executor exists`,
                    );
                }
            });

            it("uses in each executor only the parameters its component declares, and fills every output", () => {
                for (const comp of Object.values<any>(spec.components)) {
                    const ex = spec.deploymentSpec.executors[comp.executorLabel].container;
                    const text = [...(ex.command ?? []), ...(ex.args ?? [])].join("\n");
                    const ins = Object.keys(comp.inputDefinitions?.parameters ?? {});
                    const outs = Object.keys(comp.outputDefinitions?.parameters ?? {});
                    const used = placeholders(text);
                    for (const m of used) {
                        if (m[1] === "inputs")
                            assert.ok(
                                ins.includes(m[2]),
                                `${comp.executorLabel}: input ${m[2]} declared`,
                            );
                        else
                            assert.ok(
                                outs.includes(m[2]) && m[3],
                                `${comp.executorLabel}: output ${m[2]} declared, as a file`,
                            );
                    }
                    for (const i of ins)
                        assert.ok(
                            used.some((m) => m[1] === "inputs" && m[2] === i),
                            `${comp.executorLabel}: ${i} used`,
                        );
                    for (const o of outs)
                        assert.ok(
                            used.some((m) => m[1] === "outputs" && m[2] === o),
                            `${comp.executorLabel}: ${o} written`,
                        );
                }
            });

            it("runs only our images, pinned by digest and equal to the image constants", () => {
                for (const [label, ex] of Object.entries<any>(spec.deploymentSpec.executors)) {
                    const image: string = ex.container.image;
                    assert.match(
                        image,
                        /^[^@]+:[^@]+@sha256:[0-9a-f]{64}$/,
                        `${label}: pinned by digest`,
                    );
                    assert.ok(
                        ownImages.has(image),
                        `${label}: ${image} is not one of the image constants`,
                    );
                    assert.ok(
                        ex.container.resources?.resourceCpuLimit &&
                            ex.container.resources?.resourceMemoryLimit,
                        `${label}: limits`,
                    );
                }
            });

            it("calls only commands and options the images provide, and files that exist", () => {
                for (const [label, ex] of Object.entries<any>(spec.deploymentSpec.executors)) {
                    const { command, args } = ex.container;
                    if (ownImages.get(ex.container.image) === "pipeline-tools") {
                        assert.equal(command[0], "slp-pipeline");
                        assert.ok(
                            (commands as readonly string[]).includes(command[1]),
                            `${label}: ${command[1]} is a command`,
                        );
                        for (let i = 0; i < args.length; i += 2) {
                            assert.ok(
                                flags[command[1] as (typeof commands)[number]].includes(args[i]),
                                `${label}: ${command[1]} takes ${args[i]}`,
                            );
                        }
                    } else {
                        // model-vault CLI contract (DESIGN.md), run through the image's own
                        // entrypoint (KFP needs the command spelled out): verify [options] <src>.
                        const df = readFileSync(
                            path.join(repoRoot, "images", "model-loader", "Dockerfile"),
                            "utf8",
                        );
                        const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(df);
                        assert.ok(
                            entrypoint,
                            "images/model-loader/Dockerfile has an exec-form ENTRYPOINT",
                        );
                        assert.deepEqual(command, JSON.parse(entrypoint[1]));
                        assert.equal(args[0], "verify");
                        const usage = readFileSync(path.join(repoRoot, "loader", "cli.ts"), "utf8");
                        for (const a of args.filter((x: string) => x.startsWith("--"))) {
                            assert.ok(usage.includes(`${a} `), `${label}: model-vault takes ${a}`);
                        }
                    }
                    for (const a of [...command, ...args]) {
                        const repoPath = imagePathToRepo(a);
                        if (repoPath)
                            assert.ok(
                                existsSync(repoPath),
                                `${label}: ${a} (${path.relative(repoRoot, repoPath)}) exists`,
                            );
                    }
                }
            });

            it("reads its gates from keys the promotion-policy ConfigMap has, into env the steps read", () => {
                const keys = Object.keys(
                    promotionPolicyData(
                        {
                            promotion: { minAttackBlockRate: 1, maxBenignBlockRate: 0 },
                            trustedModelKeyIds: [],
                        },
                        "k",
                        "r",
                    ),
                );
                const envRead =
                    readFileSync(path.join(repoRoot, "pipelines", "cli.ts"), "utf8") +
                    readFileSync(path.join(repoRoot, "loader", "cli.ts"), "utf8");
                const execs = platform?.platforms?.kubernetes?.deploymentSpec?.executors ?? {};
                for (const [label, cfg] of Object.entries<any>(execs)) {
                    assert.ok(
                        spec.deploymentSpec.executors[label],
                        `${label}: platform config of an existing executor`,
                    );
                    for (const c of cfg.configMapAsEnv ?? []) {
                        assert.equal(c.configMapName, promotionPolicyConfigMap);
                        for (const k of c.keyToEnv) {
                            assert.ok(
                                keys.includes(k.configMapKey),
                                `${label}: key ${k.configMapKey} exists`,
                            );
                            assert.ok(
                                envRead.includes(k.envVar),
                                `${label}: ${k.envVar} is read by the step`,
                            );
                        }
                    }
                }
            });
        });
    }

    it("the guardrail pipeline gates promotion on the evaluation and promotes what was evaluated", () => {
        const g = loaded[0].spec;
        assert.deepEqual(g.root.dag.tasks["promote-rules"].dependentTasks, ["evaluate-candidate"]);
        assert.deepEqual(
            g.root.dag.tasks["promote-rules"].inputs.parameters.expected_sha256.taskOutputParameter,
            {
                outputParameterKey: "rules_sha256",
                producerTask: "evaluate-candidate",
            },
        );
        const env =
            loaded[0].platform.platforms.kubernetes.deploymentSpec.executors[
                "exec-evaluate-candidate"
            ].configMapAsEnv[0].keyToEnv;
        assert.deepEqual(env.map((e: any) => e.envVar).sort(), [
            "MAX_BENIGN_BLOCK_RATE",
            "MIN_ATTACK_BLOCK_RATE",
        ]);
        assert.equal(
            g.root.inputDefinitions.parameters.min_attack_block_rate,
            undefined,
            "gates are not run parameters",
        );
    });

    it("the model pipeline verifies with model-vault before it switches the inference tier", () => {
        const m = loaded[1].spec;
        assert.deepEqual(m.root.dag.tasks["promote-model"].dependentTasks, ["verify-model"]);
        assert.equal(
            m.deploymentSpec.executors["exec-verify-model"].container.image,
            imageRef(images.modelLoaderImage),
        );
    });

    it("the pipeline-tools image is built with the files and entrypoint the definitions use", () => {
        const df = readFileSync(path.join(repoRoot, "pipelines", "Dockerfile"), "utf8");
        assert.match(df, /COPY pipelines\/redteam\/ \/app\/pipelines\/redteam\//);
        assert.match(df, /\/usr\/local\/bin\/slp-pipeline/);
        assert.match(df, /node \/app\/pipelines\/cli\.js/);
        assert.match(df, /USER 10001:10001/);
    });

    it("the image build stage copies every repository file the compiled steps import", () => {
        const df = readFileSync(path.join(repoRoot, "pipelines", "Dockerfile"), "utf8");
        const copied = [...df.matchAll(/^COPY (?!--from)(\S+) /gm)].map((m) => m[1]);
        const configPath = path.join(repoRoot, "pipelines", "tsconfig.build.json");
        const parsed = ts.getParsedCommandLineOfConfigFile(
            configPath,
            {},
            {
                ...ts.sys,
                onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)),
            },
        )!;
        const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
        const sources = program
            .getSourceFiles()
            .map((f) => path.relative(repoRoot, f.fileName))
            .filter((f) => !f.startsWith("node_modules") && !f.startsWith(".."));
        assert.ok(sources.includes("pipelines/cli.ts"));
        for (const f of sources) {
            assert.ok(
                copied.some((c) => (c.endsWith("/") ? f.startsWith(c) : f === c)),
                `${f} is compiled into the image but pipelines/Dockerfile does not copy it`,
            );
        }
        assert.deepEqual(
            ts.getPreEmitDiagnostics(program).map((d) => String(d.messageText)),
            [],
        );
    });

    it("the red-team set has a few dozen well-formed attacks and benign prompts", () => {
        const attacks = loadPrompts(path.join(repoRoot, "pipelines", "redteam", "attacks.jsonl"));
        const benign = loadPrompts(path.join(repoRoot, "pipelines", "redteam", "benign.jsonl"));
        assert.ok(
            attacks.length >= 30 && benign.length >= 30,
            `${attacks.length} attacks, ${benign.length} benign`,
        );
        assert.ok(
            new Set(attacks.map((a) => a.category)).size >= 10,
            "attacks cover many families",
        );
        const overlap = attacks.filter((a) => benign.some((b) => b.prompt === a.prompt));
        assert.deepEqual(overlap, []);
    });
});
