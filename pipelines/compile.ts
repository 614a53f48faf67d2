/**
 * Compiles the KFP Python DSL pipelines (pipelines/slp_pipelines) with the pinned `kfp` SDK into
 * `pipelines/compiled/` (or the folder given): `npm run pipelines:compile [-- OUT_DIR]`.
 *
 * The Python side gets every platform fact it bakes into the IR — image digests, the Kata GPU
 * sandbox's scheduling — from here, so those facts keep one home (modules/constants, the baseline).
 */
import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { modelLoaderImage, pipelineImages } from "../modules/constants/images";
import { candidateEvaluation } from "../modules/constants/rollout";
import { runtimeClasses } from "../modules/constants/scheduling";
import { runtimeClassSpec } from "../modules/k8s/baseline/kata";
import { catalog } from "../modules/k8s/catalog";
import { imageRef } from "../modules/k8s/kubeflow";
import { sandboxLabel } from "../modules/k8s/kubeflow/namespace";
import { pipelineMtlsClients, pipelineMtlsDir } from "../modules/k8s/llm/mtls";
import { gpuResourceName } from "../modules/k8s/llm/tiers";

/** Folder of the checked-in IR. */
export const compiledDir = path.join(__dirname, "compiled");

export { sandboxLabel };

/** Value of the sandbox pod label (`secure-llm-platform.io/sandbox`) on fine-tuning pods. */
export const sandboxLabelValue = "kata-gpu";

/** What `slp_pipelines/platform.py` reads from `SLP_PIPELINE_PLATFORM`. */
export function platformFacts() {
    const kata = runtimeClassSpec(runtimeClasses.kataGpu);
    return {
        images: {
            "pipeline-tools": imageRef(pipelineImages.pipelineTools),
            "model-loader": imageRef(modelLoaderImage),
            trainer: imageRef(pipelineImages.trainer),
        },
        // The tiers' mTLS sidecars (modules/k8s/llm/mtls.ts): https, the Service host verified.
        guardrailsUrl: `https://${catalog.guardrails.serviceHost}:${catalog.guardrails.ports[0].port}`,
        candidateUrl: `https://${catalog["candidate-guardrails"].serviceHost}:${catalog["candidate-guardrails"].ports[0].port}`,
        // The steps' client certificates (cert-manager Secrets in the pipeline namespace) and
        // where a step mounts its own.
        mtls: {
            dir: pipelineMtlsDir,
            candidateEvaluationSecret: pipelineMtlsClients["candidate-evaluation"].secret,
            smokeTestSecret: pipelineMtlsClients["kubeflow-pipelines"].secret,
            redteamSecret: pipelineMtlsClients["redteam-assessment"].secret,
        },
        // Pod labels of the evaluation step: the only pod the candidate tier admits.
        candidateEvaluationLabels: candidateEvaluation.podLabels,
        sandbox: {
            labelKey: sandboxLabel,
            label: sandboxLabelValue,
            runtimeClass: kata.name,
            gpuResource: gpuResourceName(runtimeClasses.kataGpu),
            nodeSelector: { ...kata.scheduling.nodeSelector },
            tolerations: kata.scheduling.tolerations.map((t) => ({ ...t })),
        },
    };
}

/** Runs the compiler with `python` (a venv holding pipelines/requirements.lock) into `outDir`. */
export function compilePipelines(python: string, outDir: string): void {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "slp-kfp-facts-"));
    try {
        const facts = path.join(tmp, "platform.json");
        writeFileSync(facts, JSON.stringify(platformFacts(), null, 2));
        execFileSync(python, ["-m", "slp_pipelines.compile", outDir], {
            cwd: __dirname,
            env: { ...process.env, SLP_PIPELINE_PLATFORM: facts, PYTHONPATH: __dirname },
            stdio: ["ignore", "pipe", "pipe"],
        });
    } finally {
        rmSync(tmp, { recursive: true, force: true });
    }
}

if (require.main === module) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ensurePipelinesVenv } = require("../test/real/support/pipelines") as {
        ensurePipelinesVenv: () => { python: string };
    };
    const out = path.resolve(process.argv[2] ?? compiledDir);
    compilePipelines(ensurePipelinesVenv().python, out);
    process.stdout.write(`compiled the pipelines into ${out}\n`);
}
