#!/usr/bin/env bash
# Prepares the build context of the coxswain image and builds it: static binaries (bin/ from `make build`,
# plus nodeinit, the workers' entrypoint) and the demo image tarball.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ctx=$root/_output/compose
make -C "$root" build images >/dev/null
rm -rf "$ctx" && mkdir -p "$ctx/bin" "$ctx/images"
for b in apiserver scheduler controller-manager kubelet proxy clusterdns coxctl etcd demo; do
  cp "$root/bin/$b" "$ctx/bin/"
done
(cd "$root" && CGO_ENABLED=0 ${GO:-go} build -ldflags '-s -w' -o "$ctx/bin/nodeinit" ./deploy/compose/nodeinit)
cp "$root/_output/images/demo.tar" "$ctx/images/"
cp "$root/deploy/compose/Dockerfile" "$ctx/Dockerfile"
docker build -q -t coxswain/coxswain:dev "$ctx" 2> >(grep -v -e DEPRECATED -e 'legacy builder' -e buildx -e 'docs.docker.com' >&2)
