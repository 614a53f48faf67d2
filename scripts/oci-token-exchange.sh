#!/usr/bin/env bash
# Exchanges the GitHub Actions OIDC token for a short-lived OCI user-principal session token (UPST)
# through the identity domain's token-exchange grant, and writes an OCI config profile that the
# Pulumi OCI provider uses with `auth: SecurityToken`. No OCI API key is stored anywhere.
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

dir="${RUNNER_TEMP:-$(mktemp -d)}/oci"
mkdir -p "$dir" && chmod 700 "$dir"

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
[DEFAULT]
region=${OCI_REGION}
key_file=${dir}/session.pem
security_token_file=${dir}/token
fingerprint=${fingerprint}
CFG
chmod 600 "$dir/config"
# The Pulumi OCI providers read OCI_CONFIG_FILE, the OCI CLI (the kubeconfig's exec plugin, the
# deploy tool's Bastion and registry calls) OCI_CLI_CONFIG_FILE ("CLI Environment Variables").
printf 'OCI_CONFIG_FILE=%s\nOCI_CLI_CONFIG_FILE=%s\n' "$dir/config" "$dir/config" >> "${GITHUB_ENV:-/dev/null}"
echo "OCI session token written to $dir/config (profile DEFAULT)"
