#!/usr/bin/env bash
# A throw-away Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager) on 127.0.0.1, for integration tests and the demo.
#
#   local-cluster.sh up DIR [--watch-cache=false] [--parent-pid PID] [--crd FILE]...
#                           [--extra-controllers=LIST]  (more kube-controller-manager
#                           controllers, such as horizontalpodautoscaling)
#                           [--controller-manager-flags="FLAGS"]  (more flags for it,
#                           such as --kube-api-qps=200 for a benchmark)
#                           [--audit-policy=FILE]  (kube-apiserver writes an audit log,
#                           one JSON event a line, to DIR/audit.log; off by default)
#                           [--apiserver-flag FLAG]...  (one more kube-apiserver flag each,
#                           such as --audit-policy-file=F; tests/reliability/security_test.cpp)
#   local-cluster.sh down DIR                 (KEEP=1 keeps DIR and its logs)
#   local-cluster.sh restart-apiserver DIR
#   local-cluster.sh restart-etcd DIR
#   local-cluster.sh compact DIR              (prints the compacted revision)
#   local-cluster.sh env DIR
#   local-cluster.sh status DIR               (exit 0 when all three run and /readyz is ok)
#   local-cluster.sh install-crds DIR FILE...
#   local-cluster.sh free-ports N             (N distinct free ports, for servers started beside it)
#
# Everything lives in DIR: certificates, etcd data, one log per process
# (DIR/<name>.log), pid files (DIR/<name>.pid), DIR/kubeconfig (admin by
# client certificate) and DIR/env (KUBECONFIG, ETCD_ENDPOINT, APISERVER_PORT,
# ADMIN_TOKEN). Other programs started against the cluster (the demo's
# operator) may leave DIR/<name>.pid too: `down` stops them first. Ports are picked free at start, so several clusters coexist.
# `up` prints DIR on stdout and nothing else there; progress goes to stderr.
#
# READY_TIMEOUT=SECONDS bounds each wait for a server that runs but is not
# ready (default 180; a server that exits fails the wait at once).
#
# Binaries come from hack/control-plane-binaries.sh (honours
# KUBEBUILDER_ASSETS). Needs bash, openssl, curl, and ss (iproute2) or
# bash's /dev/tcp to probe ports; etcdctl (etcd-client) only for `compact`.
# Python is deliberately not used: a bare Debian may not have it.
set -Eeuo pipefail
# set -e alone exits without a word; say which command failed where (-E: in
# functions too).
trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
# Seconds, for /readyz, the default namespace and CRDs. A server that exits
# fails the wait at once; this bounds only one that runs without getting
# ready. 60 s was too short on a 2-core machine at load average 24: the API
# server took 49 s to serve and over 60 s to be ready (docs/reliability.md).
READY_TIMEOUT="${READY_TIMEOUT:-180}"
# Start order; `down` stops them in reverse (kcm first, etcd last).
PROCS=(etcd kube-apiserver kube-controller-manager)
AUDIT_POLICY="" # up --audit-policy: not from the environment
APISERVER_EXTRA=() # up --apiserver-flag: appended to kube-apiserver's flags

log() { echo "local-cluster: $*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- processes

# pid_of DIR NAME: the recorded pid of NAME, if that process is still ours.
# A process counts as ours when it is this script's own child (`up` and
# restart-apiserver start the servers), or when its command line mentions
# DIR, so that a pid recycled by the kernel after our process died is never
# signalled. The child test comes first because the command line cannot be
# trusted while a child is in execve: between the switch to the new address
# space and the recording of its arguments, /proc/PID/cmdline reads empty
# (for up to 0.25 ms measured here, longer when the CPU is busy), a moment in
# which `up` would take a running server for one that had exited (see "The
# local control plane's starts" in docs/reliability.md).
pid_of() {
  local f="$1/$2.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  if [ "$(field_of "$pid" 4)" != "$$" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$1" || return 1
  fi
  echo "$pid"
}

# field_of PID N: field N of /proc/PID/stat (3 the state, 4 the parent's
# pid, 22 the start time in clock ticks; see proc(5)).
field_of() {
  local stat f
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # the command name may hold spaces and parentheses
  read -ra f <<<"$stat"
  echo "${f[$2 - 3]}"
}

# is_running PID: true while the process exists and is not a zombie. A
# stopped server is re-parented to PID 1, and an init that reaps lazily would
# leave `kill -0` answering yes for a while after the process ended.
is_running() {
  local state
  state="$(field_of "$1" 3)" || return 1
  [ "$state" != Z ]
}

# stop_proc DIR NAME [GRACE]: TERM, then KILL if it is still there after
# GRACE seconds (default 5). kube-apiserver 1.20 stops listening at once on
# TERM but then waits up to a minute for open watches, hence the KILL.
stop_proc() {
  local dir="$1" name="$2" grace="${3:-5}" pid i
  if pid="$(pid_of "$dir" "$name")" && [ "$pid" != "$$" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 20; i++)); do
      is_running "$pid" || break
      sleep 0.05
    done
    if is_running "$pid"; then
      log "$name ($pid) still running ${grace} s after TERM, sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        is_running "$pid" || break
        sleep 0.05
      done
    fi
  fi
  rm -f "$dir/$name.pid"
}

stop_all() {
  local dir="$1" i f name
  # Clients first (the demo's operator, anything else that left a pid file
  # here), so that they do not log errors while the servers go away.
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    name="$(basename "$f" .pid)"
    [[ " ${PROCS[*]} watchdog " == *" $name "* ]] || stop_proc "$dir" "$name"
  done
  for ((i = ${#PROCS[@]} - 1; i >= 0; i--)); do stop_proc "$dir" "${PROCS[i]}"; done
  stop_proc "$dir" watchdog # a no-op when the watchdog itself is running this
}

# start_proc DIR NAME ARGS...: runs NAME in the background, stdio detached so
# that a caller reading our stdout through a pipe (popen) sees EOF when this
# script exits, not when the servers do.
start_proc() {
  local dir="$1" name="$2"
  shift 2
  "$@" </dev/null >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

# fail_with_log DIR NAME MESSAGE: the failure report of `up` and friends.
fail_with_log() {
  log "$3; last lines of $1/$2.log:"
  tail -n 30 "$1/$2.log" >&2 || true
  return 1
}

alive() { pid_of "$1" "$2" >/dev/null && is_running "$(cat "$1/$2.pid")"; }

# ---------------------------------------------------------------- ports

USED_PORTS=" "
port_in_use() {
  if command -v ss >/dev/null; then
    # Any socket bound to the port (listening, or a connection using it).
    [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# free_port: a port nobody listens on, below Linux's ephemeral range
# (32768-60999) so outgoing connections cannot grab it between our check and
# the server's bind. The servers' start-up is retried if one loses that race.
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM % 12000)))
    [[ "$USED_PORTS" == *" $p "* ]] && continue
    port_in_use "$p" && continue
    USED_PORTS+="$p "
    echo "$p"
    return 0
  done
  die "no free port found"
}

lost_port_race() { grep -qiE "address already in use|bind: .*in use" "$1" 2>/dev/null; }

# gave_up_on_apiserver LOG: kube-controller-manager exits when the API
# server's /healthz is not ok within 10 s of its start (a fixed wait in
# 1.20), which a busy machine can exceed although the API server was ready.
gave_up_on_apiserver() { grep -q "failed to wait for apiserver being healthy" "$1" 2>/dev/null; }

# ---------------------------------------------------------------- certificates

# make_certs DIR: a CA; the API server's serving cert (SAN 127.0.0.1 and
# localhost); an admin client cert in group system:masters (O= is the group);
# an RSA key pair for service-account tokens. EC keys for TLS: they are made
# in milliseconds where RSA takes a noticeable fraction of a second each.
make_certs() {
  local d="$1/pki"
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=kubec2-local-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out ca.crt 2>/dev/null

    # sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt signed by the CA.
    sign() {
      openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    sign admin "/O=system:masters/CN=kubec2-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # token,user,uid,"group1,group2"
    echo "$(openssl rand -hex 24),kubec2-admin,kubec2-admin,\"system:masters\"" >tokens.csv
  )
}

b64() { base64 -w0 <"$1"; }

write_kubeconfig() {
  local dir="$1" port="$2"
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(b64 "$dir/pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$dir/pki/admin.crt")
    client-key-data: $(b64 "$dir/pki/admin.key")
contexts:
- name: local
  context:
    cluster: local
    user: admin
current-context: local
EOF
  chmod 600 "$dir/kubeconfig"
}

# ---------------------------------------------------------------- API server access

# api DIR [CURL ARGS...] PATH: curl against the API server as admin
# (client certificate), the body on stdout, the HTTP status last, on its own line.
api() {
  local dir="$1" port
  shift
  port="$(cat "$dir/apiserver.port")"
  local path="${*: -1}"
  # A user agent other than curl/*: for curl the API server pretty-prints its
  # JSON, and install_crd relies on the compact form.
  curl -sS --max-time 30 -A kubec2-local-cluster --cacert "$dir/pki/ca.crt" \
    --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
    -w '\n%{http_code}' "${@:1:$#-1}" "https://127.0.0.1:$port$path"
}

# exit_report DIR NAME: how NAME ended, for the failure report. The servers
# are this script's children, so `wait` still has their exit status or the
# signal that ended them; a server still running means `alive` was wrong.
exit_report() {
  local dir="$1" name="$2" pid status=0
  pid="$(cat "$dir/$name.pid" 2>/dev/null)" || {
    log "$name: no pid file"
    return 0
  }
  if is_running "$pid"; then
    log "$name ($pid) is in fact still running (parent $(field_of "$pid" 4), this script $$)"
    return 0
  fi
  wait "$pid" 2>/dev/null || status=$?
  local sig=""
  ((status <= 128)) || sig="$(kill -l $((status - 128)) 2>/dev/null)" || sig=""
  if [ -n "$sig" ]; then
    log "$name ($pid) was killed by SIG$sig (exit status $status)"
  else
    log "$name ($pid) exited with status $status"
  fi
  [ -s "$dir/$name.log" ] || log "$name wrote nothing to its log"
}

# port_report PORT...: who holds each port now, for the failure report of a
# server that did not come up (another control plane that took it between
# free_port and the server's bind, or nobody).
port_report() {
  local p owner
  command -v ss >/dev/null || return 0 # the owner needs ss (iproute2)
  for p in "$@"; do
    owner="$(ss -Htlnp "( sport = :$p )" 2>/dev/null | grep -o 'users:.*' || true)"
    log "port $p: ${owner:-nobody listens}"
  done
}

# wait_for DIR NAME WHAT CMD...: polls CMD until it succeeds, failing early
# when process NAME died (its log says why) and after READY_TIMEOUT seconds.
wait_for() {
  local dir="$1" name="$2" what="$3" deadline=$((SECONDS + READY_TIMEOUT))
  shift 3
  until "$@" >/dev/null 2>&1; do
    alive "$dir" "$name" || {
      fail_with_log "$dir" "$name" "$name exited while waiting for $what"
      exit_report "$dir" "$name"
      return 1
    }
    ((SECONDS < deadline)) || {
      fail_with_log "$dir" "$name" "timed out after ${READY_TIMEOUT}s waiting for $what"
      return 1
    }
    sleep 0.1
  done
}

http_ok() { [ "$(api "$@" | tail -n1)" = 200 ]; }

# ---------------------------------------------------------------- the three servers

start_saved_etcd() {
  local dir="$1" args=()
  mapfile -t args <"$dir/etcd.args"
  start_proc "$dir" etcd "$BIN/etcd" "${args[@]}"
  wait_for "$dir" etcd "etcd health" curl -sf --max-time 2 "$(cat "$dir/etcd.endpoint")/health"
}

start_etcd() {
  local dir="$1" client peer
  mkdir -p "$dir/etcd"
  for _ in 1 2 3; do # attempts
    client="$(free_port)"
    peer="$(free_port)"
    : >"$dir/etcd.log"
    # Saved like the API server's flags, so that restart-etcd starts it again
    # on the same ports with the same data.
    printf '%s\n' --name local --data-dir "$dir/etcd" \
      --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "local=http://127.0.0.1:$peer" --logger=zap --log-level=warn >"$dir/etcd.args"
    echo "http://127.0.0.1:$client" >"$dir/etcd.endpoint"
    if start_saved_etcd "$dir"; then
      return 0
    fi
    lost_port_race "$dir/etcd.log" || {
      port_report "$client" "$peer"
      return 1
    }
    log "etcd lost a port race, retrying with other ports"
    stop_proc "$dir" etcd
  done
  return 1
}

# The API server's flags are saved once in DIR/kube-apiserver.args, one per
# line, so that restart-apiserver starts it again exactly the same way.
start_apiserver() {
  local dir="$1" args=()
  mapfile -t args <"$dir/kube-apiserver.args"
  start_proc "$dir" kube-apiserver "$BIN/kube-apiserver" "${args[@]}"
  wait_for "$dir" kube-apiserver "/readyz" http_ok "$dir" /readyz
}

save_apiserver_args() {
  local dir="$1" port="$2" watch_cache="$3" p="$1/pki"
  printf '%s\n' \
    --etcd-servers="$(cat "$dir/etcd.endpoint")" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$port" --insecure-port=0 \
    --cert-dir="$dir/apiserver-certs" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" --token-auth-file="$p/tokens.csv" \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true --watch-cache="$watch_cache" \
    --endpoint-reconciler-type=none \
    >"$dir/kube-apiserver.args"
  if [ -n "${AUDIT_POLICY:-}" ]; then
    # Blocking: an event is written before the request is answered, so the
    # log misses nothing a client saw succeed.
    printf '%s\n' --audit-policy-file="$AUDIT_POLICY" --audit-log-path="$dir/audit.log" \
      --audit-log-format=json --audit-log-mode=blocking >>"$dir/kube-apiserver.args"
  fi
  if ((${#APISERVER_EXTRA[@]})); then printf '%s\n' "${APISERVER_EXTRA[@]}" >>"$dir/kube-apiserver.args"; fi
  # --endpoint-reconciler-type=none: the `kubernetes` Service's endpoints
  # would name 127.0.0.1, which the reconciler rejects noisily; nothing here
  # reaches the API server through that Service.
}

# first_start_apiserver DIR WATCH_CACHE: picks the port, saves the flags,
# writes the kubeconfig and starts; retried if another process took the port.
first_start_apiserver() {
  local dir="$1" watch_cache="$2" port
  for _ in 1 2 3; do # attempts
    port="$(free_port)"
    echo "$port" >"$dir/apiserver.port"
    save_apiserver_args "$dir" "$port" "$watch_cache"
    write_kubeconfig "$dir" "$port"
    : >"$dir/kube-apiserver.log"
    if start_apiserver "$dir"; then
      return 0
    fi
    lost_port_race "$dir/kube-apiserver.log" || {
      port_report "$port"
      return 1
    }
    log "kube-apiserver lost a port race, retrying with another port"
    stop_proc "$dir" kube-apiserver
  done
  return 1
}

start_controller_manager() {
  local dir="$1" extra="$2" port p="$1/pki"
  local -a flags
  read -r -a flags <<<"${3:-}"
  for _ in 1 2 3; do # attempts
    port="$(free_port)"
    : >"$dir/kube-controller-manager.log"
    start_proc "$dir" kube-controller-manager "$BIN/kube-controller-manager" \
      --kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --secure-port="$port" --port=0 \
      --cert-dir="$dir/kcm-certs" --leader-elect=false \
      --controllers=garbagecollector,namespace,serviceaccount-token${extra:+,$extra} \
      --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
      --use-service-account-credentials=false "${flags[@]}"
    # /healthz is served without authentication: it says the controllers run.
    if wait_for "$dir" kube-controller-manager "controller-manager /healthz" \
      curl -sf --max-time 2 -k "https://127.0.0.1:$port/healthz"; then
      return 0
    fi
    if gave_up_on_apiserver "$dir/kube-controller-manager.log" && alive "$dir" kube-apiserver; then
      log "kube-controller-manager gave up waiting for the API server (it waits 10 s), which still runs; starting it again"
    else
      lost_port_race "$dir/kube-controller-manager.log" || {
        port_report "$port"
        return 1
      }
      log "kube-controller-manager lost a port race, retrying with another port"
    fi
    stop_proc "$dir" kube-controller-manager
  done
  return 1
}

# ---------------------------------------------------------------- CRDs

crd_name_from() { grep -o "\"$1\":{\"name\":\"[^\"]*\"" | head -n1 | sed 's/.*"name":"\([^"]*\)"/\1/' || true; }

# install_crd DIR FILE: create, or update by server-side apply if it exists.
# The API server takes JSON and YAML bodies alike (one object per file).
# Its replies are compact JSON in a fixed field order, which is what lets
# plain grep read the name and the Established condition without jq.
install_crd() {
  local dir="$1" file="$2" ctype=application/json out code name
  [ -r "$file" ] || die "cannot read $file"
  case "$file" in *.yaml | *.yml) ctype=application/yaml ;; esac
  local base=/apis/apiextensions.k8s.io/v1/customresourcedefinitions
  out="$(api "$dir" -X POST -H "Content-Type: $ctype" --data-binary "@$file" "$base?fieldManager=kubec2-local-cluster")"
  code="$(tail -n1 <<<"$out")"
  case "$code" in
  201) name="$(crd_name_from metadata <<<"$out")" ;;
  409)
    name="$(crd_name_from details <<<"$out")"
    out="$(api "$dir" -X PATCH -H "Content-Type: application/apply-patch+yaml" --data-binary "@$file" \
      "$base/$name?fieldManager=kubec2-local-cluster&force=true")"
    code="$(tail -n1 <<<"$out")"
    [ "$code" = 200 ] || die "updating CRD $name from $file: HTTP $code: $(sed '$d' <<<"$out")"
    ;;
  *) die "creating CRD from $file: HTTP $code: $(sed '$d' <<<"$out")" ;;
  esac
  [ -n "$name" ] || die "could not read the CRD's name from the reply for $file"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until api "$dir" "$base/$name" | grep -q '"type":"Established","status":"True"'; do
    ((SECONDS < deadline)) || die "CRD $name not Established after ${READY_TIMEOUT}s"
    sleep 0.1
  done
  log "CRD $name established"
}

# ---------------------------------------------------------------- watchdog

# start_time PID: the process's start time in clock ticks, which tells a
# recycled pid from the original process.
start_time() { field_of "$1" 22; }

# The watchdog runs in its own session (setsid) so that a signal to the test
# binary's process group does not take it down too; it polls the parent and
# runs `down` once the parent is gone.
watchdog() {
  local dir="$1" parent="$2" t0
  echo $$ >"$dir/watchdog.pid"
  t0="$(start_time "$parent")" || t0=gone
  while is_running "$parent" && [ "$(start_time "$parent" || echo gone)" = "$t0" ]; do
    [ -d "$dir" ] || exit 0 # `down` ran and removed DIR
    sleep 0.5
  done
  echo "local-cluster: parent $parent is gone, stopping the control plane" >>"$dir/watchdog.log"
  exec "$SELF" down "$dir"
}

# ---------------------------------------------------------------- subcommands

# A failed `up` stops whatever it started; DIR and its logs stay for a look.
on_up_exit() {
  local rc=$?
  if ((rc)); then
    stop_all "$UP_DIR"
    log "start failed; logs kept in $UP_DIR"
  fi
}

cmd_up() {
  local dir="" watch_cache=true parent="" crds=() extra_controllers="" kcm_flags=""
  while (($#)); do
    case "$1" in
    --watch-cache=*) watch_cache="${1#*=}" ;;
    --extra-controllers=*) extra_controllers="${1#*=}" ;;
    --controller-manager-flags=*) kcm_flags="${1#*=}" ;;
    --audit-policy=*) AUDIT_POLICY="$(cd "$(dirname "${1#*=}")" && pwd)/$(basename "${1#*=}")" ;;
    --parent-pid) parent="${2:?--parent-pid needs a pid}"; shift ;;
    --parent-pid=*) parent="${1#*=}" ;;
    --crd) crds+=("${2:?--crd needs a file}"); shift ;;
    --crd=*) crds+=("${1#*=}") ;;
    --apiserver-flag) APISERVER_EXTRA+=("${2:?--apiserver-flag needs a flag}"); shift ;;
    -*) die "up: unknown option $1" ;;
    *) [ -z "$dir" ] || usage; dir="$1" ;;
    esac
    shift
  done
  [ -n "$dir" ] || usage
  [ -z "$parent" ] || kill -0 "$parent" 2>/dev/null || die "--parent-pid $parent: no such process"
  local f
  for f in "${crds[@]}"; do [ -r "$f" ] || die "cannot read CRD file $f"; done
  [ -z "${AUDIT_POLICY:-}" ] || [ -r "$AUDIT_POLICY" ] || die "cannot read audit policy $AUDIT_POLICY"
  # A fresh folder every time: certificates, ports and etcd data all belong
  # to one run (an old etcd data dir would remember its old peer port).
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty (run 'down $dir' first, or pick a new folder)"
  dir="$(cd "$dir" && pwd)"

  BIN="$("$HERE/control-plane-binaries.sh")"
  local started_ms
  started_ms="$(date +%s%3N)"
  UP_DIR="$dir"
  trap on_up_exit EXIT

  # The watchdog first: if the parent dies while we are still starting, the
  # servers started so far are stopped all the same.
  if [ -n "$parent" ]; then
    setsid "$SELF" _watchdog "$dir" "$parent" </dev/null >>"$dir/watchdog.log" 2>&1 &
  fi

  make_certs "$dir"
  start_etcd "$dir"

  first_start_apiserver "$dir" "$watch_cache"
  local port
  port="$(cat "$dir/apiserver.port")"

  # CRDs given to `up` are installed before the controller manager starts:
  # its garbage collector only discovers later CRDs at its next resync (~30 s).
  for f in "${crds[@]}"; do install_crd "$dir" "$f"; done
  start_controller_manager "$dir" "$extra_controllers" "$kcm_flags"
  # /readyz answers before the bootstrap controller has made `default`.
  wait_for "$dir" kube-apiserver "the default namespace" http_ok "$dir" /api/v1/namespaces/default

  cat >"$dir/env" <<EOF
KUBECONFIG=$dir/kubeconfig
ETCD_ENDPOINT=$(cat "$dir/etcd.endpoint")
APISERVER_PORT=$port
ADMIN_TOKEN=$(cut -d, -f1 "$dir/pki/tokens.csv")
EOF
  trap - EXIT
  log "ready in $(($(date +%s%3N) - started_ms)) ms: https://127.0.0.1:$port (logs in $dir)"
  echo "$dir"
}

need_dir() {
  [ -n "${1:-}" ] || usage
  [ -f "$1/apiserver.port" ] || die "$1 is not a local-cluster folder (no apiserver.port)"
}

cmd_down() {
  [ -n "${1:-}" ] || usage
  local dir="$1"
  [ -d "$dir" ] || return 0 # already down
  dir="$(cd "$dir" && pwd)"
  stop_all "$dir"
  if [ "${KEEP:-0}" = 1 ]; then
    log "stopped; kept $dir"
  else
    rm -rf "$dir"
  fi
}

cmd_restart_apiserver() {
  need_dir "${1:-}"
  local dir
  dir="$(cd "$1" && pwd)"
  BIN="$("$HERE/control-plane-binaries.sh")"
  # A short grace: the controller manager's watches would hold the old
  # server for up to a minute, and a restart need not be graceful.
  stop_proc "$dir" kube-apiserver 2
  echo "--- restarted $(date -Is) ---" >>"$dir/kube-apiserver.log"
  start_apiserver "$dir" || die "kube-apiserver did not come back"
}

# restart-etcd: etcd stopped (TERM, KILL after 2 s) and started again on the
# same ports and data; returns once etcd is healthy and kube-apiserver, which
# reconnects by itself, answers /readyz again.
cmd_restart_etcd() {
  need_dir "${1:-}"
  local dir
  dir="$(cd "$1" && pwd)"
  BIN="$("$HERE/control-plane-binaries.sh")"
  stop_proc "$dir" etcd 2
  echo "--- restarted $(date -Is) ---" >>"$dir/etcd.log"
  start_saved_etcd "$dir" || die "etcd did not come back"
  wait_for "$dir" kube-apiserver "/readyz after the etcd restart" http_ok "$dir" /readyz ||
    die "kube-apiserver not ready after the etcd restart"
}

cmd_status() {
  need_dir "${1:-}"
  local dir name
  dir="$(cd "$1" && pwd)"
  for name in "${PROCS[@]}"; do
    alive "$dir" "$name" || die "$name is not running"
  done
  http_ok "$dir" /readyz || die "kube-apiserver /readyz is not ok"
}

cmd_compact() {
  need_dir "${1:-}"
  local dir="$1" etcdctl endpoint rev out
  BIN="$("$HERE/control-plane-binaries.sh")"
  etcdctl="$BIN/etcdctl"
  [ -x "$etcdctl" ] || etcdctl="$(command -v etcdctl)" || die "etcdctl not found (Debian package etcd-client)"
  endpoint="$(cat "$dir/etcd.endpoint")"
  export ETCDCTL_API=3
  rev="$("$etcdctl" --endpoints="$endpoint" endpoint status -w json | grep -o '"revision":[0-9]*' | head -n1 | cut -d: -f2)"
  [ -n "$rev" ] || die "could not read etcd's revision"
  # Compacting again at the same revision (nothing written since) is a
  # success too: the history before $rev is gone either way.
  if ! out="$("$etcdctl" --endpoints="$endpoint" compact "$rev" 2>&1)"; then
    grep -q "required revision has been compacted" <<<"$out" || die "etcdctl compact $rev: $out"
  fi
  echo "$rev"
}

cmd_install_crds() {
  need_dir "${1:-}"
  local dir="$1" f
  shift
  (($#)) || usage
  for f in "$@"; do install_crd "$dir" "$f"; done
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) shift; cmd_down "$@" ;;
restart-apiserver) shift; cmd_restart_apiserver "$@" ;;
restart-etcd) shift; cmd_restart_etcd "$@" ;;
compact) shift; cmd_compact "$@" ;;
env) shift; need_dir "${1:-}"; cat "$1/env" ;;
status) shift; cmd_status "$@" ;;
install-crds) shift; cmd_install_crds "$@" ;;
free-ports) shift; for ((n = 0; n < ${1:-1}; n++)); do free_port; done | tr '\n' ' '; echo ;;
_watchdog) shift; watchdog "$@" ;;
*) usage ;;
esac
