/**
 * model-vault: envelope encryption of model folders with OCI KMS (or a local key in development),
 * a signed manifest, and streaming fail-closed decryption. Format: docs/model-vault.md.
 */
export * from "./errors";
export * from "./format";
export * from "./keys";
export * from "./chunks";
export * from "./parallel";
export * from "./progress";
export * from "./io";

export * from "./storage";
export * from "./oci";
export * from "./vault";
export { main, parseArgs, parseBytes, USAGE } from "./cli";
export type { CliDeps, ParsedArgs } from "./cli";
