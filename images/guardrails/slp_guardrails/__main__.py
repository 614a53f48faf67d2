"""`python -m slp_guardrails`: telemetry off before nemoguardrails is imported, then serve."""

import os
import sys

# Usage telemetry of nemoguardrails is on unless one of these is set; the pod has no egress
# anyway, but a refused connection per request is noise and the intent must be explicit.
os.environ["NEMO_GUARDRAILS_NO_USAGE_STATS"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")

from .server import main  # noqa: E402

sys.exit(main())
