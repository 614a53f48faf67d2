/**
 * secure-llm-platform: a hardened LLM serving platform on OCI OKE and existing clusters.
 * Configuration is validated in full before any resource is declared.
 */
import { loadConfig } from "./modules/config";
import { deployPlatform } from "./modules/platform";

const config = loadConfig();

/** Per-cluster ids and endpoints; kubeconfigs are secret. */
export const clusters = deployPlatform(config);
export const environment = config.environment;
