/**
 * Turns recorded Kubernetes registrations into the objects `kubectl` would see, grouped by
 * cluster, and validates each against the Kubernetes OpenAPI schema (and the CRD schemas bundled
 * with `@kubernetes-models/*` where the CRD has one).
 */
import { stringify } from "yaml";
import { RecordedResource, redactSecrets } from "./mocks";

/** A Kubernetes object as declared by the program (secrets redacted). */
export type Manifest = Record<string, unknown> & {
    apiVersion: string;
    kind: string;
    metadata: { name?: string; namespace?: string; [k: string]: unknown };
};

/** Registrations that are not objects in their own right (their contents are not expanded). */
const notObjects = new Set([
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:kustomize/v2:Directory",
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:yaml/v2:ConfigFile",
]);

/** True for a registration that is one Kubernetes object (CustomResources and patches included). */
export function isKubernetesObject(r: RecordedResource): boolean {
    return r.custom && r.type.startsWith("kubernetes:") && !notObjects.has(r.type);
}

/** Strips `::id` from a provider reference. */
export function providerUrn(ref: string | undefined): string | undefined {
    if (ref === undefined) {
        return undefined;
    }
    const i = ref.lastIndexOf("::");
    return i > 0 ? ref.slice(0, i) : ref;
}

/** The object a registration declares, secrets replaced by `"[secret]"`. */
export function toManifest(r: RecordedResource): Manifest {
    const inputs = redactSecrets(r.inputs) as Record<string, unknown>;
    const obj: Record<string, unknown> = {};
    // kubectl-style key order: apiVersion, kind, metadata, then the rest.
    for (const k of ["apiVersion", "kind", "metadata"]) {
        if (inputs[k] !== undefined) {
            obj[k] = inputs[k];
        }
    }
    for (const [k, v] of Object.entries(inputs)) {
        if (!(k in obj) && v !== undefined) {
            obj[k] = v;
        }
    }
    if (typeof obj.metadata !== "object" || obj.metadata === null) {
        obj.metadata = {};
    }
    return obj as Manifest;
}

const clusterScopedFirst = [
    "CustomResourceDefinition",
    "Namespace",
    "PriorityClass",
    "RuntimeClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/** Sorts objects so that namespaces and cluster-scoped objects come first, then by kind/ns/name. */
export function sortManifests(ms: Manifest[]): Manifest[] {
    const rank = (m: Manifest) => {
        const i = clusterScopedFirst.indexOf(m.kind);
        return i < 0 ? clusterScopedFirst.length : i;
    };
    return [...ms].sort(
        (a, b) =>
            rank(a) - rank(b) ||
            a.kind.localeCompare(b.kind) ||
            (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") ||
            (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
    );
}

/** One multi-document YAML file. */
export function toMultiDocYaml(ms: Manifest[]): string {
    return ms.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join("");
}

/** The outcome of validating one object. */
export interface SchemaResult {
    readonly object: string;
    /** Schema used, or undefined when none is bundled for the kind. */
    readonly schema?: string;
    readonly errors: readonly string[];
}

/** `apiVersion` + `kind` → module path of a kubernetes-models class, for schema validation. */
function modelModuleCandidates(apiVersion: string, kind: string): string[] {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    const core =
        group === ""
            ? `kubernetes-models/${version}/${kind}`
            : `kubernetes-models/${group}/${version}/${kind}`;
    const thirdParty = ["prometheus-operator", "cert-manager"].map(
        (pkg) => `@kubernetes-models/${pkg}/${group}/${version}/${kind}`,
    );
    return [core, ...thirdParty];
}

type ModelClass = new (data: unknown) => { validate(): void };
const modelCache = new Map<string, ModelClass | null>();

function loadModel(
    apiVersion: string,
    kind: string,
): { cls: ModelClass; module: string } | undefined {
    for (const mod of modelModuleCandidates(apiVersion, kind)) {
        let cls = modelCache.get(mod);
        if (cls === undefined) {
            try {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const m = require(mod) as Record<string, ModelClass>;
                cls = m[kind] ?? null;
            } catch {
                cls = null;
            }
            modelCache.set(mod, cls);
        }
        if (cls) {
            return { cls, module: mod };
        }
    }
    return undefined;
}

/** Label of an object in messages: `Kind namespace/name`. */
export function objectLabel(m: Manifest): string {
    return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ""}${m.metadata.name ?? "(unnamed)"}`;
}

/**
 * Validates an object against its OpenAPI schema. Redacted secret values are replaced by a
 * schema-neutral string first (a redaction is not a schema error); patches are validated as
 * partial objects, so "required" errors are not reported for them.
 */
export function validateManifest(m: Manifest, isPatch: boolean): SchemaResult {
    const label = objectLabel(m);
    const errors: string[] = [];
    if (typeof m.apiVersion !== "string" || typeof m.kind !== "string") {
        return { object: label, errors: ["apiVersion and kind must be strings"] };
    }
    if (!isPatch && !m.metadata.name) {
        errors.push("metadata.name is required (objects others refer to need an explicit name)");
    }
    const model = loadModel(m.apiVersion, m.kind);
    if (model === undefined) {
        return { object: label, errors };
    }
    try {
        new model.cls(m).validate();
    } catch (e) {
        const msg = (e as Error).message;
        for (const line of msg.split(/,\s*(?=data\/)|\n/)) {
            if (isPatch && /must have required property/.test(line)) {
                continue;
            }
            errors.push(line.replace(/^data\//, "").trim());
        }
    }
    return { object: label, schema: model.module, errors: errors.filter((x) => x.length > 0) };
}
