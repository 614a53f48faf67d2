/**
 * `model-vault` command line. Exit codes: 0 every byte written was verified; 1 verification
 * failure (tampering); 2 usage or configuration error; 3 key or KMS problem; 4 storage or other
 * I/O failure. Run with no subcommand and two arguments it behaves as KServe's storage
 * initializer: `model-vault <source-uri> <dest-dir>` = `model-vault decrypt <source-uri> <dest-dir>`.
 */
import { exitCodeFor, KeyError, UsageError } from "./errors";
import { KMS_SIGNING_ALGORITHMS, KmsSigningAlgorithm, MAX_CHUNK_SIZE } from "./format";
import { FileKeyRing, KeyOpener, KeyRing, KmsCryptoLike, OciKmsKeyRing } from "./keys";
import { OciClients, parseAuthMode } from "./oci";
import { ProgressOptions } from "./progress";
import {
    isOciUri,
    LocalModelSource,
    LocalModelTarget,
    ModelSource,
    ModelTarget,
    ObjectStorageLike,
    OciModelSource,
    OciModelTarget,
    parseOciUri,
} from "./storage";
import { decryptModel, encryptModel, verifyModel } from "./vault";

export const USAGE = `usage:
  model-vault encrypt --key <key-ocid | file:PATH> [options] <src-dir> <dest-dir | oci-os://namespace/bucket/prefix>
  model-vault decrypt [--key file:PATH] [options] <src-dir | oci-os://...> <dest-dir>
  model-vault verify  [--key file:PATH] [options] <src-dir | oci-os://...>
  model-vault <source-uri> <dest-dir>          (KServe storage-initializer order: decrypt)

options:
  --key SPEC              file:PATH (32-byte key file) or, for encrypt, a KMS key OCID  [MODEL_VAULT_KEY]
  --crypto-endpoint URL   KMS crypto endpoint of the vault                          [OCI_KMS_CRYPTO_ENDPOINT]
  --signing-key OCID      encrypt with KMS: asymmetric key that signs the manifest  [MODEL_VAULT_SIGNING_KEY_ID]
  --signing-alg ALG       ${KMS_SIGNING_ALGORITHMS.join(" | ")} (default SHA_256_RSA_PKCS_PSS)
  --trusted-keys OCIDS    decrypt/verify: comma-separated KMS keys a manifest may name [MODEL_VAULT_TRUSTED_KEY_IDS]
  --chunk-size BYTES      encrypt: plaintext bytes per chunk, suffixes K/M (default 1M)
  --workers N             crypto worker threads, 0 = main thread (default CPUs, max 4) [MODEL_VAULT_WORKERS]
  --auth MODE             workload | instance | config (default config)             [OCI_AUTH]
  --config-file PATH      OCI config file for --auth config                         [OCI_CONFIG_FILE]
  --profile NAME          OCI config profile                                        [OCI_CONFIG_PROFILE]
  --region REGION         Object Storage region                  [OCI_REGION, OCI_RESOURCE_PRINCIPAL_REGION]
  --os-endpoint URL       Object Storage endpoint (private/dedicated)     [OCI_OBJECT_STORAGE_ENDPOINT]
  --connections N         decrypt/verify from oci-os://: ranged GETs in flight (default 8) [MODEL_VAULT_CONNECTIONS]
  --segment-size BYTES    bytes per task: one read or one ranged GET (default 4M)
  --progress MODE         tty | log | none (default tty on a terminal, else log)  [MODEL_VAULT_PROGRESS]
  --progress-interval S   seconds between progress lines (default 0.5 tty, 10 log) [MODEL_VAULT_PROGRESS_SECONDS]
  --quiet                 no progress, no per-file lines

exit codes: 0 ok, 1 verification failed (tampering), 2 usage/config error, 3 key/KMS error, 4 storage/I-O error
`;

/** Injected dependencies, so tests run the real CLI against in-process fakes. */
export interface CliDeps {
    readonly env: NodeJS.ProcessEnv;
    readonly stdout: (line: string) => void;
    readonly stderr: (line: string) => void;
    /** Object Storage client factory. Defaults to the OCI SDK with the configured auth. */
    readonly objectStorage?: () => ObjectStorageLike | Promise<ObjectStorageLike>;
    /** KMS crypto client factory. Defaults to the OCI SDK with the configured auth. */
    readonly kmsCrypto?: (cryptoEndpoint: string) => KmsCryptoLike | Promise<KmsCryptoLike>;
    /** Whether stderr is a terminal (progress rewrites one line). Defaults to false. */
    readonly stderrIsTTY?: boolean;
    /** Writes progress text to stderr as is (no newline added). Defaults to `stderr`. */
    readonly writeRaw?: (text: string) => void;
}

const VALUE_FLAGS = new Set([
    "--key",
    "--crypto-endpoint",
    "--signing-key",
    "--signing-alg",
    "--trusted-keys",
    "--chunk-size",
    "--workers",
    "--auth",
    "--config-file",
    "--profile",
    "--region",
    "--os-endpoint",
    "--connections",
    "--segment-size",
    "--progress",
    "--progress-interval",
]);
const BOOL_FLAGS = new Set(["--quiet", "--help"]);

/** Parsed command line. */
export interface ParsedArgs {
    readonly command: "encrypt" | "decrypt" | "verify" | "help";
    readonly positional: readonly string[];
    readonly flags: ReadonlyMap<string, string>;
}

/** Splits argv into command, flags (`--x v` or `--x=v`) and positionals. Pure. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
    const flags = new Map<string, string>();
    const positional: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--") {
            positional.push(...argv.slice(i + 1));
            break;
        }
        if (a.startsWith("--")) {
            const eq = a.indexOf("=");
            const name = eq > 0 ? a.slice(0, eq) : a;
            if (BOOL_FLAGS.has(name)) {
                if (eq > 0) throw new UsageError(`${name} takes no value`);
                flags.set(name, "true");
            } else if (VALUE_FLAGS.has(name)) {
                const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
                if (v === undefined || v === "") throw new UsageError(`${name} needs a value`);
                flags.set(name, v);
            } else {
                throw new UsageError(`unknown option ${name}`);
            }
        } else if (a === "-h") {
            flags.set("--help", "true");
        } else {
            positional.push(a);
        }
    }
    if (flags.has("--help") || positional.length === 0)
        return { command: "help", positional, flags };
    const [first, ...rest] = positional;
    if (first === "encrypt" || first === "decrypt" || first === "verify") {
        return { command: first, positional: rest, flags };
    }
    // KServe's storage initializer calls `<image> <storageUri> <dest-dir>`.
    if (positional.length === 2) return { command: "decrypt", positional, flags };
    throw new UsageError(`unknown command ${JSON.stringify(first)}`);
}

/** Parses a byte count with an optional K/M/G (binary) suffix. */
export function parseBytes(v: string, what: string): number {
    const m = /^(\d+)\s*([KMG]i?B?)?$/i.exec(v.trim());
    if (!m)
        throw new UsageError(`${what} ${JSON.stringify(v)} is not a byte count like 4194304 or 4M`);
    const mult =
        { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").charAt(0).toLowerCase()] ?? 1;
    return Number(m[1]) * mult;
}

function parseWorkers(v: string | undefined): number | undefined {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 64)
        throw new UsageError(`--workers ${v} is not an integer in [0, 64]`);
    return n;
}

function parsePositive(v: string | undefined, what: string, max: number): number | undefined {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max)
        throw new UsageError(`${what} ${v} is not a number in (0, ${max}]`);
    return n;
}

function expectArgs(p: ParsedArgs, n: number, shape: string): void {
    if (p.positional.length !== n) {
        throw new UsageError(`${p.command} takes ${shape}; got ${p.positional.length} argument(s)`);
    }
}

/** Runs the CLI; returns the exit code instead of exiting so it can be tested in-process. */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
    try {
        const p = parseArgs(argv);
        if (p.command === "help") {
            deps.stdout(USAGE);
            return argv.length === 0 ? 2 : 0;
        }
        const env = deps.env;
        const flag = (name: string, envName?: string) =>
            p.flags.get(name) ?? (envName ? env[envName] : undefined);
        const oci = new OciClients({
            mode: parseAuthMode(flag("--auth", "OCI_AUTH")),
            configFile: flag("--config-file", "OCI_CONFIG_FILE"),
            profile: flag("--profile", "OCI_CONFIG_PROFILE"),
            region: flag("--region", "OCI_REGION") ?? env.OCI_RESOURCE_PRINCIPAL_REGION,
            objectStorageEndpoint: flag("--os-endpoint", "OCI_OBJECT_STORAGE_ENDPOINT"),
        });
        const objectStorage = deps.objectStorage ?? (() => oci.objectStorage());
        const kmsCrypto = deps.kmsCrypto ?? ((e: string) => oci.kmsCrypto(e));
        const quiet = p.flags.has("--quiet");
        const log = quiet ? undefined : (line: string) => deps.stderr(`model-vault: ${line}`);
        const workers = parseWorkers(flag("--workers", "MODEL_VAULT_WORKERS"));
        const connections = parsePositive(
            flag("--connections", "MODEL_VAULT_CONNECTIONS"),
            "--connections",
            256,
        );
        if (connections !== undefined && !Number.isInteger(connections))
            throw new UsageError(`--connections ${connections} is not an integer`);
        const segmentFlag = p.flags.get("--segment-size");
        const segmentBytes =
            segmentFlag === undefined ? undefined : parseBytes(segmentFlag, "--segment-size");
        if (segmentBytes !== undefined && (segmentBytes < 1 || segmentBytes > 1024 ** 3))
            throw new UsageError("--segment-size must be between 1 byte and 1 GiB");
        const progressMode =
            flag("--progress", "MODEL_VAULT_PROGRESS") ?? (deps.stderrIsTTY ? "tty" : "log");
        if (progressMode !== "tty" && progressMode !== "log" && progressMode !== "none")
            throw new UsageError(`--progress ${progressMode} is not one of tty, log, none`);
        const interval = parsePositive(
            flag("--progress-interval", "MODEL_VAULT_PROGRESS_SECONDS"),
            "--progress-interval",
            3600,
        );
        const raw = deps.writeRaw ?? deps.stderr;
        const progress: ProgressOptions | undefined =
            quiet || progressMode === "none"
                ? undefined
                : progressMode === "tty"
                  ? { mode: "tty", write: raw, intervalSeconds: interval }
                  : {
                        mode: "log",
                        write: (line) => deps.stderr(`model-vault: ${line}`),
                        intervalSeconds: interval,
                    };
        const runOpts = { workers, connections, segmentBytes, log, progress };
        const keySpec = flag("--key", "MODEL_VAULT_KEY");
        const cryptoEndpoint = flag("--crypto-endpoint", "OCI_KMS_CRYPTO_ENDPOINT");

        const sourceFor = async (loc: string): Promise<ModelSource> => {
            if (!isOciUri(loc)) return new LocalModelSource(loc);
            if (deps.objectStorage) {
                // An injected client (tests, embedding): ranges go through it.
                return new OciModelSource(await deps.objectStorage(), parseOciUri(loc));
            }
            const client = await oci.objectStorage();
            return new OciModelSource(
                client,
                parseOciUri(loc),
                await oci.rangedAccess(client.endpoint),
            );
        };

        if (p.command === "encrypt") {
            expectArgs(p, 2, "<src-dir> <dest-dir | oci-os://...>");
            const [src, dest] = p.positional;
            if (!keySpec) throw new UsageError("encrypt needs --key <key-ocid | file:PATH>");
            let keys: KeyRing;
            if (keySpec.startsWith("file:")) {
                keys = FileKeyRing.fromFile(keySpec.slice("file:".length));
            } else if (keySpec.startsWith("ocid1.key.")) {
                const alg = p.flags.get("--signing-alg");
                if (
                    alg !== undefined &&
                    !KMS_SIGNING_ALGORITHMS.includes(alg as KmsSigningAlgorithm)
                ) {
                    throw new UsageError(
                        `--signing-alg ${alg} is not one of ${KMS_SIGNING_ALGORITHMS.join(", ")}`,
                    );
                }
                keys = new OciKmsKeyRing({
                    clientFor: kmsCrypto,
                    keyId: keySpec,
                    cryptoEndpoint,
                    signingKeyId: flag("--signing-key", "MODEL_VAULT_SIGNING_KEY_ID"),
                    signingAlgorithm: alg as KmsSigningAlgorithm | undefined,
                });
            } else {
                throw new UsageError(
                    `--key ${keySpec} is neither file:PATH nor a KMS key OCID (ocid1.key...)`,
                );
            }
            const chunkFlag = p.flags.get("--chunk-size");
            const chunkSize =
                chunkFlag === undefined ? undefined : parseBytes(chunkFlag, "--chunk-size");
            if (chunkSize !== undefined && chunkSize > MAX_CHUNK_SIZE) {
                throw new UsageError(`--chunk-size may be at most ${MAX_CHUNK_SIZE} bytes`);
            }
            const target: ModelTarget = isOciUri(dest)
                ? new OciModelTarget(await objectStorage(), parseOciUri(dest))
                : new LocalModelTarget(dest);
            const m = await encryptModel(src, target, keys, { ...runOpts, chunkSize });
            deps.stdout(
                `encrypted ${m.files.length} files into ${target.location} (model ${m.modelId})`,
            );
            return 0;
        }

        if (p.command === "verify") expectArgs(p, 1, "<src-dir | oci-os://...>");
        else expectArgs(p, 2, "<src-dir | oci-os://...> <dest-dir>");
        if (p.command === "decrypt" && isOciUri(p.positional[1])) {
            throw new UsageError("decrypt writes plaintext to a local folder only");
        }
        let opener: KeyOpener;
        if (keySpec === undefined) {
            const trusted = (flag("--trusted-keys", "MODEL_VAULT_TRUSTED_KEY_IDS") ?? "")
                .split(",")
                .map((s) => s.trim())
                .filter((s) => s !== "");
            opener = new OciKmsKeyRing({
                clientFor: kmsCrypto,
                cryptoEndpoint,
                trustedKeyIds: trusted,
            });
        } else if (keySpec.startsWith("file:")) {
            opener = FileKeyRing.fromFile(keySpec.slice("file:".length));
        } else {
            throw new KeyError(
                `${p.command} takes --key file:PATH only; a KMS-wrapped model names its key in the manifest`,
            );
        }

        if (p.command === "verify") {
            const s = await verifyModel(await sourceFor(p.positional[0]), opener, runOpts);
            deps.stdout(
                `verified model ${s.modelId} (${s.format}): ${s.files} files, ${s.bytes} bytes in ${s.seconds.toFixed(2)} s`,
            );
            return 0;
        }
        const [src, dest] = p.positional;
        const s = await decryptModel(await sourceFor(src), dest, opener, runOpts);
        const mibs = s.bytes / 1048576 / Math.max(s.seconds, 1e-9);
        deps.stdout(
            `decrypted model ${s.modelId} (${s.format}): ${s.files} files, ${s.bytes} bytes verified into ${dest} ` +
                `in ${s.seconds.toFixed(2)} s (${mibs.toFixed(0)} MiB/s, ${s.threads} threads` +
                `${s.fetched > 0 ? `, ${s.fetched} bytes downloaded, ${s.retries} GETs retried` : ""})`,
        );
        return 0;
    } catch (e) {
        const code = exitCodeFor(e);
        const kind = e instanceof Error ? e.name : "Error";
        deps.stderr(`model-vault: ${kind}: ${e instanceof Error ? e.message : String(e)}`);
        if (code === 2) deps.stderr("run `model-vault --help` for usage");
        return code;
    }
}

/** Runs the CLI on `process.argv` and sets the exit code (the image and `loader/run.js` call this). */
export function runFromCommandLine(): void {
    main(process.argv.slice(2), {
        env: process.env,
        stdout: (l) => process.stdout.write(`${l}\n`),
        stderr: (l) => process.stderr.write(`${l}\n`),
        stderrIsTTY: process.stderr.isTTY === true,
        writeRaw: (text) => process.stderr.write(text),
    }).then(
        (code) => {
            process.exitCode = code;
        },
        (e) => {
            process.stderr.write(`model-vault: internal error: ${String(e)}\n`);
            process.exitCode = 4;
        },
    );
}

if (require.main === module) runFromCommandLine();
