/**
 * secure-llm-platform: a hardened LLM serving platform on OCI OKE and existing clusters.
 * Configuration is validated in full before any resource is declared.
 */
import { loadConfig } from "./modules/config";
import { assertVerifiableImages } from "./modules/images";
import { deployPlatform } from "./modules/platform";

const config = loadConfig();
// Prod runs only mirrored, signed images: refused before any resource otherwise (exit 2).
assertVerifiableImages(config);

/** Per-cluster ids and endpoints; kubeconfigs are secret. */
export const clusters = deployPlatform(config);
export const environment = config.environment;
