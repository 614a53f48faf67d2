/**
 * Error classes for model-vault. Each carries the process exit code the CLI uses, so that an init
 * container's failure reason can be told apart from its exit status alone (see docs/model-vault.md).
 */

/** Base class: every failure model-vault reports on purpose is one of these. */
export abstract class ModelVaultError extends Error {
    /** Exit code the CLI returns for this failure. */
    public abstract readonly exitCode: number;

    constructor(message: string) {
        super(message);
        this.name = new.target.name;
    }
}

/**
 * The model, its manifest or the object store holding them does not verify: a modified, truncated,
 * reordered, swapped, missing or extra byte, file or signature. Exit code 1.
 */
export class TamperError extends ModelVaultError {
    public readonly exitCode = 1;
}

/** The command line, the environment or a path is wrong; nothing was verified. Exit code 2. */
export class UsageError extends ModelVaultError {
    public readonly exitCode = 2;
}

/** A key could not be loaded, did not match, or KMS refused or failed a call. Exit code 3. */
export class KeyError extends ModelVaultError {
    public readonly exitCode = 3;
}

/** Reading or writing storage failed for a reason that is not evidence of tampering. Exit code 4. */
export class StorageError extends ModelVaultError {
    public readonly exitCode = 4;
}

/** Exit code for failures that are not a {@link ModelVaultError} (bugs, out of memory). */
export const EXIT_INTERNAL = 4;

/** The exit code for any thrown value. */
export function exitCodeFor(err: unknown): number {
    return err instanceof ModelVaultError ? err.exitCode : EXIT_INTERNAL;
}
