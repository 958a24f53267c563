#!/usr/bin/env bash
# The plumbing of a real Kubernetes node on this machine, and its clean removal (docs/adr/0019-a-node-in-its-own-namespaces.md).
# The node's processes (containerd and its shims, the pods, kubelet, kube-proxy, CoreDNS) run in one private network and
# mount namespace, inside one cgroup per controller, reached from the machine through a veth pair:
#   scripts/node.sh hold            takes a free slot, makes its cgroups, namespaces and veth, prints the slot's addresses
#                                   as shell assignments on one line, and holds them until SIGTERM, SIGINT or stdin closes,
#                                   then removes them (down). Two holders on one machine take two slots.
#   scripts/node.sh exec SLOT CMD...   runs CMD inside the slot's namespaces and cgroups
#   scripts/node.sh down [SLOT]     removes what a slot left behind (every slot without a live holder when none is given):
#                                   kills every process in its cgroups, removes them (the namespaces, the veth, the
#                                   node's iptables chains and mounts go with their last process) and frees the slot.
#                                   Idempotent: run it after a holder was killed hard.
#   scripts/node.sh slots           lists the slots in use
# Slot N: veth pgkopfN (machine 10.251.N.1, node 10.251.N.2), pod range 10.250.N.0/24 on the node's bridge.
set -euo pipefail

state=${PGKOPF_NODE_STATE:-/run/pg-kopf}
slots=8
# Paths containerd, the CNI plugins and kubelet hard-code: private tmpfs inside the node's mount namespace, so none of
# their files reaches the machine.
private_paths=(/run/containerd /run/netns /var/lib/containerd /var/lib/kubelet /var/lib/cni /var/log/pods /var/log/containers)

log() { echo "[node $(date +%H:%M:%S)] $*" >&2; }

# cgroup hierarchies mounted on this machine (v1 controllers by folder, and the unified one)
hierarchies() { find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d -exec test -e '{}/cgroup.procs' \; -print; }

cgroup_name() { echo "pgkopf$1"; }

holder_alive() {
  local pid; pid=$(cat "$state/$1/holder" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "$state/$1/holder-start" 2>/dev/null)" = "$(start_time "$pid")" ]
}

# start_time PID: the process's start time in clock ticks, so a reused PID is not taken for the holder
start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

join_cgroups() { # join_cgroups SLOT PID
  local h
  for h in $(hierarchies); do echo "$2" >"$h/$(cgroup_name "$1")/cgroup.procs"; done
}

make_cgroups() {
  local h dir
  for h in $(hierarchies); do
    dir="$h/$(cgroup_name "$1")"
    mkdir -p "$dir"
    # A new cpuset has no CPU and no memory node until given its parent's.
    if [ -e "$dir/cpuset.cpus" ]; then cat "$h/cpuset.cpus" >"$dir/cpuset.cpus"; cat "$h/cpuset.mems" >"$dir/cpuset.mems"; fi
  done
}

# down SLOT: every process in the slot's cgroups killed (repeatedly: a dying shim may still fork), then the cgroups
# removed deepest first. The namespaces die with their last process, and with them the veth, the bridge, the routes,
# the iptables rules and the tmpfs mounts.
down() {
  local slot=$1 name h pids
  name=$(cgroup_name "$slot")
  for _ in $(seq 1 50); do
    pids=$(for h in $(hierarchies); do [ -d "$h/$name" ] && find "$h/$name" -name cgroup.procs -exec cat {} +; done | sort -u)
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  for h in $(hierarchies); do
    [ -d "$h/$name" ] && find "$h/$name" -depth -type d -exec rmdir {} + 2>/dev/null
    [ ! -d "$h/$name" ] || log "slot $slot: $h/$name still in use"
  done
  # The veth goes with the namespace; one left by a holder killed between creating it and moving its peer goes here.
  ip link delete "pgkopf$slot" 2>/dev/null || true
  if [ -f "$state/$slot/created" ]; then
    while read -r path; do rmdir "$path" 2>/dev/null || true; done <"$state/$slot/created"
  fi
  rm -rf "${state:?}/$slot"
}

take_slot() {
  mkdir -p "$state"
  local slot
  for slot in $(seq 0 $((slots - 1))); do
    if [ -d "$state/$slot" ] && ! holder_alive "$slot" && [ "$(cat "$state/$slot/taken" 2>/dev/null)" != "$$" ]; then
      # Left by a holder that was killed hard: cleaned before it is taken again.
      local owner; owner=$(cat "$state/$slot/taken" 2>/dev/null || true)
      if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then log "slot $slot: removing what a dead holder left"; down "$slot"; fi
    fi
    if mkdir "$state/$slot" 2>/dev/null; then echo "$$" >"$state/$slot/taken"; echo "$slot"; return; fi
  done
  log "all $slots node slots are in use ($state)"; return 1
}

hold() {
  local slot; slot=$(take_slot)
  local dir="$state/$slot" host="10.251.$slot.1" node="10.251.$slot.2"
  trap 'down "$slot"; exit 0' TERM INT
  trap 'down "$slot"' EXIT
  make_cgroups "$slot"
  # The mount points of the private paths that the machine lacks are made here (empty), and removed by down.
  # Recorded deepest first, the order rmdir needs.
  : >"$dir/created"
  local p parent
  for p in "${private_paths[@]}"; do
    parent=$p
    while [ ! -e "$parent" ]; do echo "$parent" >>"$dir/created"; parent=$(dirname "$parent"); done
    mkdir -p "$p"
  done
  # The holder: the process that owns the namespaces, in the slot's cgroups from its first instruction.
  local groups=() h
  for h in $(hierarchies); do groups+=("$h/$(cgroup_name "$slot")"); done
  sh -c 'for h in "$@"; do echo $$ >"$h/cgroup.procs"; done; exec unshare --mount --net --propagation private sleep infinity' \
    _ "${groups[@]}" &
  local holder=$!
  local tries=0
  while [ "$(readlink "/proc/$holder/ns/net" 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ] || ! grep -q 'sleep' "/proc/$holder/comm" 2>/dev/null; do
    tries=$((tries + 1)); [ $tries -lt 100 ] || { log "the holder did not start"; return 1; }; sleep 0.05
  done
  echo "$holder" >"$dir/holder"; start_time "$holder" >"$dir/holder-start"
  local inside=(nsenter -t "$holder" --mount --net)
  for p in "${private_paths[@]}"; do "${inside[@]}" mount -t tmpfs -o mode=0755,size=4g "pg-kopf-node$slot" "$p"; done
  ip link add "pgkopf$slot" type veth peer name eth0 netns "$holder"
  ip addr add "$host/30" dev "pgkopf$slot"
  ip link set "pgkopf$slot" up
  ip route add "10.250.$slot.0/24" via "$node" dev "pgkopf$slot"
  "${inside[@]}" sh -c "ip link set lo up && ip addr add $node/30 dev eth0 && ip link set eth0 up && ip route add default via $host \
    && sysctl -q -w net.ipv4.ip_forward=1"
  echo "slot=$slot host=$host node=$node pods=10.250.$slot.0/24 gateway=10.250.$slot.1 bridge=cni0 holder=$holder"
  # Held until a signal, or until whoever started it closes our stdin.
  while read -r _; do :; done
  down "$slot"
  trap - EXIT
}

exec_in() {
  local slot=$1; shift
  holder_alive "$slot" || { log "slot $slot has no live holder"; return 1; }
  local holder; holder=$(cat "$state/$slot/holder")
  join_cgroups "$slot" $$
  exec nsenter -t "$holder" --mount --net -- "$@"
}

case "${1:-}" in
  hold) hold ;;
  exec) exec_in "${@:2}" ;;
  down)
    if [ -n "${2:-}" ]; then down "$2"
    else for d in "$state"/*; do [ -d "$d" ] || continue; s=$(basename "$d"); holder_alive "$s" || down "$s"; done; fi ;;
  slots) for d in "$state"/*; do [ -d "$d" ] && echo "$(basename "$d") holder $(cat "$d/holder" 2>/dev/null || echo -)"; done; true ;;
  *) echo "usage: scripts/node.sh hold | exec SLOT CMD... | down [SLOT] | slots" >&2; exit 2 ;;
esac
