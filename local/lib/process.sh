# Sourced by local/stack.sh (LOCAL ONLY): messages and process supervision
# (pid files, detached starts, stops, waiting for HTTP through the gateway).

say() { echo "==> $*"; }

# Prints an error and the end of the log that explains it, then exits.
fail() {
  echo "error: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "--- last lines of $2 ---" >&2
    tail -n 30 "$2" >&2
  fi
  exit 1
}

# Writes stdin to $1 through a temporary file in the same directory and a
# rename, so a service that reads $1 at any moment sees the old file or the new
# one, never a half-written one. The file is private (0600) unless $2 gives a mode.
write_atomic() {
  local target=$1 mode=${2:-0600} tmp
  tmp=$(mktemp "$target.XXXXXX") || fail "cannot write $target"
  if ! cat >"$tmp" || ! chmod "$mode" "$tmp" || ! mv -f "$tmp" "$target"; then
    rm -f "$tmp"
    fail "cannot write $target"
  fi
}

# HTTP status of GET $1 (000 when nothing answers), without extra tools.
http_status() {
  local code
  code=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$1" >&3
    IFS=" " read -r _ code _ <&3 && echo "$code"' "$API_PORT" "$1" 2>/dev/null) || true
  echo "${code:-000}"
}

# Waits until GET $2 through the gateway answers with anything but "down";
# gives up at once if one of the processes it needs ($4...: "pidname:match") died.
wait_http() {
  local name=$1 path=$2 log=$3 code i need
  shift 3
  for i in $(seq 1 120); do
    for need in "$@"; do
      running_pid "${need%%:*}" "${need#*:}" >/dev/null ||
        fail "${need%%:*} exited while starting" "$LOGS/${need%%:*}.log"
    done
    code=$(http_status "$path")
    case "$code" in 000 | 502 | 503 | 504) sleep 0.5 ;; *) return 0 ;; esac
  done
  fail "$name did not answer at $API_URL$path in 60 s (last status $code)" "$log"
}

# A pid file counts only while its process runs and is still ours ($2 in its command line).
running_pid() {
  local pid
  pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"; then
    echo "$pid"
  else
    return 1
  fi
}

# Starts "$@" detached in its own session, logging to .local/logs/$name.log.
start_bg() {
  local name=$1
  shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# Stops the process group of a pid file (TERM, then KILL after 5 s).
stop_bg() {
  local name=$1 match=$2 pid i
  if pid=$(running_pid "$name" "$match"); then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}
