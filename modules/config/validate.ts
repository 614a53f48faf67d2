/**
 * The issues of a stack configuration and the small readers the section parsers use for what the
 * schema (./spec.ts) cannot say. Every check records an issue with the key path, the bad value and
 * what is expected, and validation carries on, so a user sees every mistake of a stack file at once
 * instead of one per `pulumi up`. The `patterns` and `ranges` tables at the end are the one home
 * of every field pattern and numeric range: the schema and the parsers both read them.
 */
import * as pulumi from "@pulumi/pulumi";
import { didYouMean } from "./suggest";

/** One invalid configuration value. */
export interface ConfigIssue {
    /** Key path as written in the stack file, e.g. `secure-llm-platform:clusters[0].region`. */
    readonly path: string;
    /** The offending value (secret values are never recorded; see {@link hiddenValue}). */
    readonly value: unknown;
    /** What is expected instead, in words a user can act on. */
    readonly expected: string;
    /** Where the user wrote it: `Pulumi.<stack>.yaml:<line>`, when the stack file is known. */
    readonly location?: string;
}

/**
 * Stands for a value an error message must not echo: a value under an unknown key (a password
 * typed into a made-up key would otherwise land in the CI log) or one that looks like a credential.
 */
export class HiddenValue {
    constructor(public readonly reason: string) {}
    toJSON(): string {
        return `(${this.reason})`;
    }
}

/** The marker for the value of a key the schema does not know. */
export const hiddenValue = new HiddenValue("value not shown");

/**
 * Thrown when a stack's configuration is invalid; carries every issue found. A `pulumi.RunError`,
 * so a real `pulumi up` prints the message once, without a stack trace (`cmd/run/run.js` of
 * @pulumi/pulumi 3.248.0: "Always hide the stack for RunErrors"); the offline plan exits 2 on it.
 */
export class ConfigValidationError extends pulumi.RunError {
    constructor(public readonly issues: readonly ConfigIssue[]) {
        super(
            `invalid stack configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
                issues.map((i) => `  - ${formatIssue(i)}`).join("\n"),
        );
        this.name = "ConfigValidationError";
        // The list is the whole message; a trace into the validator helps nobody.
        this.stack = this.message;
    }

    /**
     * The same issues, each with the stack-file line `locate` finds for its path, in the order of
     * the file (issues without a line keep their order, after the others).
     */
    withLocations(locate: (path: string) => string | undefined): ConfigValidationError {
        const line = (i: ConfigIssue) =>
            Number(/:(\d+)$/.exec(i.location ?? "")?.[1] ?? Number.MAX_SAFE_INTEGER);
        const located = this.issues.map((i) => {
            const location = locate(i.path) ?? i.location;
            return location === undefined ? i : { ...i, location };
        });
        return new ConfigValidationError(
            located
                .map((i, n) => ({ i, n }))
                .sort((a, b) => line(a.i) - line(b.i) || a.n - b.n)
                .map(({ i }) => i),
        );
    }
}

/** Renders one issue as `[file:line: ]key: got <value>; expected <what>`. */
export function formatIssue(issue: ConfigIssue): string {
    const where = issue.location === undefined ? "" : `${issue.location}: `;
    return `${where}${issue.path}: got ${describeValue(issue.value)}; expected ${issue.expected}`;
}

/**
 * Whether a string looks like a credential: a PEM block, a JWT, a well-known token prefix, a URL
 * with user info or a secret webhook path, or a long random-looking token. Such a value is never
 * echoed in an error message, whatever key it was typed under.
 */
export function looksLikeCredential(value: string): boolean {
    if (/-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/.test(value)) {
        return true;
    }
    if (/^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/.test(value)) {
        return true;
    }
    if (/^(ghp_|gho_|ghs_|github_pat_|glpat-|xox[abposr]-|sk-|AKIA|ASIA|AIza)/.test(value)) {
        return true;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/\s@]+:[^/\s@]+@/i.test(value)) {
        return true;
    }
    if (/hooks\.slack\.com\/services\/|events\.pagerduty\.com\/.*[A-Za-z0-9]{20,}/.test(value)) {
        return true;
    }
    // A long unbroken token of mixed case and digits (API keys, passwords, base64 secrets). OCIDs,
    // digests and DNS names are lower-case or dotted and stay visible.
    return (
        value.length >= 16 &&
        /^[A-Za-z0-9+/=_~!@#$%^&*-]+$/.test(value) &&
        /[a-z]/.test(value) &&
        /[A-Z]/.test(value) &&
        /[0-9]/.test(value)
    );
}

/** The value as an error message may show it: credential-like strings are replaced. */
export function redact(value: unknown): unknown {
    if (value instanceof HiddenValue) {
        return value;
    }
    if (typeof value === "string") {
        return looksLikeCredential(value)
            ? new HiddenValue("value not shown: it looks like a credential")
            : value;
    }
    if (Array.isArray(value)) {
        return value.map(redact);
    }
    if (isObject(value)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
    }
    return value;
}

function describeValue(value: unknown): string {
    if (value === undefined) {
        return "nothing (the key is missing)";
    }
    const shown = redact(value);
    if (shown instanceof HiddenValue) {
        return `a value (${shown.reason})`;
    }
    const json = JSON.stringify(shown);
    return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

/** Collects issues while a raw configuration is walked; the same issue is recorded once. */
export class Issues {
    private readonly items: ConfigIssue[] = [];
    private readonly seen = new Set<string>();

    add(path: string, value: unknown, expected: string): void {
        const key = `${path}\u0000${expected}\u0000${JSON.stringify(value) ?? ""}`;
        if (this.seen.has(key)) {
            return;
        }
        this.seen.add(key);
        this.items.push({ path, value, expected });
    }

    /** Records an issue found by another walk. */
    push(issue: ConfigIssue): void {
        this.add(issue.path, issue.value, issue.expected);
    }

    get list(): readonly ConfigIssue[] {
        return this.items;
    }

    /** Throws a {@link ConfigValidationError} when anything was recorded. */
    throwIfAny(): void {
        if (this.items.length > 0) {
            throw new ConfigValidationError(this.items);
        }
    }
}

/** What an unknown key is told: did-you-mean and the keys allowed there. */
export function unknownKeyExpected(key: string, allowed: readonly string[]): string {
    return `no such key${didYouMean(key, allowed)}; allowed keys: ${allowed.join(", ")}`;
}

/** Joins a key to a path; the root path is `project:` and joins without a dot. */
export function join(path: string, key: string): string {
    return path.endsWith(":") ? `${path}${key}` : `${path}.${key}`;
}

/** A raw object read from config, with the path it came from. */
export type Raw = Record<string, unknown>;

export function isObject(v: unknown): v is Raw {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads an object at `path`; reports a non-object and any key not in `allowed` (a typo in a
 * stack file must not silently fall back to a default).
 */
export function obj(
    value: unknown,
    path: string,
    issues: Issues,
    allowed: readonly string[],
    required = false,
): Raw {
    if (value === undefined || value === null) {
        if (required) {
            issues.add(path, value, "an object");
        }
        return {};
    }
    if (!isObject(value)) {
        issues.add(path, value, "an object");
        return {};
    }
    for (const key of Object.keys(value)) {
        if (!allowed.includes(key)) {
            issues.add(join(path, key), hiddenValue, unknownKeyExpected(key, allowed));
        }
    }
    return value;
}

interface StrOpts<T extends string> {
    readonly required?: boolean;
    readonly default?: T;
    readonly oneOf?: readonly T[];
    readonly pattern?: RegExp;
    /** Words for the pattern, used in the message. */
    readonly expected?: string;
}

export function str<T extends string = string>(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts: StrOpts<T> & { default: T },
): T;
export function str<T extends string = string>(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts?: StrOpts<T>,
): T | undefined;
export function str<T extends string = string>(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts: StrOpts<T> = {},
): T | undefined {
    const p = join(path, key);
    const v = o[key];
    const expected =
        opts.expected ?? (opts.oneOf ? `one of ${opts.oneOf.join(" | ")}` : "a non-empty string");
    if (v === undefined || v === null) {
        if (opts.required) {
            issues.add(p, v, expected);
        }
        return opts.default;
    }
    if (typeof v !== "string" || v.length === 0) {
        issues.add(p, v, expected);
        return opts.default;
    }
    if (opts.oneOf && !opts.oneOf.includes(v as T)) {
        issues.add(p, v, `${expected}${didYouMean(v, opts.oneOf)}`);
        return opts.default;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
        issues.add(p, v, expected);
        return opts.default;
    }
    return v as T;
}

interface NumOpts {
    readonly required?: boolean;
    readonly default?: number;
    readonly min?: number;
    readonly max?: number;
    readonly integer?: boolean;
    /** The only values allowed (then the message lists them). */
    readonly oneOf?: readonly number[];
}

export function num(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts: NumOpts & { default: number },
): number;
export function num(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts?: NumOpts,
): number | undefined;
export function num(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts: NumOpts = {},
): number | undefined {
    const p = join(path, key);
    const v = o[key];
    const integer = opts.integer ?? true;
    const range =
        opts.min !== undefined && opts.max !== undefined
            ? ` from ${opts.min} to ${opts.max}`
            : opts.min !== undefined
              ? ` of at least ${opts.min}`
              : opts.max !== undefined
                ? ` of at most ${opts.max}`
                : "";
    const expected = opts.oneOf
        ? `one of ${opts.oneOf.join(" | ")}`
        : `${integer ? "an integer" : "a number"}${range}`;
    if (v === undefined || v === null) {
        if (opts.required) {
            issues.add(p, v, expected);
        }
        return opts.default;
    }
    if (
        typeof v !== "number" ||
        !Number.isFinite(v) ||
        (integer && !Number.isInteger(v)) ||
        (opts.min !== undefined && v < opts.min) ||
        (opts.max !== undefined && v > opts.max) ||
        (opts.oneOf !== undefined && !opts.oneOf.includes(v))
    ) {
        issues.add(p, v, expected);
        return opts.default;
    }
    return v;
}

export function bool(o: Raw, key: string, path: string, issues: Issues, def: boolean): boolean {
    const v = o[key];
    if (v === undefined || v === null) {
        return def;
    }
    if (typeof v !== "boolean") {
        issues.add(join(path, key), v, "true or false");
        return def;
    }
    return v;
}

/** Reads a list; each element is handed to `each` with its own path. */
export function list<T>(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    each: (item: unknown, itemPath: string) => T | undefined,
    opts: { required?: boolean; minItems?: number } = {},
): T[] {
    const p = join(path, key);
    const v = o[key];
    if (v === undefined || v === null) {
        if (opts.required) {
            issues.add(
                p,
                v,
                `a list${opts.minItems ? ` of at least ${opts.minItems} item(s)` : ""}`,
            );
        }
        return [];
    }
    if (!Array.isArray(v)) {
        issues.add(p, v, "a list");
        return [];
    }
    if (opts.minItems !== undefined && v.length < opts.minItems) {
        issues.add(p, v, `a list of at least ${opts.minItems} item(s)`);
    }
    const out: T[] = [];
    v.forEach((item, i) => {
        const r = each(item, `${p}[${i}]`);
        if (r !== undefined) {
            out.push(r);
        }
    });
    return out;
}

/** Reads a list of strings, each checked against `pattern`. */
export function strList(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts: { pattern?: RegExp; expected?: string; default?: string[]; required?: boolean } = {},
): string[] {
    if (o[key] === undefined || o[key] === null) {
        if (opts.required) {
            issues.add(join(path, key), o[key], `a list of ${opts.expected ?? "strings"}`);
        }
        return opts.default ?? [];
    }
    return list(o, key, path, issues, (item, p) => {
        if (
            typeof item !== "string" ||
            item.length === 0 ||
            (opts.pattern && !opts.pattern.test(item))
        ) {
            issues.add(p, item, opts.expected ?? "a non-empty string");
            return undefined;
        }
        return item;
    });
}

/** Reads a map of string to string (labels, tags). */
export function strMap(
    o: Raw,
    key: string,
    path: string,
    issues: Issues,
    opts: { keyPattern?: RegExp; expected?: string } = {},
): Record<string, string> {
    const v = o[key];
    const p = join(path, key);
    if (v === undefined || v === null) {
        return {};
    }
    if (!isObject(v)) {
        issues.add(p, v, "a map of string keys to string values");
        return {};
    }
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
        if (opts.keyPattern && !opts.keyPattern.test(k)) {
            issues.add(join(p, k), k, opts.expected ?? "a valid key");
            continue;
        }
        if (typeof val !== "string") {
            issues.add(join(p, k), val, "a string value");
            continue;
        }
        out[k] = val;
    }
    return out;
}

/** A lower-case DNS name of at most 63 characters (RFC 1123 label, may start with a digit). */
const rfc1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS label as OCI resource names take it (starts with a letter, at most 32 characters). */
const dnsLabelPattern = /^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$/;
/** A fully qualified DNS name of two or more labels, the last not numeric. */
const fqdnPattern = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z][-a-z0-9]{0,61}[a-z0-9]$/;
/** An OCI Vault secret name. */
const vaultSecretPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
/** A lower-case name of letters, digits and '-' (OCI location labels, vantage points). */
const lowerDashName = /^[a-z0-9][-a-z0-9]*$/;
/** A dotted-quad IPv4 address, each octet 0 to 255. */
/** A kubeflow/pipelines release tag (standalone mode). */
const pipelinesTag = String.raw`\d+\.\d+\.\d+`;
/** A kubeflow/manifests release tag (full mode). */
const manifestsTag = String.raw`\d{2}\.\d{2}(\.\d+)?|v1\.\d+\.\d+`;
const ipv4Pattern = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Every field pattern of the stack configuration, each with the words used in messages: the one
 * home of the rule, used by the schema (./spec.ts) and by the section parser that reads the field.
 */
export const patterns = {
    ocid: {
        pattern: /^ocid1\.[a-z0-9]+\.[a-z0-9-]*\.[a-z0-9-]*\.[a-z0-9]+$/,
        expected: "an OCI OCID such as ocid1.compartment.oc1..aaaa…",
    },
    dnsLabel: {
        pattern: dnsLabelPattern,
        expected:
            "a DNS label: lower-case letters, digits and '-', starting with a letter, at most 32 characters",
    },
    region: {
        pattern: /^[a-z]{2,3}-[a-z]+-\d$/,
        expected: "an OCI region identifier such as us-ashburn-1 or eu-frankfurt-1",
    },
    kubernetesVersion: {
        pattern: /^v1\.(\d+)\.(\d+)$/,
        expected: "a Kubernetes version such as v1.34.2",
    },
    cidr: {
        pattern: /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/,
        expected: "an IPv4 CIDR block such as 10.0.0.0/16",
    },
    // Root and cluster keys (./index.ts).
    tagKey: {
        pattern: /^[A-Za-z0-9_.-]{1,100}$/,
        expected: "a freeform tag key of letters, digits, '_', '.', '-' (at most 100 characters)",
    },
    ociProfile: {
        pattern: /^[A-Za-z0-9_.-]+$/,
        expected: "an OCI config file profile name",
    },
    imagesMirror: {
        pattern: /^[a-z0-9]+(\/[a-z0-9._-]+)+$/,
        expected:
            "<tenancy-namespace>/<prefix>: images are mirrored to <region>.ocir.io/<tenancy-namespace>/<prefix> in each OKE cluster's region (the home region's for existing clusters), e.g. mytenancy/slp-mirror",
    },
    /** An existing cluster's location; the schema, which cannot see the target, says "region or label". */
    locationLabel: {
        pattern: lowerDashName,
        expected: "a location label such as on-prem-fra",
    },
    clusterRegion: {
        pattern: lowerDashName,
        expected: "an OCI region identifier such as us-ashburn-1, or a location label",
    },
    kubeconfigKey: {
        pattern: /^[A-Za-z0-9_.-]+$/,
        expected: "the name of a secret config key holding the kubeconfig",
    },
    addonName: {
        pattern: /^[A-Za-z][A-Za-z0-9]+$/,
        expected: "an OKE add-on name such as CertManager or NvidiaGpuPlugin",
    },
    addonVersion: {
        pattern: /^v?\d+\.\d+/,
        expected: "an add-on version such as v1.14.5",
    },
    shape: {
        pattern: /^(VM|BM)\.[A-Za-z0-9]+(\.[A-Za-z0-9-]+)*$/,
        expected: "an OCI shape name such as VM.Standard.E5.Flex or BM.GPU.A100-v2.8",
    },
    labelKey: {
        pattern: /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
        expected: "a Kubernetes label key",
    },
    // Baseline (./baseline.ts).
    cpuQuantity: {
        pattern: /^\d+(\.\d+)?m?$/,
        expected: "a CPU quantity such as 8, 0.5 or 500m",
    },
    memoryQuantity: {
        pattern: /^\d+(\.\d+)?(Ki|Mi|Gi|Ti)?$/,
        expected: "a memory quantity such as 32Gi or 512Mi",
    },
    acmeEmail: {
        pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
        expected: "an e-mail address for the ACME account",
    },
    acmeServer: {
        pattern: /^https:\/\/\S+$/,
        expected: "an https:// ACME directory URL",
    },
    vaultOcid: {
        pattern: /^ocid1\.vault\./,
        expected: "a vault OCID (ocid1.vault.…)",
    },
    userOcid: {
        pattern: /^ocid1\.user\./,
        expected: "a user OCID (ocid1.user.…)",
    },
    tenancyOcid: {
        pattern: /^ocid1\.tenancy\./,
        expected: "a tenancy OCID (ocid1.tenancy.…)",
    },
    /** A Kubernetes Secret name (RFC 1123 subdomain). */
    clusterAuthSecretName: {
        pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
        expected:
            "the name of a Secret in namespace external-secrets holding privateKey and fingerprint",
    },
    // Tiers (./tiers.ts).
    quantity: {
        pattern: /^(\d+(\.\d+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/,
        expected: "a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi",
    },
    imageRepository: {
        pattern: /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/,
        expected:
            "a registry/repository without tag or digest, e.g. iad.ocir.io/mytenancy/secure-llm-platform/guardrails",
    },
    imageTag: {
        pattern: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
        expected: "an image tag such as 0.24.1",
    },
    imageDigest: {
        pattern: /^sha256:[0-9a-f]{64}$/,
        expected:
            "sha256:<64 hex digits>: images are pinned by digest; changing repository or tag needs the new digest",
    },
    oidcIssuerUrl: {
        pattern: /^https:\/\//,
        expected: "an https:// issuer URL",
    },
    hostname: {
        pattern: fqdnPattern,
        expected: "a fully qualified DNS name such as llm.example.com",
    },
    nginxSize: {
        pattern: /^[1-9]\d{0,4}[km]$/,
        expected: "an nginx size such as 512k or 1m (at most 99999m)",
    },
    vaultSecretName: {
        pattern: vaultSecretPattern,
        expected: "an OCI Vault secret name (letters, digits, '.', '_', '-')",
    },
    guardrailsConfigId: {
        pattern: /^[a-z0-9][a-z0-9_-]{0,62}$/,
        expected:
            "a directory name under guardrails/ (lower-case letters, digits, '-', '_'; no '/' or '..')",
    },
    inferenceFrom: {
        pattern: dnsLabelPattern,
        expected: "the name of the OKE cluster of the stack that serves this cluster's inference",
    },
    modelName: {
        pattern: /^[a-z0-9][a-z0-9._-]{0,62}$/,
        expected: "a model name: lower-case letters, digits, '.', '_', '-'",
    },
    modelSource: {
        pattern: /^oci-os:\/\/[a-z0-9-]+\/[A-Za-z0-9._-]+\/[A-Za-z0-9._/-]+$/,
        expected: "oci-os://<namespace>/<bucket>/<prefix>",
    },
    // Observability (./observability.ts).
    k8sName: {
        pattern: rfc1123Label,
        expected: "a lower-case DNS name (letters, digits, '-'), at most 63 characters",
    },
    prometheusLabel: {
        pattern: /^[a-zA-Z_][a-zA-Z0-9_]*$/,
        expected: "a Prometheus label name",
    },
    // Kubeflow (./kubeflow.ts).
    kubeflowPipelinesVersion: {
        pattern: new RegExp(`^${pipelinesTag}$`),
        expected: "a kubeflow/pipelines release tag such as 2.16.0",
    },
    kubeflowManifestsVersion: {
        pattern: new RegExp(`^(${manifestsTag})$`),
        expected: "a kubeflow/manifests release tag such as 26.03 or v1.11.0",
    },
    /** Either tag, before the mode is known (the schema); the parser checks the mode's own. */
    kubeflowVersion: {
        pattern: new RegExp(`^(${pipelinesTag}|${manifestsTag})$`),
        expected:
            "a kubeflow/pipelines release tag such as 2.16.0 (standalone) or a kubeflow/manifests tag such as 26.03 (full)",
    },
    profileNamespace: {
        pattern: rfc1123Label,
        expected: "a namespace name (RFC 1123 label) other than default, kube-* and kubeflow",
    },
    profileOwner: {
        pattern: /^[^@\s]+@[^@\s]+$/,
        expected: "an e-mail address (the Kubeflow user who owns the profile)",
    },
    kmsKeyOcid: {
        pattern: /^ocid1\.key\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9-]+\.[a-z0-9]+$/,
        expected: "a KMS key OCID such as ocid1.key.oc1.iad.<vault>.<key>",
    },
    cronSchedule: {
        pattern: /^(\S+\s+){4}\S+$/,
        expected: "a five-field cron schedule such as 17 */6 * * *",
    },
    redteamApiKeySecret: {
        pattern: vaultSecretPattern,
        expected: "an OCI Vault secret name",
    },
    // Private link (./private-link.ts).
    entryAddress: {
        pattern: ipv4Pattern,
        expected: "a private IPv4 address in the serving cluster's load balancer subnet",
    },
    cpeAddress: {
        pattern: ipv4Pattern,
        expected: "the public IPv4 address of the on-premises VPN device",
    },
    // Global entry and fleet (./fleet.ts).
    dnsZone: {
        pattern: fqdnPattern,
        expected: "the name of a public OCI DNS zone such as example.com (no trailing dot)",
    },
    /** A DNS zone OCID: `ocid1.dns-zone.<realm>.[region].<unique id>`. */
    dnsZoneOcid: {
        pattern: /^ocid1\.dns-zone\.[a-z0-9-]*\.[a-z0-9-]*\.[a-z0-9]+$/,
        expected: "a DNS zone OCID (ocid1.dns-zone.oc1..aaaa…)",
    },
    vantagePoint: {
        pattern: lowerDashName,
        expected: "OCI Health Checks vantage point names such as goo-chs",
    },
    fleetExceptionName: {
        pattern: /^[a-z0-9][-a-z0-9]{0,62}$/,
        expected: "a name of lowercase letters, digits and '-'",
    },
    fleetObject: {
        pattern: /^[A-Za-z*][A-Za-z0-9*]*(\/[a-z0-9*][-a-z0-9.*]*){1,2}$/,
        expected: "object patterns Kind/namespace/name or Kind/name, '*' as a wildcard",
    },
    fieldPath: {
        pattern: /^[A-Za-z][^\s]*$/,
        expected: "field paths such as metadata.labels.pod-security.kubernetes.io/enforce-version",
    },
    exceptionReason: {
        pattern: /\S.{9,}/,
        expected: "a sentence (at least 10 characters) saying why the cluster differs",
    },
} as const;

/**
 * Every numeric range of the stack configuration: the one home of the bounds, used by the schema
 * (./spec.ts) and by the section parser that reads the field (both word the message from them).
 */
export const ranges = {
    vaultRotationDays: { min: 60, max: 365 },
    poolOcpus: { min: 1, max: 128 },
    poolMemoryGbs: { min: 1, max: 2048 },
    poolSize: { min: 0, max: 1000 },
    poolBootVolumeGbs: { min: 50, max: 32768 },
    quotaGpus: { min: 0, max: 1024 },
    quotaPods: { min: 1, max: 10000 },
    gatewayReplicas: { min: 1, max: 20 },
    /** Guardrails, jailbreak detection and output filter replicas. */
    tierReplicas: { min: 1, max: 50 },
    /** Inference replicas and its HPA bounds. */
    inferenceReplicas: { min: 1, max: 32 },
    rateLimitRps: { min: 1, max: 10000 },
    inferenceGpus: { min: 1, max: 8 },
    modelSizeGi: { min: 1, max: 1024 },
    maxModelLen: { min: 256, max: 1048576 },
    startupSeconds: { min: 60, max: 7200 },
    apiServerPort: { min: 1, max: 65535 },
    prometheusRetentionDays: { min: 1, max: 365 },
    prometheusStorageGi: { min: 10, max: 10000 },
    grafanaStorageGi: { min: 1, max: 1000 },
    alertRepeatMinutes: { min: 5, max: 10080 },
    logRetentionDays: { min: 30, max: 180 },
    /** An OCI DNS steering weight. */
    dnsWeight: { min: 0, max: 255 },
    /** An availability domain number (OCI regions have one or three ADs). */
    availabilityDomain: { min: 1, max: 3 },
    /** A share of a red-team set, 0 to 1. */
    blockRate: { min: 0, max: 1, integer: false },
} as const;
