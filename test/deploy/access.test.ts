/** The run-time API access and the kubeconfig's exec plugin (pure). */
import { strict as assert } from "assert";
import { parse } from "yaml";
import {
    kubeconfigForRun,
    ociAuthIssues,
    ociCliAuthArgs,
    ociConfigProfiles,
    parseApiAccess,
} from "../../modules/access";
import { ConfigValidationError } from "../../modules/config";

/** The shape of the kubeconfig OKE generates (token version 2.0.0). */
const okeKubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: cluster-c1",
    "    cluster:",
    "      server: https://10.0.0.12:6443",
    "      certificate-authority-data: QUJD",
    "users:",
    "  - name: user-c1",
    "    user:",
    "      exec:",
    "        apiVersion: client.authentication.k8s.io/v1beta1",
    "        command: oci",
    "        args: [ce, cluster, generate-token, --cluster-id, ocid1.cluster.oc1.iad.aaaa, --region, us-ashburn-1]",
    "        env: []",
    "contexts:",
    "  - name: context-c1",
    "    context: { cluster: cluster-c1, user: user-c1 }",
    "current-context: context-c1",
].join("\n");

describe("kubeconfig for a run", () => {
    it("points the server at the tunnel and keeps verifying the API server's name", () => {
        const out = parse(
            kubeconfigForRun(
                okeKubeconfig,
                { method: "ApiKey", profile: "DEFAULT" },
                "https://127.0.0.1:16443",
            ),
        );
        assert.equal(out.clusters[0].cluster.server, "https://127.0.0.1:16443");
        assert.equal(out.clusters[0].cluster["tls-server-name"], "10.0.0.12");
        assert.equal(out.clusters[0].cluster["certificate-authority-data"], "QUJD");
    });

    it("leaves the server alone without a tunnel (a runner inside the VCN)", () => {
        const out = parse(
            kubeconfigForRun(okeKubeconfig, { method: "ApiKey", profile: "DEFAULT" }),
        );
        assert.equal(out.clusters[0].cluster.server, "https://10.0.0.12:6443");
        assert.equal(out.clusters[0].cluster["tls-server-name"], undefined);
    });

    it("gives generate-token the stack's profile and --auth security_token for a session token", () => {
        const out = parse(
            kubeconfigForRun(okeKubeconfig, { method: "SecurityToken", profile: "ci" }),
        );
        assert.deepEqual(out.users[0].user.exec.args, [
            "ce",
            "cluster",
            "generate-token",
            "--cluster-id",
            "ocid1.cluster.oc1.iad.aaaa",
            "--region",
            "us-ashburn-1",
            "--profile",
            "ci",
            "--auth",
            "security_token",
        ]);
        // Idempotent: a second rewrite does not repeat the options.
        const again = parse(
            kubeconfigForRun(
                kubeconfigForRun(okeKubeconfig, { method: "SecurityToken", profile: "ci" }),
                {
                    method: "InstancePrincipal",
                    profile: "ci",
                },
            ),
        );
        assert.deepEqual(again.users[0].user.exec.args.slice(7), [
            "--profile",
            "ci",
            "--auth",
            "instance_principal",
        ]);
        assert.deepEqual(out.users[0].user.exec.env, [], "no machine-local path in the kubeconfig");
    });

    it("maps every provider auth method to the OCI CLI's --auth", () => {
        assert.deepEqual(ociCliAuthArgs({ method: "ApiKey", profile: "DEFAULT" }), [
            "--profile",
            "DEFAULT",
        ]);
        assert.deepEqual(ociCliAuthArgs({ method: "ResourcePrincipal", profile: "p" }), [
            "--profile",
            "p",
            "--auth",
            "resource_principal",
        ]);
    });
});

describe("SLP_API_ACCESS", () => {
    const refused = (value: string) => {
        try {
            parseApiAccess(value, ["dev-iad"]);
        } catch (e) {
            assert.ok(e instanceof ConfigValidationError);
            return e.issues.map((i) => `${i.path}: ${i.expected}`);
        }
        throw new Error("accepted");
    };

    it("is empty without the variable", () => {
        assert.deepEqual(parseApiAccess(undefined, ["dev-iad"]), {});
        assert.deepEqual(parseApiAccess("", ["dev-iad"]), {});
    });

    it("accepts local https ports of the stack's OKE clusters", () => {
        assert.deepEqual(parseApiAccess('{"dev-iad":"https://127.0.0.1:16443"}', ["dev-iad"]), {
            "dev-iad": "https://127.0.0.1:16443",
        });
    });

    it("refuses other clusters, non-local or plain-http URLs, naming the entry", () => {
        assert.match(
            refused('{"dev-fra":"https://127.0.0.1:16443"}')[0]!,
            /^SLP_API_ACCESS\.dev-fra: the name of an OKE cluster of this stack \(dev-iad\)/,
        );
        assert.match(
            refused('{"dev-iad":"https://10.0.0.12:6443"}')[0]!,
            /^SLP_API_ACCESS\.dev-iad: https:\/\/127\.0\.0\.1:<port>/,
        );
        assert.match(
            refused('{"dev-iad":"http://127.0.0.1:16443"}')[0]!,
            /^SLP_API_ACCESS\.dev-iad/,
        );
        assert.match(
            refused('{"dev-iad":"https://127.0.0.1:99999"}')[0]!,
            /^SLP_API_ACCESS\.dev-iad/,
        );
        assert.match(refused("not json")[0]!, /^SLP_API_ACCESS: a JSON object/);
    });
});

describe("OCI config file for the stack's ociAuth", () => {
    const file = "/h/.oci/config";
    const session = [
        "[DEFAULT]",
        "region=us-ashburn-1",
        "key_file=/h/.oci/session.pem",
        "security_token_file=/h/.oci/token",
        "fingerprint=aa:bb",
        "[apikey]",
        "user=ocid1.user.oc1..u",
        "tenancy=ocid1.tenancy.oc1..t",
        "security_token_file=",
        "fingerprint=cc:dd",
        "key_file=/h/.oci/key.pem",
    ].join("\n");
    const issues = (method: string, profile: string, text: string | undefined) =>
        ociAuthIssues({ method: method as "ApiKey", profile }, file, text, "p").map(
            (i) => `${i.path}: ${i.expected}`,
        );

    it("reads profiles with DEFAULT's values under every profile", () => {
        const p = ociConfigProfiles(session);
        assert.equal(p.apikey!.region, "us-ashburn-1");
        assert.equal(p.apikey!.security_token_file, "");
    });
    it("accepts a session-token profile for SecurityToken and an API key profile for ApiKey", () => {
        assert.deepEqual(issues("SecurityToken", "DEFAULT", session), []);
        assert.deepEqual(issues("ApiKey", "apikey", session), []);
        assert.deepEqual(issues("InstancePrincipal", "x", undefined), []);
    });
    it("refuses a missing file or profile, naming ociAuth.profile with the login to run", () => {
        assert.deepEqual(issues("SecurityToken", "DEFAULT", undefined), [
            "p:ociAuth.profile: a profile of /h/.oci/config, the file the OCI providers read (it does not exist): run `oci session authenticate --profile-name DEFAULT` on a workstation; in CI, scripts/oci-token-exchange.sh writes it",
        ]);
        assert.match(
            issues("SecurityToken", "DEFAULTT", session)[0]!,
            /^p:ociAuth\.profile: a profile of \/h\/\.oci\/config \(it has DEFAULT, apikey\) \(did you mean "DEFAULT"\?\)/,
        );
    });
    it("refuses ApiKey with a session-token profile, and a profile lacking what the method needs", () => {
        assert.deepEqual(issues("ApiKey", "DEFAULT", session), [
            "p:ociAuth.method: SecurityToken: profile DEFAULT of /h/.oci/config holds a session token (security_token_file), which ApiKey signing ignores",
        ]);
        assert.match(
            issues("SecurityToken", "apikey", session)[0]!,
            /^p:ociAuth\.method: a method profile apikey of \/h\/\.oci\/config can serve: it lacks security_token_file, which SecurityToken needs/,
        );
    });
});
