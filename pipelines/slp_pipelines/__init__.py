"""The platform's Kubeflow Pipelines, written in the KFP Python DSL and compiled by the pinned SDK."""
