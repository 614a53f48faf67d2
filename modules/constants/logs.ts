/** Host paths of pod log files that both the cloud layer (log shipping) and the cluster layer use. */
import { tierNamespaces } from "./namespaces";

/** Host path glob of the guardrails containers' log files (`<pod>_<namespace>_<container>-<id>.log`). */
export const guardrailsLogGlob = `/var/log/containers/guardrails-*_${tierNamespaces.guardrails}_*.log`;
