#!/usr/bin/env bash
# Creates the Pulumi state backend on OCI Object Storage (S3-compatible API), once per tenancy:
# a private, versioned bucket encrypted with a Vault key, and prints the `pulumi login` URL.
# Needs the OCI CLI, authenticated as an administrator of the compartment.
#
# usage: scripts/bootstrap-state-backend.sh <compartment-ocid> <region> [bucket-name] [kms-key-ocid]
set -euo pipefail
compartment=${1:?compartment OCID}
region=${2:?region, e.g. us-ashburn-1}
bucket=${3:-pulumi-state}
kms_key=${4:-}

namespace=$(oci os ns get --region "$region" --query data --raw-output)
args=(--compartment-id "$compartment" --name "$bucket" --region "$region"
      --public-access-type NoPublicAccess --versioning Enabled)
[ -n "$kms_key" ] && args+=(--kms-key-id "$kms_key")

if oci os bucket get --bucket-name "$bucket" --region "$region" >/dev/null 2>&1; then
    echo "bucket $bucket exists; leaving it as it is"
else
    oci os bucket create "${args[@]}" >/dev/null
    echo "created bucket $bucket (private, versioned${kms_key:+, encrypted with $kms_key})"
fi

endpoint="${namespace}.compat.objectstorage.${region}.oraclecloud.com"
cat <<MSG

State backend ready. Log in with an OCI Customer Secret Key (S3 access key pair) of a user that may
manage objects in this bucket only:

  export AWS_ACCESS_KEY_ID=<customer-secret-key-id> AWS_SECRET_ACCESS_KEY=<customer-secret-key>
  pulumi login 's3://${bucket}?endpoint=${endpoint}&region=${region}&s3ForcePathStyle=true'

Stack secrets use the passphrase provider (OCI KMS is not a Pulumi secrets provider):
  export PULUMI_CONFIG_PASSPHRASE=...   # from your password manager or the CI secret store
MSG
