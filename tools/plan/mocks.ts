/**
 * The mock runtime shared by the tests and the offline plan: installs Pulumi's mocks once, records
 * every registration exactly as the engine would receive it (parent, provider, dependencies,
 * protect, retainOnDelete) and answers every invoke from a map keyed by token. An invoke nobody
 * faked is an error, so the plan can never silently diverge from what `pulumi preview` would call.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { kubernetesInvokes, kubernetesResourceState } from "./fakes/kubernetes";
import { ociInvokes, ociResourceState } from "./fakes/oci";
import { offlineManifests } from "../../modules/k8s/network/calico-policy-only";

/** One resource registration, as the engine would have received it. */
export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent?: string;
    /** Provider reference `urn::id`, when one was passed or inherited. */
    readonly provider?: string;
    readonly dependencies: readonly string[];
    /** Inputs after serialization; secret values keep Pulumi's secret envelope. */
    readonly inputs: Record<string, unknown>;
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    /** Property paths of the `ignoreChanges` option (empty when not set). */
    readonly ignoreChanges: readonly string[];
    /** Property paths of the `replaceOnChanges` option (empty when not set). */
    readonly replaceOnChanges: readonly string[];
    readonly id?: string;
}

/** An invoke the program made. */
export interface RecordedInvoke {
    readonly token: string;
    readonly inputs: Record<string, unknown>;
}

/** The answer to an invoke, computed from its inputs. */
export type InvokeFake = (inputs: Record<string, unknown>) => Record<string, unknown>;

/** The id and output state a fake gives a new resource. */
export interface FakeState {
    readonly id: string;
    readonly state: Record<string, unknown>;
}

/** Pulumi's marker key for a secret value on the wire. */
export const secretSig = "4dabf18193072939515e22adb298388d";
const secretMarker = "1b47061264138c4ac30d75fd1eb44270";

/** True when a serialized value is a secret envelope. */
export function isSecretEnvelope(v: unknown): v is { value: unknown } {
    return (
        typeof v === "object" &&
        v !== null &&
        (v as Record<string, unknown>)[secretSig] === secretMarker
    );
}

/** Every invoke fake, by token. */
export const invokeFakes: Readonly<Record<string, InvokeFake>> = {
    ...ociInvokes,
    ...kubernetesInvokes,
};

const state = {
    resources: [] as RecordedResource[],
    /** Component URN → the outputs it registered (`registerOutputs`). */
    outputs: new Map<string, Record<string, unknown>>(),
    invokes: [] as RecordedInvoke[],
    /** OCI provider URN → its region, so fakes answer in the region the real provider would. */
    providerRegions: new Map<string, string>(),
};

/** The region of the OCI provider a registration or invoke goes through, if known. */
function providerRegion(ref: string | undefined): string | undefined {
    if (!ref) {
        return undefined;
    }
    const i = ref.lastIndexOf("::");
    return state.providerRegions.get(i > 0 ? ref.slice(0, i) : ref);
}

/** Resources registered since the last {@link resetRecords}. */
export function recordedResources(): readonly RecordedResource[] {
    return state.resources;
}

/** The outputs each component registered since the last {@link resetRecords}, by URN. */
export function recordedOutputs(): ReadonlyMap<string, Record<string, unknown>> {
    return state.outputs;
}

/** Invokes made since the last {@link resetRecords}. */
export function recordedInvokes(): readonly RecordedInvoke[] {
    return state.invokes;
}

/** Forgets what was recorded (the mocks stay installed). */
export function resetRecords(): void {
    state.resources = [];
    state.invokes = [];
    state.outputs = new Map();
    state.providerRegions.clear();
}

/** A short deterministic hash, for fake ids. */
export function fakeHash(...parts: string[]): string {
    return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 24);
}

/** Options for {@link installMocks}. */
export interface InstallOptions {
    readonly project?: string;
    readonly stack: string;
    /** Run as a preview (unknowns stay unknown). Defaults to false, like `pulumi up`. */
    readonly preview?: boolean;
}

/** Installs the mocks for the whole process. Safe to call again to switch stacks. */
export function installMocks(opts: InstallOptions): void {
    // No network under the mocks: pinned upstream manifests are named, not fetched.
    offlineManifests();
    const mocks: pulumi.runtime.Mocks = {
        newResource(args: pulumi.runtime.MockResourceArgs): {
            id: string | undefined;
            state: Record<string, unknown>;
        } {
            const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
            const fake = fakeResource(args.type, args.name, inputs, providerRegion(args.provider));
            return {
                id: args.custom === false ? undefined : fake.id,
                state: { ...args.inputs, ...fake.state },
            };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
            state.invokes.push({ token: args.token, inputs });
            const region = providerRegion(args.provider);
            if (region !== undefined && inputs.region === undefined) {
                inputs.region = region;
            }
            const fake = invokeFakes[args.token];
            if (fake === undefined) {
                throw new Error(
                    `the offline plan has no fake for invoke ${args.token}; add one to tools/plan/fakes/`,
                );
            }
            return fake(inputs);
        },
    };
    pulumi.runtime.setMocks(
        mocks,
        opts.project ?? "secure-llm-platform",
        opts.stack,
        opts.preview ?? false,
    );
    wrapMonitor();
}

/** Answers a new resource: OCI and Kubernetes fakes first, then a generic id. */
function fakeResource(
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    region?: string,
): FakeState {
    return (
        ociResourceState(type, name, inputs, region) ??
        kubernetesResourceState(type, name, inputs) ?? { id: `${name}-id`, state: {} }
    );
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getProvider(): string;
    getDependenciesList(): string[];
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getObject(): unknown;
}

interface MockMonitorLike {
    newUrn(parent: string, type: string, name: string): string;
    registerResourceOutputs(
        req: { getUrn(): string; getOutputs(): unknown },
        callback: (err: unknown, resp: unknown) => void,
    ): void;
    registerResource(
        req: RegisterRequest,
        callback: (err: unknown, resp: unknown) => void,
    ): Promise<void>;
}

/**
 * Records each registration with the fields the mock API does not pass to `newResource`
 * (parent, dependencies, protect, retainOnDelete), then lets the mock monitor answer it.
 */
function wrapMonitor(): void {
    const monitor = settings.getMonitor() as unknown as MockMonitorLike;
    const originalOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResourceOutputs = (req, callback) => {
        void import("@pulumi/pulumi/runtime/rpc").then(({ deserializeProperties }) => {
            state.outputs.set(
                req.getUrn(),
                deserializeProperties(
                    req.getOutputs() as Parameters<typeof deserializeProperties>[0],
                ) as Record<string, unknown>,
            );
            originalOutputs(req, callback);
        });
    };
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = async (req, callback) => {
        const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
        const { deserializeProperties } = await import("@pulumi/pulumi/runtime/rpc");
        const inputs = deserializeProperties(
            req.getObject() as Parameters<typeof deserializeProperties>[0],
        ) as Record<string, unknown>;
        if (req.getType() === "pulumi:providers:oci" && typeof inputs.region === "string") {
            state.providerRegions.set(urn, inputs.region);
        }
        return original(req, (err, resp) => {
            if (!err) {
                const id = (resp as { getId?: () => string } | undefined)?.getId?.();
                state.resources.push({
                    urn,
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent() || undefined,
                    provider: req.getProvider() || undefined,
                    dependencies: [...new Set(req.getDependenciesList())],
                    inputs,
                    protect: req.getProtect(),
                    retainOnDelete: req.getRetainondelete(),
                    ignoreChanges: req.getIgnorechangesList(),
                    replaceOnChanges: req.getReplaceonchangesList(),
                    id: id || undefined,
                });
            }
            callback(err, resp);
        });
    };
}

/** Removes Pulumi's secret envelopes, for fakes that compute from values. */
export function unwrapSecrets(v: unknown): unknown {
    if (isSecretEnvelope(v)) {
        return unwrapSecrets(v.value);
    }
    if (Array.isArray(v)) {
        return v.map(unwrapSecrets);
    }
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** Replaces every secret value with `"[secret]"`, for anything written to disk. */
export function redactSecrets(v: unknown): unknown {
    if (isSecretEnvelope(v)) {
        return "[secret]";
    }
    if (Array.isArray(v)) {
        return v.map(redactSecrets);
    }
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactSecrets(x)]));
    }
    return v;
}

/** Waits until every registration, invoke and output of the program has settled. */
export async function settle(): Promise<void> {
    const waitForRPCs = (settings as unknown as { waitForRPCs: () => Promise<void> }).waitForRPCs;
    await waitForRPCs();
}
