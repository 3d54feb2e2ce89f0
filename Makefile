# Authly operator. `make help` lists the targets.

IMG ?= localhost/authly:dev
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Pinned tool versions. They are built from the Go module proxy into bin/ on first use.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0

LOCALBIN := $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT := $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# kube-apiserver and etcd for envtest, built by the pinned modules under hack/tools/envtest.
ENVTEST_ASSETS := $(LOCALBIN)/k8s

GO_TEST_FLAGS ?= -timeout 20m
# How long each fuzz target runs inside `make test`; `make fuzz` runs them longer.
FUZZ_TIME ?= 3s

.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash -o pipefail

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the kubebuilder markers in api/ and controllers/.
	@if [ -n "$$(ls api/v1/*.go 2>/dev/null)" ]; then \
		$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases; \
	fi

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods for the API types.
	@if [ -n "$$(ls api/v1/*.go 2>/dev/null)" ]; then \
		$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."; \
	fi

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: vet
vet: ## Run go vet (the development build's files too).
	go vet ./...
	go vet -tags devcontrolplane .

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (pinned) and check formatting.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GOLANGCI_LINT) run ./...

.PHONY: test
test: manifests generate vet depcheck envtest ## Run all tests against a real Postgres and a real kube-apiserver + etcd.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test $(GO_TEST_FLAGS) ./...
	@$(MAKE) --no-print-directory fuzz FUZZ_TIME=$(FUZZ_TIME)
	cd hack/tools/image && go test ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZ_TIME (default 3s here; try FUZZ_TIME=2m).
	@targets=$$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r dirname | sort -u); \
	for dir in $$targets; do \
		for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz $$dir $$f ($(FUZZ_TIME))"; \
			go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZ_TIME) $$dir || exit 1; \
		done; \
	done

##@ Build

.PHONY: build
build: depcheck ## Build bin/authly.
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/authly .

.PHONY: plugin
plugin: build ## Build the kubectl plugin bin/kubectl-authly (a symlink to bin/authly): with it on the PATH, `kubectl authly`.
	ln -sf authly $(LOCALBIN)/kubectl-authly

# Packages that must never be linked into the authly binary: test tooling. envtest's packages
# create directories when the program starts, which crashed the operator's pod on its
# read-only root filesystem. The development build (bin/authly-dev) links envtest on purpose.
TEST_ONLY_PACKAGES := ^(testing|testing/.*|net/http/httptest|sigs\.k8s\.io/controller-runtime/pkg/(envtest|envtest/.*|internal/testing/.*|client/fake)|k8s\.io/client-go/kubernetes/fake)$$

.PHONY: depcheck
depcheck: ## Fail if the authly binary's dependency graph holds test-only packages (envtest, testing, ...).
	@bad=$$(go list -deps . | grep -E '$(TEST_ONLY_PACKAGES)' || true); \
	if [ -n "$$bad" ]; then echo "depcheck: the authly binary links test-only packages:" >&2; echo "$$bad" >&2; \
		echo "(the development-only code goes behind the devcontrolplane build tag)" >&2; exit 1; fi

.PHONY: build-dev
build-dev: ## Build bin/authly-dev: authly plus the local control plane of `authly dev` (links envtest; never shipped).
	go build -trimpath -tags devcontrolplane -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/authly-dev .

.PHONY: run
run: build-dev envtest ## Run the server on a local Postgres and the operator on a local control plane (Ctrl-C stops all).
	$(LOCALBIN)/authly-dev dev --dir $(CURDIR)/.authly-dev --control-plane-assets $(ENVTEST_ASSETS)

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

# The same image as the Dockerfile's, built in Go (hack/tools/image): no Docker engine needed.
.PHONY: image
image: depcheck ## Build the authly image without Docker into bin/authly-image.tar (docker load, kind load image-archive, ctr images import)
	@mkdir -p $(LOCALBIN)/image
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(LOCALBIN)/image/authly .
	cd hack/tools/image && go run . --binary $(LOCALBIN)/image/authly --name authly --tag $(IMG) --version $(VERSION) --revision $(COMMIT) --port 8000 --out $(LOCALBIN)/authly-image.tar

.PHONY: kind-load
kind-load: image ## Load the image into a kind cluster (needs kind on the PATH)
	kind load image-archive $(LOCALBIN)/authly-image.tar

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	kubectl apply -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG to the cluster of the current kubeconfig.
	cd config/manager && kubectl kustomize . >/dev/null
	kubectl kustomize config/default | sed "s|image: controller:latest|image: $(IMG)|" | kubectl apply -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster of the current kubeconfig.
	kubectl delete -k config/default --ignore-not-found

##@ Performance

.PHONY: bench
bench: build ## Load-test a one-core replica on this machine, best of 2 passes (~30 min): bench/results/ (see hack/loadtest).
	@if [ ! -d hack/loadtest ]; then echo "make bench: the load tool (hack/loadtest) is not built yet; see the performance issue" >&2; exit 1; fi
	go run ./hack/loadtest --authly $(LOCALBIN)/authly --out bench/results --duration 5s --warmup 1s --passes 2

.PHONY: bench-all-cores
bench-all-cores: build ## The load test with the server on every core (Go's default GOMAXPROCS), for comparison: bench/results/all-cores/.
	go run ./hack/loadtest --authly $(LOCALBIN)/authly --out bench/results/all-cores --duration 5s --warmup 1s --server-cpus 0

.PHONY: bench-quick
bench-quick: build ## A short load test (5 s per point, concurrency 10 and 50) into bench/results/quick/, not committed.
	@if [ ! -d hack/loadtest ]; then echo "make bench-quick: the load tool (hack/loadtest) is not built yet; see the performance issue" >&2; exit 1; fi
	go run ./hack/loadtest --authly $(LOCALBIN)/authly --out bench/results/quick --duration 5s --concurrency 10,50

.PHONY: bench-scale
bench-scale: build ## Not for CI (slow): the load test on 10M refresh tokens, 100k clients, 100k revoked ids, against bench/results.
	go run ./hack/loadtest --authly $(LOCALBIN)/authly --out bench/results/scale --scale 10000000,100000,100000 --baseline bench/results/results.json --duration 5s --warmup 1s --passes 2

.PHONY: bench-operator
bench-operator: build envtest ## Not for CI: 1,000 OAuthClients at once, then the operator's memory with 10,000 (bench/results/operator.md).
	go run ./hack/operatorbench --authly $(LOCALBIN)/authly --assets $(ENVTEST_ASSETS) --out bench/results/operator.md $(OPERATORBENCH_FLAGS)

.PHONY: bench-go
bench-go: ## Run the go test benchmarks of the hot paths with -benchmem.
	go test -run '^$$' -bench . -benchmem ./server/...

##@ Faults

.PHONY: fault
fault: build envtest ## The fault suite (~3 min): Postgres, replicas and the operator under faults; bench/results/FAULTS.md (see hack/fault).
	go run ./hack/fault --authly $(LOCALBIN)/authly --assets $(ENVTEST_ASSETS) --out bench/results/FAULTS.md $(FAULT_FLAGS)

##@ Tools

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd ## Build kube-apiserver and etcd for envtest into bin/k8s (once).

# The Kubernetes components report the version they are built from, as release builds do
# (`kubectl version`, the node's kubeletVersion), instead of v0.0.0-master.
K8S_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" && $$2 ~ /^v/ {print $$2; exit}' hack/tools/node/go.mod)
K8S_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(patsubst v%,%,$(word 1,$(subst ., ,$(K8S_VERSION)))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
	-X k8s.io/component-base/version.gitTreeState=clean

$(ENVTEST_ASSETS)/kube-apiserver: hack/tools/envtest/kube-apiserver/go.mod
	@mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/envtest/kube-apiserver && go build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $@ .

$(ENVTEST_ASSETS)/etcd: hack/tools/envtest/etcd/go.mod
	@mkdir -p $(ENVTEST_ASSETS)
	cd hack/tools/envtest/etcd && go build -trimpath -o $@ .

$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(GOLANGCI_LINT):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

##@ End-to-end (a real single-node cluster on this machine; needs root)

# kubelet, kube-proxy, kube-scheduler, kube-controller-manager and kubectl, built by the
# pinned module hack/tools/node (about 9 minutes on 2 cores with a cold cache).
NODE_ASSETS := $(LOCALBIN)/node
E2E_IMAGES_DIR := $(LOCALBIN)/e2e-images
E2E_CLIENT_IMG := localhost/authly-e2e-client:dev
E2E_IMAGES := $(LOCALBIN)/authly-image.tar,$(E2E_IMAGES_DIR)/pause.tar,$(E2E_IMAGES_DIR)/client.tar
E2E_DIR ?= /var/lib/authly-e2e
E2E_FLAGS ?= -timeout 45m
IMAGE_TOOL := cd hack/tools/image && go run .

.PHONY: node-binaries
node-binaries: $(NODE_ASSETS)/kubelet ## Build the node's Kubernetes components into bin/node (once).

$(NODE_ASSETS)/kubelet: hack/tools/node/go.mod $(wildcard hack/tools/node/cmd/*/main.go)
	@mkdir -p $(NODE_ASSETS)
	cd hack/tools/node && go build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $(NODE_ASSETS)/ ./cmd/...

.PHONY: e2e-images
e2e-images: image ## Build the pause and test-client images of the end-to-end tests into bin/e2e-images.
	@mkdir -p $(E2E_IMAGES_DIR)
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(E2E_IMAGES_DIR)/pause ./hack/node/pause
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(E2E_IMAGES_DIR)/client ./test/e2e/client
	$(IMAGE_TOOL) --binary $(E2E_IMAGES_DIR)/pause --name pause --tag localhost/pause:e2e --out $(E2E_IMAGES_DIR)/pause.tar
	$(IMAGE_TOOL) --binary $(E2E_IMAGES_DIR)/client --name client --tag $(E2E_CLIENT_IMG) --out $(E2E_IMAGES_DIR)/client.tar

.PHONY: e2e
e2e: envtest node-binaries e2e-images ## Run the end-to-end tests on a real single-node cluster (root; containerd, runc, CNI plugins, iptables).
	E2E_IMAGES=$(E2E_IMAGES) E2E_IMAGE=$(IMG) E2E_CLIENT_IMAGE=$(E2E_CLIENT_IMG) E2E_DIR=$(E2E_DIR) \
		go test -tags e2e -count=1 -v $(E2E_FLAGS) ./test/e2e/ 2>&1 | tee $(LOCALBIN)/e2e.log

.PHONY: cluster
cluster: envtest node-binaries e2e-images ## Run the e2e cluster with the operator and a sample AuthServer until Ctrl-C (root).
	go run ./hack/cluster --dir $(E2E_DIR) --logs $(LOCALBIN)/cluster-logs --k8s-bin $(ENVTEST_ASSETS) --node-bin $(NODE_ASSETS) --images $(E2E_IMAGES) --image $(IMG)

.PHONY: e2e-clean
e2e-clean: ## Remove what a killed e2e run or cluster left on this machine (root).
	go run ./hack/cluster --dir $(E2E_DIR) --teardown
