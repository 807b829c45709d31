# coxswain — see README.md. `make run` starts a local cluster, `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
OUT := $(CURDIR)/_output
BUF_VERSION := v1.47.2
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
GRPCURL_VERSION := v1.9.3
TEST_FLAGS ?= -race -timeout 40m
export PATH := $(BIN):$(PATH)

.PHONY: all build run test test-short proto proto-check lint fmt vet tools images bench compose-up compose-down clean

all: build

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go: go.mod
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(BIN)/grpcurl:
	GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/grpcurl

## proto: regenerate the Go code next to every .proto (offline: local plugins only)
proto: tools
	$(BIN)/buf lint
	$(BIN)/buf generate

## proto-check: fail when the committed generated code is stale or buf lint fails
proto-check: tools
	$(BIN)/buf lint
	@tmp=$$(mktemp -d); cp -r proto $$tmp/before; $(BIN)/buf generate; \
	if ! diff -r $$tmp/before proto >/dev/null; then diff -r $$tmp/before proto | head -20; \
	  echo "generated protobuf code is stale: run 'make proto' and commit"; rm -rf $$tmp; exit 1; fi; rm -rf $$tmp

## build: static binaries into bin/
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w' -o $(BIN)/ ./cmd/...

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

vet:
	$(GO) vet ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## images: the demo image tarball preloaded on nodes (coxswain/demo:latest, :v1, :v2)
images: build
	@mkdir -p $(OUT)/images
	$(BIN)/demo mkimage --binary $(BIN)/demo --out $(OUT)/images/demo.tar

## run: a local cluster (apiserver on embedded etcd, scheduler, controller-manager, 2 kubelets, proxies)
run: build images
	$(BIN)/cluster up --data-dir $(OUT)/cluster --nodes 2 --bin-dir $(BIN) --images $(OUT)/images/demo.tar

## test: the whole test suite, as CI runs it
test:
	$(GO) test $(TEST_FLAGS) ./...

test-short:
	$(GO) test -short ./...

## bench: a small density benchmark of the whole control plane (a few minutes)
bench: build
	$(BIN)/coxbench density --nodes 100 --pods 3000 --out $(OUT)/bench

compose-up: build images
	deploy/compose/build.sh && docker-compose -f deploy/compose/docker-compose.yaml up -d

compose-down:
	docker-compose -f deploy/compose/docker-compose.yaml down -v

clean:
	rm -rf $(BIN) $(OUT)
