/**
 * The External Secrets `external-secrets.io/v1` models of `@kubernetes-models/external-secrets`
 * 2.0.0 (generated from External Secrets' Go API types, v1 API as served by 0.19.2; the package
 * compiles their OpenAPI schema into validators). The package is ESM-only and its export map has
 * only an `import` condition, which `require()` does not match, so the v1 entry is loaded by path:
 * Node >= 20.19 loads an ES module through `require()` (require(esm), on by default).
 *
 * What the validators check: types, enums, required fields, formats. What they do not: unknown
 * fields (the generated schemas set no `additionalProperties: false`), so a misspelt field passes
 * here; the real API-server suite applies 0.19.2's own CRDs with strict field validation for that.
 */
import * as path from "path";

type V1 = typeof import("@kubernetes-models/external-secrets/external-secrets.io/v1");

let loaded: V1 | undefined;

/** The v1 module (classes with `validate()`). */
export function externalSecretsV1(): V1 {
    if (loaded === undefined) {
        const dir = path.dirname(
            require.resolve("@kubernetes-models/external-secrets/package.json"),
        );
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        loaded = require(path.join(dir, "external-secrets.io", "v1", "index.js")) as V1;
    }
    return loaded;
}

/** The model's errors for an `external-secrets.io/v1` object, or undefined when no model has its kind. */
export function externalSecretsErrors(o: Record<string, any>): string[] | undefined {
    if (o.apiVersion !== "external-secrets.io/v1") return undefined;
    const models: Record<string, { new (data: any): { validate(): void } }> = {
        ExternalSecret: externalSecretsV1().ExternalSecret,
        ClusterSecretStore: externalSecretsV1().ClusterSecretStore,
        SecretStore: externalSecretsV1().SecretStore,
        ClusterExternalSecret: externalSecretsV1().ClusterExternalSecret,
    };
    const Model = models[String(o.kind)];
    if (Model === undefined) return undefined;
    try {
        new Model(o).validate();
        return [];
    } catch (e) {
        const errors = (e as { errors?: { instancePath?: string; message?: string }[] }).errors;
        return errors && errors.length > 0
            ? errors.map((x) => `${x.instancePath || "/"} ${x.message ?? ""}`.trim())
            : [(e as Error).message];
    }
}
