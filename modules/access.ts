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
import { didYouMean } from "./config/suggest";

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

/**
 * Environment variable the OCI providers read their home folder from, instead of the user's home
 * directory: terraform-provider-oci (the code under @pulumi/oci 4.20.0: pulumi/pulumi-oci v4.20.0's
 * `upstream` submodule, commit 8016f415) `internal/utils/helpers.go` `GetHomeFolder` returns
 * `TF_HOME_OVERRIDE` when set, else `user.Current().HomeDir`.
 */
export const providerHomeEnv = "TF_HOME_OVERRIDE";

/**
 * The OCI config file the stack's OCI providers read: `<home>/.oci/config`, `<home>` from
 * {@link providerHomeEnv} or the user's home directory. The provider sets a profile
 * (`configFileProfile`), and with a profile it reads only this path, for `ApiKey` and
 * `SecurityToken` alike (`internal/provider/provider.go` `GetSdkConfigProvider` and
 * `getConfigProviders`: `defaultPath := path.Join(utils.GetHomeFolder(), ".oci", "config")`,
 * `utils.CheckProfile(profile, defaultPath)`); `OCI_CONFIG_FILE` is NOT read there. So the deploy
 * command points the OCI CLI (`OCI_CLI_CONFIG_FILE`) at this same file.
 */
export function providerConfigFile(env: NodeJS.ProcessEnv, homedir: string): string {
    const home =
        env[providerHomeEnv] !== undefined && env[providerHomeEnv] !== ""
            ? env[providerHomeEnv]!
            : homedir;
    return `${home.replace(/\/+$/, "")}/.oci/config`;
}

/** The profiles of an OCI config file (INI; `DEFAULT` values apply to every profile). */
export function ociConfigProfiles(text: string): Record<string, Record<string, string>> {
    const profiles: Record<string, Record<string, string>> = {};
    let current: Record<string, string> | undefined;
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
        const section = /^\[(.+)\]$/.exec(line);
        if (section) {
            current = profiles[section[1]!] ??= {};
            continue;
        }
        const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
        if (kv && current) current[kv[1]!] = kv[2]!;
    }
    const defaults = profiles.DEFAULT ?? {};
    for (const [name, p] of Object.entries(profiles)) {
        if (name !== "DEFAULT") profiles[name] = { ...defaults, ...p };
    }
    return profiles;
}

/** The keys a profile needs for each method that reads the config file. */
const profileNeeds: Readonly<Partial<Record<OciAuthMethod, readonly string[]>>> = {
    // OCI SDK config file: user, fingerprint, key_file, tenancy, region (API key signing).
    ApiKey: ["user", "fingerprint", "key_file", "tenancy"],
    // `oci session authenticate` and scripts/oci-token-exchange.sh write key_file (the session's
    // key pair) and security_token_file; oci-cli `cli_util.get_session_token_signer` needs both.
    SecurityToken: ["key_file", "security_token_file"],
};

/**
 * What is wrong with the OCI config file for the stack's `ociAuth` (pure): the provider and the
 * kubeconfig's exec plugin read the same profile of the same file, so a missing file or profile,
 * a profile without what the method needs, or a session-token profile under `ApiKey` (the
 * provider would sign with the session's unregistered key; the CLI warns
 * TOKEN_PRESENT_BUT_NOT_USED_FOR_AUTH) is refused before anything runs. `text` undefined: the
 * file does not exist. Instance and resource principals read no file. Test: test/deploy/access.test.ts.
 */
export function ociAuthIssues(
    auth: ExecAuth,
    file: string,
    text: string | undefined,
    project: string,
): Issue[] {
    const needs = profileNeeds[auth.method];
    if (needs === undefined) return [];
    const login =
        auth.method === "SecurityToken"
            ? `run \`oci session authenticate --profile-name ${auth.profile}\` on a workstation; in CI, scripts/oci-token-exchange.sh writes it`
            : `create an API key profile with \`oci setup config\``;
    const methodKey = `${project}:ociAuth.method`;
    const profileKey = `${project}:ociAuth.profile`;
    if (text === undefined) {
        return [
            {
                path: profileKey,
                value: auth.profile,
                expected: `a profile of ${file}, the file the OCI providers read (it does not exist): ${login}`,
            },
        ];
    }
    const profiles = ociConfigProfiles(text);
    const profile = profiles[auth.profile];
    if (profile === undefined) {
        const names = Object.keys(profiles);
        return [
            {
                path: profileKey,
                value: auth.profile,
                expected: `a profile of ${file} (it has ${names.join(", ") || "none"})${didYouMean(auth.profile, names)}: ${login}`,
            },
        ];
    }
    if (auth.method === "ApiKey" && (profile.security_token_file ?? "") !== "") {
        return [
            {
                path: methodKey,
                value: auth.method,
                expected: `SecurityToken: profile ${auth.profile} of ${file} holds a session token (security_token_file), which ApiKey signing ignores`,
            },
        ];
    }
    const missing = needs.filter((k) => profile[k] === undefined || profile[k] === "");
    if (missing.length > 0) {
        return [
            {
                path: methodKey,
                value: auth.method,
                expected: `a method profile ${auth.profile} of ${file} can serve: it lacks ${missing.join(", ")}, which ${auth.method} needs; ${login}`,
            },
        ];
    }
    return [];
}
