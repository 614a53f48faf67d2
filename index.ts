/**
 * secure-llm-platform: a hardened LLM serving platform on OCI OKE and existing clusters.
 * Configuration is validated in full before any resource is declared: the schema and the
 * section rules (loadConfig), then the checks that read the repository (preflight). Any problem
 * throws a ConfigValidationError, a pulumi.RunError: `pulumi up` prints the list once, without a
 * stack trace, and the offline plan exits 2.
 */
import { loadConfig } from "./modules/config";
import { assertVerifiableImages } from "./modules/images";
import { deployPlatform } from "./modules/platform";
import { preflight } from "./modules/preflight";

const config = preflight(loadConfig());
// Prod runs only mirrored, signed images: refused before any resource otherwise (exit 2).
assertVerifiableImages(config);

/** Per-cluster ids and endpoints; kubeconfigs are secret. */
export const clusters = deployPlatform(config);
export const environment = config.environment;
