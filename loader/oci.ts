/**
 * OCI SDK wiring: authentication (OKE workload identity, instance principal or config file) and
 * the Object Storage and KMS crypto clients. The SDK is loaded lazily, so file-key runs (tests,
 * benchmarks, development) never pay for it.
 */
import type * as common from "oci-common";

import { UsageError } from "./errors";
import type { KmsCryptoLike } from "./keys";
import { checkObjectStorageEndpoint, ObjectStorageLike, OciRangedAccess } from "./storage";

/** How to authenticate to OCI. */
export type OciAuthMode = "workload" | "instance" | "config";

/** Settings of {@link OciClients}; each has an environment variable (see docs/model-vault.md). */
export interface OciAuthOptions {
    /** `OCI_AUTH`. Defaults to `config`. */
    readonly mode?: OciAuthMode;
    /** `OCI_CONFIG_FILE`: config-file auth only. Defaults to the SDK's `~/.oci/config`. */
    readonly configFile?: string;
    /** `OCI_CONFIG_PROFILE`: config-file auth only. Defaults to `DEFAULT`. */
    readonly profile?: string;
    /**
     * `OCI_REGION` (or `OCI_RESOURCE_PRINCIPAL_REGION`, which OKE sets for workload identity):
     * the Object Storage region. Defaults to the region the provider knows, if any.
     */
    readonly region?: string;
    /**
     * `OCI_OBJECT_STORAGE_ENDPOINT`: the Object Storage endpoint (a private or dedicated one).
     * Defaults to the region's public endpoint, as the SDK computes it.
     */
    readonly objectStorageEndpoint?: string;
}

/** Parses `OCI_AUTH` / `--auth`. */
export function parseAuthMode(v: string | undefined): OciAuthMode {
    const mode = v ?? "config";
    if (mode !== "workload" && mode !== "instance" && mode !== "config") {
        throw new UsageError(
            `OCI auth mode ${JSON.stringify(v)} is not one of workload, instance, config`,
        );
    }
    return mode;
}

/** Lazily authenticated OCI clients, one provider shared by all of them. */
export class OciClients {
    private provider: Promise<common.AuthenticationDetailsProvider> | undefined;
    private readonly kms = new Map<string, KmsCryptoLike>();

    constructor(private readonly opts: OciAuthOptions = {}) {}

    private async authProvider(): Promise<common.AuthenticationDetailsProvider> {
        this.provider ??= (async () => {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const oci: typeof common = require("oci-common");
            const mode = this.opts.mode ?? "config";
            if (mode === "workload") {
                const Builder =
                    oci.OkeWorkloadIdentityAuthenticationDetailsProvider
                        .OkeWorkloadIdentityAuthenticationDetailsProviderBuilder;
                return new Builder().build();
            }
            if (mode === "instance") {
                return await new oci.InstancePrincipalsAuthenticationDetailsProviderBuilder().build();
            }
            return new oci.ConfigFileAuthenticationDetailsProvider(
                this.opts.configFile,
                this.opts.profile,
            );
        })();
        return this.provider;
    }

    /** An Object Storage client for the configured region (or endpoint). */
    async objectStorage(): Promise<ObjectStorageLike & { endpoint: string }> {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const os: typeof import("oci-objectstorage") = require("oci-objectstorage");
        const client = new os.ObjectStorageClient({
            authenticationDetailsProvider: await this.authProvider(),
        });
        if (this.opts.region) client.regionId = this.opts.region;
        if (this.opts.objectStorageEndpoint) {
            client.endpoint = checkObjectStorageEndpoint(this.opts.objectStorageEndpoint);
        }
        return client;
    }

    /**
     * Direct ranged GETs for chunk runners: the client's endpoint and the SDK's request signer
     * (`DefaultRequestSigner`, which signs `x-date`, `(request-target)` and `host` of a GET).
     */
    async rangedAccess(endpoint: string): Promise<OciRangedAccess> {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const oci: typeof common = require("oci-common");
        const signer = new oci.DefaultRequestSigner(await this.authProvider());
        return {
            endpoint: checkObjectStorageEndpoint(endpoint),
            sign: async (url, headers) => {
                const h = new Headers(headers);
                await signer.signHttpRequest({ method: "GET", uri: url, headers: h });
                return Object.fromEntries(h.entries());
            },
        };
    }

    /** A KMS crypto client bound to a vault's crypto endpoint. */
    async kmsCrypto(cryptoEndpoint: string): Promise<KmsCryptoLike> {
        let client = this.kms.get(cryptoEndpoint);
        if (!client) {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const km: typeof import("oci-keymanagement") = require("oci-keymanagement");
            const c = new km.KmsCryptoClient({
                authenticationDetailsProvider: await this.authProvider(),
            });
            c.endpoint = cryptoEndpoint;
            client = c;
            this.kms.set(cryptoEndpoint, client);
        }
        return client;
    }
}
