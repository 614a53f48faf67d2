/**
 * secure-llm-platform: a hardened LLM serving platform on OCI OKE and existing clusters.
 * Configuration is validated in full before any resource is declared: the schema and the
 * section rules (loadConfig), the checks that read the repository (preflight), the image gate,
 * then the provider lookups (regions' Kubernetes versions, shapes per AD, node images, services,
 * namespace, existing vault), awaited up front. Any problem throws a ConfigValidationError, a
 * pulumi.RunError: `pulumi up` prints the list once, without a stack trace, and the offline plan
 * exits 2. The only registrations before the lookups are the OCI providers they go through.
 *
 * The entry point is an async function: @pulumi/pulumi's cmd/run calls an exported function and
 * awaits its result (the stack outputs), so the lookups finish before any resource is declared.
 */
import { loadConfig } from "./modules/config";
import { assertVerifiableImages } from "./modules/images";
import { deployPlatform, platformLookups } from "./modules/platform";
import { preflight } from "./modules/preflight";

export = async () => {
    const config = preflight(loadConfig());
    // Prod runs only mirrored, signed images: refused before any resource otherwise (exit 2).
    assertVerifiableImages(config);
    const lookups = await platformLookups(config);
    return {
        /** Per-cluster ids and endpoints; kubeconfigs are secret. */
        clusters: deployPlatform(config, lookups),
        environment: config.environment,
    };
};
