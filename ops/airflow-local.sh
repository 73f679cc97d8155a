#!/usr/bin/env bash
# A local distributed Airflow deployment: CeleryExecutor on Redis, PostgreSQL for Airflow's
# metadata and for the warehouse, scheduler, dag-processor, triggerer, API server (127.0.0.1
# only) and two Celery workers, each its own process, stopped by PID.
#
#   ops/airflow-local.sh up      # start (idempotent); prints the UI address
#   ops/airflow-local.sh unpause # unpause every DAG of the project at once
#   ops/airflow-local.sh down    # stop every component, by PID
#   ops/airflow-local.sh env     # print the environment the components share (for a shell)
#
# Settings (environment, with local defaults): AIRFLOW_HOME (var/airflow), PG (PostgreSQL
# admin URL), AIRFLOW_DB, WAREHOUSE_DB, REDIS_URL, API_PORT, WORKER_CONCURRENCY (task slots
# per worker, default 1), CROSSCHECK_LANDING_DIR,
# CROSSCHECK_REPORTS_DIR, CROSSCHECK_PII_KEY, CROSSCHECK_POLL_SECONDS,
# CROSSCHECK_LANDING_SETTLE_SECONDS. Across machines: every worker needs the same
# landing storage, the warehouse and broker URLs and the PII key (see README, Airflow).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
export AIRFLOW_HOME=${AIRFLOW_HOME:-$ROOT/var/airflow}
PG=${PG:-postgresql+psycopg://postgres@127.0.0.1:5432}
AIRFLOW_DB=${AIRFLOW_DB:-crosscheck_airflow}
WAREHOUSE_DB=${WAREHOUSE_DB:-crosscheck_warehouse}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/5}
API_PORT=${API_PORT:-8080}
WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-1}  # task slots per Celery worker
RUN=$AIRFLOW_HOME/run
mkdir -p "$RUN" "$AIRFLOW_HOME/logs"

secret() {  # a per-deployment secret, kept in AIRFLOW_HOME (never committed)
  local file=$AIRFLOW_HOME/.$1
  [ -s "$file" ] || { umask 077; "$BIN/python" -c 'import secrets; print(secrets.token_hex(32))' > "$file"; }
  cat "$file"
}

write_env() {
  cat > "$AIRFLOW_HOME/env.sh" <<ENV
export AIRFLOW_HOME='$AIRFLOW_HOME'
export PYTHONPATH='$ROOT'   # this checkout's packages, whatever else is installed
export AIRFLOW__CORE__DAGS_FOLDER='$ROOT/dags'
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True   # start them with: unpause
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__PARALLELISM=8
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL='http://127.0.0.1:$API_PORT/execution/'
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN='$PG/$AIRFLOW_DB'
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC='${PG/+psycopg/+psycopg_async}/$AIRFLOW_DB'
export AIRFLOW__CELERY__BROKER_URL='$REDIS_URL'
export AIRFLOW__CELERY__RESULT_BACKEND='db+${PG/+psycopg/+psycopg}/$AIRFLOW_DB'
export AIRFLOW__CELERY__WORKER_CONCURRENCY=2
# Workers import the pipeline once; each forked task starts warm (ops/celery_config.py).
export AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=ops.celery_config.CELERY_CONFIG
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$API_PORT
export AIRFLOW__API__BASE_URL='http://127.0.0.1:$API_PORT'
export AIRFLOW__API_AUTH__JWT_SECRET='$(secret jwt)'
export AIRFLOW__API__SECRET_KEY='$(secret api)'
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True   # local only: no login
export AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL=10
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=10
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=0
# A loaded 2-core machine answers slowly: give the execution API time before retrying.
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT=30
export AIRFLOW__WORKERS__EXECUTION_API_RETRIES=10
export CROSSCHECK_WAREHOUSE_URL='${CROSSCHECK_WAREHOUSE_URL:-$PG/$WAREHOUSE_DB}'
export CROSSCHECK_LANDING_DIR='${CROSSCHECK_LANDING_DIR:-$ROOT/var/landing}'
export CROSSCHECK_REPORTS_DIR='${CROSSCHECK_REPORTS_DIR:-$ROOT/var/reports}'
export CROSSCHECK_POLL_SECONDS='${CROSSCHECK_POLL_SECONDS:-60}'
export CROSSCHECK_LANDING_SETTLE_SECONDS='${CROSSCHECK_LANDING_SETTLE_SECONDS:-2}'
ENV
  if [ -n "${CROSSCHECK_PII_KEY:-}" ]; then
    echo "export CROSSCHECK_PII_KEY='$CROSSCHECK_PII_KEY'" >> "$AIRFLOW_HOME/env.sh"
  fi
}

create_db() {  # create a PostgreSQL database if it does not exist
  "$BIN/python" - "$PG" "$1" <<'PY'
import sys
from sqlalchemy import create_engine, text
admin = create_engine(sys.argv[1] + "/postgres", isolation_level="AUTOCOMMIT")
with admin.connect() as conn:
    if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": sys.argv[2]}).first():
        conn.execute(text(f'CREATE DATABASE "{sys.argv[2]}"'))
admin.dispose()
PY
}

start() {  # start NAME COMMAND...: in its own session, PID in run/NAME.pid, log in run/NAME.log
  local name=$1; shift
  if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
    echo "  $name already running (pid $(cat "$RUN/$name.pid"))"; return
  fi
  setsid "$@" > "$RUN/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
  echo "  $name started (pid $!)"
}

up() {
  write_env
  # shellcheck disable=SC1091
  source "$AIRFLOW_HOME/env.sh"
  create_db "$AIRFLOW_DB"
  create_db "$WAREHOUSE_DB"
  "$BIN/airflow" db migrate > "$RUN/db-migrate.log" 2>&1
  # The warehouse schema is a deploy step: tasks never migrate.
  "$BIN/crosscheck" db upgrade --warehouse "$CROSSCHECK_WAREHOUSE_URL"
  start api-server "$BIN/airflow" api-server --host 127.0.0.1 --port "$API_PORT"
  start scheduler "$BIN/airflow" scheduler --skip-serve-logs
  start dag-processor "$BIN/airflow" dag-processor
  start triggerer "$BIN/airflow" triggerer --skip-serve-logs
  # One task slot per worker (WORKER_CONCURRENCY): two workers are this machine's two
  # cores, and a worker with one slot holds one task at a time (acks late, prefetch 1),
  # so tasks queued together (the counties) spread over the workers.
  start worker-1 "$BIN/airflow" celery worker --celery-hostname "worker1@%h" --skip-serve-logs --concurrency "$WORKER_CONCURRENCY"
  start worker-2 "$BIN/airflow" celery worker --celery-hostname "worker2@%h" --skip-serve-logs --concurrency "$WORKER_CONCURRENCY"
  for _ in $(seq 60); do
    curl -fsS "http://127.0.0.1:$API_PORT/api/v2/monitor/health" > /dev/null 2>&1 && break
    sleep 2
  done
  echo "Airflow UI: http://127.0.0.1:$API_PORT (logs and PIDs in $RUN)"
}

down() {
  for pidfile in "$RUN"/*.pid; do
    [ -e "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL -- "-$pid" 2>/dev/null || true   # the whole session: children too
      echo "  $(basename "$pidfile" .pid) stopped"
    fi
    rm -f "$pidfile"
  done
}

unpause() {  # every DAG of the project, at once
  # shellcheck disable=SC1091
  source "$AIRFLOW_HOME/env.sh"
  "$BIN/python" - <<'PY'
from airflow.models.dagbag import DagBag  # noqa: F401  (initialises settings)
from airflow.models.dag import DagModel
from airflow.utils.session import create_session
with create_session() as session:
    n = session.query(DagModel).filter(DagModel.is_paused.is_(True)).update({"is_paused": False})
print(f"unpaused {n} DAGs")
PY
}

case "${1:-}" in
  up) up ;;
  unpause) unpause ;;
  down) down ;;
  env) write_env; cat "$AIRFLOW_HOME/env.sh" | grep -v -e JWT_SECRET -e SECRET_KEY -e PII_KEY ;;
  *) echo "usage: $0 up|unpause|down|env" >&2; exit 2 ;;
esac
