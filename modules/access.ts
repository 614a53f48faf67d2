/**
 * How this run of the program reaches each OKE cluster's API server, and how the kubeconfig's exec
 * plugin authenticates. Both are machine-local facts of one run (a Bastion tunnel's local port, an
 * OCI CLI config file), so they never live in a stack file: the deploy driver (tools/deploy) hands
 * them to the program in the environment, and they are read here only (pure functions, no I/O
 * except `apiAccessFromEnv`).
 */
import { parse, stringify } from "yaml";
import { ConfigValidationError, type ConfigIssue as Issue } from "./config/validate";
import type { OciAuthMethod } from "./config/schema";

/**
 * Environment variable the deploy driver sets for the cluster layer: JSON object, cluster name →
 * local `https://127.0.0.1:<port>` of the tunnel to that cluster's private API endpoint.
 */
export const apiAccessEnv = "SLP_API_ACCESS";

/** Local tunnel URL per cluster name. */
export type ApiAccess = Readonly<Record<string, string>>;

const localUrl = /^https:\/\/127\.0\.0\.1:([1-9]\d{0,4})$/;

/**
 * Parses `SLP_API_ACCESS` (undefined or empty: direct access, no tunnel). `okeClusters` are the
 * names of the stack's OKE clusters; any other name, or a URL that is not a local https port, is
 * refused the way stack config is (exit 2, naming the entry).
 */
export function parseApiAccess(
    value: string | undefined,
    okeClusters: readonly string[],
): ApiAccess {
    if (value === undefined || value.trim() === "") {
        return {};
    }
    const issues: Issue[] = [];
    let doc: unknown;
    try {
        doc = JSON.parse(value);
    } catch {
        doc = undefined;
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new ConfigValidationError([
            {
                path: apiAccessEnv,
                value: "(set)",
                expected:
                    'a JSON object of cluster name → "https://127.0.0.1:<port>" (set by npm run deploy)',
            },
        ]);
    }
    const out: Record<string, string> = {};
    for (const [name, url] of Object.entries(doc as Record<string, unknown>)) {
        if (!okeClusters.includes(name)) {
            issues.push({
                path: `${apiAccessEnv}.${name}`,
                value: "(set)",
                expected: `the name of an OKE cluster of this stack (${okeClusters.join(", ") || "none"})`,
            });
            continue;
        }
        const m = typeof url === "string" ? localUrl.exec(url) : null;
        if (m === null || Number(m[1]) > 65535) {
            issues.push({
                path: `${apiAccessEnv}.${name}`,
                value: typeof url === "string" ? url : JSON.stringify(url),
                expected: "https://127.0.0.1:<port>, the local end of a tunnel to the API server",
            });
            continue;
        }
        out[name] = url as string;
    }
    if (issues.length > 0) {
        throw new ConfigValidationError(issues);
    }
    return out;
}

/** `SLP_API_ACCESS` of this process. */
export function apiAccessFromEnv(okeClusters: readonly string[]): ApiAccess {
    return parseApiAccess(process.env[apiAccessEnv], okeClusters);
}

/** How the kubeconfig's `oci ce cluster generate-token` exec plugin authenticates. */
export interface ExecAuth {
    /** The stack's `ociAuth.method`. */
    readonly method: OciAuthMethod;
    /** The stack's `ociAuth.profile`. */
    readonly profile: string;
}

/**
 * `--auth` value of the OCI CLI for each provider auth method (OCI CLI global option `--auth`,
 * env `OCI_CLI_AUTH`: api_key, instance_principal, resource_principal, security_token — docs
 * "CLI Environment Variables", https://docs.oracle.com/iaas/Content/API/SDKDocs/clienvironmentvariables.htm).
 * A session token needs `--auth security_token` or the CLI signs with the profile's API key
 * ("Token-based Authentication for the CLI", .../SDKDocs/clitoken.htm).
 */
const cliAuth: Readonly<Record<OciAuthMethod, string | undefined>> = {
    ApiKey: undefined,
    SecurityToken: "security_token",
    InstancePrincipal: "instance_principal",
    ResourcePrincipal: "resource_principal",
};

/** OCI CLI global options that authenticate as the stack's OCI providers do. */
export function ociCliAuthArgs(auth: ExecAuth): string[] {
    const method = cliAuth[auth.method];
    return ["--profile", auth.profile, ...(method === undefined ? [] : ["--auth", method])];
}

interface KubeconfigDoc {
    clusters?: { cluster?: { server?: string; "tls-server-name"?: string } }[];
    users?: { user?: { exec?: { command?: string; args?: string[] } } }[];
}

/**
 * Rewrites an OKE kubeconfig for this run: its `oci ce cluster generate-token` exec plugin gets the
 * stack's profile and auth method (OKE generates only `--cluster-id` and `--region`), and, when a
 * tunnel is given, the server becomes the tunnel while TLS still verifies the API server's own
 * name (`tls-server-name`). The OCI CLI config file is not written into the kubeconfig: the
 * plugin inherits the environment of the process that runs it (client-go credential plugins:
 * "env … unioned with the host's environment"), where the deploy driver sets
 * `OCI_CLI_CONFIG_FILE`.
 */
export function kubeconfigForRun(kubeconfig: string, auth: ExecAuth, tunnelUrl?: string): string {
    const doc = parse(kubeconfig) as KubeconfigDoc;
    if (tunnelUrl !== undefined) {
        for (const c of doc.clusters ?? []) {
            if (c.cluster?.server) {
                c.cluster["tls-server-name"] = new URL(c.cluster.server).hostname;
                c.cluster.server = tunnelUrl;
            }
        }
    }
    for (const u of doc.users ?? []) {
        const exec = u.user?.exec;
        if (exec?.command !== "oci" || !Array.isArray(exec.args)) {
            continue;
        }
        exec.args = [
            ...withoutOption(withoutOption(exec.args, "--profile"), "--auth"),
            ...ociCliAuthArgs(auth),
        ];
    }
    return stringify(doc);
}

function withoutOption(args: readonly string[], option: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < args.length; i++) {
        if (args[i] === option) {
            i++;
        } else if (!args[i]!.startsWith(`${option}=`)) {
            out.push(args[i]!);
        }
    }
    return out;
}
