#!/usr/bin/env bash
# End-to-end test of the compose cluster: builds the image, starts the cluster, runs the Go suite in
# test/e2e (build tag compose: NodePort service on every worker, worker failure and pod eviction, leader
# failover of scheduler and controller-manager, etcd member and apiserver outages; it prints the measured
# failover times) and always tears the cluster down. On failure it prints the components' logs.
#   bash deploy/compose/e2e.sh            (CI runs it when `docker info` works)
# Needs: docker, docker-compose (v1), go, make, python3; the 172.28.0.0/16 network free. The test reaches
# the containers by their addresses on the compose network; the apiservers' published host ports are
# picked free (a `make run` cluster on 6443 does not get in the way).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH
export COMPOSE_FILE=$root/deploy/compose/docker-compose.yaml
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-coxswain-e2e}
# The whole run (build, start, tests) stays within ~15 minutes.
TEST_TIMEOUT=${TEST_TIMEOUT:-12m}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export COXSWAIN_APISERVER_1_PORT=${COXSWAIN_APISERVER_1_PORT:-$(free_port)}
export COXSWAIN_APISERVER_2_PORT=${COXSWAIN_APISERVER_2_PORT:-$(free_port)}
started=$(date +%s)
log() { echo "=== e2e: $* (+$(( $(date +%s) - started ))s)"; }

cleanup() {
  rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    log "FAILED (exit $rc): component logs"
    docker-compose ps || true
    docker-compose logs --no-color --tail 60 || true
  fi
  log "tearing the cluster down"
  docker-compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building the image"
"$root/deploy/compose/build.sh"
# Leftovers of an interrupted run would hold the addresses and ports.
docker-compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true

log "starting the cluster"
docker-compose up -d

log "running the end-to-end suite"
cd "$root"
go test -tags compose -count=1 -v -timeout "$TEST_TIMEOUT" ./test/e2e/
log "passed"
