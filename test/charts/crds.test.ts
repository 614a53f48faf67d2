/**
 * The custom resources we render against the pinned CRDs (structural-schema semantics, see
 * structural.ts): cert-manager issuers and certificates, prometheus-operator monitors and rules,
 * External Secrets stores and secrets, the Tigera operator's Installation (from the chart values
 * the chart copies into it), and the Calico policies of the calico-enterprise engine.
 */
import { clusterIntentInputs } from "../support/stacks";
import { strict as assert } from "assert";
import Ajv, { ValidateFunction } from "ajv";
import { renderNetworkObjects } from "../../modules/k8s/network";
import { calicoCrdManifest } from "../../modules/k8s/network/calico-policy-only";
import { tigeraOperatorValues } from "../../modules/k8s/network/render-calico";
import { buildIntent } from "../../modules/k8s/network/intent";
import { okeCluster } from "../network/fixtures";
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { DeclaredObject, crd, declaredByStacks, requireChartsDir } from "./support";
import { externalSecretsErrors } from "./external-secrets";
import { structuralToJsonSchema } from "./structural";

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });

/** ajv's messages for `o` against `schema` (an openAPIV3Schema), or [] when it passes. */
function schemaErrors(schema: Record<string, any>, o: unknown): string[] {
    const validate: ValidateFunction = ajv.compile(structuralToJsonSchema(schema, o));
    if (validate(o)) return [];
    return (validate.errors ?? []).map(
        (e) =>
            `${e.instancePath || "/"} ${e.message}` +
            (e.params && "additionalProperty" in e.params
                ? ` (${String(e.params.additionalProperty)})`
                : ""),
    );
}

/** `<group>/<version>/<Kind>` of an object; Calico's v3 API is served from its v1 CRDs. */
function crdKey(o: { apiVersion: string; kind: string }): string {
    const [group, version] = o.apiVersion.split("/");
    return group === "projectcalico.org" && version === "v3"
        ? `crd.projectcalico.org/v1/${o.kind}`
        : `${group}/${version}/${o.kind}`;
}

/**
 * ajv's errors for `o` against its CRD, or undefined when the CRDs hold none for it. External
 * Secrets objects are checked by the `@kubernetes-models/external-secrets` v1 models instead: the
 * charts folder has no External Secrets CRD (see external-secrets.ts for what the models check).
 */
function crdErrors(o: Record<string, any>): string[] | undefined {
    if (String(o.apiVersion).startsWith("external-secrets.io/")) return externalSecretsErrors(o);
    const key = crdKey(o as { apiVersion: string; kind: string });
    const def = crd(key);
    return def === undefined ? undefined : schemaErrors(def.schema, o);
}

const label = (d: DeclaredObject) =>
    `${d.stack}/${d.cluster}: ${d.object.kind} ${d.object.metadata.namespace ?? ""}/${d.object.metadata.name}`;

const customGroups = [
    "cert-manager.io",
    "monitoring.coreos.com",
    "external-secrets.io",
    "projectcalico.org",
    "operator.tigera.io",
];
const isCustom = (o: Record<string, any>) =>
    customGroups.includes(String(o.apiVersion).split("/")[0]);

describe("charts: our custom resources against the pinned CRDs", function () {
    this.timeout(120000);
    let objects: readonly DeclaredObject[];
    before(async () => {
        objects = (await declaredByStacks()).objects.filter((d) => isCustom(d.object));
    });

    it("the structural semantics refuse an unknown field and a wrong int-or-string, and keep preserved ones", () => {
        const schema = {
            type: "object",
            properties: {
                spec: {
                    type: "object",
                    properties: {
                        port: { "x-kubernetes-int-or-string": true },
                        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                        empty: { type: "object" },
                        mode: { type: "string", pattern: "^(?i)(abort|warn)?$" },
                    },
                },
            },
        };
        const ok = (spec: unknown) =>
            schemaErrors(schema, { apiVersion: "x/v1", kind: "X", metadata: { name: "x" }, spec });
        assert.deepEqual(ok({ port: "http", free: { any: { thing: 1 } }, mode: "Warn" }), []);
        assert.deepEqual(ok({ port: 8080 }), []);
        assert.notDeepEqual(ok({ port: true }), [], "int-or-string admits a boolean");
        assert.notDeepEqual(ok({ typo: 1 }), [], "an unknown field passes");
        assert.notDeepEqual(ok({ empty: { a: 1 } }), [], "a field of a property-less object");
        assert.notDeepEqual(ok({ mode: "fail" }), [], "a Go (?i) pattern is not applied");
    });

    for (const group of customGroups.filter(
        (g) => !g.includes("tigera") && !g.includes("calico"),
    )) {
        it(`every ${group} object of every stack passes its CRD`, () => {
            const mine = objects.filter((d) => d.object.apiVersion.startsWith(`${group}/`));
            assert.ok(mine.length > 0, `the stacks render no ${group} object`);
            const missing = mine.filter((d) => crdErrors(d.object) === undefined);
            assert.deepEqual(missing.map(label), [], "objects with neither a CRD nor a model");
            const problems = mine.flatMap((d) =>
                crdErrors(d.object)!.map((e) => `${label(d)}: ${e}`),
            );
            assert.deepEqual(problems, []);
        });
    }

    it("the External Secrets models refuse a wrong type, a missing required field and a wrong enum", () => {
        const es = objects.find((d) => d.object.kind === "ExternalSecret")!.object as Record<
            string,
            any
        >;
        const store = objects.find((d) => d.object.kind === "ClusterSecretStore")!.object as Record<
            string,
            any
        >;
        assert.deepEqual(externalSecretsErrors(es), []);
        const broken = (o: Record<string, any>, edit: (c: Record<string, any>) => void) => {
            const c = structuredClone(o);
            edit(c);
            return externalSecretsErrors(c) ?? [];
        };
        assert.notDeepEqual(
            broken(es, (c) => (c.spec.refreshInterval = 3600)),
            [],
        );
        assert.notDeepEqual(
            broken(es, (c) => delete c.spec.data[0].remoteRef.key),
            [],
        );
        assert.notDeepEqual(
            broken(store, (c) => (c.spec.provider.oracle.principalType = "Instance")),
            [],
        );
        assert.equal(externalSecretsErrors({ ...es, kind: "NoSuchKind" }), undefined);
    });

    it("the Tigera Installation the chart makes from our values passes its CRD", () => {
        // The operator path (existing clusters with installCalico, OKE flannel); no shipped stack
        // takes it since OKE VCN-native clusters get the authored policy-only install.
        const values = tigeraOperatorValues();
        // templates/crs/custom-resources.yaml: spec = values.installation without `enabled`.
        const { enabled, ...spec } = values.installation as Record<string, unknown>;
        assert.equal(enabled, true);
        const o = {
            apiVersion: "operator.tigera.io/v1",
            kind: "Installation",
            metadata: { name: "default" },
            spec: { ...spec, imagePullSecrets: [] },
        };
        assert.deepEqual(crdErrors(o), []);
    });

    it("the Calico CRDs the program fetches at deploy time are exactly the charts folder's", () => {
        // calicoCrdManifest names Calico v3.31.5's manifests/crds.yaml; the real API server suite
        // applies the charts folder's copies of the same CRDs (compared object for object when
        // the hash was pinned). This keeps the two lists from drifting.
        const dir = path.join(requireChartsDir(), "crds");
        const groups = ["crd.projectcalico.org", "policy.networking.k8s.io"];
        const names = fs
            .readdirSync(dir)
            .filter((f) => /\.ya?ml$/.test(f))
            .flatMap((f) =>
                parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map(
                    (d) => d.toJS() as Record<string, any> | null,
                ),
            )
            .filter((o) => o?.kind === "CustomResourceDefinition" && groups.includes(o.spec.group))
            .map((o) => String(o!.metadata.name))
            .sort();
        assert.deepEqual([...calicoCrdManifest.crds].sort(), names);
    });

    it("the Installation API still cannot express OKE's Calico policy-only mode (so the program authors it)", () => {
        // What render-calico.ts `calicoOnOkeFlannelGap` rests on, read from the pinned operator's CRD: no
        // CNI type runs calico-node with OKE's `oci` interface prefix, and calico-node's containers
        // take no env. When this fails, the operator may now express the mode: revisit the warning.
        const spec = (crd("operator.tigera.io/v1/Installation")!.schema as Record<string, any>)
            .properties.spec.properties;
        assert.deepEqual(spec.cni.properties.type.enum, [
            "Calico",
            "GKE",
            "AmazonVPC",
            "AzureVNET",
        ]);
        const pod =
            spec.calicoNodeDaemonSet.properties.spec.properties.template.properties.spec.properties;
        assert.deepEqual(Object.keys(pod.containers.items.properties).sort(), [
            "name",
            "resources",
        ]);
        assert.deepEqual(Object.keys(pod.initContainers.items.properties).sort(), [
            "name",
            "resources",
        ]);
    });

    it("calico-enterprise policies pass Calico's CRDs except the Enterprise-only domains, which open-source Calico refuses", () => {
        const objs = renderNetworkObjects(
            buildIntent(clusterIntentInputs(okeCluster("calico-enterprise"))),
        ).filter((o) => o.apiVersion === "projectcalico.org/v3");
        assert.ok(objs.some((o) => o.kind === "Tier"));
        const problems = objs.flatMap((o) =>
            crdErrors(o)!.map((e) => `${o.kind} ${o.metadata.name}: ${e}`),
        );
        assert.ok(problems.length > 0, "open-source CRDs accepted destination.domains");
        assert.deepEqual(
            problems.filter(
                (p) =>
                    !/\/spec\/egress\/\d+\/destination must NOT have additional properties \(domains\)$/.test(
                        p,
                    ),
            ),
            [],
        );
    });
});
