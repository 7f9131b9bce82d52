# Shared helpers for the bench scripts (sourced, not run).

# need_pkgs PKG...: apt-get install only what is missing (update once first).
need_pkgs() {
  local missing=() p
  for p in "$@"; do
    command -v "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  echo "installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nginx haproxy wrk </dev/null
}

# wait_port PORT: wait (at most 10 s) until something listens on 127.0.0.1:PORT.
wait_port() {
  local i
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# cpu_ticks PID...: utime+stime (clock ticks) summed over the given
# processes and their threads, from /proc/<pid>/stat fields 14 and 15.
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=${f##*) }                 # drop "pid (comm) " (comm may hold spaces)
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# to_ms VALUE: wrk latency ("812.00us", "1.23ms", "1.01s") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN{
    if (v ~ /us$/) { sub(/us$/,"",v); printf "%.3f", v/1000 }
    else if (v ~ /ms$/) { sub(/ms$/,"",v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/,"",v); printf "%.3f", v*1000 }
    else printf "nan" }'
}

# median: the median of numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
