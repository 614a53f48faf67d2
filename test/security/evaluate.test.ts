// evaluateResources over what the mock runtime records, the way the offline plan calls it.
import * as assert from "assert";
import * as k8s from "@pulumi/kubernetes";
import * as oci from "@pulumi/oci";
import * as pulumi from "@pulumi/pulumi";
import { evaluateResources, hasMandatory } from "../../modules/security";
import { recordedResources, resetRecords, settle } from "../../tools/plan/mocks";
import { hardenedPodSpec } from "./fixtures";

describe("security rules over recorded registrations", () => {
    before(async () => {
        resetRecords();
        const pod = hardenedPodSpec();
        pod.containers[0].env.push({
            name: "HF_TOKEN",
            value: pulumi.secret("hf_recorded_secret"),
        });
        new k8s.apps.v1.Deployment("sec-eval-deploy", {
            metadata: { name: "guardrails", namespace: "llm-guardrails" },
            spec: {
                selector: { matchLabels: { app: "g" } },
                template: { metadata: { labels: { app: "g" } }, spec: pod as any },
            },
        });
        new oci.kms.Key(
            "sec-eval-key",
            {
                compartmentId: "ocid1.compartment.oc1..c",
                displayName: "models",
                keyShape: { algorithm: "AES", length: 32 },
                managementEndpoint: "https://kms.example",
            },
            { protect: true, retainOnDelete: false },
        );
        await settle();
    });

    it("finds a secret literal hidden in a secret Output, without quoting it", () => {
        const findings = evaluateResources(recordedResources(), { environment: "prod" });
        const env = findings.filter((f) => f.ruleId === "k8s-no-secrets-in-env");
        assert.strictEqual(env.length, 1, JSON.stringify(findings, null, 2));
        assert.strictEqual(env[0].resource, "kubernetes:apps/v1:Deployment::sec-eval-deploy");
        assert.ok(findings.every((f) => !f.message.includes("hf_recorded_secret")));
    });

    it("sees the engine options the mocks recorded: protect passes, retainOnDelete false fails", () => {
        const findings = evaluateResources(recordedResources(), { environment: "prod" });
        const keyFindings = findings.filter((f) => f.resource === "oci:Kms/key:Key::sec-eval-key");
        assert.deepStrictEqual(
            keyFindings.map((f) => f.ruleId),
            ["oci-protected-key-material"],
        );
        assert.ok(keyFindings[0].message.includes("retainOnDelete"), keyFindings[0].message);
        assert.ok(hasMandatory(findings));
    });
});
