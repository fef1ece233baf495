#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kubectl) from the Go module proxy into a cache outside the checkout, and
# reuses binaries that are already there. Prints the directory on stdout, so
# callers can run: KUBEBUILDER_ASSETS="$(hack/install-control-plane.sh)".
#
# A cold build takes about 10 minutes on 2 cores; a warm run returns at once.
set -euo pipefail

KUBERNETES_VERSION="v1.37.2"
ETCD_VERSION="v3.7.3"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${DNSCERT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dnscert-operator}"
dest="${cache}/k8s/${KUBERNETES_VERSION#v}"
mkdir -p "${dest}"

log() { echo "install-control-plane: $*" >&2; }

# build_tool MODULE_DIR PACKAGE OUTPUT [LDFLAGS]
build_tool() {
	local module_dir="$1" package="$2" output="$3" ldflags="${4:-}"
	if [[ -x "${dest}/${output}" ]]; then
		return
	fi
	log "building ${output} from ${package} (cold builds take minutes)"
	# Build into a temporary name first so an interrupted build never leaves
	# a truncated binary that a later run would reuse.
	(cd "${root}/hack/tools/${module_dir}" &&
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${ldflags}" \
			-o "${dest}/${output}.partial" "${package}")
	mv "${dest}/${output}.partial" "${dest}/${output}"
}

major="${KUBERNETES_VERSION#v}"
major="${major%%.*}"
minor="${KUBERNETES_VERSION#v*.}"
minor="${minor%%.*}"
version_ldflags="-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}"
version_ldflags+=" -X k8s.io/component-base/version.gitMajor=${major}"
version_ldflags+=" -X k8s.io/component-base/version.gitMinor=${minor}"
version_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
version_ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}"
version_ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=${major}"
version_ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=${minor}"

build_tool etcd "go.etcd.io/etcd/server/v3" etcd
build_tool kubernetes "k8s.io/kubernetes/cmd/kube-apiserver" kube-apiserver "${version_ldflags}"
build_tool kubernetes "k8s.io/kubernetes/cmd/kube-controller-manager" kube-controller-manager "${version_ldflags}"
build_tool kubernetes "k8s.io/kubernetes/cmd/kubectl" kubectl "${version_ldflags}"

echo "${dest}"
