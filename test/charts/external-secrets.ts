/**
 * The External Secrets `external-secrets.io/v1` and `v1alpha1` (PushSecret) models of `@kubernetes-models/external-secrets`
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
type V1alpha1 = typeof import("@kubernetes-models/external-secrets/external-secrets.io/v1alpha1");

const loaded = new Map<string, unknown>();

/** One API version's module of the package (classes with `validate()`), loaded by path. */
function externalSecretsVersion<T>(version: string): T {
    if (!loaded.has(version)) {
        const dir = path.dirname(
            require.resolve("@kubernetes-models/external-secrets/package.json"),
        );
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        loaded.set(version, require(path.join(dir, "external-secrets.io", version, "index.js")));
    }
    return loaded.get(version) as T;
}

/** The v1 module (classes with `validate()`). */
export function externalSecretsV1(): V1 {
    return externalSecretsVersion<V1>("v1");
}

/** The model's errors for an `external-secrets.io/v1` object, or undefined when no model has its kind. */
export function externalSecretsErrors(o: Record<string, any>): string[] | undefined {
    type Model = { new (data: any): { validate(): void } };
    const byVersion: Record<string, () => Record<string, Model>> = {
        "external-secrets.io/v1": () => ({
            ExternalSecret: externalSecretsV1().ExternalSecret,
            ClusterSecretStore: externalSecretsV1().ClusterSecretStore,
            SecretStore: externalSecretsV1().SecretStore,
            ClusterExternalSecret: externalSecretsV1().ClusterExternalSecret,
        }),
        "external-secrets.io/v1alpha1": () => ({
            PushSecret: externalSecretsVersion<V1alpha1>("v1alpha1").PushSecret,
            ClusterPushSecret: externalSecretsVersion<V1alpha1>("v1alpha1").ClusterPushSecret,
        }),
    };
    const models = byVersion[String(o.apiVersion)];
    if (models === undefined) return undefined;
    const Model = models()[String(o.kind)];
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
