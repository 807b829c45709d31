// Package e2e holds end-to-end tests of whole clusters. The compose cluster's suite (build tag compose)
// runs against deploy/compose/docker-compose.yaml already up, and is driven by deploy/compose/e2e.sh,
// which builds the image, starts the cluster, runs
//
//	go test -tags compose -v ./test/e2e/
//
// and tears the cluster down. It talks to the containers on the compose network directly (the host is
// on that bridge): the apiservers at 172.28.0.11:6443 and 172.28.0.12:6443, the workers at
// 172.28.1.{1,2,3} and the cluster DNS at 172.28.0.53, and uses docker-compose (COMPOSE_FILE and
// COMPOSE_PROJECT_NAME from the environment) to kill and restart containers.
package e2e
