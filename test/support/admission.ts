/**
 * ValidatingAdmissionPolicy admission in-process: the API server's dispatch semantics
 * (k8s.io/apiserver v0.34.2, `pkg/admission/plugin/policy/{validating,generic,matching}` and
 * `webhook/{predicates,matchconditions}`), with every CEL expression run unmodified by the
 * maintained evaluator `@bufbuild/cel`.
 *
 * What is modelled, as the API server does it:
 * - policy `matchConstraints` and binding `matchResources`: resourceRules (operations, apiGroups,
 *   apiVersions, resources with `res/sub`, `*`, `* /sub` forms, scope, resourceNames),
 *   excludeResourceRules, namespaceSelector (a Namespace request selects on its own labels;
 *   cluster-scoped objects always match), objectSelector (object or oldObject labels);
 * - configuration resources (policies, bindings, webhooks) are never subject to policies;
 * - paramKind / paramRef (name or selector, namespace, parameterNotFoundAction), one evaluation
 *   per param; no params → `params` is null;
 * - matchConditions first: any false skips the policy, otherwise any error applies failurePolicy;
 *   `namespaceObject` is null there, as in the API server;
 * - variables: lazy, evaluated at most once per evaluation, errors surface only where read;
 * - validations: anything but `true` denies; messageExpression falls back to message, then to
 *   `failed expression: ...`; an evaluation error applies failurePolicy (Fail denies);
 * - auditAnnotations; binding validationActions Deny / Warn / Audit; the status message, reason
 *   and code of the first denial;
 * - the `request` variable as the API server builds it (an AdmissionRequest converted like
 *   JSON, so empty `subResource`, `name`, `namespace` are absent), `object`/`oldObject` null on
 *   CREATE/DELETE, JSON integers as CEL `int`.
 *
 * Compile-time checks the API server makes are made here too and throw (a policy the API server
 * would not accept must fail the test loudly, never be evaluated differently): parse errors,
 * undeclared identifiers (including `params` without paramKind and variables not yet declared),
 * functions the evaluator does not provide, heterogeneous list/map literals, invalid regex,
 * duration and timestamp literals. `authorizer` is not modelled and is refused.
 *
 * Not modelled: OpenAPI-typed values (objects are the JSON the API server would hold after
 * decoding and defaulting; tests write them that way), `matchPolicy: Equivalent` conversion to
 * other versions of a resource (every request here uses the version the rules name), CEL cost
 * budgets, and the API server's own object validation.
 */
import {
    CelResult,
    celEnv,
    isCelError,
    isCelList,
    isCelMap,
    parse,
    plan,
    type CelValue,
} from "@bufbuild/cel";
import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";

/** A Kubernetes object as JSON. */
export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: {
        name?: string;
        namespace?: string;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
        [k: string]: unknown;
    };
    [k: string]: unknown;
}

/** group/version/resource. */
export interface GroupVersionResource {
    readonly group: string;
    readonly version: string;
    readonly resource: string;
}

/** group/version/kind. */
export interface GroupVersionKind {
    readonly group: string;
    readonly version: string;
    readonly kind: string;
}

/** Who makes the request (authentication.k8s.io/v1 UserInfo). */
export interface UserInfo {
    readonly username: string;
    readonly uid?: string;
    readonly groups?: readonly string[];
    readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** One admission request, as admission.Attributes carries it. */
export interface AdmissionAttributes {
    readonly operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
    readonly resource: GroupVersionResource;
    readonly subResource?: string;
    readonly kind: GroupVersionKind;
    /** Empty for cluster-scoped objects; a Namespace request carries its own name here. */
    readonly namespace?: string;
    readonly name?: string;
    readonly object?: K8sObject | null;
    readonly oldObject?: K8sObject | null;
    readonly userInfo: UserInfo;
    readonly dryRun?: boolean;
    /** CreateOptions / UpdateOptions / DeleteOptions. */
    readonly options?: Record<string, unknown>;
}

/** A decision of one validation (or a configuration / match error) that did not admit. */
export interface PolicyDecision {
    readonly policy: string;
    /** Undefined for a policy-level configuration error. */
    readonly binding?: string;
    /** `deny`: the expression was not true; `error`: it could not be evaluated. */
    readonly evaluation: "deny" | "error";
    readonly message: string;
    readonly reason: string;
    /** Index of the validation, when the decision comes from one. */
    readonly validation?: number;
}

/** The outcome of a request. */
export interface AdmissionResult {
    readonly allowed: boolean;
    /** The Status the API server answers a refused request with. */
    readonly status?: { readonly message: string; readonly reason: string; readonly code: number };
    /** Decisions of bindings with the Deny action, in evaluation order. */
    readonly denials: readonly PolicyDecision[];
    /** Warnings returned to the client (Warn action). */
    readonly warnings: readonly string[];
    /** Failed validations recorded in the audit log (Audit action). */
    readonly audited: readonly PolicyDecision[];
    /** auditAnnotations published, keyed `<policy>/<key>`. */
    readonly auditAnnotations: Readonly<Record<string, string>>;
}

/** Options of {@link AdmissionEvaluator}. */
export interface EvaluatorOptions {
    /**
     * Scope of param kinds beyond the built-in table (`<apiVersion>/<kind>` → namespaced), needed
     * only for custom resources used as params.
     */
    readonly paramScopes?: Readonly<Record<string, boolean>>;
}

// --- values ------------------------------------------------------------------------------

/**
 * JSON as CEL sees it in the API server: whole numbers are `int` (unstructured JSON decodes them
 * as int64), others `double`; absent optional fields are absent, never null.
 */
export function toCel(v: unknown): unknown {
    if (typeof v === "number") {
        return Number.isInteger(v) ? BigInt(v) : v;
    }
    if (Array.isArray(v)) {
        return v.map(toCel);
    }
    if (v !== null && typeof v === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) {
            if (x !== null && x !== undefined) {
                out[k] = toCel(x);
            }
        }
        return out;
    }
    return v;
}

/** A CEL value as plain JSON-like data (for messages and audit annotations). */
function fromCel(v: CelValue): unknown {
    if (typeof v === "bigint") {
        return Number(v);
    }
    if (isCelList(v)) {
        return [...v].map((x) => fromCel(x));
    }
    if (isCelMap(v)) {
        return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), fromCel(x)]));
    }
    return v;
}

// --- compilation -------------------------------------------------------------------------

const env = celEnv();

/** Call names the planner implements itself (operators and macros' helpers). */
const plannerOperators = new Set(["_&&_", "_||_", "_?_:_", "_[_]", "@not_strictly_false", "!_"]);

/**
 * Kubernetes CEL library functions (k8s.io/apiserver v0.34.2 `pkg/cel/library`, cel-go `ext`)
 * that @bufbuild/cel 0.6.1 does not provide, with the library that has them: a policy using one
 * fails here with the name, so it is never evaluated as something else.
 */
const kubernetesOnly: Readonly<Record<string, string>> = {
    quantity: "Kubernetes quantity library",
    isQuantity: "Kubernetes quantity library",
    isSorted: "Kubernetes lists library",
    sum: "Kubernetes lists library",
    min: "Kubernetes lists library",
    max: "Kubernetes lists library",
    indexOf: "Kubernetes lists / cel-go strings library",
    lastIndexOf: "Kubernetes lists / cel-go strings library",
    find: "Kubernetes regex library",
    findAll: "Kubernetes regex library",
    url: "Kubernetes URLs library",
    isURL: "Kubernetes URLs library",
    ip: "Kubernetes IP library",
    isIP: "Kubernetes IP library",
    cidr: "Kubernetes CIDR library",
    isCIDR: "Kubernetes CIDR library",
    semver: "Kubernetes semver library",
    isSemver: "Kubernetes semver library",
    format: "cel-go strings library / Kubernetes format library",
    split: "cel-go strings library",
    join: "cel-go strings library",
    replace: "cel-go strings library",
    substring: "cel-go strings library",
    trim: "cel-go strings library",
    lowerAscii: "cel-go strings library",
    upperAscii: "cel-go strings library",
    charAt: "cel-go strings library",
    "sets.contains": "cel-go sets library",
    "sets.equivalent": "cel-go sets library",
    "sets.intersects": "cel-go sets library",
    "optional.of": "CEL optional types",
    "optional.none": "CEL optional types",
    "optional.ofNonZeroValue": "CEL optional types",
    orValue: "CEL optional types",
    "cel.bind": "cel-go bindings",
    all: "cel-go two-variable comprehensions",
    exists: "cel-go two-variable comprehensions",
    existsOne: "cel-go two-variable comprehensions",
    transformList: "cel-go two-variable comprehensions",
    transformMap: "cel-go two-variable comprehensions",
    flatten: "cel-go lists library",
    distinct: "cel-go lists library",
    slice: "cel-go lists library",
    sort: "cel-go lists library",
};

/** Which root variables an expression may name. */
type ExpressionKind = "variable" | "matchCondition" | "validation" | "message" | "audit";

interface CompileContext {
    /** `policy <name> <field>` for error messages. */
    readonly where: string;
    readonly kind: ExpressionKind;
    readonly hasParams: boolean;
    /** Variables declared before this expression (all of them, except for variables). */
    readonly variables: ReadonlySet<string>;
}

/** A compiled expression. */
interface Compiled {
    readonly source: string;
    readonly run: (bindings: Record<string, unknown>) => CelResult;
}

const planned = new Map<string, (bindings: Record<string, unknown>) => CelResult>();

class PolicyCompileError extends Error {}

function fail(ctx: CompileContext, what: string): never {
    throw new PolicyCompileError(`${ctx.where}: ${what}`);
}

function constKind(e: Expr): string | undefined {
    return e.exprKind.case === "constExpr" ? e.exprKind.value.constantKind.case : undefined;
}

function constString(e: Expr | undefined): string | undefined {
    if (e?.exprKind.case === "constExpr" && e.exprKind.value.constantKind.case === "stringValue") {
        return e.exprKind.value.constantKind.value;
    }
    return undefined;
}

/** The dotted name of a select chain over an identifier (`sets.contains`), if it is one. */
function qualifiedName(e: Expr | undefined): string | undefined {
    if (e?.exprKind.case === "identExpr") {
        return e.exprKind.value.name;
    }
    if (e?.exprKind.case === "selectExpr" && !e.exprKind.value.testOnly) {
        const base = qualifiedName(e.exprKind.value.operand);
        return base === undefined ? undefined : `${base}.${e.exprKind.value.field}`;
    }
    return undefined;
}

function checkLiteral(ctx: CompileContext, probe: string, what: string): void {
    const fn = plan(env, parse(probe));
    const r = fn({});
    if (isCelError(r)) {
        fail(ctx, `${what}: ${r.message}`);
    }
}

function checkCall(ctx: CompileContext, e: Expr & { exprKind: { case: "callExpr" } }): void {
    const call = e.exprKind.value;
    const name = call.function;
    if (plannerOperators.has(name)) {
        return;
    }
    const group = env.funcs.find(name);
    const method = call.target !== undefined;
    const overloads = group === undefined ? [] : [...group];
    if (!overloads.some((f) => (f.target !== undefined) === method)) {
        const lib = kubernetesOnly[name];
        fail(
            ctx,
            `${method ? "method ." : "function "}${name}() with ${call.args.length} argument(s) is ` +
                `not provided by @bufbuild/cel${lib ? ` (Kubernetes has it in the ${lib})` : ""}; ` +
                "implement it faithfully in test/support/admission.ts or do without it",
        );
    }
    // The API server validates these literals when the policy is created.
    if (name === "matches" && constString(call.args[method ? 0 : 1]) !== undefined) {
        const pattern = constString(call.args[method ? 0 : 1])!;
        checkLiteral(ctx, `''.matches(${JSON.stringify(pattern)})`, "invalid regex literal");
    }
    if ((name === "duration" || name === "timestamp") && constString(call.args[0]) !== undefined) {
        checkLiteral(
            ctx,
            `${name}(${JSON.stringify(constString(call.args[0]))})`,
            `invalid ${name} literal`,
        );
    }
}

function checkHomogeneous(ctx: CompileContext, kinds: (string | undefined)[], what: string): void {
    const known = kinds.filter((k) => k !== undefined);
    if (new Set(known).size > 1) {
        fail(ctx, `${what} literal mixes element types (${[...new Set(known)].join(", ")})`);
    }
}

const rootVariables: Record<ExpressionKind, readonly string[]> = {
    variable: ["object", "oldObject", "request", "namespaceObject", "params"],
    matchCondition: ["object", "oldObject", "request", "namespaceObject", "params"],
    validation: ["object", "oldObject", "request", "namespaceObject", "params"],
    message: ["object", "oldObject", "request", "namespaceObject", "params"],
    audit: ["object", "oldObject", "request", "namespaceObject", "params"],
};

/** CEL's type denotations, usable as identifiers (`type(x) == int`). */
const typeNames = new Set([
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
]);

/** Walks the AST the way the API server's type checker would refuse it. */
function check(ctx: CompileContext, e: Expr, scope: ReadonlySet<string>): void {
    switch (e.exprKind.case) {
        case "identExpr": {
            const name = e.exprKind.value.name;
            if (scope.has(name)) {
                return;
            }
            if (name === "variables") {
                fail(ctx, "`variables` may only be read as variables.<name>");
            }
            if (name === "authorizer") {
                fail(ctx, "`authorizer` is not modelled by this evaluator");
            }
            if (name === "params" && !ctx.hasParams) {
                fail(ctx, "undeclared reference to 'params' (the policy has no paramKind)");
            }
            if (!rootVariables[ctx.kind].includes(name) && !typeNames.has(name)) {
                fail(ctx, `undeclared reference to '${name}'`);
            }
            return;
        }
        case "selectExpr": {
            const sel = e.exprKind.value;
            const op = sel.operand;
            if (
                op?.exprKind.case === "identExpr" &&
                op.exprKind.value.name === "variables" &&
                !scope.has("variables")
            ) {
                if (!ctx.variables.has(sel.field)) {
                    fail(ctx, `undeclared reference to 'variables.${sel.field}'`);
                }
                return;
            }
            if (op) {
                check(ctx, op, scope);
            }
            return;
        }
        case "callExpr": {
            const call = e.exprKind.value;
            // Namespaced functions (`sets.contains`) parse as methods on an identifier.
            const full = call.target ? `${qualifiedName(call.target)}.${call.function}` : "";
            if (full in kubernetesOnly) {
                fail(ctx, `${full}() (${kubernetesOnly[full]}) is not provided by this evaluator`);
            }
            if (call.target) {
                check(ctx, call.target, scope);
            }
            checkCall(ctx, e as Expr & { exprKind: { case: "callExpr" } });
            for (const a of call.args) {
                check(ctx, a, scope);
            }
            return;
        }
        case "listExpr": {
            const list = e.exprKind.value;
            if (list.optionalIndices.length > 0) {
                fail(ctx, "optional list elements are not provided by this evaluator");
            }
            checkHomogeneous(ctx, list.elements.map(constKind), "list");
            for (const x of list.elements) {
                check(ctx, x, scope);
            }
            return;
        }
        case "structExpr": {
            const s = e.exprKind.value;
            if (s.messageName !== "") {
                fail(ctx, `message construction ${s.messageName}{} is not available in Kubernetes`);
            }
            const keys: (string | undefined)[] = [];
            const values: (string | undefined)[] = [];
            for (const entry of s.entries) {
                if (entry.optionalEntry) {
                    fail(ctx, "optional map entries are not provided by this evaluator");
                }
                if (entry.keyKind.case === "mapKey") {
                    keys.push(constKind(entry.keyKind.value));
                    check(ctx, entry.keyKind.value, scope);
                }
                if (entry.value) {
                    values.push(constKind(entry.value));
                    check(ctx, entry.value, scope);
                }
            }
            checkHomogeneous(ctx, keys, "map key");
            checkHomogeneous(ctx, values, "map value");
            return;
        }
        case "comprehensionExpr": {
            const c = e.exprKind.value;
            if (c.iterRange) check(ctx, c.iterRange, scope);
            if (c.accuInit) check(ctx, c.accuInit, scope);
            const inner = new Set([...scope, c.iterVar, c.accuVar]);
            if (c.iterVar2 !== "") {
                inner.add(c.iterVar2);
            }
            for (const x of [c.loopCondition, c.loopStep, c.result]) {
                if (x) check(ctx, x, inner);
            }
            return;
        }
        case "constExpr":
            return;
        default:
            fail(ctx, `unsupported expression ${String(e.exprKind.case)}`);
    }
}

/** The escapes cel-go's lexer accepts in a non-raw string literal (CEL language definition). */
const celEscape =
    /^(?:[abfnrtv\\'"`?]|[0-3][0-7]{2}|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})/;

/**
 * The first escape in a non-raw string literal that cel-go refuses (the API server answers
 * "token recognition error"), or undefined. @bufbuild/cel accepts some of them, e.g. `\.`.
 */
export function invalidStringEscape(source: string): string | undefined {
    for (let i = 0; i < source.length; i++) {
        const c = source[i];
        if (c !== "'" && c !== '"') {
            continue;
        }
        const raw = i > 0 && /[rR]/.test(source[i - 1]) && (i < 2 || !/\w/.test(source[i - 2]));
        const quote = source.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
        let j = i + quote.length;
        while (j < source.length && !source.startsWith(quote, j)) {
            if (source[j] === "\\") {
                if (!raw && !celEscape.test(source.slice(j + 1))) {
                    return source.slice(j, j + 2);
                }
                j += 2;
            } else {
                j++;
            }
        }
        i = j + quote.length - 1;
    }
    return undefined;
}

function compile(ctx: CompileContext, source: unknown): Compiled {
    if (typeof source !== "string" || source.trim() === "") {
        fail(ctx, "expression must be a non-empty string");
    }
    const badEscape = invalidStringEscape(source);
    if (badEscape !== undefined) {
        fail(ctx, `compilation failed: invalid escape ${badEscape} in a string literal`);
    }
    let parsed;
    try {
        parsed = parse(source);
    } catch (e) {
        fail(ctx, `compilation failed: ${(e as Error).message}`);
    }
    if (!parsed.expr) {
        fail(ctx, "compilation failed: empty expression");
    }
    check(ctx, parsed.expr, new Set());
    let run = planned.get(source);
    if (run === undefined) {
        run = plan(env, parsed) as (bindings: Record<string, unknown>) => CelResult;
        planned.set(source, run);
    }
    return { source, run };
}

// --- matching ----------------------------------------------------------------------------

interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** metav1.LabelSelectorAsSelector + Matches; undefined or `{}` selects everything. */
export function selectorMatches(
    selector: LabelSelector | undefined,
    labels: Readonly<Record<string, string>> | undefined,
): boolean {
    const have = labels ?? {};
    for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) {
        if (have[k] !== v) {
            return false;
        }
    }
    for (const req of selector?.matchExpressions ?? []) {
        const values = req.values ?? [];
        const present = Object.prototype.hasOwnProperty.call(have, req.key);
        switch (req.operator) {
            case "In":
            case "NotIn":
                if (values.length === 0) {
                    throw new Error(`label selector ${req.key} ${req.operator} needs values`);
                }
                if ((req.operator === "In") !== (present && values.includes(have[req.key]))) {
                    return false;
                }
                break;
            case "Exists":
            case "DoesNotExist":
                if (values.length > 0) {
                    throw new Error(`label selector ${req.key} ${req.operator} takes no values`);
                }
                if ((req.operator === "Exists") !== present) {
                    return false;
                }
                break;
            default:
                throw new Error(`label selector operator ${req.operator} is not valid`);
        }
    }
    return true;
}

interface NamedRule {
    operations?: string[];
    apiGroups?: string[];
    apiVersions?: string[];
    resources?: string[];
    scope?: string;
    resourceNames?: string[];
}

interface MatchResources {
    namespaceSelector?: LabelSelector;
    objectSelector?: LabelSelector;
    resourceRules?: NamedRule[];
    excludeResourceRules?: NamedRule[];
    matchPolicy?: string;
}

const exactOrWildcard = (items: readonly string[] | undefined, v: string) =>
    (items ?? []).some((i) => i === "*" || i === v);

/** webhook/predicates/rules Matcher.Matches plus resourceNames (matching.matchesResourceRules). */
function ruleMatches(rule: NamedRule, a: AdmissionAttributes): boolean {
    const ns = a.namespace ?? "";
    const isNamespaceObject = a.resource.group === "" && a.resource.resource === "namespaces";
    const scope = rule.scope ?? "*";
    const scopeOk =
        scope === "*" ||
        (scope === "Namespaced" && !isNamespaceObject && ns !== "") ||
        (scope === "Cluster" && (isNamespaceObject || ns === ""));
    const opOk = (rule.operations ?? []).some((o) => o === "*" || o === a.operation);
    const sub = a.subResource ?? "";
    const resOk = (rule.resources ?? []).some((r) => {
        const [res, s = ""] = r.split(/\/(.*)/s);
        return (res === "*" || res === a.resource.resource) && (s === "*" || s === sub);
    });
    if (
        !(
            scopeOk &&
            opOk &&
            exactOrWildcard(rule.apiGroups, a.resource.group) &&
            exactOrWildcard(rule.apiVersions, a.resource.version) &&
            resOk
        )
    ) {
        return false;
    }
    return (rule.resourceNames ?? []).length === 0 || rule.resourceNames!.includes(a.name ?? "");
}

// --- the evaluator -----------------------------------------------------------------------

interface CompiledPolicy {
    readonly name: string;
    readonly spec: Record<string, any>;
    readonly failurePolicy: "Fail" | "Ignore";
    readonly variables: readonly { name: string; expr: Compiled }[];
    readonly matchConditions: readonly { name: string; expr: Compiled }[];
    readonly validations: readonly {
        expr: Compiled;
        message?: string;
        messageExpression?: Compiled;
        reason: string;
    }[];
    readonly auditAnnotations: readonly { key: string; expr: Compiled }[];
}

const reasonCodes: Record<string, number> = {
    Forbidden: 403,
    Unauthorized: 401,
    RequestEntityTooLarge: 413,
    Invalid: 422,
};

/** Scope of built-in kinds that can serve as params (`<apiVersion>/<kind>` → namespaced). */
const builtinParamScopes: Record<string, boolean> = {
    "v1/ConfigMap": true,
    "v1/Secret": true,
    "v1/Namespace": false,
};

const configurationKinds = new Set([
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
]);

/**
 * The API server's ValidatingAdmissionPolicy plugin over a fixed set of objects: the policies
 * and bindings to enforce, the Namespaces requests may name, and any param objects. Throws on
 * construction when a policy would not compile in the API server.
 */
/**
 * A Namespace as the API server stores it: it always sets the immutable label
 * `kubernetes.io/metadata.name` to the name (NamespaceDefaultLabelName, GA in 1.22), so selectors
 * on it (`namespaceSelector.matchLabels`) match namespaces whose manifests do not carry it.
 */
function withNameLabel(ns: K8sObject): K8sObject {
    const name = ns.metadata.name ?? "";
    return {
        ...ns,
        metadata: {
            ...ns.metadata,
            labels: { ...(ns.metadata.labels ?? {}), "kubernetes.io/metadata.name": name },
        },
    };
}

export class AdmissionEvaluator {
    private readonly policies: CompiledPolicy[] = [];
    private readonly bindings: K8sObject[] = [];
    private readonly namespaces = new Map<string, K8sObject>();
    private readonly others: K8sObject[] = [];

    constructor(
        objects: readonly K8sObject[],
        private readonly options: EvaluatorOptions = {},
    ) {
        for (const o of objects) {
            if (o.kind === "ValidatingAdmissionPolicy") {
                this.policies.push(compilePolicy(o));
            } else if (o.kind === "ValidatingAdmissionPolicyBinding") {
                const spec = o.spec as Record<string, any> | undefined;
                if (typeof spec?.policyName !== "string" || spec.policyName === "") {
                    throw new Error(`binding ${o.metadata.name}: spec.policyName is required`);
                }
                const actions: unknown = spec.validationActions;
                if (
                    !Array.isArray(actions) ||
                    actions.length === 0 ||
                    actions.some((x) => !["Deny", "Warn", "Audit"].includes(x as string)) ||
                    (actions.includes("Deny") && actions.includes("Warn"))
                ) {
                    throw new Error(
                        `binding ${o.metadata.name}: validationActions must be a non-empty set of Deny, Warn, Audit (not Deny with Warn)`,
                    );
                }
                this.bindings.push(o);
            } else if (o.kind === "Namespace" && o.apiVersion === "v1") {
                this.namespaces.set(o.metadata.name ?? "", withNameLabel(o));
            } else {
                this.others.push(o);
            }
        }
    }

    /** Names of the policies this evaluator enforces. */
    policyNames(): string[] {
        return this.policies.map((p) => p.name);
    }

    /** Number of CEL expressions compiled (variables, conditions, validations, messages). */
    expressionCount(): number {
        return this.policies.reduce(
            (n, p) =>
                n +
                p.variables.length +
                p.matchConditions.length +
                p.validations.length +
                p.validations.filter((v) => v.messageExpression).length +
                p.auditAnnotations.length,
            0,
        );
    }

    /** Admits or refuses one request. */
    admit(a: AdmissionAttributes): AdmissionResult {
        const denials: PolicyDecision[] = [];
        const warnings: string[] = [];
        const audited: PolicyDecision[] = [];
        const auditAnnotations: Record<string, string> = {};
        if (
            a.kind.group === "admissionregistration.k8s.io" &&
            configurationKinds.has(a.kind.kind)
        ) {
            return { allowed: true, denials, warnings, audited, auditAnnotations };
        }
        const configError = (p: CompiledPolicy, binding: string | undefined, err: string) => {
            if (p.failurePolicy === "Fail") {
                denials.push({
                    policy: p.name,
                    binding,
                    evaluation: "error",
                    message: `failed to configure ${binding === undefined ? "policy" : "binding"}: ${err}`,
                    reason: "Invalid",
                });
            }
        };
        for (const p of this.policies) {
            let matches: boolean;
            try {
                matches = this.matches(p.spec.matchConstraints, a, true);
            } catch (e) {
                configError(p, undefined, (e as Error).message);
                continue;
            }
            if (!matches) {
                continue;
            }
            for (const b of this.bindings.filter(
                (x) => (x.spec as Record<string, unknown>).policyName === p.name,
            )) {
                const bspec = b.spec as Record<string, any>;
                const bname = b.metadata.name ?? "";
                let params: (K8sObject | null)[];
                try {
                    if (
                        bspec.matchResources !== undefined &&
                        !this.matches(bspec.matchResources, a, false)
                    ) {
                        continue;
                    }
                    params = this.collectParams(
                        p.spec.paramKind,
                        bspec.paramRef,
                        a.namespace ?? "",
                    );
                } catch (e) {
                    configError(p, bname, (e as Error).message);
                    continue;
                }
                for (const param of params) {
                    const r = this.validate(p, a, param);
                    for (const d of r.decisions) {
                        const decision = { ...d, policy: p.name, binding: bname };
                        const actions: string[] = bspec.validationActions;
                        if (actions.includes("Deny")) denials.push(decision);
                        if (actions.includes("Warn")) {
                            warnings.push(
                                `Validation failed for ValidatingAdmissionPolicy '${p.name}' with binding '${bname}': ${d.message}`,
                            );
                        }
                        if (actions.includes("Audit")) audited.push(decision);
                    }
                    for (const [k, v] of Object.entries(r.annotations)) {
                        auditAnnotations[`${p.name}/${k}`] = v;
                    }
                    denials.push(
                        ...r.annotationErrors.map((m) => ({
                            policy: p.name,
                            binding: bname,
                            evaluation: "error" as const,
                            message: m,
                            reason: "Invalid",
                        })),
                    );
                }
            }
        }
        if (denials.length === 0) {
            return { allowed: true, denials, warnings, audited, auditAnnotations };
        }
        const first = denials[0];
        const message =
            first.binding === undefined
                ? `ValidatingAdmissionPolicy '${first.policy}' denied request: ${first.message}`
                : `ValidatingAdmissionPolicy '${first.policy}' with binding '${first.binding}' denied request: ${first.message}`;
        return {
            allowed: false,
            status: {
                message,
                reason: first.reason,
                code: reasonCodes[first.reason] ?? 422,
            },
            denials,
            warnings,
            audited,
            auditAnnotations,
        };
    }

    private namespaceLabels(a: AdmissionAttributes): Record<string, string> | undefined {
        if (
            a.resource.group === "" &&
            a.resource.resource === "namespaces" &&
            (a.subResource ?? "") === "" &&
            (a.operation === "CREATE" || a.operation === "UPDATE")
        ) {
            return a.object ? withNameLabel(a.object).metadata.labels : undefined;
        }
        const ns = this.namespaces.get(a.namespace ?? "");
        if (ns === undefined) {
            // The API server answers 404 for the whole request: the test is missing a Namespace.
            throw new Error(
                `namespaces "${a.namespace}" not found (give the evaluator the Namespace)`,
            );
        }
        return ns.metadata.labels;
    }

    /**
     * matching.Matcher.Matches for a policy's matchConstraints or a binding's matchResources. A
     * selector error (such as an unknown namespace) counts only when the rules match.
     */
    private matches(
        mr: MatchResources | undefined,
        a: AdmissionAttributes,
        policy: boolean,
    ): boolean {
        if (mr === undefined) {
            if (policy) {
                throw new Error("policy contained no match constraints, a required field");
            }
            return true;
        }
        let selectorError: Error | undefined;
        const selects = (f: () => boolean) => {
            try {
                return f();
            } catch (e) {
                selectorError ??= e as Error;
                return true;
            }
        };
        const clusterScoped = (a.namespace ?? "") === "" && a.resource.resource !== "namespaces";
        const nsOk =
            clusterScoped ||
            mr.namespaceSelector === undefined ||
            selects(() => selectorMatches(mr.namespaceSelector, this.namespaceLabels(a)));
        if (!nsOk) {
            return false;
        }
        const objOk =
            mr.objectSelector === undefined ||
            Object.keys(mr.objectSelector).length === 0 ||
            selects(
                () =>
                    (a.object != null &&
                        selectorMatches(mr.objectSelector, a.object.metadata.labels)) ||
                    (a.oldObject != null &&
                        selectorMatches(mr.objectSelector, a.oldObject.metadata.labels)),
            );
        if (!objOk) {
            return false;
        }
        if ((mr.excludeResourceRules ?? []).some((r) => ruleMatches(r, a))) {
            return false;
        }
        const rules = mr.resourceRules ?? [];
        if (rules.length > 0 && !rules.some((r) => ruleMatches(r, a))) {
            return false;
        }
        if (selectorError !== undefined) {
            throw selectorError;
        }
        return true;
    }

    /** generic.CollectParams. */
    private collectParams(
        paramKind: { apiVersion: string; kind: string } | undefined,
        paramRef: Record<string, any> | undefined,
        namespace: string,
    ): (K8sObject | null)[] {
        if (paramKind === undefined || paramRef === undefined) {
            return [null];
        }
        const key = `${paramKind.apiVersion}/${paramKind.kind}`;
        const namespaced = this.options.paramScopes?.[key] ?? builtinParamScopes[key];
        if (namespaced === undefined) {
            throw new Error(`paramKind kind \`${key}\` not known`);
        }
        let candidates = this.others.filter(
            (o) => o.apiVersion === paramKind.apiVersion && o.kind === paramKind.kind,
        );
        if (namespaced) {
            const ns = paramRef.namespace || namespace;
            if (!ns) {
                throw new Error(
                    "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources",
                );
            }
            candidates = candidates.filter((o) => o.metadata.namespace === ns);
        } else if (paramRef.namespace) {
            throw new Error(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`",
            );
        }
        let params: K8sObject[];
        if (paramRef.name) {
            if (paramRef.selector !== undefined) {
                throw new Error("paramRef.name and paramRef.selector are mutually exclusive");
            }
            params = candidates.filter((o) => o.metadata.name === paramRef.name);
        } else if (paramRef.selector !== undefined) {
            params = candidates.filter((o) =>
                selectorMatches(paramRef.selector, o.metadata.labels),
            );
        } else {
            throw new Error("one of name or selector must be provided");
        }
        if (params.length === 0 && paramRef.parameterNotFoundAction === "Deny") {
            throw new Error(
                "no params found for policy binding with `Deny` parameterNotFoundAction",
            );
        }
        return params;
    }

    /** validating.validator.Validate for one (policy, binding, param). */
    private validate(
        p: CompiledPolicy,
        a: AdmissionAttributes,
        param: K8sObject | null,
    ): {
        decisions: Omit<PolicyDecision, "policy" | "binding">[];
        annotations: Record<string, string>;
        annotationErrors: string[];
    } {
        const namespaceObject =
            (a.namespace ?? "") !== "" && a.kind.kind !== "Namespace"
                ? namespaceForCel(this.namespaces.get(a.namespace!))
                : null;
        const base = {
            object: a.object == null ? null : toCel(a.object),
            oldObject: a.oldObject == null ? null : toCel(a.oldObject),
            request: toCel(requestForCel(a)),
            params: param === null ? null : toCel(param),
        };
        const bindings = (withNamespace: boolean) => {
            const b: Record<string, unknown> = {
                ...base,
                namespaceObject: withNamespace ? namespaceObject : null,
            };
            const memo = new Map<string, CelResult>();
            for (const v of p.variables) {
                Object.defineProperty(b, `variables.${v.name}`, {
                    enumerable: true,
                    get: () => {
                        if (!memo.has(v.name)) {
                            memo.set(v.name, v.expr.run(b));
                        }
                        return memo.get(v.name);
                    },
                });
            }
            return b;
        };
        const decisions: Omit<PolicyDecision, "policy" | "binding">[] = [];
        const onError = (message: string) => {
            if (p.failurePolicy === "Fail") {
                decisions.push({ evaluation: "error", message, reason: "Invalid" });
            }
        };

        if (p.matchConditions.length > 0) {
            const b = bindings(false);
            const errors: string[] = [];
            for (const mc of p.matchConditions) {
                const r = mc.expr.run(b);
                if (isCelError(r)) {
                    errors.push(`expression '${mc.expr.source}' resulted in error: ${r.message}`);
                } else if (r === false) {
                    return { decisions: [], annotations: {}, annotationErrors: [] };
                }
            }
            if (errors.length > 0) {
                onError(errors.join(", "));
                return { decisions, annotations: {}, annotationErrors: [] };
            }
        }

        const b = bindings(true);
        p.validations.forEach((v, i) => {
            const r = v.expr.run(b);
            if (isCelError(r)) {
                onError(`expression '${v.expr.source}' resulted in error: ${r.message}`);
                return;
            }
            if (r === true) {
                return;
            }
            let message = "";
            if (v.messageExpression) {
                const m = v.messageExpression.run(b);
                if (!isCelError(m) && typeof m === "string") {
                    message = m.trim();
                    if (message.length > 5 * 1024 || message.includes("\n")) {
                        message = "";
                    }
                }
            }
            if (message === "" && v.message) {
                message = v.message.trim();
            }
            if (message === "") {
                message = `failed expression: ${v.expr.source.trim()}`;
            }
            decisions.push({ evaluation: "deny", message, reason: v.reason, validation: i });
        });

        const annotations: Record<string, string> = {};
        const annotationErrors: string[] = [];
        for (const aa of p.auditAnnotations) {
            const r = aa.expr.run(b);
            if (isCelError(r)) {
                if (p.failurePolicy === "Fail") annotationErrors.push(r.message);
            } else if (typeof r === "string") {
                if (r.trim() !== "") annotations[aa.key] = r.trim();
            } else if (r !== null) {
                annotationErrors.push(
                    `valueExpression '${aa.expr.source}' resulted in unsupported return type: ${JSON.stringify(fromCel(r))}. Return type must be either string or null.`,
                );
            }
        }
        return { decisions, annotations, annotationErrors };
    }
}

/** cel.CreateNamespaceObject: the fields of a Namespace a policy may read. */
function namespaceForCel(ns: K8sObject | undefined): unknown {
    if (ns === undefined) {
        return null;
    }
    const m = ns.metadata;
    const keep = [
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "finalizers",
    ];
    return toCel({
        metadata: Object.fromEntries(Object.entries(m).filter(([k]) => keep.includes(k))),
        spec: ns.spec ?? {},
        status: ns.status ?? {},
    });
}

/** cel.CreateAdmissionRequest, converted the way DefaultUnstructuredConverter does (omitempty). */
function requestForCel(a: AdmissionAttributes): Record<string, unknown> {
    const omitEmpty = (o: Record<string, unknown>) =>
        Object.fromEntries(
            Object.entries(o).filter(
                ([, v]) =>
                    v !== undefined &&
                    v !== "" &&
                    !(Array.isArray(v) && v.length === 0) &&
                    !(typeof v === "object" && v !== null && Object.keys(v).length === 0),
            ),
        );
    const defaultOptions: Record<string, string> = {
        CREATE: "CreateOptions",
        UPDATE: "UpdateOptions",
        DELETE: "DeleteOptions",
    };
    return {
        uid: "",
        kind: { ...a.kind },
        resource: { ...a.resource },
        ...omitEmpty({ subResource: a.subResource }),
        requestKind: { ...a.kind },
        requestResource: { ...a.resource },
        ...omitEmpty({
            requestSubResource: a.subResource,
            name: a.name,
            namespace: a.namespace,
        }),
        operation: a.operation,
        userInfo: omitEmpty({
            username: a.userInfo.username,
            uid: a.userInfo.uid,
            groups: a.userInfo.groups ? [...a.userInfo.groups] : undefined,
            extra: a.userInfo.extra,
        }),
        dryRun: a.dryRun ?? false,
        ...(a.options !== undefined
            ? { options: a.options }
            : defaultOptions[a.operation]
              ? { options: { kind: defaultOptions[a.operation], apiVersion: "meta.k8s.io/v1" } }
              : {}),
    };
}

function compilePolicy(o: K8sObject): CompiledPolicy {
    const name = o.metadata.name ?? "";
    const spec = (o.spec ?? {}) as Record<string, any>;
    const hasParams = spec.paramKind !== undefined;
    if (((spec.matchConstraints?.resourceRules ?? []) as unknown[]).length === 0) {
        throw new PolicyCompileError(
            `policy ${name}: spec.matchConstraints.resourceRules is required`,
        );
    }
    const failurePolicy = spec.failurePolicy ?? "Fail";
    if (failurePolicy !== "Fail" && failurePolicy !== "Ignore") {
        throw new PolicyCompileError(`policy ${name}: failurePolicy must be Fail or Ignore`);
    }
    const declared = new Set<string>();
    const variables = ((spec.variables ?? []) as { name: string; expression: string }[]).map(
        (v, i) => {
            const where = `policy ${name} spec.variables[${i}] (${v.name})`;
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name ?? "") || declared.has(v.name)) {
                throw new PolicyCompileError(`${where}: name must be a unique CEL identifier`);
            }
            const expr = compile(
                { where, kind: "variable", hasParams, variables: new Set(declared) },
                v.expression,
            );
            declared.add(v.name);
            return { name: v.name, expr };
        },
    );
    const ctx = (where: string, kind: ExpressionKind): CompileContext => ({
        where: `policy ${name} ${where}`,
        kind,
        hasParams,
        variables: declared,
    });
    const matchConditions = ((spec.matchConditions ?? []) as Record<string, string>[]).map(
        (m, i) => ({
            name: m.name,
            expr: compile(
                ctx(`spec.matchConditions[${i}] (${m.name})`, "matchCondition"),
                m.expression,
            ),
        }),
    );
    const validations = ((spec.validations ?? []) as Record<string, string>[]).map((v, i) => ({
        expr: compile(ctx(`spec.validations[${i}].expression`, "validation"), v.expression),
        message: v.message,
        messageExpression:
            v.messageExpression === undefined
                ? undefined
                : compile(
                      ctx(`spec.validations[${i}].messageExpression`, "message"),
                      v.messageExpression,
                  ),
        reason: v.reason ?? "Invalid",
    }));
    const auditAnnotations = ((spec.auditAnnotations ?? []) as Record<string, string>[]).map(
        (x, i) => ({
            key: x.key,
            expr: compile(ctx(`spec.auditAnnotations[${i}]`, "audit"), x.valueExpression),
        }),
    );
    if (validations.length === 0 && auditAnnotations.length === 0) {
        throw new PolicyCompileError(
            `policy ${name}: validations or auditAnnotations must contain at least one item`,
        );
    }
    return {
        name,
        spec,
        failurePolicy,
        variables,
        matchConditions,
        validations,
        auditAnnotations,
    };
}

// --- requests ----------------------------------------------------------------------------

/** Resources of the kinds the suites send, as the API server serves them. */
const kindResources: Readonly<Record<string, GroupVersionResource & { namespaced: boolean }>> = {
    "v1/Pod": { group: "", version: "v1", resource: "pods", namespaced: true },
    "v1/ConfigMap": { group: "", version: "v1", resource: "configmaps", namespaced: true },
    "v1/Secret": { group: "", version: "v1", resource: "secrets", namespaced: true },
    "v1/Service": { group: "", version: "v1", resource: "services", namespaced: true },
    "v1/ReplicationController": {
        group: "",
        version: "v1",
        resource: "replicationcontrollers",
        namespaced: true,
    },
    "v1/Namespace": { group: "", version: "v1", resource: "namespaces", namespaced: false },
    "apps/v1/Deployment": {
        group: "apps",
        version: "v1",
        resource: "deployments",
        namespaced: true,
    },
    "apps/v1/StatefulSet": {
        group: "apps",
        version: "v1",
        resource: "statefulsets",
        namespaced: true,
    },
    "apps/v1/DaemonSet": { group: "apps", version: "v1", resource: "daemonsets", namespaced: true },
    "apps/v1/ReplicaSet": {
        group: "apps",
        version: "v1",
        resource: "replicasets",
        namespaced: true,
    },
    "batch/v1/Job": { group: "batch", version: "v1", resource: "jobs", namespaced: true },
    "batch/v1/CronJob": { group: "batch", version: "v1", resource: "cronjobs", namespaced: true },
    "rbac.authorization.k8s.io/v1/Role": {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        resource: "roles",
        namespaced: true,
    },
};

/** What a request changes and who sends it. */
export interface RequestOptions {
    readonly user?: UserInfo;
    readonly subResource?: string;
    readonly oldObject?: K8sObject;
    readonly dryRun?: boolean;
}

/** A user that is no platform identity (for requests where who asks does not matter). */
export const someUser: UserInfo = {
    username: "alice@example.com",
    groups: ["system:authenticated"],
};

/** The attributes of a request on `object` (DELETE: `object` is the object being deleted). */
export function request(
    operation: AdmissionAttributes["operation"],
    object: K8sObject,
    opts: RequestOptions = {},
): AdmissionAttributes {
    const key = `${object.apiVersion}/${object.kind}`;
    const res = kindResources[key];
    if (res === undefined) {
        throw new Error(`no resource known for ${key}; add it to test/support/admission.ts`);
    }
    const [group, version] = object.apiVersion.includes("/")
        ? object.apiVersion.split("/")
        : ["", object.apiVersion];
    if (operation === "UPDATE" && opts.oldObject === undefined) {
        throw new Error("an UPDATE needs the oldObject");
    }
    return {
        operation,
        resource: { group: res.group, version: res.version, resource: res.resource },
        subResource: opts.subResource,
        kind: { group, version, kind: object.kind },
        namespace: res.namespaced
            ? (object.metadata.namespace ?? "default")
            : object.kind === "Namespace"
              ? object.metadata.name
              : "",
        name: object.metadata.name,
        object: operation === "DELETE" ? null : object,
        oldObject: operation === "DELETE" ? object : operation === "UPDATE" ? opts.oldObject : null,
        userInfo: opts.user ?? someUser,
        dryRun: opts.dryRun,
    };
}

/** A deep copy of JSON data. */
export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v)) as T;
}
