/**
 * One owner for Namespace `kubeflow`: the install's kustomize wrapper (modules/k8s/kubeflow/install.ts)
 * deletes KFP's copy, run through real kustomize (v5.5.0, the one kubectl 1.32 embeds, built from
 * the Go module proxy). GitHub is not reachable here, so the wrapper's remote resource is pointed at
 * a local stand-in of KFP's cluster-scoped-resources of the same shape; the patch is byte for byte
 * what the program writes.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { kustomizeSteps } from "../../../modules/k8s/kubeflow/install";
import { scratchDir } from "../support/env";
import { ensureKustomize } from "../support/pipelines";

const standIn = path.join(__dirname, "fixtures", "kfp-cluster-scoped");

describe("real: the kubeflow Namespace has one owner (kustomize v5.5.0)", function () {
    let kustomize: string;
    let work: string;

    before(function () {
        kustomize = ensureKustomize();
        work = scratchDir("kfp-ns");
    });

    after(function () {
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    const build = (dir: string) =>
        parseAllDocuments(
            execFileSync(kustomize, ["build", "--load-restrictor", "LoadRestrictionsNone", dir], {
                encoding: "utf8",
            }),
        ).map((d) => d.toJS());

    for (const mode of ["standalone", "full"] as const) {
        it(`${mode}: the wrapper drops the Namespace and keeps everything else`, function () {
            const step = kustomizeSteps({
                mode,
                version: mode === "full" ? "26.03" : "2.16.0",
            })[0];
            assert.ok(step.wrapper, "the first step is a wrapper");
            const remote = /^ {2}- (https:\/\/github\.com\/\S+)$/m.exec(step.wrapper.kustomization);
            assert.ok(remote, "one remote resource");
            const dir = path.join(work, mode);
            fs.mkdirSync(dir);
            const local = path.relative(dir, standIn);
            fs.writeFileSync(
                path.join(dir, "kustomization.yaml"),
                step.wrapper.kustomization.replace(remote[1], local),
            );
            const upstream = build(standIn);
            assert.ok(
                upstream.some((o) => o.kind === "Namespace"),
                "the stand-in has one",
            );
            const wrapped = build(dir);
            assert.deepEqual(
                wrapped.filter((o) => o.kind === "Namespace"),
                [],
                "no Namespace from upstream",
            );
            assert.deepEqual(
                wrapped.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`),
                upstream
                    .filter((o) => o.kind !== "Namespace")
                    .map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`),
            );
        });
    }
});
