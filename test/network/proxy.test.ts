import * as assert from "assert";
import { nonPublicCidrs } from "../../modules/k8s/network/non-public";
import {
    renderSquidConfig,
    squidAllowlist,
    squidDeniedDestinations,
} from "../../modules/k8s/network/proxy";

const lines = (conf: string, prefix: string) =>
    conf.split("\n").filter((l) => l.startsWith(prefix));

describe("egress proxy: the Squid configuration (bypasses found on real Squid)", () => {
    const conf = renderSquidConfig("inference", [
        "*.kms.us-ashburn-1.oraclecloud.com",
        "objectstorage.us-ashburn-1.oraclecloud.com",
    ]);

    it("decides on the requested name only: no reverse DNS for IP literals (dstdomain -n)", () => {
        // Without -n Squid matched an IP literal's PTR name against the allowlist.
        for (const acl of lines(conf, "acl ").filter((l) => / dstdomain /.test(l))) {
            assert.match(acl, /^acl \S+ dstdomain -n /);
        }
    });

    it("refuses non-public destinations after the allowlist check, before the allow", () => {
        const access = lines(conf, "http_access");
        const at = (rule: string) => {
            const i = access.indexOf(`http_access ${rule}`);
            assert.ok(i >= 0, `missing http_access ${rule}`);
            return i;
        };
        // Names off the list are refused before anything is resolved (no DNS for them at all).
        assert.ok(at("deny !allowlist") < at("deny private_dst"));
        assert.ok(at("deny private_dst") < at("allow CONNECT tls_port allowlist"));
        assert.strictEqual(access[access.length - 1], "http_access deny all");
        // The health allow needs a private destination: only Squid's own name qualifies.
        assert.strictEqual(access[0], "http_access allow health private_dst");
    });

    it("denies every non-public range, the metadata address and their NAT64 forms", () => {
        const denied = squidDeniedDestinations();
        for (const c of nonPublicCidrs) assert.ok(denied.includes(c), c);
        for (const c of [
            "0.0.0.0/8",
            "192.0.0.0/24",
            "198.18.0.0/15",
            "224.0.0.0/3",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
            "::/128",
            "ff00::/8",
        ]) {
            assert.ok(denied.includes(c), c);
        }
        // 169.254.0.0/16 inside 64:ff9b::/96 covers 64:ff9b::a9fe:a9fe (169.254.169.254).
        assert.ok(denied.includes("64:ff9b::a9fe:0/112"));
        assert.ok(denied.includes("64:ff9b::a00:0/104"));
        assert.match(conf, new RegExp(`^acl private_dst dst ${denied.join(" ")}$`, "m"));
    });

    it("means subdomains only by *. (the apex is refused unless listed)", () => {
        assert.deepStrictEqual(squidAllowlist(["*.kms.example.com", "a.example.org"]), {
            allow: [".kms.example.com", "a.example.org"],
            wildcardApexes: ["kms.example.com"],
        });
        assert.match(conf, /^acl wildcard_apex dstdomain -n kms\.us-ashburn-1\.oraclecloud\.com$/m);
        // Listing the apex too allows it; Squid's overlap warning is avoided by dropping names
        // a wildcard covers, and nested wildcards collapse to the outer one.
        assert.deepStrictEqual(
            squidAllowlist(["*.example.com", "example.com", "a.example.com", "*.b.example.com"]),
            { allow: [".example.com"], wildcardApexes: [] },
        );
        assert.deepStrictEqual(squidAllowlist(["Huggingface.CO", "huggingface.co"]), {
            allow: ["huggingface.co"],
            wildcardApexes: [],
        });
        const exactOnly = renderSquidConfig("x", ["huggingface.co"]);
        assert.doesNotMatch(exactOnly, /wildcard_apex/);
    });

    it("starts no ICMP pinger, which needs privileges the pod does not have", () => {
        assert.ok(conf.split("\n").includes("pinger_enable off"));
    });
});
