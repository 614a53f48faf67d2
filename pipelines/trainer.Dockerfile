# pipeline-trainer: the image of the fine-tuning pipeline's Python steps (pipelines/slp_pipelines,
# lightweight KFP components compiled with install_kfp_package=False): Python, the pinned KFP SDK
# and numpy from the hash-locked pipelines/requirements.lock, our package and the red-team set.
# Nothing is installed when a step runs, so the steps need no egress. Build from the repo root:
#   docker build -f pipelines/trainer.Dockerfile \
#     --build-arg PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm@sha256:<digest> \
#     -t <registry>/pipeline-trainer:0.1.0 .
# then pin the pushed digest in modules/constants/images.ts (pipelineImages.trainer) and run
# `npm run pipelines:compile`. Not built where this was written (no container engine).
ARG PYTHON_IMAGE

FROM ${PYTHON_IMAGE}
COPY pipelines/requirements.lock /tmp/requirements.lock
# kfp-server-api 2.16.0 exists only as an sdist (hash-checked like every other line).
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
        --only-binary=:all: --no-binary=kfp-server-api -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock
COPY pipelines/slp_pipelines/ /app/pipelines/slp_pipelines/
COPY pipelines/redteam/ /app/pipelines/redteam/
ENV PYTHONPATH=/app/pipelines PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
