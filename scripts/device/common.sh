# Sourced by scripts/device/cuda.sh and webgpu.sh (bash). Phases with time limits inside one overall budget, full
# logs under $OUT, a summary table printed last, exit status 1 when a required phase failed.
#
# Environment: OUT (the device tool sets it; default ./device-out), FA_KIT (default .gpu-kit), FA_BUDGET_S (seconds
# for the whole script, default 540: the device allows 600 per command).
set -u -o pipefail
FA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$FA_ROOT" || exit 1
OUT=$(realpath -m "${OUT:-$FA_ROOT/device-out}")
mkdir -p "$OUT"
FA_KIT=${FA_KIT:-$FA_ROOT/.gpu-kit}
FA_BUDGET_S=${FA_BUDGET_S:-540}
# Plain logs: no colour codes from vitest and friends.
export NO_COLOR=1
FA_START=$(date +%s)
LOG="$OUT/$FA_NAME.log"
: >"$LOG"
PHASE_LINES=()
FAILED=0
# Phases named on the command line (none: all of them).
WANTED=" $* "

log() { echo "$*" | tee -a "$LOG"; }

wanted() { [[ $WANTED == "  " || $WANTED == *" $1 "* ]]; }

record() { PHASE_LINES+=("$(printf '| %-10s | %-16s | %5s s | %s |' "$1" "$2" "$3" "$4")"); }

# phase NAME LIMIT_S 'COMMAND' [optional]: runs COMMAND (a bash string) under `timeout`, within what is left of the
# budget, output to the terminal and the log. A failing optional phase is reported but does not fail the script.
phase() {
  local name=$1 limit=$2 cmd=$3 optional=${4:-}
  wanted "$name" || return 0
  local left=$((FA_START + FA_BUDGET_S - $(date +%s) - 10))
  if ((left < 15)); then
    log "=== $name: skipped, ${left} s left of the ${FA_BUDGET_S} s budget"
    record "$name" "SKIPPED (time)" 0 "$optional"
    [[ $optional == optional ]] || FAILED=1
    return 0
  fi
  ((limit > left)) && limit=$left
  log ""
  log "=== $name (limit ${limit} s): $cmd"
  local t0
  t0=$(date +%s)
  timeout -k 10 "$limit" bash -c "$cmd" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  local took=$(($(date +%s) - t0))
  local result=ok
  if ((rc == 124 || rc == 137)); then
    result="TIMEOUT"
  elif ((rc != 0)); then
    result="FAIL (exit $rc)"
  fi
  if [[ $result != ok ]]; then
    if [[ $optional == optional ]]; then result="$result, optional"; else FAILED=1; fi
  fi
  log "=== $name: $result in ${took} s"
  record "$name" "$result" "$took" "${cmd:0:90}"
}

# The node_modules subset from the kit (once per fresh tree), and the versions of what runs. Ends the script when it
# fails: nothing else can run.
setup() {
  local t0
  t0=$(date +%s)
  if unpack_kit; then
    record setup ok $(($(date +%s) - t0)) "unpack $FA_KIT/node_modules.tar.xz, versions"
  else
    record setup FAIL $(($(date +%s) - t0)) "unpack $FA_KIT/node_modules.tar.xz, versions"
    FAILED=1
    summary
  fi
}

unpack_kit() {
  if ! command -v node >/dev/null; then
    log "node is not on PATH: start the command with 'source .device/on-device.sh;' (see scripts/device/README.md)"
    return 1
  fi
  if [[ ! -e node_modules/.pnpm ]]; then
    local t0
    t0=$(date +%s)
    xz -T0 -dc "$FA_KIT/node_modules.tar.xz" | tar -x || return 1
    log "unpacked $FA_KIT/node_modules.tar.xz in $(($(date +%s) - t0)) s"
  else
    log "node_modules already present: not unpacking the kit"
  fi
  log "node $(node --version), $(uname -srm), $(grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null | cut -d= -f2)"
  if command -v nvidia-smi >/dev/null; then
    log "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
  else
    log "gpu: no nvidia-smi"
  fi
}

summary() {
  local total=$(($(date +%s) - FA_START))
  {
    echo ""
    echo "## $FA_NAME summary ($total s; logs and JSON in $OUT)"
    echo "| phase      | result           |  time   | command |"
    echo "|------------|------------------|---------|---------|"
    printf '%s\n' "${PHASE_LINES[@]}"
    if ((FAILED)); then echo "$FA_NAME: FAILED"; else echo "$FA_NAME: all required phases passed"; fi
  } | tee -a "$LOG"
  exit "$FAILED"
}
