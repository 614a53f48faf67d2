"""Runs the fine-tune-candidate pipeline under kfp.local's SubprocessRunner (the pinned KFP SDK's
own local orchestrator: importers, the DAG, artifact passing) and writes where its outputs are.

usage: run_candidate.py WORK_DIR DATASET RESULT_JSON MIN_TASK_ACCURACY   (gates in MIN_ATTACK_BLOCK_RATE etc.)
"""

import json
import os
import sys

from kfp import local

from slp_pipelines import tinylora


def main(work: str, dataset: str, result: str, min_task_accuracy: str) -> None:
    base = os.path.join(work, "base-model")
    # The suite's tiny base model: created here, deterministically (no model hub is reachable).
    tinylora.init_base(base, seed=17)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=os.path.join(work, "outputs"),
        raise_on_error=True,
    )
    from slp_pipelines.fine_tuning import fine_tune_candidate

    out = fine_tune_candidate(dataset_uri=os.path.abspath(dataset), base_model_uri=base, min_task_accuracy=float(min_task_accuracy)
    )
    with open(result, "w", encoding="utf-8") as f:
        json.dump({"model": out.outputs["model"].path, "evaluation": out.outputs["evaluation"]}, f)


if __name__ == "__main__":
    main(*sys.argv[1:5])
