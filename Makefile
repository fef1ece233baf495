# dnscert-operator. `make demo` runs the operator on a local control plane,
# `make test` runs every test. Tools go into bin/, the control plane into a
# cache outside the checkout (see hack/install-control-plane.sh).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GINKGO_VERSION ?= v2.34.0

# The control plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kubectl) are built once by hack/install-control-plane.sh, which prints their
# directory. Recipes assign it to a shell variable first, so a failed build
# stops the recipe instead of leaving KUBEBUILDER_ASSETS empty, which would
# make the envtest and end-to-end suites skip.
ASSETS = assets="$$(hack/install-control-plane.sh)"

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests under config/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the deepcopy functions of the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## Format the Go code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: manifests generate bundle api-docs ## Fail when generated files differ from the committed ones.
	@if ! git diff --quiet -- config api bundle bundle.Dockerfile docs/api-reference.md; then \
		git --no-pager diff --stat -- config api bundle bundle.Dockerfile docs/api-reference.md; \
		echo "generated files are out of date: run 'make manifests generate bundle api-docs' and commit the result" >&2; \
		exit 1; \
	fi

.PHONY: verify-fmt
verify-fmt: ## Fail when Go files are not formatted.
	@files="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/tools/'))"; \
	if [[ -n "$$files" ]]; then echo "not formatted (run 'make fmt'): $$files" >&2; exit 1; fi

##@ Build

.PHONY: build
build: ## Build the manager binary into bin/manager.
	go build -o $(LOCALBIN)/manager .

.PHONY: control-plane
control-plane: ## Build the local control plane into the cache (about 10 minutes the first time).
	@hack/install-control-plane.sh

##@ Test

.PHONY: test
test: verify-fmt vet verify-generated build ## Run unit, controller (envtest) and end-to-end tests.
	$(ASSETS); KUBEBUILDER_ASSETS="$$assets" DNSCERT_REQUIRE_CONTROL_PLANE=1 go test ./... -count=1 -timeout 40m

.PHONY: test-faults
test-faults: build ## Run the end-to-end fault tests: SIGKILLs, API server restart, leader failover, signer stall.
	$(ASSETS); KUBEBUILDER_ASSETS="$$assets" DNSCERT_REQUIRE_CONTROL_PLANE=1 DNSCERT_FAULTS=1 \
		go test ./test/e2e/... -count=1 -v -timeout 30m -args -ginkgo.label-filter=faults

.PHONY: test-e2e
test-e2e: build ## Run only the end-to-end tests against the real binary.
	$(ASSETS); KUBEBUILDER_ASSETS="$$assets" DNSCERT_REQUIRE_CONTROL_PLANE=1 go test ./test/e2e/... -count=1 -v -timeout 30m

##@ Bundle

# Version of the OLM bundle; the manager image in config/manager must have the tag v$(BUNDLE_VERSION).
BUNDLE_VERSION ?= 0.1.0

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/ with kubectl kustomize.
	$(ASSETS); go run ./hack/bundle --kubectl "$$assets/kubectl" --version "$(BUNDLE_VERSION)"

.PHONY: api-docs
api-docs: manifests ## Generate docs/api-reference.md from the CRD's OpenAPI schema.
	go run ./hack/apidocs

##@ Fuzzing

FUZZTIME ?= 30s
# Package and name of every fuzz target. `make test` runs their seed corpora.
FUZZ_TARGETS = \
	./controllers:FuzzEvaluateSecret \
	./internal/pki:FuzzParseCertificatesPEM \
	./internal/pki:FuzzParsePrivateKeyPEM \
	./internal/pki:FuzzParseCSRPEM \
	./internal/pki:FuzzValidateDNSName

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s).
	for target in $(FUZZ_TARGETS); do \
		package="$${target%%:*}"; name="$${target##*:}"; \
		echo "fuzzing $$name in $$package for $(FUZZTIME)"; \
		go test "$$package" -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME); \
	done

##@ Benchmarks

# BENCH_FLAGS passes flags to the bench, such as BENCH_FLAGS="-n 200 -scenarios burst".
BENCH_FLAGS ?=

.PHONY: bench
bench: build ## Benchmark bin/manager on a local control plane and print Markdown tables (takes minutes; see docs/benchmarks.md).
	$(ASSETS); KUBEBUILDER_ASSETS="$$assets" go run ./test/bench $(BENCH_FLAGS)

##@ Demo

.PHONY: demo
demo: build manifests ## Run the operator on a local control plane with the example certificates (KEEP=1 leaves it running).
	$(ASSETS); KUBEBUILDER_ASSETS="$$assets" KEEP="$(KEEP)" hack/demo.sh

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
