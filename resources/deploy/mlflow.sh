#!/usr/bin/env bash
# The MLflow tracking server of the stack: runs and registry in PostgreSQL (database `mlflow`), artifacts in
# S3 (bucket $STACK_BUCKET through $AWS_ENDPOINT_URL, created if missing), and, when
# MLFLOW_TRACKING_PASSWORD is set, MLflow's basic-auth app with that user as its admin. Secrets stay in the
# environment (PGPASSWORD for psycopg2), never on the command line.
set -euo pipefail
stack=${STACK_DIR:?set STACK_DIR (a folder of your own for the stack state, e.g. \$(mktemp -d))}
bucket=${STACK_BUCKET:-mlflow}
export PGPASSWORD=${DAGSTER_PG_PASSWORD:?set DAGSTER_PG_PASSWORD}
export MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://postgres@127.0.0.1:${STACK_PG_PORT:-5432}/mlflow"
export MLFLOW_S3_ENDPOINT_URL=${AWS_ENDPOINT_URL:-}
# MLflow 3's server also starts Huey job consumers for its GenAI features (scorers, trace rollups), which
# recipes never use: seven Python processes, 1.6 GB and ~30 s of CPU at start (measured on 2 cores).
# MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true brings them back.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}
python - "$bucket" <<'PY'
import sys, boto3
s3 = boto3.client("s3")
if sys.argv[1] not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=sys.argv[1])
PY
auth=()
if [ -n "${MLFLOW_TRACKING_PASSWORD:-}" ]; then
  cat > "$stack/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$stack/basic_auth.db
admin_username = ${MLFLOW_TRACKING_USERNAME:-admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
  export MLFLOW_AUTH_CONFIG_PATH=$stack/basic_auth.ini MLFLOW_AUTH_ADMIN_PASSWORD=$MLFLOW_TRACKING_PASSWORD
  export MLFLOW_FLASK_SERVER_SECRET_KEY=${MLFLOW_FLASK_SERVER_SECRET_KEY:-$(python -c 'import secrets; print(secrets.token_hex(16))')}
  auth=(--app-name basic-auth)
fi
exec mlflow server --host 127.0.0.1 --port "${STACK_MLFLOW_PORT:-5000}" --artifacts-destination "s3://$bucket/artifacts" --workers 1 "${auth[@]}"
