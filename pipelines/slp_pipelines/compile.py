"""Compiles every pipeline to KFP IR YAML: ``python -m slp_pipelines.compile OUT_DIR``.

Run through ``npm run pipelines:compile`` (it sets SLP_PIPELINE_PLATFORM); the real-software suite
compiles into a scratch folder and fails when the result differs from pipelines/compiled/.
"""

import os
import sys

from kfp import compiler


def main(out_dir: str) -> None:
    from . import fine_tuning, guardrail_promotion, model_promotion, redteam_assessment

    os.makedirs(out_dir, exist_ok=True)
    for name, fn in (
        (guardrail_promotion.NAME, guardrail_promotion.guardrail_promotion),
        (model_promotion.NAME, model_promotion.model_promotion),
        (fine_tuning.NAME, fine_tuning.fine_tuning),
        (fine_tuning.CANDIDATE, fine_tuning.fine_tune_candidate),
        (redteam_assessment.NAME, redteam_assessment.redteam_assessment),
    ):
        compiler.Compiler().compile(pipeline_func=fn, package_path=os.path.join(out_dir, f"{name}.yaml"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m slp_pipelines.compile OUT_DIR")
    main(sys.argv[1])
