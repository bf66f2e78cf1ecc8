#!/usr/bin/env bash
# Instructions per request of minikv's request path, counted by valgrind (deterministic for a
# given tree, whatever else the machine is doing; see benchmarks/README.md).
#   benchmarks/instructions.sh [TREE] [TESTS] [PIPELINES]
#   benchmarks/instructions.sh /tmp/base set,get,incr,mset,ping_mbulk,ping_inline "16 1"
#   benchmarks/instructions.sh /tmp/base lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100 16
# TREE is a checkout (a `git worktree add` of another commit, say) run with this venv's Python and
# this tree's driver (benchmarks/profile_hotpath.py: TREE's own may know fewer tests).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tree=${1:-$here}
tests=${2:-set,get,incr,mset,ping_mbulk,ping_inline}
pipes=${3:-16 1}
py=${PYTHON:-$here/.venv/bin/python}
py=$($py -c 'import sys; print(sys.executable)')
n=1600
refs() {  # rounds test pipeline -> instruction count
  cd "$tree" && MINIKV_TREE="$tree" PYTHONPATH="$tree" PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \
    --cachegrind-out-file=/dev/null "$py" "$here/benchmarks/profile_hotpath.py" --run-only "$1" \
    --tests "$2" --pipelines "$3" --requests $n 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,
}
echo "tree: $tree ($(git -C "$tree" rev-parse --short HEAD))"
for p in $pipes; do
  for t in ${tests//,/ }; do
    a=$(refs 0 "$t" "$p"); b=$(refs 3 "$t" "$p")
    echo "$t P$p $(( (b - a) / (3 * n) ))"
  done
done
