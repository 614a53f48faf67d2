#!/usr/bin/env bash
# Exchanges the GitHub Actions OIDC token for a short-lived OCI user-principal session token (UPST)
# through the identity domain's token-exchange grant, and writes an OCI config profile that the
# Pulumi OCI providers use with `ociAuth.method: SecurityToken` (every stack) and the OCI CLI with
# `--auth security_token` (the kubeconfig's exec plugin, the deploy tool's Bastion calls). No OCI
# API key is stored anywhere.
#
# Where: the providers read only `<home>/.oci/config` once a profile is set, `<home>` being
# TF_HOME_OVERRIDE or the user's home (terraform-provider-oci provider.go / utils/helpers.go
# GetHomeFolder, the code under @pulumi/oci 4.20.0; OCI_CONFIG_FILE is not read there). So the
# profile is written to $RUNNER_TEMP/oci-home/.oci/config (gone with the job, never the runner's own
# ~/.oci) and the job gets TF_HOME_OVERRIDE and OCI_CLI_CONFIG_FILE pointing at that one file.
#
# Prerequisites (once, see docs/deploying.md): an identity propagation trust in the identity domain
# that trusts https://token.actions.githubusercontent.com for this repository, mapped to a service
# user whose groups hold only the policies the platform needs; a confidential OAuth client allowed
# to use the token-exchange grant (OCI_CLIENT_ID / OCI_CLIENT_SECRET).
#
# Env: OCI_DOMAIN_URL, OCI_CLIENT_ID, OCI_CLIENT_SECRET, OCI_REGION, ACTIONS_ID_TOKEN_REQUEST_URL,
#      ACTIONS_ID_TOKEN_REQUEST_TOKEN (set by GitHub when the job has `id-token: write`).
set -euo pipefail
: "${OCI_DOMAIN_URL:?set the identity domain URL}" "${OCI_CLIENT_ID:?}" "${OCI_CLIENT_SECRET:?}" "${OCI_REGION:?}"
: "${ACTIONS_ID_TOKEN_REQUEST_URL:?the job needs permissions: id-token: write}"

home="${RUNNER_TEMP:-$(mktemp -d)}/oci-home"
dir="$home/.oci"
profile="${OCI_PROFILE:-DEFAULT}"
mkdir -p "$dir" && chmod 700 "$home" "$dir"

# GitHub OIDC token for this job, audience = the identity domain.
jwt=$(curl -fsS -H "Authorization: Bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \
    "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=${OCI_DOMAIN_URL}" | jq -r .value)
echo "::add-mask::${jwt}"

# Ephemeral key pair: the UPST is bound to this public key and dies with the job.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/session.pem" 2>/dev/null
chmod 600 "$dir/session.pem"
pub=$(openssl rsa -in "$dir/session.pem" -pubout -outform DER 2>/dev/null | base64 -w0)

upst=$(curl -fsS -u "${OCI_CLIENT_ID}:${OCI_CLIENT_SECRET}" \
    -H 'Content-Type: application/x-www-form-urlencoded;charset=utf-8' \
    --data-urlencode 'grant_type=urn:ietf:params:oauth:grant-type:token-exchange' \
    --data-urlencode 'requested_token_type=urn:oci:token-type:oci-upst' \
    --data-urlencode 'subject_token_type=jwt' \
    --data-urlencode "subject_token=${jwt}" \
    --data-urlencode "public_key=${pub}" \
    "${OCI_DOMAIN_URL%/}/oauth2/v1/token" | jq -r .token)
echo "::add-mask::${upst}"
printf '%s' "$upst" > "$dir/token" && chmod 600 "$dir/token"

fingerprint=$(openssl rsa -in "$dir/session.pem" -pubout -outform DER 2>/dev/null | openssl md5 -c | awk '{print $2}')
cat > "$dir/config" <<CFG
[${profile}]
region=${OCI_REGION}
key_file=${dir}/session.pem
security_token_file=${dir}/token
fingerprint=${fingerprint}
CFG
chmod 600 "$dir/config"
printf 'TF_HOME_OVERRIDE=%s\nOCI_CLI_CONFIG_FILE=%s\n' "$home" "$dir/config" >> "${GITHUB_ENV:-/dev/null}"
echo "OCI session token written to $dir/config (profile ${profile})"
