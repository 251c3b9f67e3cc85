#!/usr/bin/env bash
# Start / stop a local moto server (AWS API emulator) for the AWS adapter tests.
#
#   eval "$(scripts/moto.sh start)"   # starts moto, prints export lines, eval sets them
#   cargo test -p rentops-aws
#   scripts/moto.sh stop
#
# Port: MOTO_PORT (default 5077). State (PID file, log) lives in
# ${MOTO_STATE_DIR:-${TMPDIR:-/tmp}/rentops-moto-<port>}. Diagnostics go to stderr,
# only the export lines to stdout.
set -euo pipefail

PORT="${MOTO_PORT:-5077}"
STATE_DIR="${MOTO_STATE_DIR:-${TMPDIR:-/tmp}/rentops-moto-${PORT}}"
PID_FILE="$STATE_DIR/moto.pid"
LOG_FILE="$STATE_DIR/moto.log"
URL="http://127.0.0.1:${PORT}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { echo "moto.sh: $*" >&2; }

# The Python interpreter moto_server runs with (so the launcher imports the same moto).
moto_python() {
  local exe line interp
  exe="$(command -v moto_server)"
  if [[ "$exe" == */shims/* ]] && command -v pyenv >/dev/null 2>&1; then
    exe="$(pyenv which moto_server)"
  fi
  line="$(head -1 "$exe")"
  interp="${line#'#!'}"
  interp="${interp#/usr/bin/env }"
  interp="${interp%% *}"
  if [[ "$line" == '#!'* ]] && "$interp" -c 'import moto' >/dev/null 2>&1; then
    echo "$interp"
  else
    echo python3
  fi
}

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

print_env() {
  cat <<ENV
export AWS_ENDPOINT_URL=${URL}
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export RENTOPS_MOTO=1
ENV
}

start() {
  mkdir -p "$STATE_DIR"
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $URL"
    print_env
    return 0
  fi
  if ! command -v moto_server >/dev/null 2>&1; then
    log "moto_server not found; installing moto[server] with pip"
    python3 -m pip install --quiet 'moto[server]' >&2
    hash -r
  fi
  if curl -fsS "$URL/moto-api/" >/dev/null 2>&1; then
    log "port $PORT already serves something that is not our moto (no PID file); set MOTO_PORT"
    return 1
  fi
  # setsid: the server survives the shell that started it and does not get its signals.
  # moto_atomic_server.py is moto_server with each non-SQS request made atomic (see
  # that file: plain moto_server lets two concurrent conditional DynamoDB writes both
  # succeed). MOTO_PLAIN=1 runs the stock moto_server instead.
  if [[ "${MOTO_PLAIN:-0}" == 1 ]]; then
    setsid nohup moto_server -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 </dev/null &
  else
    local py
    py="$(moto_python)"
    setsid nohup "$py" "$SCRIPT_DIR/moto_atomic_server.py" -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 </dev/null &
  fi
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + 30))
  until curl -fsS "$URL/moto-api/" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      log "moto_server exited during start; log: $LOG_FILE"
      tail -20 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "moto_server not ready after 30 s; log: $LOG_FILE"
      stop
      return 1
    fi
    sleep 0.2
  done
  log "moto_server ready on $URL (pid $(cat "$PID_FILE"), log $LOG_FILE)"
  print_env
}

stop() {
  if pid="$(running_pid)"; then
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop on TERM; sending KILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped moto_server (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
}

status() {
  if pid="$(running_pid)"; then
    log "running (pid $pid) on $URL"
  else
    log "not running"
    return 1
  fi
}

reset() {
  curl -fsS -X POST "$URL/moto-api/reset" >/dev/null
  log "state reset"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) reset ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|status|reset|env" >&2
    exit 2
    ;;
esac
