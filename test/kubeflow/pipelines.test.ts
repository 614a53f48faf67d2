/**
 * The compiled pipelines in pipelines/compiled/ (KFP IR from the Python DSL in
 * pipelines/slp_pipelines; test/real/pipelines checks they are what the pinned SDK compiles):
 * wired, hardened where KFP allows, pinned to our images, and calling only commands, options, files
 * and ConfigMap keys that exist.
 */
import { strict as assert } from "assert";
import { existsSync, readFileSync, readdirSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { parseAllDocuments } from "yaml";
import * as images from "../../modules/constants/images";
import { runtimeClasses } from "../../modules/constants/scheduling";
import { runtimeClassSpec } from "../../modules/k8s/baseline/kata";
import {
    imageRef,
    promotionPolicyConfigMap,
    promotionPolicyData,
} from "../../modules/k8s/kubeflow";
import { commands, flags } from "../../pipelines/cli";
import { compiledDir, sandboxLabel, sandboxLabelValue } from "../../pipelines/compile";
import { loadPrompts } from "../../pipelines/evaluate/evaluate";
import { repoRoot } from "./helpers";

const pipelineFiles = readdirSync(compiledDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

interface Loaded {
    readonly file: string;
    readonly spec: any;
    readonly platform: any;
}

function load(file: string): Loaded {
    const docs = parseAllDocuments(readFileSync(path.join(compiledDir, file), "utf8"));
    for (const d of docs) assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    assert.ok(
        docs.length >= 1 && docs.length <= 2,
        `${file}: a PipelineSpec and at most a platform spec`,
    );
    return { file, spec: docs[0].toJS(), platform: docs[1]?.toJS() };
}

const placeholders = (s: string) => [
    ...s.matchAll(
        /\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](\.output_file|\.path)?\}\}/g,
    ),
];

/**
 * Repo path an in-image path maps to: the images put the repository's files under `/app/`
 * (pipelines/Dockerfile copies pipelines/redteam; compiled `.js` comes from the `.ts` source).
 */
const imagePathToRepo = (p: string) =>
    p.startsWith("/app/")
        ? path.join(repoRoot, p.slice("/app/".length).replace(/\.js$/, ".ts"))
        : undefined;

/** Every DAG of a spec (root and nested pipelines) with its tasks and input definitions. */
function dags(spec: any): { name: string; dag: any; inputs: any }[] {
    const out = [{ name: "root", dag: spec.root.dag, inputs: spec.root.inputDefinitions }];
    for (const [name, c] of Object.entries<any>(spec.components)) {
        if (c.dag) out.push({ name, dag: c.dag, inputs: c.inputDefinitions });
    }
    return out;
}

/** Lightweight Python components run `python3 -m kfp.dsl.executor_main` on an embedded function. */
const isPythonComponent = (ex: any) =>
    ex.container?.command?.[0] === "sh" &&
    ex.container.command.join(" ").includes("kfp.dsl.executor_main");

describe("kubeflow: pipeline definitions", () => {
    const loaded = pipelineFiles.map(load);
    const byName = (n: string) => loaded.find((l) => l.file === `${n}.yaml`)!;
    const ownImages = new Map<string, string>([
        [imageRef(images.pipelineImages.pipelineTools), "pipeline-tools"],
        [imageRef(images.pipelineImages.trainer), "trainer"],
        [imageRef(images.modelLoaderImage), "model-loader"],
    ]);
    const platformOf = (l: Loaded, label: string) =>
        l.platform?.platforms?.kubernetes?.deploymentSpec?.executors?.[label];

    it("has the promotion, fine-tuning and red-team pipelines", () => {
        assert.deepEqual(pipelineFiles, [
            "fine-tune-candidate.yaml",
            "fine-tuning.yaml",
            "guardrail-promotion.yaml",
            "model-promotion.yaml",
            "redteam-assessment.yaml",
        ]);
    });

    for (const { file, spec, platform } of loaded) {
        describe(file, () => {
            it("is a KFP v2 PipelineSpec compiled by the pinned SDK", () => {
                assert.equal(spec.schemaVersion, "2.1.0");
                assert.equal(spec.sdkVersion, "kfp-2.16.0");
                assert.equal(spec.pipelineInfo.name, file.replace(/\.yaml$/, ""));
            });

            it("wires every task: component, executor or DAG, dependencies and every input", () => {
                for (const { name: dagName, dag, inputs } of dags(spec)) {
                    const dagInputs = {
                        ...(inputs?.parameters ?? {}),
                        ...(inputs?.artifacts ?? {}),
                    };
                    for (const [name, task] of Object.entries<any>(dag.tasks)) {
                        const comp = spec.components[task.componentRef.name];
                        assert.ok(comp, `${dagName}/${name}: component exists`);
                        assert.ok(
                            comp.dag || spec.deploymentSpec.executors[comp.executorLabel],
                            `${dagName}/${name}: executor ${comp.executorLabel} exists`,
                        );
                        const wanted = Object.keys(comp.inputDefinitions?.parameters ?? {});
                        const given = task.inputs?.parameters ?? {};
                        for (const w of wanted) {
                            const optional =
                                comp.inputDefinitions.parameters[w].isOptional === true;
                            assert.ok(given[w] || optional, `${dagName}/${name}: ${w} wired`);
                        }
                        for (const [p, src] of Object.entries<any>(given)) {
                            assert.ok(wanted.includes(p), `${dagName}/${name}: ${p} declared`);
                            if (src.componentInputParameter) {
                                assert.ok(
                                    dagInputs[src.componentInputParameter],
                                    `${dagName}/${name}.${p}: input exists`,
                                );
                            } else if (src.taskOutputParameter) {
                                assert.ok(
                                    (task.dependentTasks ?? []).includes(
                                        src.taskOutputParameter.producerTask,
                                    ),
                                    `${dagName}/${name}: depends on its producer`,
                                );
                            } else {
                                assert.ok(src.runtimeValue, `${dagName}/${name}.${p}: a source`);
                            }
                        }
                        for (const dep of task.dependentTasks ?? [])
                            assert.ok(dag.tasks[dep], `${dagName}/${name}: ${dep} exists`);
                        assert.notEqual(
                            task.cachingOptions?.enableCache,
                            true,
                            `${dagName}/${name}: never reuses a cached result`,
                        );
                    }
                }
            });

            it("uses in each container command only what its component declares, and fills every output", () => {
                for (const comp of Object.values<any>(spec.components)) {
                    const ex = spec.deploymentSpec.executors[comp.executorLabel];
                    if (!ex?.container || isPythonComponent(ex)) continue;
                    const text = [
                        ...(ex.container.command ?? []),
                        ...(ex.container.args ?? []),
                    ].join("\n");
                    const ins = [
                        ...Object.keys(comp.inputDefinitions?.parameters ?? {}),
                        ...Object.keys(comp.inputDefinitions?.artifacts ?? {}),
                    ];
                    const outs = Object.keys(comp.outputDefinitions?.parameters ?? {});
                    const used = placeholders(text);
                    for (const m of used) {
                        if (m[1] === "inputs")
                            assert.ok(
                                ins.includes(m[3]),
                                `${comp.executorLabel}: ${m[3]} declared`,
                            );
                        else
                            assert.ok(
                                outs.includes(m[3]) && m[4] === ".output_file",
                                `${comp.executorLabel}: output ${m[3]} declared, as a file`,
                            );
                    }
                    for (const i of ins)
                        assert.ok(
                            used.some((m) => m[1] === "inputs" && m[3] === i),
                            `${comp.executorLabel}: ${i} used`,
                        );
                    for (const o of outs)
                        assert.ok(
                            used.some((m) => m[1] === "outputs" && m[3] === o),
                            `${comp.executorLabel}: ${o} written`,
                        );
                }
            });

            it("runs only our images, pinned by digest, with limits and the pod hardening KFP allows", () => {
                for (const [label, ex] of Object.entries<any>(spec.deploymentSpec.executors)) {
                    if (ex.importer) continue;
                    const image: string = ex.container.image;
                    assert.match(image, /^[^@]+:[^@]+@sha256:[0-9a-f]{64}$/, `${label}: digest`);
                    assert.ok(ownImages.has(image), `${label}: ${image} is not an image constant`);
                    assert.ok(
                        ex.container.resources?.resourceCpuLimit &&
                            ex.container.resources?.resourceMemoryLimit,
                        `${label}: limits`,
                    );
                    const p = platform?.platforms?.kubernetes?.deploymentSpec?.executors?.[label];
                    assert.deepEqual(
                        p?.securityContext,
                        { runAsUser: "10001", runAsGroup: "10001", runAsNonRoot: true },
                        `${label}: non-root with our images' fixed UID/GID`,
                    );
                    assert.equal(p.imagePullPolicy, "IfNotPresent", `${label}: pull policy`);
                    assert.ok(Number(p.activeDeadlineSeconds) > 0, `${label}: a timeout`);
                    assert.equal(
                        p.podMetadata?.labels?.["app.kubernetes.io/part-of"],
                        "secure-llm-platform",
                    );
                    if (isPythonComponent(ex)) {
                        const cmd = ex.container.command.join(" ");
                        assert.ok(
                            !/pip install/.test(cmd),
                            `${label}: installs nothing at run time`,
                        );
                        assert.equal(ownImages.get(image), "trainer");
                    }
                }
            });

            it("calls only commands and options the images provide, and files that exist", () => {
                for (const [label, ex] of Object.entries<any>(spec.deploymentSpec.executors)) {
                    if (ex.importer || isPythonComponent(ex)) continue;
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
                        // model-vault CLI contract (docs/ARCHITECTURE.md), run through the image's own
                        // entrypoint (KFP needs the command spelled out).
                        const df = readFileSync(
                            path.join(repoRoot, "images", "model-loader", "Dockerfile"),
                            "utf8",
                        );
                        const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(df);
                        assert.ok(entrypoint, "model-loader has an exec-form ENTRYPOINT");
                        assert.deepEqual(command, JSON.parse(entrypoint[1]));
                        assert.ok(["verify", "encrypt"].includes(args[0]), `${label}: ${args[0]}`);
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

            it("reads its gates and keys from keys the promotion-policy ConfigMap has, into env the steps read", () => {
                const keys = Object.keys(
                    promotionPolicyData(
                        {
                            promotion: { minAttackBlockRate: 1, maxBenignBlockRate: 0 },
                            trustedModelKeyIds: [],
                        },
                        { modelKeyId: "k", signingKeyId: "s", cryptoEndpoint: "e" },
                        "r",
                    ),
                );
                const py = readdirSync(path.join(repoRoot, "pipelines", "slp_pipelines"))
                    .filter((f) => f.endsWith(".py"))
                    .map((f) =>
                        readFileSync(path.join(repoRoot, "pipelines", "slp_pipelines", f), "utf8"),
                    );
                const envRead = [
                    readFileSync(path.join(repoRoot, "pipelines", "cli.ts"), "utf8"),
                    readFileSync(path.join(repoRoot, "loader", "cli.ts"), "utf8"),
                    ...py,
                ].join("\n");
                const execs = platform?.platforms?.kubernetes?.deploymentSpec?.executors ?? {};
                for (const [label, cfg] of Object.entries<any>(execs)) {
                    assert.ok(spec.deploymentSpec.executors[label], `${label}: exists`);
                    for (const c of cfg.configMapAsEnv ?? []) {
                        assert.equal(c.configMapName, promotionPolicyConfigMap);
                        for (const k of c.keyToEnv) {
                            assert.ok(keys.includes(k.configMapKey), `${label}: ${k.configMapKey}`);
                            assert.ok(
                                new RegExp(`["\\[]${k.envVar}["\\]]`).test(envRead),
                                `${label}: ${k.envVar} is read by the step`,
                            );
                        }
                    }
                }
            });
        });
    }

    it("the guardrail pipeline gates promotion on the evaluation and promotes what was evaluated", () => {
        const g = byName("guardrail-promotion").spec;
        assert.deepEqual(g.root.dag.tasks["promote-rules"].dependentTasks, ["evaluate-candidate"]);
        assert.deepEqual(
            g.root.dag.tasks["promote-rules"].inputs.parameters.expected_sha256.taskOutputParameter,
            {
                outputParameterKey: "rules_sha256",
                producerTask: "evaluate-candidate",
            },
        );
        const env = platformOf(byName("guardrail-promotion"), "exec-evaluate-candidate")
            .configMapAsEnv[0].keyToEnv;
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
        const m = byName("model-promotion").spec;
        assert.deepEqual(m.root.dag.tasks["promote-model"].dependentTasks, ["verify-model"]);
        assert.equal(
            m.deploymentSpec.executors["exec-verify-model"].container.image,
            imageRef(images.modelLoaderImage),
        );
    });

    it("fine-tuning runs the tune step in the Kata GPU sandbox, then evaluate, encrypt, promote", () => {
        const f = byName("fine-tuning");
        const tasks = f.spec.root.dag.tasks;
        assert.deepEqual(tasks["evaluate-model"].dependentTasks.sort(), [
            "fine-tune",
            "prepare-data",
        ]);
        assert.deepEqual(tasks["encrypt-model"].dependentTasks.sort(), [
            "evaluate-model",
            "fine-tune",
        ]);
        assert.deepEqual(tasks["model-promotion"].dependentTasks, ["encrypt-model"]);
        // The nested model promotion is the model-promotion pipeline itself.
        assert.deepEqual(
            f.spec.components["comp-model-promotion"].dag,
            byName("model-promotion").spec.root.dag,
        );
        const kata = runtimeClassSpec(runtimeClasses.kataGpu);
        const tune = platformOf(f, "exec-fine-tune");
        assert.deepEqual(tune.nodeSelector.labels, kata.scheduling.nodeSelector);
        assert.deepEqual(
            tune.tolerations,
            kata.scheduling.tolerations.map((t) => ({ ...t })),
        );
        assert.equal(tune.podMetadata.labels[sandboxLabel], sandboxLabelValue);
        assert.equal(
            f.spec.deploymentSpec.executors["exec-fine-tune"].container.resources.accelerator
                .resourceType,
            "nvidia.com/pgpu",
            "Kata passthrough GPU",
        );
        for (const other of ["exec-prepare-data", "exec-evaluate-model", "exec-encrypt-model"]) {
            assert.equal(platformOf(f, other).podMetadata.labels[sandboxLabel], undefined);
        }
        const enc = platformOf(f, "exec-encrypt-model").configMapAsEnv[0].keyToEnv;
        assert.deepEqual(Object.fromEntries(enc.map((k: any) => [k.configMapKey, k.envVar])), {
            "model-key-id": "MODEL_VAULT_KEY",
            "crypto-endpoint": "OCI_KMS_CRYPTO_ENDPOINT",
            "signing-key-id": "MODEL_VAULT_SIGNING_KEY_ID",
            "oci-region": "OCI_REGION",
        });
        const gates = platformOf(f, "exec-evaluate-model").configMapAsEnv[0].keyToEnv;
        assert.deepEqual(gates.map((e: any) => e.envVar).sort(), [
            "MAX_BENIGN_BLOCK_RATE",
            "MIN_ATTACK_BLOCK_RATE",
        ]);
    });

    it("the red-team assessment presents its API key and its mTLS client certificate to the gateway", () => {
        const r = byName("redteam-assessment");
        const p = platformOf(r, "exec-assess");
        assert.deepEqual(
            p.secretAsVolume.map((v: any) => [v.secretName, v.mountPath]),
            [
                ["redteam-api-key", "/var/run/secrets/redteam"],
                ["redteam-assessment-mtls", "/var/run/secrets/mtls"],
            ],
        );
        const args: string[] = r.spec.deploymentSpec.executors["exec-assess"].container.args;
        assert.equal(args[args.indexOf("--api-key-file") + 1], "/var/run/secrets/redteam/api-key");
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
