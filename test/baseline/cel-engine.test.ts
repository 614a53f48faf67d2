/**
 * The in-process admission evaluator (test/support/admission.ts) behaves like the API server's
 * ValidatingAdmissionPolicy plugin (k8s.io/apiserver v0.34.2) on small policies written for each
 * rule, so the suites that use it can trust its verdicts: matching, conditions, lazy variables,
 * failure policy, messages, actions, params, and loud refusal of what it cannot evaluate.
 */
import { strict as assert } from "assert";
import {
    AdmissionEvaluator,
    K8sObject,
    clone,
    invalidStringEscape,
    request,
    someUser,
} from "../support/admission";

const ns = (name: string, labels: Record<string, string> = {}): K8sObject => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels },
});

const pod = (namespace: string, labels: Record<string, string> = {}): K8sObject => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace, labels },
    spec: { containers: [{ name: "app", image: "registry.example/app@sha256:00", ports: [] }] },
});

const podRules = [
    {
        apiGroups: [""],
        apiVersions: ["v1"],
        operations: ["CREATE", "UPDATE"],
        resources: ["pods"],
    },
];

function policy(name: string, spec: Record<string, unknown>): K8sObject {
    return {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicy",
        metadata: { name },
        spec: { failurePolicy: "Fail", matchConstraints: { resourceRules: podRules }, ...spec },
    };
}

function binding(name: string, policyName: string, spec: Record<string, unknown> = {}): K8sObject {
    return {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicyBinding",
        metadata: { name },
        spec: { policyName, validationActions: ["Deny"], ...spec },
    };
}

const deny = (expression: string, message = "denied") => ({
    validations: [{ expression, message }],
});

/** An evaluator with one policy (bound with Deny) and namespaces `a` (team=x) and `b`. */
function one(spec: Record<string, unknown>, bindingSpec: Record<string, unknown> = {}) {
    return new AdmissionEvaluator([
        ns("a", { team: "x" }),
        ns("b"),
        policy("p", spec),
        binding("p", "p", bindingSpec),
    ]);
}

describe("admission evaluator: matching", () => {
    it("matches operations, groups, versions and resources; subresources only when named", () => {
        const ev = one({
            ...deny("false"),
            matchConstraints: {
                resourceRules: [
                    {
                        apiGroups: [""],
                        apiVersions: ["v1"],
                        operations: ["CREATE"],
                        resources: ["pods", "pods/ephemeralcontainers"],
                    },
                ],
            },
        });
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, false);
        const p = pod("a");
        assert.equal(ev.admit(request("UPDATE", p, { oldObject: p })).allowed, true);
        assert.equal(ev.admit(request("DELETE", p)).allowed, true);
        const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "a" } };
        assert.equal(ev.admit(request("CREATE", cm)).allowed, true);
        // pods/status and pods/exec are other resources than pods and pods/ephemeralcontainers
        const sub = (subResource: string) =>
            ev.admit({ ...request("CREATE", p, { subResource }) }).allowed;
        assert.equal(sub("ephemeralcontainers"), false);
        assert.equal(sub("status"), true);
        assert.equal(sub("exec"), true);
    });

    it("knows the `*`, `*/sub` and `res/*` forms, scope and resourceNames", () => {
        const rule = (r: Record<string, unknown>) =>
            one({
                ...deny("false"),
                matchConstraints: {
                    resourceRules: [
                        { apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], ...r },
                    ],
                },
            });
        const p = pod("a");
        const status = request("UPDATE", p, { oldObject: p, subResource: "status" });
        assert.equal(rule({ resources: ["*"] }).admit(status).allowed, true, "* is no subresource");
        assert.equal(rule({ resources: ["*/*"] }).admit(status).allowed, false);
        assert.equal(rule({ resources: ["*/status"] }).admit(status).allowed, false);
        assert.equal(rule({ resources: ["pods/*"] }).admit(status).allowed, false);
        assert.equal(
            rule({ resources: ["pods/*"] }).admit(request("CREATE", p)).allowed,
            false,
            "res/* covers the resource itself too (rules.go subMatch)",
        );
        const nsObj = ns("c");
        assert.equal(
            rule({ resources: ["*"], scope: "Namespaced" }).admit(request("CREATE", nsObj)).allowed,
            true,
            "a Namespace is cluster-scoped although its request names a namespace",
        );
        assert.equal(
            rule({ resources: ["*"], scope: "Cluster" }).admit(request("CREATE", nsObj)).allowed,
            false,
        );
        assert.equal(
            rule({ resources: ["*"], scope: "Cluster" }).admit(request("CREATE", p)).allowed,
            true,
        );
        const named = rule({ resources: ["pods"], resourceNames: ["other"] });
        assert.equal(named.admit(request("CREATE", p)).allowed, true);
        assert.equal(
            named.admit(request("CREATE", { ...p, metadata: { ...p.metadata, name: "other" } }))
                .allowed,
            false,
        );
    });

    it("selects namespaces by their labels, exempts nothing cluster-scoped, reads a Namespace's own labels", () => {
        const ev = one({
            ...deny("false"),
            matchConstraints: {
                namespaceSelector: {
                    matchExpressions: [{ key: "team", operator: "In", values: ["x"] }],
                },
                resourceRules: [
                    {
                        apiGroups: ["", "rbac.authorization.k8s.io"],
                        apiVersions: ["v1"],
                        operations: ["CREATE"],
                        resources: ["pods", "namespaces"],
                    },
                ],
            },
        });
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, false, "team=x");
        assert.equal(ev.admit(request("CREATE", pod("b"))).allowed, true, "no team label");
        assert.equal(ev.admit(request("CREATE", ns("new", { team: "x" }))).allowed, false);
        assert.equal(ev.admit(request("CREATE", ns("new"))).allowed, true);
        const missing = ev.admit(request("CREATE", pod("missing")));
        assert.equal(missing.allowed, false);
        assert.match(
            missing.status!.message,
            /failed to configure policy: namespaces "missing" not found/,
        );
    });

    it("applies NotIn / DoesNotExist to absent labels the way label selectors do", () => {
        const sel = (matchExpressions: unknown[]) =>
            one({
                ...deny("false"),
                matchConstraints: {
                    namespaceSelector: { matchExpressions },
                    resourceRules: podRules,
                },
            });
        assert.equal(
            sel([{ key: "team", operator: "NotIn", values: ["x"] }]).admit(
                request("CREATE", pod("b")),
            ).allowed,
            false,
        );
        assert.equal(
            sel([{ key: "team", operator: "NotIn", values: ["x"] }]).admit(
                request("CREATE", pod("a")),
            ).allowed,
            true,
        );
        assert.equal(
            sel([{ key: "team", operator: "DoesNotExist" }]).admit(request("CREATE", pod("b")))
                .allowed,
            false,
        );
        assert.equal(
            sel([{ key: "team", operator: "Exists" }]).admit(request("CREATE", pod("b"))).allowed,
            true,
        );
    });

    it("matches objectSelector on the object or the old object; excludeResourceRules win", () => {
        const ev = one({
            ...deny("false"),
            matchConstraints: {
                objectSelector: { matchLabels: { guarded: "yes" } },
                resourceRules: podRules,
            },
        });
        const plain = pod("a");
        const guarded = pod("a", { guarded: "yes" });
        assert.equal(ev.admit(request("CREATE", plain)).allowed, true);
        assert.equal(ev.admit(request("CREATE", guarded)).allowed, false);
        assert.equal(
            ev.admit(request("UPDATE", plain, { oldObject: guarded })).allowed,
            false,
            "removing the label in the same update does not escape",
        );
        const excluded = one({
            ...deny("false"),
            matchConstraints: {
                resourceRules: podRules,
                excludeResourceRules: [
                    {
                        apiGroups: [""],
                        apiVersions: ["v1"],
                        operations: ["*"],
                        resources: ["pods"],
                        resourceNames: ["p"],
                    },
                ],
            },
        });
        assert.equal(excluded.admit(request("CREATE", plain)).allowed, true);
    });

    it("narrows by the binding's matchResources and never judges policies or bindings", () => {
        const ev = one(deny("false"), {
            matchResources: { namespaceSelector: { matchLabels: { team: "x" } } },
        });
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, false);
        assert.equal(ev.admit(request("CREATE", pod("b"))).allowed, true);
        const everything = one({
            ...deny("false"),
            matchConstraints: {
                resourceRules: [
                    { apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"] },
                ],
            },
        });
        const vap = policy("x", deny("true"));
        assert.equal(
            everything.admit({
                ...request("CREATE", pod("a")),
                kind: {
                    group: "admissionregistration.k8s.io",
                    version: "v1",
                    kind: "ValidatingAdmissionPolicy",
                },
                resource: {
                    group: "admissionregistration.k8s.io",
                    version: "v1",
                    resource: "validatingadmissionpolicies",
                },
                namespace: "",
                object: vap,
            }).allowed,
            true,
        );
    });
});

describe("admission evaluator: conditions, variables, failure policy", () => {
    it("skips the policy when any matchCondition is false, even if another errs", () => {
        const ev = one({
            ...deny("false"),
            matchConditions: [
                { name: "errs", expression: "object.nope == 1" },
                { name: "false", expression: "request.userInfo.username == 'bob'" },
            ],
        });
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, true);
    });

    it("applies failurePolicy when conditions err and none is false", () => {
        const spec = (failurePolicy: string) => ({
            ...deny("false"),
            failurePolicy,
            matchConditions: [{ name: "errs", expression: "object.nope == 1" }],
        });
        const fail = one(spec("Fail")).admit(request("CREATE", pod("a")));
        assert.equal(fail.allowed, false);
        assert.match(fail.status!.message, /no such key|field not found|nope/);
        assert.equal(one(spec("Ignore")).admit(request("CREATE", pod("a"))).allowed, true);
    });

    it("evaluates variables lazily: an erring variable that is not read does not matter", () => {
        const ev = one({
            variables: [
                { name: "bad", expression: "object.nope" },
                { name: "containers", expression: "object.spec.containers" },
                { name: "count", expression: "size(variables.containers)" },
            ],
            validations: [
                {
                    expression: "variables.count == 1 || variables.bad == 1",
                    message: "one container",
                },
            ],
        });
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, true);
        const two = pod("a");
        (two.spec as any).containers.push({ name: "b", image: "x" });
        const r = ev.admit(request("CREATE", two));
        assert.equal(r.allowed, false, "the erring variable is read now: an error under Fail");
        assert.equal(r.denials[0].evaluation, "error");
    });

    it("refuses variables that read later ones, undeclared names and functions it lacks", () => {
        const build = (spec: Record<string, unknown>) => () => one(spec);
        assert.throws(
            build({
                variables: [
                    { name: "a", expression: "variables.b" },
                    { name: "b", expression: "1" },
                ],
                ...deny("true"),
            }),
            /undeclared reference to 'variables.b'/,
        );
        assert.throws(build(deny("variables.x == 1")), /undeclared reference to 'variables.x'/);
        assert.throws(build(deny("params.x == 1")), /no paramKind/);
        assert.throws(build(deny("oops == 1")), /undeclared reference to 'oops'/);
        assert.throws(build(deny("authorizer.group('').check('get')")), /authorizer/);
        assert.throws(
            build(deny("quantity('1Gi').isGreaterThan(quantity('1'))")),
            /quantity\(\).*not provided.*quantity library/,
        );
        assert.throws(build(deny("object.spec.containers.isSorted()")), /isSorted.*lists library/);
        assert.throws(build(deny("sets.contains([1], [1])")), /sets\.contains/);
        assert.throws(build(deny("object.spec.containers.all(i, c, true)")), /two-variable/);
        assert.throws(build(deny("cel.bind(x, 1, x == 1)")), /cel\.bind/);
        assert.throws(build(deny("object.?spec.hasValue()")), /compilation failed/);
        assert.throws(build(deny("'a,b'.split(',').size() == 2")), /split/);
    });

    it("refuses string escapes the API server's CEL lexer refuses (kube-apiserver v1.34.2 did)", () => {
        // The rollout policy once escaped a dot with a backslash in a regex: kube-apiserver answered 422
        // "token recognition error"; the CEL engine alone accepted it.
        assert.throws(
            () => one(deny("'1.5'.matches('^1\\.5$')")),
            /invalid escape \\\. in a string/,
        );
        assert.doesNotThrow(() => one(deny("'1.5'.matches('^1[.]5$')")));
        assert.doesNotThrow(() => one(deny("'1.5'.matches('^1\\\\.5$')")));
        assert.doesNotThrow(() => one(deny("'1.5'.matches(r'^1\\.5$')")));
        assert.doesNotThrow(() => one(deny("'a\\'b\\n\\x41\\u00e9' != ''")));
        assert.equal(invalidStringEscape("\"don't\" == '\\d'"), "\\d");
    });

    it("refuses literals the API server refuses: mixed lists, bad regex and durations", () => {
        assert.throws(() => one(deny("1 in [1, 'a']")), /mixes element types/);
        assert.throws(() => one(deny("{'a': 1, 'b': 'c'}.size() == 2")), /map value literal mixes/);
        assert.throws(() => one(deny("'x'.matches('[')")), /invalid regex literal/);
        assert.throws(
            () => one(deny("duration('5 minutes') > duration('1s')")),
            /invalid duration literal/,
        );
        assert.throws(
            () => one({ ...deny("true"), matchConstraints: {} }),
            /resourceRules is required/,
        );
        assert.throws(
            () =>
                new AdmissionEvaluator([
                    policy("p", deny("true")),
                    binding("p", "p", { validationActions: ["Deny", "Warn"] }),
                ]),
            /not Deny with Warn/,
        );
    });

    it("treats JSON whole numbers as int and absent fields as absent", () => {
        const p = pod("a");
        (p.spec as any).containers[0].ports = [{ containerPort: 8080, hostPort: 0 }];
        (p.spec as any).hostNetwork = null;
        const ev = one(
            deny(
                "type(object.spec.containers[0].ports[0].containerPort) == int && " +
                    "object.spec.containers[0].ports[0].containerPort == 8080 && !has(object.spec.hostNetwork)",
            ),
        );
        assert.equal(ev.admit(request("CREATE", p)).allowed, true);
    });

    it("has `object` null on DELETE and `oldObject` null on CREATE", () => {
        const matchConstraints = {
            resourceRules: [{ ...podRules[0], operations: ["CREATE", "DELETE"] }],
        };
        const ev = one({
            ...deny(
                "request.operation == 'CREATE' ? oldObject == null && object.metadata.name == 'p' " +
                    ": object == null && oldObject.metadata.name == 'p'",
            ),
            matchConstraints,
        });
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, true);
        assert.equal(ev.admit(request("DELETE", pod("a"))).allowed, true);
        const del = one({ ...deny("object.metadata.name == 'p'"), matchConstraints }).admit(
            request("DELETE", pod("a")),
        );
        assert.equal(del.allowed, false, "a field of null is an error, failurePolicy Fail");
        assert.equal(del.denials[0].evaluation, "error");
    });

    it("builds `request` like the API server: empty subResource absent, user and namespace set", () => {
        const ev = one(
            deny(
                "!has(request.subResource) && request.namespace == 'a' && request.name == 'p' && " +
                    "request.userInfo.username == 'alice@example.com' && request.operation == 'CREATE' && " +
                    "request.kind.kind == 'Pod' && request.resource.resource == 'pods' && !request.dryRun",
            ),
        );
        assert.equal(ev.admit(request("CREATE", pod("a"), { user: someUser })).allowed, true);
    });

    it("gives namespaceObject to validations (labels of the request's namespace)", () => {
        const ev = one(deny("namespaceObject.metadata.labels.team == 'x'"));
        assert.equal(ev.admit(request("CREATE", pod("a"))).allowed, true);
        assert.equal(ev.admit(request("CREATE", pod("b"))).allowed, false);
    });
});

describe("admission evaluator: messages, actions, params", () => {
    it("uses messageExpression, falling back to message and then to the expression", () => {
        const ev = one({
            validations: [
                {
                    expression: "false",
                    messageExpression: "'pod ' + object.metadata.name + ' refused'",
                    message: "m1",
                    reason: "Forbidden",
                },
                { expression: "false", messageExpression: "object.nope", message: "m2" },
                { expression: "false", messageExpression: "'two\\nlines'", message: "m3" },
                { expression: "1 == 2" },
            ],
        });
        const r = ev.admit(request("CREATE", pod("a")));
        assert.deepEqual(
            r.denials.map((d) => d.message),
            ["pod p refused", "m2", "m3", "failed expression: 1 == 2"],
        );
        assert.equal(
            r.status!.message,
            "ValidatingAdmissionPolicy 'p' with binding 'p' denied request: pod p refused",
        );
        assert.equal(r.status!.reason, "Forbidden");
        assert.equal(r.status!.code, 403);
        assert.equal(r.denials[3].reason, "Invalid", "Invalid is the default reason");
    });

    it("denies anything that is not true, and Ignore admits evaluation errors", () => {
        assert.equal(one(deny("'yes'")).admit(request("CREATE", pod("a"))).allowed, false);
        const ignore = one({ ...deny("object.nope == 1"), failurePolicy: "Ignore" });
        assert.equal(ignore.admit(request("CREATE", pod("a"))).allowed, true);
    });

    it("warns or audits instead of denying per the binding's validationActions", () => {
        const warn = one(deny("false", "careful"), { validationActions: ["Warn", "Audit"] });
        const r = warn.admit(request("CREATE", pod("a")));
        assert.equal(r.allowed, true);
        assert.deepEqual(r.warnings, [
            "Validation failed for ValidatingAdmissionPolicy 'p' with binding 'p': careful",
        ]);
        assert.equal(r.audited.length, 1);
    });

    it("publishes audit annotations and refuses a non-string value under Fail", () => {
        const ev = one({
            validations: [{ expression: "true" }],
            auditAnnotations: [
                { key: "who", valueExpression: "request.userInfo.username" },
                { key: "none", valueExpression: "null" },
            ],
        });
        const r = ev.admit(request("CREATE", pod("a")));
        assert.equal(r.allowed, true);
        assert.deepEqual(r.auditAnnotations, { "p/who": "alice@example.com" });
        const bad = one({
            validations: [{ expression: "true" }],
            auditAnnotations: [{ key: "n", valueExpression: "1" }],
        });
        assert.equal(bad.admit(request("CREATE", pod("a"))).allowed, false);
    });

    it("evaluates once per param found by the binding's paramRef; a missing one denies only with Deny", () => {
        const limits = (name: string, namespace: string, max: string, labels = {}): K8sObject => ({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name, namespace, labels },
            data: { max },
        });
        const objects = (paramRef: Record<string, unknown>) => [
            ns("a"),
            policy("p", {
                paramKind: { apiVersion: "v1", kind: "ConfigMap" },
                validations: [
                    {
                        expression: "size(object.spec.containers) <= int(params.data.max)",
                        messageExpression: "'at most ' + params.data.max",
                    },
                ],
            }),
            binding("p", "p", { paramRef }),
            limits("one", "a", "1", { kind: "limit" }),
            limits("zero", "a", "0", { kind: "limit" }),
            limits("elsewhere", "b", "0"),
        ];
        const byName = new AdmissionEvaluator(
            objects({ name: "one", parameterNotFoundAction: "Deny" }),
        );
        assert.equal(byName.admit(request("CREATE", pod("a"))).allowed, true);
        const bySelector = new AdmissionEvaluator(
            objects({
                selector: { matchLabels: { kind: "limit" } },
                parameterNotFoundAction: "Allow",
            }),
        );
        const r = bySelector.admit(request("CREATE", pod("a")));
        assert.deepEqual(
            r.denials.map((d) => d.message),
            ["at most 0"],
        );
        const missing = (action: string) =>
            new AdmissionEvaluator(
                objects({ name: "nope", parameterNotFoundAction: action }),
            ).admit(request("CREATE", pod("a")));
        assert.equal(missing("Allow").allowed, true);
        assert.match(
            missing("Deny").status!.message,
            /failed to configure binding: no params found/,
        );
    });

    it("reports the first denial in the status and keeps every denial", () => {
        const ev = new AdmissionEvaluator([
            ns("a"),
            policy("first", deny("false", "one")),
            binding("first", "first"),
            policy("second", deny("false", "two")),
            binding("second", "second"),
        ]);
        const r = ev.admit(request("CREATE", clone(pod("a"))));
        assert.deepEqual(
            r.denials.map((d) => `${d.policy}:${d.message}`),
            ["first:one", "second:two"],
        );
        assert.match(r.status!.message, /'first'.*one/);
    });
});
