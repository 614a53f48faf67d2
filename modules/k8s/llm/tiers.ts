/**
 * What is special about each LLM tier, as pure functions of its config: containers, volumes,
 * scheduling. Everything else (security context, spread, probes' shape, token, resources'
 * presence) comes from the hardened workload builder.
 */
import * as pulumi from "@pulumi/pulumi";
import type {
    GatewayTierConfig,
    GuardrailsTierConfig,
    InferenceTierConfig,
    OutputFilterTierConfig,
    TierImage,
    TierResources,
} from "../../config/tiers";
import { modelLoaderMemory } from "../../config/tiers";
import { workloadPorts } from "../../constants/ports";
import { modelSourceKey, rolloutTargets } from "../../constants/rollout";
import { priorityClasses } from "../../constants/scheduling";
import { annotations, taints } from "../../constants/labels";
import { Workload, catalog } from "../catalog";
import type { ContainerResources, HardenedWorkloadComponentArgs, ImageRef } from "../workload";
import {
    MtlsCaller,
    appProbesThroughSidecar,
    mtlsAppPorts,
    mtlsCallers,
    mtlsIdentity,
    mtlsNames,
    mtlsPaths,
    nginxRunScript,
    proxySslDirectives,
    sslServerDirectives,
    tierIdentity,
    tlsFiles,
} from "./mtls";

const image = (i: TierImage): ImageRef => ({
    repository: i.repository,
    tag: i.tag,
    digest: i.digest,
});

const resources = (r: TierResources, extended?: Record<string, number>): ContainerResources => ({
    requests: r.requests,
    limits: r.limits,
    extended,
});

/** `http://<service host>:<port>` of a catalog workload's first port. */
export function serviceUrl(w: Workload): string {
    return `http://${w.serviceHost}:${w.ports[0].port}`;
}

/** Mount path of the rails configuration: the server's `--config` root holds one directory per config id. */
export const railsMountRoot = "/config";

/** Command of the guardrails container: the platform's entrypoint module in the image. */
export const guardrailsCommand = ["python", "-m", "slp_guardrails"] as const;

/** Arguments of the guardrails entrypoint. Pure. */
export function guardrailsArgs(cfg: GuardrailsTierConfig): string[] {
    return [
        `--config-root=${railsMountRoot}`,
        `--config-id=${cfg.configId}`,
        // The API on loopback only, behind the pod's mTLS sidecar (mtls.ts); metrics on the pod IP.
        "--host=127.0.0.1",
        `--port=${mtlsAppPorts.guardrails}`,
        "--metrics-host=0.0.0.0",
        `--metrics-port=${workloadPorts.guardrailsMetrics}`,
        // Masking rails cannot rewrite chunks already sent: a stream carries the checked answer.
        `--streaming=${cfg.streaming ? "buffered" : "off"}`,
    ];
}

/** The guardrails server; `variant` builds another Deployment of it (the candidate tier). */
export function guardrailsWorkload(
    cfg: GuardrailsTierConfig,
    railsConfigMap: pulumi.Input<string>,
    checksum: string,
    variant?: {
        /** Catalog entry (name, labels, Service). */
        readonly workload: Workload;
        readonly replicas: number;
        /** Arguments added to {@link guardrailsArgs}. */
        readonly args: readonly string[];
    },
): HardenedWorkloadComponentArgs {
    const w = variant?.workload ?? catalog.guardrails;
    return {
        workload: w,
        replicas: variant?.replicas ?? cfg.replicas,
        priorityClassName: priorityClasses.serving,
        podAnnotations: { [annotations.configChecksum]: checksum },
        containers: [
            {
                name: "guardrails",
                image: image(cfg.image),
                // Our entrypoint (images/guardrails/slp_guardrails), not `nemoguardrails server`:
                // every rail always on, no client-chosen model, errors as non-200, metrics apart.
                command: [...guardrailsCommand],
                args: [...guardrailsArgs(cfg), ...(variant?.args ?? [])],
                env: {
                    HOME: "/tmp",
                    PYTHONDONTWRITEBYTECODE: "1",
                    HF_HUB_OFFLINE: "1",
                    // Usage telemetry off (the entrypoint forces both as well).
                    NEMO_GUARDRAILS_NO_USAGE_STATS: "1",
                    DO_NOT_TRACK: "1",
                },
                resources: resources(cfg.resources),
                // The API port is the mTLS sidecar's; this container serves only the metrics.
                ports: [{ name: "metrics", containerPort: workloadPorts.guardrailsMetrics }],
                // /health answers only once the rails are built: a broken configuration exits at
                // start, so the pod never becomes ready.
                probes: appProbesThroughSidecar({ periodSeconds: 5, failureThreshold: 60 }),
                mounts: [
                    {
                        name: "rails",
                        mountPath: `${railsMountRoot}/${cfg.configId}`,
                        readOnly: true,
                    },
                ],
            },
        ],
        volumes: [
            // The whole ConfigMap, no item list: the rule set a promotion validated, whatever its
            // files, is exactly what runs (keys are flat: rails/input.co is rails__input.co).
            { name: "rails", configMap: { name: railsConfigMap } },
        ],
        tmpSizeLimit: "256Mi",
    };
}

/** The jailbreak heuristics server the input rails call. */
export function jailbreakWorkload(
    cfg: GuardrailsTierConfig["jailbreakDetection"],
): HardenedWorkloadComponentArgs {
    const w = catalog["jailbreak-detection"];
    return {
        workload: w,
        replicas: cfg.replicas,
        priorityClassName: priorityClasses.serving,
        containers: [
            {
                name: "jailbreak-detection",
                image: image(cfg.image),
                // Behind the pod's mTLS sidecar, which alone serves the tier's port: the server
                // (NeMo Guardrails 0.24.1 library/jailbreak_detection/server.py, typer options
                // --host/--port) binds the pod's loopback only.
                args: [
                    "--host",
                    "127.0.0.1",
                    "--port",
                    String(mtlsAppPorts["jailbreak-detection"]),
                ],
                env: { HOME: "/tmp", HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
                resources: resources(cfg.resources),
                ports: [],
                // Through the sidecar's health listener (its `/health` is the server's `GET /`);
                // the perplexity model gets time to load.
                probes: appProbesThroughSidecar({ periodSeconds: 5, failureThreshold: 60 }),
            },
        ],
        tmpSizeLimit: "512Mi",
    };
}

/** Presidio analyzer or anonymizer. */
export function presidioWorkload(
    cfg: OutputFilterTierConfig,
    which: "presidio-analyzer" | "presidio-anonymizer",
): HardenedWorkloadComponentArgs {
    const w = catalog[which];
    return {
        workload: w,
        replicas: cfg.replicas,
        priorityClassName: priorityClasses.serving,
        containers: [
            {
                name: which,
                image: image(
                    which === "presidio-analyzer" ? cfg.analyzerImage : cfg.anonymizerImage,
                ),
                // The upstream image runs as UID 1001; its files are world-readable, so the fixed
                // platform UID works (gunicorn only writes its heartbeat files under /tmp).
                // The image's server listens on $PORT: a port of its own behind the pod's mTLS
                // sidecar, which alone serves the tier's port (only it is in the Service and the
                // NetworkPolicy). The image's bind address is its own (not 127.0.0.1).
                env: {
                    HOME: "/tmp",
                    PORT: String(mtlsAppPorts[which]),
                    LOG_LEVEL: "WARNING",
                    WORKERS: "1",
                },
                resources: resources(cfg.resources),
                ports: [],
                // The analyzer loads spaCy en_core_web_lg at start-up.
                probes: appProbesThroughSidecar({ periodSeconds: 5, failureThreshold: 36 }),
            },
        ],
        tmpSizeLimit: "128Mi",
    };
}

/** GPU extended resource name under a runtime class. */
export function gpuResourceName(runtimeClass: InferenceTierConfig["runtimeClass"]): string {
    return runtimeClass === "kata-qemu-nvidia-gpu" ? "nvidia.com/pgpu" : "nvidia.com/gpu";
}

/** Key of the model source in the inference-model ConfigMap that pipelines promote. */
export { modelSourceKey };

/** Where the model is decrypted to (memory-backed) and served from. */
export const modelsPath = "/models";

/** The inference server and its model loader. */
export function inferenceWorkload(
    cfg: InferenceTierConfig,
    env: {
        readonly region: string;
        readonly cryptoEndpoint?: pulumi.Input<string>;
        /** KMS keys a model's manifest may name (wrapping and signing keys). Defaults to none. */
        readonly trustedKeyIds?: pulumi.Input<string>;
        /** Egress-proxy settings for the model loader only (vLLM gets none). Defaults to none. */
        readonly loaderProxyEnv?: readonly { readonly name: string; readonly value: string }[];
        /** nginx image of the metrics-only sidecar (the gateway's image). */
        readonly metricsImage: TierImage;
        /** ConfigMap holding the sidecar's `nginx.conf` ({@link inferenceMetricsNginxConf}). */
        readonly metricsConfigMap: pulumi.Input<string>;
    },
): HardenedWorkloadComponentArgs {
    const w = catalog.inference;
    const kata = cfg.runtimeClass === "kata-qemu-nvidia-gpu";
    const gpu = gpuResourceName(cfg.runtimeClass);
    const loaderEnv: Record<string, pulumi.Input<string>> = {
        OCI_AUTH: "workload",
        OCI_RESOURCE_PRINCIPAL_VERSION: "2.2",
        OCI_RESOURCE_PRINCIPAL_REGION: env.region,
        HOME: "/tmp",
    };
    if (env.cryptoEndpoint !== undefined) {
        loaderEnv.OCI_KMS_CRYPTO_ENDPOINT = env.cryptoEndpoint;
    }
    if (env.trustedKeyIds !== undefined) {
        // Pins the keys the loader accepts, so a manifest naming any other key is refused.
        loaderEnv.MODEL_VAULT_TRUSTED_KEY_IDS = env.trustedKeyIds;
    }
    for (const e of env.loaderProxyEnv ?? []) {
        loaderEnv[e.name] = e.value;
    }
    const period = 10;
    return {
        workload: w,
        replicas: cfg.replicas,
        hpa: { minReplicas: cfg.hpa.minReplicas, maxReplicas: cfg.hpa.maxReplicas },
        priorityClassName: priorityClasses.serving,
        runtimeClassName: kata ? cfg.runtimeClass : undefined,
        // Only the taints of the pools inference is meant for.
        tolerations: [
            {
                key: taints.gpu.key,
                operator: "Equal",
                value: taints.gpu.value,
                effect: taints.gpu.effect,
            },
            ...(kata
                ? [
                      {
                          key: taints.kata.key,
                          operator: "Equal",
                          value: taints.kata.value,
                          effect: taints.kata.effect,
                      },
                  ]
                : []),
        ],
        // OKE workload identity authorizes exactly this ServiceAccount (constants/identities.ts).
        serviceAccountName: "inference",
        // Two or more replicas serve from different nodes (prod requires two: config/tiers.ts).
        spreadRequired: cfg.replicas >= 2,
        // A new pod needs a free GPU; never surge past the GPUs the quota holds.
        rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
        terminationGracePeriodSeconds: 60,
        initContainers: [
            {
                name: "storage-initializer",
                image: image(cfg.loaderImage),
                // KServe storage-initializer argument order; the source comes from the ConfigMap
                // pipelines promote (`$(MODEL_SOURCE)` is expanded by the kubelet).
                args: ["$(MODEL_SOURCE)", `${modelsPath}/${cfg.model.name}`],
                env: loaderEnv,
                configMapEnv: {
                    MODEL_SOURCE: {
                        configMap: rolloutTargets.inferenceModel.configMap,
                        key: modelSourceKey,
                    },
                },
                resources: {
                    requests: {
                        cpu: "500m",
                        memory: modelLoaderMemory(cfg.model.sizeGi),
                        ephemeralStorage: "64Mi",
                    },
                    limits: {
                        cpu: "2",
                        memory: modelLoaderMemory(cfg.model.sizeGi),
                        ephemeralStorage: "64Mi",
                    },
                },
                mounts: [
                    { name: "models", mountPath: modelsPath, readOnly: false },
                    {
                        name: "oke-workload-identity",
                        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
                        readOnly: true,
                    },
                ],
            },
        ],
        containers: [
            {
                name: "vllm",
                image: image(cfg.image),
                // The API port is the mTLS sidecar's; vLLM listens on loopback only.
                ports: [],
                args: [
                    "--model",
                    `${modelsPath}/${cfg.model.name}`,
                    "--served-model-name",
                    cfg.model.name,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    String(mtlsAppPorts.inference),
                    "--max-model-len",
                    String(cfg.model.maxModelLen),
                    "--tensor-parallel-size",
                    String(cfg.gpus),
                ],
                env: {
                    HOME: "/tmp",
                    HF_HUB_OFFLINE: "1",
                    TRANSFORMERS_OFFLINE: "1",
                    VLLM_NO_USAGE_STATS: "1",
                    DO_NOT_TRACK: "1",
                    XDG_CACHE_HOME: "/tmp/cache",
                },
                resources: resources(cfg.resources, { [gpu]: cfg.gpus }),
                probes: appProbesThroughSidecar({
                    periodSeconds: period,
                    failureThreshold: Math.ceil(cfg.startupSeconds / period),
                }),
                mounts: [
                    { name: "models", mountPath: modelsPath, readOnly: true },
                    // CUDA graphs and torch compile caches; shared memory for NCCL/tokenizers.
                    { name: "dshm", mountPath: "/dev/shm", readOnly: false },
                ],
            },
            {
                name: "metrics",
                image: image(env.metricsImage),
                command: ["nginx", "-g", "daemon off;", "-c", "/etc/metrics/nginx.conf"],
                ports: [{ name: "metrics", containerPort: workloadPorts.inferenceMetrics }],
                resources: {
                    requests: { cpu: "10m", memory: "16Mi", ephemeralStorage: "16Mi" },
                    limits: { cpu: "200m", memory: "64Mi", ephemeralStorage: "16Mi" },
                },
                // TCP probes: the listener serves /metrics and nothing else, and /metrics answers
                // only once vLLM does.
                probes: {
                    readiness: { port: "metrics" },
                    liveness: { port: "metrics", periodSeconds: 20 },
                },
                mounts: [{ name: "metrics-conf", mountPath: "/etc/metrics", readOnly: true }],
            },
        ],
        volumes: [
            { name: "metrics-conf", configMap: { name: env.metricsConfigMap } },
            { name: "models", emptyDir: { medium: "Memory", sizeLimit: `${cfg.model.sizeGi}Gi` } },
            { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } },
            { name: "oke-workload-identity", serviceAccountToken: { expirationSeconds: 3600 } },
        ],
        tmpSizeLimit: "4Gi",
    };
}

/**
 * nginx configuration of the inference pod's metrics sidecar: `GET /metrics` is passed to vLLM
 * on localhost, everything else is 404, so Prometheus never needs the API port.
 */
export function inferenceMetricsNginxConf(): string {
    return `# Rendered by modules/k8s/llm/tiers.ts; do not edit in the cluster.
worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 64; }
http {
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    server_tokens off;
    access_log off;
    server {
        listen ${workloadPorts.inferenceMetrics};
        location = /metrics {
            limit_except GET {
                deny all;
            }
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass http://127.0.0.1:${mtlsAppPorts.inference}/metrics;
        }
        location / {
            return 404;
        }
    }
}
`;
}

/**
 * nginx configuration of the gateway: mTLS on its port (a client certificate of the cluster CA
 * required, exactly the subjects of `mtlsCallers.gateway` admitted, 403 otherwise), API-key check,
 * per-key rate limit, body limit, guardrails only, over mTLS (the gateway's certificate presented,
 * the guardrails' name and CA verified); a plain `/healthz` listener for the kubelet's probes.
 */
export function gatewayNginxConf(cfg: GatewayTierConfig): string {
    const port = catalog.gateway.ports[0].port;
    const upstream = `${catalog.guardrails.serviceHost}:${catalog.guardrails.ports[0].port}`;
    return `# Rendered by modules/k8s/llm/tiers.ts; do not edit in the cluster.
worker_processes auto;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 1024; }
http {
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    server_tokens off;
    # Client subjects (below) are longer than the default map bucket (64) holds; nginx takes
    # this only before the first map.
    map_hash_bucket_size 128;
    # Status class of the guardrails' answer (the last attempt's code); "none" when nginx answered
    # itself (401, 404, 413, 429). Counted by the decision-log-metrics pipeline.
    map $upstream_status $upstream_status_class {
        default "none";
        "~5\\d\\d$" "5xx";
        "~4\\d\\d$" "4xx";
        "~3\\d\\d$" "3xx";
        "~2\\d\\d$" "2xx";
        "~1\\d\\d$" "1xx";
    }
    # Audit line per request: key id (a hash prefix, never the key), status, timing, and the
    # guardrails upstream's status and response time (seconds; empty when not reached); no bodies,
    # no headers, no query string.
    log_format audit escape=json '{"event":"gateway.request","time":"$time_iso8601",'
        '"request_id":"$request_id","client":"$api_key_id","method":"$request_method",'
        '"uri":"$uri","status":$status,"bytes":$body_bytes_sent,"duration":$request_time,'
        '"upstream_status":"$upstream_status","upstream_status_class":"$upstream_status_class",'
        '"upstream_time":"$upstream_response_time"}';
    access_log /dev/stdout audit;
    client_max_body_size ${cfg.maxBodySize};
    client_body_buffer_size ${cfg.maxBodySize};
    # "Bearer <key>" -> key id; the map file comes from OCI Vault through External Secrets, and
    # is the last copy of it nginx -t accepted (run-gateway.sh applies rotations).
    map $http_authorization $api_key_id {
        default "";
        include ${gatewayPaths.liveKeys};
    }
    limit_req_zone $api_key_id zone=per_key:10m rate=${cfg.rateLimitRps}r/s;
    limit_req_status 429;
    upstream guardrails {
        server ${upstream};
        keepalive 16;
    }
    # Who may call: the subject of a verified client certificate (RFC 2253) -> 1 (mtls.ts
    # mtlsCallers.gateway).
    map $ssl_client_s_dn $mtls_allowed {
        default 0;
${(mtlsCallers.gateway as readonly MtlsCaller[]).map((c) => `        "CN=${mtlsIdentity(c)}" 1;`).join("\n")}
    }
    # mTLS only: ingress-nginx and the red-team assessment present a certificate of the cluster CA.
    server {
        listen ${port} ssl;
${sslServerDirectives(mtlsPaths.tls)}
        if ($mtls_allowed = 0) {
            return 403;
        }
        # The health path OCI's monitor probes through the ingress (no API key, nothing forwarded).
        location = /healthz {
            access_log off;
            return 200 "ok\\n";
        }
        location ~ ^/v1/(chat/completions|models)$ {
            if ($api_key_id = "") {
                return 401;
            }
            limit_req zone=per_key burst=${cfg.rateLimitRps * 2} nodelay;
            proxy_set_header Authorization "";
            proxy_set_header X-Request-Id $request_id;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
            proxy_pass https://guardrails;
${proxySslDirectives({ dir: mtlsPaths.tls, serverName: tierIdentity("guardrails") })}
        }
        location / {
            return 404;
        }
    }
    # The kubelet's probes: plain HTTP, /healthz only (like the tiers' sidecars).
    server {
        listen ${workloadPorts.mtlsHealth};
        access_log off;
        location = /healthz {
            return 200 "ok\\n";
        }
        location / {
            return 404;
        }
    }
}
`;
}

/** Where the gateway's files are in its container (its certificate: `mtlsPaths.tls`). */
export const gatewayPaths = {
    conf: "/etc/gateway/conf/nginx.conf",
    script: "/etc/gateway/conf/run-gateway.sh",
    /** The key map as the kubelet mounts it from the Secret (updated in place on rotation). */
    mountedKeys: "/etc/gateway/keys/api-keys.map",
    /** The copy nginx includes: the last mounted version `nginx -t` accepted (the pod's /tmp). */
    liveKeys: "/tmp/gateway-keys/api-keys.map",
} as const;

/** Seconds between two checks of the mounted key map and certificate for a rotation. */
export const gatewayKeysPollSeconds = 10;

/**
 * The gateway container's entrypoint: the run script of every nginx we run (mtls.ts,
 * {@link nginxRunScript}) with the key map copied (a rejected map is never loaded, the last good
 * set survives restarts in the pod's /tmp) and the mTLS certificate watched in place.
 */
export function gatewayRunScript(pollSeconds = gatewayKeysPollSeconds): string {
    return nginxRunScript({
        event: "gateway",
        conf: gatewayPaths.conf,
        copies: [{ mounted: gatewayPaths.mountedKeys, live: gatewayPaths.liveKeys }],
        watched: tlsFiles(mtlsPaths.tls),
        pollSeconds,
    });
}

/** Name of the Secret the gateway reads its API keys from (synced from OCI Vault). */
export const gatewayKeysSecret = "gateway-api-keys";

/**
 * ExternalSecret template that turns the Vault secret (one API key per line, letters, digits,
 * `-` and `_`) into an nginx map of `"~^Bearer <key>$" "<key id>";` lines; the key id is a hash
 * prefix. Regex entries because nginx compares a map's plain strings ignoring case (a key would
 * match in any capitalisation) and stops at start on a duplicated string, printing it; a regex
 * (`~`, case-sensitive) matches exactly, and a duplicate is just a second match that never wins.
 * Lines that are not a key are dropped, so no byte of the file can break nginx's parser.
 */
export const apiKeysMapTemplate = [
    '{{- range $k := (.keys | splitList "\\n") }}',
    '{{- $k = trim $k }}{{- if regexMatch "^[A-Za-z0-9_-]{16,}$" $k }}',
    '"~^Bearer {{ $k }}$" "{{ sha256sum $k | trunc 12 }}";',
    "{{- end }}{{- end }}",
    "",
].join("\n");

/** The gateway nginx. */
export function gatewayWorkload(
    cfg: GatewayTierConfig,
    confMap: pulumi.Input<string>,
    confChecksum: string,
): HardenedWorkloadComponentArgs {
    const w = catalog.gateway;
    return {
        workload: w,
        replicas: cfg.replicas,
        priorityClassName: priorityClasses.serving,
        podAnnotations: { [annotations.configChecksum]: confChecksum },
        containers: [
            {
                name: "gateway",
                image: image(cfg.image),
                // nginx under run-gateway.sh, which applies key rotations (gatewayRunScript).
                command: ["/bin/sh", gatewayPaths.script],
                resources: resources(cfg.resources),
                // The API port requires a client certificate: the probes use the plain listener.
                ports: [
                    ...w.ports.map((p) => ({ name: p.name, containerPort: p.port })),
                    { name: "mtls-health", containerPort: workloadPorts.mtlsHealth },
                ],
                probes: {
                    readiness: { path: "/healthz", port: "mtls-health" },
                    liveness: { path: "/healthz", port: "mtls-health", periodSeconds: 20 },
                },
                mounts: [
                    { name: "conf", mountPath: "/etc/gateway/conf", readOnly: true },
                    { name: "keys", mountPath: "/etc/gateway/keys", readOnly: true },
                    { name: "mtls-tls", mountPath: mtlsPaths.tls, readOnly: true },
                ],
            },
        ],
        volumes: [
            { name: "conf", configMap: { name: confMap } },
            { name: "keys", secret: { secretName: gatewayKeysSecret } },
            // The gateway's certificate: server (its callers) and client (the guardrails).
            { name: "mtls-tls", secret: { secretName: mtlsNames.certificate("gateway") } },
        ],
    };
}
