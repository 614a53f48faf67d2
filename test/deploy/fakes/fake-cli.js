#!/usr/bin/env node
/**
 * Stand-ins for the `pulumi`, `oci`, `ssh` and `skopeo` executables (no cloud, registry or
 * Pulumi CLI here). Each records its argv (and the environment keys the driver must set) as one
 * JSON line in $FAKE_LOG and answers the way the real CLI does, for the commands and JSON shapes
 * the deploy and mirror tools use (argument names from the OCI CLI source, oracle/oci-cli, see
 * tools/deploy/run.ts and tools/images/mirror.ts). State shared between the fakes (Bastion
 * sessions, pushed images, stack outputs) lives in $FAKE_STATE.
 *
 * Usage: node fake-cli.js <pulumi|oci|ssh|skopeo> args… (test/deploy/fakes/index.ts writes wrappers).
 */
"use strict";
const fs = require("fs");
const net = require("net");
const path = require("path");

const [tool, ...argv] = process.argv.slice(2);
const state = process.env.FAKE_STATE;
const recordEnv = [
    "SLP_API_ACCESS",
    "OCI_CLI_CONFIG_FILE",
    "OCI_CONFIG_FILE",
    "TF_HOME_OVERRIDE",
    "PULUMI_AUTOMATION_API",
];

function record(extra = {}) {
    const env = {};
    for (const k of recordEnv) if (process.env[k] !== undefined) env[k] = process.env[k];
    fs.appendFileSync(
        process.env.FAKE_LOG,
        JSON.stringify({ tool, argv, env, cwd: process.cwd(), t: Date.now(), ...extra }) + "\n",
    );
}
function load(name, dflt) {
    const f = path.join(state, name);
    return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : dflt;
}
function save(name, value) {
    fs.writeFileSync(path.join(state, name), JSON.stringify(value, null, 2));
}
function opt(name) {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
}
function fail(message, code = 1) {
    process.stderr.write(message + "\n");
    process.exit(code);
}
function has(...words) {
    return words.every((w, i) => argv[i] === w);
}

function pulumi() {
    if (has("version")) {
        record();
        return console.log("v3.248.0");
    }
    if (has("login")) {
        record();
        return console.log(`Logged in to ${argv[1]}`);
    }
    if (has("stack", "select")) {
        record();
        const stack = opt("--stack");
        if (!fs.existsSync(path.join(process.cwd(), `Pulumi.${stack}.yaml`))) {
            fail(`error: no stack named '${stack}' found`, 255);
        }
        return;
    }
    if (has("stack", "output")) {
        record();
        const outputs = load("outputs.json", {});
        if (!argv.includes("--show-secrets")) {
            for (const c of Object.values(outputs.clusters ?? {})) c.kubeconfig = "[secret]";
        }
        return console.log(JSON.stringify(outputs));
    }
    if (has("stack", "history")) {
        record();
        const updates = load("updates.json", []);
        return console.log(JSON.stringify(updates.slice(-1)));
    }
    if (has("up") || has("preview")) {
        const previewing = argv[0] === "preview";
        const excluded = argv.filter((a, i) => argv[i - 1] === "--exclude");
        const fixture = JSON.parse(fs.readFileSync(process.env.FAKE_PULUMI_OUTPUTS, "utf8"));
        const reached = {};
        if (excluded.length === 0) {
            // The cluster layer: every private endpoint must be reachable through its tunnel,
            // as the Kubernetes provider would need it (a TCP connect to the local port).
            const access = process.env.SLP_API_ACCESS ? JSON.parse(process.env.SLP_API_ACCESS) : {};
            for (const name of fixture.privateClusters ?? []) {
                if (!access[name]) {
                    record({ failed: `no route to ${name}` });
                    fail(`error: configured Kubernetes cluster is unreachable: ${name}`, 255);
                }
            }
            const connect = (url) =>
                new Promise((resolve) => {
                    const u = new URL(url);
                    const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => {
                        s.end();
                        resolve(true);
                    });
                    s.on("error", () => resolve(false));
                });
            return (async () => {
                for (const [name, url] of Object.entries(access))
                    reached[name] = await connect(url);
                record({ reached });
                if (Object.values(reached).includes(false)) {
                    fail("error: configured Kubernetes cluster is unreachable", 255);
                }
                if (process.env.FAKE_PULUMI_FAIL_CLUSTER_LAYER) fail("error: update failed", 255);
                if (previewing) return console.log(`Previewing update (${opt("--stack")})`);
                finishUp(fixture);
            })();
        }
        record({ reached });
        finishUp(fixture);
        return;
    }
    record();
    fail(`fake pulumi: unsupported command ${argv.join(" ")}`);
}
function finishUp(fixture) {
    save("outputs.json", fixture.outputs);
    const updates = load("updates.json", []);
    const now = new Date().toISOString();
    updates.push({
        version: updates.length + 1,
        kind: "update",
        startTime: now,
        endTime: now,
        message: "",
        environment: {},
        config: {},
        result: "succeeded",
        resourceChanges: { create: 3 },
    });
    save("updates.json", updates);
    console.log(`Updating (${opt("--stack")})\n\nResources:\n    + 3 created\n`);
}

function oci() {
    record();
    const region = opt("--region");
    if (!region) fail("Error: Missing option(s) --region.", 2);
    const sessions = load("sessions.json", {});
    if (has("bastion", "session", "create-port-forwarding")) {
        for (const o of [
            "--bastion-id",
            "--ssh-public-key-file",
            "--target-private-ip",
            "--target-port",
        ]) {
            if (!opt(o)) fail(`Error: Missing option(s) ${o}.`, 2);
        }
        const pub = fs.readFileSync(opt("--ssh-public-key-file"), "utf8");
        if (!/^ssh-ed25519 /.test(pub)) fail("ServiceError: InvalidParameter: public key", 1);
        const id = `ocid1.bastionsession.oc1.${region}.fake${Object.keys(sessions).length + 1}`;
        sessions[id] = {
            state: "CREATING",
            polls: 0,
            region,
            ip: opt("--target-private-ip"),
            port: opt("--target-port"),
            bastionId: opt("--bastion-id"),
            ttl: opt("--session-ttl"),
        };
        save("sessions.json", sessions);
        return console.log(
            JSON.stringify({
                data: {
                    id,
                    "bastion-id": opt("--bastion-id"),
                    "lifecycle-state": "CREATING",
                    "session-ttl-in-seconds": Number(opt("--session-ttl")),
                    "target-resource-details": {
                        "session-type": "PORT_FORWARDING",
                        "target-resource-private-ip-address": opt("--target-private-ip"),
                        "target-resource-port": Number(opt("--target-port")),
                    },
                },
            }),
        );
    }
    if (has("bastion", "session", "get")) {
        const id = opt("--session-id");
        const s = sessions[id];
        if (!s) fail(`ServiceError: NotAuthorizedOrNotFound ${id}`, 1);
        s.polls += 1;
        if (s.state === "CREATING" && s.polls >= 2) s.state = "ACTIVE";
        save("sessions.json", sessions);
        const data = { id, "lifecycle-state": s.state };
        if (s.state === "ACTIVE") {
            data["ssh-metadata"] = {
                command: `ssh -i <privateKey> -N -L <localPort>:${s.ip}:${s.port} -p 22 ${id}@host.bastion.${region}.oci.oraclecloud.com`,
            };
        }
        return console.log(JSON.stringify({ data }));
    }
    if (has("bastion", "session", "delete")) {
        const id = opt("--session-id");
        if (!argv.includes("--force"))
            fail("Are you sure you want to delete this resource? [y/N]: Aborted!", 1);
        if (!sessions[id]) fail(`ServiceError: NotAuthorizedOrNotFound ${id}`, 1);
        sessions[id].state = "DELETED";
        save("sessions.json", sessions);
        return;
    }
    return ociArtifacts();
}

function ociArtifacts() {
    const images = load("registry.json", {});
    if (has("kms", "management", "vault", "get")) {
        const id = opt("--vault-id");
        return console.log(
            JSON.stringify({
                data: {
                    id,
                    "management-endpoint": `https://${id.slice(-8)}-management.kms.${opt("--region")}.oraclecloud.com`,
                },
            }),
        );
    }
    if (has("kms", "management", "key", "get")) {
        if (!opt("--endpoint")) fail("Error: Missing option(s) --endpoint.", 2);
        const id = opt("--key-id");
        return console.log(
            JSON.stringify({ data: { id, "current-key-version": `${id}.version1` } }),
        );
    }
    if (has("artifacts", "container", "repository", "list")) {
        const name = `${opt("--region")}/${opt("--display-name")}`;
        const repos = load("repos.json", {});
        return console.log(
            JSON.stringify(
                repos[name] ? { data: { items: [repos[name]] } } : { data: { items: [] } },
            ),
        );
    }
    if (has("artifacts", "container", "repository", "create")) {
        const repos = load("repos.json", {});
        const name = `${opt("--region")}/${opt("--display-name")}`;
        repos[name] = {
            id: `ocid1.containerrepo.oc1.fake.${Object.keys(repos).length + 1}`,
            "display-name": opt("--display-name"),
            "is-public": opt("--is-public") === "true",
            "is-immutable": opt("--is-immutable") === "true",
        };
        save("repos.json", repos);
        return console.log(JSON.stringify({ data: repos[name] }));
    }
    if (has("artifacts", "container", "image", "list")) {
        const repo = opt("--repository-name");
        const d = opt("--image-digest");
        // OCIR is regional: only the images pushed to this region's registry.
        const items = Object.values(images).filter(
            (i) =>
                i.region === opt("--region") &&
                i["repository-name"] === repo &&
                (d === undefined || i.digest === d),
        );
        return console.log(JSON.stringify({ data: { items } }));
    }
    if (has("artifacts", "container", "image-signature", "sign-upload")) {
        for (const o of [
            "--compartment-id",
            "--image-id",
            "--kms-key-id",
            "--kms-key-version-id",
            "--signing-algorithm",
        ]) {
            if (!opt(o)) fail(`Error: Missing option(s) ${o}.`, 2);
        }
        const img = Object.values(images).find((i) => i.id === opt("--image-id"));
        if (!img) fail("ServiceError: NotAuthorizedOrNotFound image", 1);
        img.signatures = [...(img.signatures ?? []), opt("--kms-key-id")];
        save("registry.json", images);
        return console.log(
            JSON.stringify({
                data: {
                    "image-id": img.id,
                    "kms-key-id": opt("--kms-key-id"),
                    "signing-algorithm": opt("--signing-algorithm"),
                },
            }),
        );
    }
    fail(`fake oci: unsupported command ${argv.join(" ")}`);
}

function ssh() {
    const l = opt("-L");
    const m = /^127\.0\.0\.1:(\d+):([\d.]+):(\d+)$/.exec(l ?? "");
    const dest = argv[argv.length - 1];
    const [user, host] = dest.split("@");
    const sessions = load("sessions.json", {});
    const s = sessions[user];
    if (
        !m ||
        !s ||
        s.state !== "ACTIVE" ||
        host !== `host.bastion.${s.region}.oci.oraclecloud.com` ||
        s.ip !== m[2]
    ) {
        record({ refused: true });
        fail(`fake ssh: ${dest}: Permission denied (publickey).`, 255);
    }
    if (!fs.readFileSync(opt("-i"), "utf8").includes("OPENSSH PRIVATE KEY"))
        fail("fake ssh: bad key", 255);
    const server = net.createServer((c) => {
        c.on("error", () => undefined);
        c.end("fake api server\n");
    });
    server.listen(Number(m[1]), "127.0.0.1", () => record({ listening: Number(m[1]) }));
    process.on("SIGTERM", () => {
        record({ closed: Number(m[1]) });
        server.close();
        process.exit(0);
    });
}

function skopeo() {
    record();
    if (has("inspect")) {
        const ref = argv[argv.length - 1].replace(/^docker:\/\//, "");
        const known = load("upstream.json", {});
        if (!known[ref])
            fail(`FATA[0000] Error parsing image name "docker://${ref}": manifest unknown`, 1);
        // --raw writes the manifest's bytes unmodified (skopeo cmd/skopeo/inspect.go).
        if (argv.includes("--raw")) return process.stdout.write(known[ref]);
        return console.log(known[ref]);
    }
    if (has("copy")) {
        const [src, dst] = argv.slice(-2).map((r) => r.replace(/^docker:\/\//, ""));
        const digest = src.split("@")[1];
        if (!dst.endsWith(`@${digest}`) && !argv.includes("--preserve-digests"))
            fail("FATA digest", 1);
        const upstream = load("upstream.json", {});
        if (!Object.keys(upstream).some((k) => k.endsWith(`@${digest}`)))
            fail(`FATA[0000] initializing source docker://${src}: manifest unknown`, 1);
        const images = load("registry.json", {});
        const repoPath = dst.split("@")[0].split("/").slice(2).join("/");
        const region = dst.split("/")[0].replace(/\.ocir\.io$/, "");
        images[dst] = images[dst] ?? {
            region,
            id: `ocid1.containerimage.oc1.fake.${Object.keys(images).length + 1}`,
            "repository-name": repoPath,
            digest,
            "display-name": `${repoPath}@${digest}`,
        };
        save("registry.json", images);
        return;
    }
    fail(`fake skopeo: unsupported command ${argv.join(" ")}`);
}

({ pulumi, oci, ssh, skopeo })[tool]();
