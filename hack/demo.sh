#!/usr/bin/env bash
# Runs the operator on a local control plane and walks through the Istio DNS
# certificate flow. Two DNSCertificates in istio-system become Ready, and their
# Secrets hold certificates with the requested DNS names. A deleted Secret then
# comes back with a new certificate, and the demo prints how long that took.
#
# Usage:
#   KUBEBUILDER_ASSETS=DIR [KEEP=1] hack/demo.sh   run the demo (make demo runs it
#                                                  after make build manifests)
#   hack/demo.sh stop                              stop a demo that KEEP=1 left running
#
# KUBEBUILDER_ASSETS is the directory that hack/install-control-plane.sh prints.
# Without KEEP=1 the demo stops everything it started before it exits, on
# success, failure or interrupt alike. With KEEP=1 a successful demo leaves the
# operator and the control plane running. The demo works in DEMO_DIR (default
# bin/demo), which holds the kubeconfig, the process ids and every log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo_dir="${DEMO_DIR:-${root}/bin/demo}"
mkdir -p "$(dirname "${demo_dir}")"
demo_dir="$(cd "$(dirname "${demo_dir}")" && pwd)/$(basename "${demo_dir}")"
cluster_dir="${demo_dir}/cluster"
kubeconfig="${cluster_dir}/kubeconfig"
marker="${demo_dir}/.dnscert-demo"

namespace="istio-system"
operator_namespace="dnscert-system"
secrets=(dns.example1-service-account dns.example2-service-account)

ready_timeout_seconds=180
regeneration_timeout_seconds=30
manager_stop_timeout_seconds=30
cluster_stop_timeout_seconds=90

say() { printf '%s\n' "$*"; }
log() { printf 'demo: %s\n' "$*" >&2; }

# failure_context is "cluster" while the control plane starts, so that a
# failure then also shows the control plane log.
failure_context=""
fail() {
	log "error: $*"
	exit 1
}

# alive PID succeeds while PID runs. A zombie counts as gone.
alive() {
	local stat
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
	stat="${stat##*) }"
	[[ "${stat%% *}" != "Z" ]]
}

# owned PID succeeds when PID is a process of this demo: its command line names
# the demo directory. This keeps a reused process id from being signalled.
owned() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "${demo_dir}"
}

# demo_pids prints the process ids recorded in the demo directory.
demo_pids() {
	local file
	for file in "${demo_dir}/manager.pid" "${demo_dir}/localcluster.pid" "${cluster_dir}/component-pids"; do
		if [[ -f "${file}" ]]; then
			cat "${file}"
		fi
	done
}

# stop_process PID NAME TIMEOUT_SECONDS sends SIGTERM, waits, then sends SIGKILL.
stop_process() {
	local pid="$1" name="$2" timeout="$3" deadline
	if ! alive "${pid}" || ! owned "${pid}"; then
		return 0
	fi
	kill -TERM "${pid}" 2>/dev/null || true
	deadline=$((SECONDS + timeout))
	while alive "${pid}"; do
		if ((SECONDS >= deadline)); then
			log "${name} (pid ${pid}) did not stop within ${timeout}s; killing it"
			kill -KILL "${pid}" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.1
	done
}

# stop_all stops the operator, then the control plane, and fails when any
# process of the demo is still running afterwards.
stop_all() {
	local pid left=()
	if [[ -f "${demo_dir}/manager.pid" ]]; then
		stop_process "$(cat "${demo_dir}/manager.pid")" "the operator" "${manager_stop_timeout_seconds}"
	fi
	if [[ -f "${demo_dir}/localcluster.pid" ]]; then
		stop_process "$(cat "${demo_dir}/localcluster.pid")" "the control plane" "${cluster_stop_timeout_seconds}"
	fi
	# localcluster stops its components itself. Any component that outlived
	# it is killed with its process group.
	for pid in $(demo_pids); do
		if alive "${pid}" && owned "${pid}"; then
			log "process ${pid} outlived the control plane; killing its process group"
			kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
			sleep 0.5
		fi
	done
	for pid in $(demo_pids); do
		if alive "${pid}" && owned "${pid}"; then
			left+=("${pid}")
		fi
	done
	if ((${#left[@]} > 0)); then
		log "error: demo processes still running: ${left[*]}"
		return 1
	fi
	rm -f "${demo_dir}/manager.pid" "${demo_dir}/localcluster.pid" "${cluster_dir}/component-pids"
}

show_log_tail() {
	local name="$1" file="$2"
	if [[ -s "${file}" ]]; then
		log "last lines of the ${name} log (${file}):"
		tail -n 40 "${file}" >&2
	fi
}

keep_running=0
kubectl_wait_pid=""
interrupted=0
on_exit() {
	local status=$?
	trap - EXIT INT TERM ERR
	if [[ -n "${kubectl_wait_pid}" ]]; then
		kill -TERM "${kubectl_wait_pid}" 2>/dev/null || true
	fi
	if ((interrupted == 1)); then
		log "interrupted; logs are in ${demo_dir}"
	elif ((status != 0)); then
		if [[ "${failure_context}" == "cluster" ]]; then
			show_log_tail "control plane" "${demo_dir}/localcluster.log"
		fi
		show_log_tail "operator" "${demo_dir}/manager.log"
		log "the demo failed; logs are in ${demo_dir}"
	fi
	if ((keep_running == 0)); then
		log "stopping the operator and the control plane"
		if ! stop_all; then
			status=1
		fi
	fi
	exit "${status}"
}

if [[ "${1:-}" == "stop" ]]; then
	if [[ -z "$(demo_pids)" ]]; then
		say "No demo is running in ${demo_dir}."
		exit 0
	fi
	stop_all
	say "Stopped the operator and the control plane; no demo process is left."
	exit 0
elif [[ $# -gt 0 ]]; then
	fail "unknown argument '$1'; usage: hack/demo.sh [stop]"
fi

# --- Checks -----------------------------------------------------------------

for pid in $(demo_pids); do
	if alive "${pid}" && owned "${pid}"; then
		fail "a demo is already running in ${demo_dir} (pid ${pid}); stop it with: hack/demo.sh stop"
	fi
done
if [[ -z "${KUBEBUILDER_ASSETS:-}" ]]; then
	fail "KUBEBUILDER_ASSETS is not set: run 'make demo', or set it to the directory that hack/install-control-plane.sh prints"
fi
kubectl="${KUBEBUILDER_ASSETS}/kubectl"
if [[ ! -x "${kubectl}" ]]; then
	fail "${kubectl} is missing: run hack/install-control-plane.sh, which builds it"
fi
if [[ ! -x "${root}/bin/manager" ]]; then
	fail "${root}/bin/manager is missing: run 'make build'"
fi
if [[ ! -d "${root}/config/crd/bases" ]]; then
	fail "config/crd/bases is missing: run 'make manifests'"
fi
if [[ -d "${demo_dir}" && ! -f "${marker}" && -n "$(ls -A "${demo_dir}")" ]]; then
	fail "${demo_dir} exists and was not made by this demo; set DEMO_DIR to another directory"
fi

trap on_exit EXIT
trap 'log "error: command failed (exit status $?) at line ${LINENO}: ${BASH_COMMAND}"' ERR
trap 'interrupted=1; exit 130' INT
trap 'interrupted=1; exit 143' TERM

rm -rf "${demo_dir}"
mkdir -p "${demo_dir}"
touch "${marker}"
cd "${root}"

# --- Control plane ------------------------------------------------------------

say "Building hack/localcluster"
go build -o "${root}/bin/localcluster" ./hack/localcluster

say "Starting the local control plane in ${cluster_dir}"
failure_context="cluster"
# setsid gives the process its own session, so a Ctrl-C reaches only this
# script, whose trap stops everything in order. Run from a non-interactive
# shell, setsid executes the program in place, so $! is its process id.
setsid "${root}/bin/localcluster" -dir "${cluster_dir}" -crd-dir "${root}/config/crd/bases" \
	>"${demo_dir}/localcluster.log" 2>&1 </dev/null &
echo "$!" >"${demo_dir}/localcluster.pid"

deadline=$((SECONDS + ready_timeout_seconds))
until [[ -f "${cluster_dir}/ready" ]]; do
	if ! alive "$(cat "${demo_dir}/localcluster.pid")"; then
		fail "the control plane exited before it was ready"
	fi
	if ((SECONDS >= deadline)); then
		fail "the control plane was not ready within ${ready_timeout_seconds}s"
	fi
	sleep 0.2
done
export KUBECONFIG="${kubeconfig}"
say "Control plane ready: $("${kubectl}" version 2>/dev/null | grep 'Server Version' || true)"

# --- Operator -----------------------------------------------------------------

"${kubectl}" create namespace "${operator_namespace}" >/dev/null
"${kubectl}" create namespace "${namespace}" >/dev/null

say "Starting the operator (log: ${demo_dir}/manager.log)"
failure_context=""
setsid "${root}/bin/manager" --kubeconfig "${kubeconfig}" --operator-namespace "${operator_namespace}" \
	--health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 0 \
	>"${demo_dir}/manager.log" 2>&1 </dev/null &
echo "$!" >"${demo_dir}/manager.pid"

say ""
say "\$ kubectl apply -k config/samples/"
"${kubectl}" apply -k "${root}/config/samples/"

say ""
say "\$ kubectl wait --for=condition=Ready dnscertificate --all -n ${namespace} --timeout=120s"
# kubectl wait runs in the background so that an operator crash ends the
# demo at once instead of after the whole timeout.
"${kubectl}" wait --for=condition=Ready dnscertificate --all -n "${namespace}" --timeout=120s &
kubectl_wait_pid=$!
manager_pid="$(cat "${demo_dir}/manager.pid")"
while alive "${kubectl_wait_pid}"; do
	if ! alive "${manager_pid}"; then
		kill -TERM "${kubectl_wait_pid}" 2>/dev/null || true
		fail "the operator exited while the DNSCertificates were not Ready"
	fi
	sleep 0.2
done
if ! wait "${kubectl_wait_pid}"; then
	kubectl_wait_pid=""
	"${kubectl}" get dnscertificates -n "${namespace}" -o wide >&2 || true
	fail "the DNSCertificates did not become Ready within 120s"
fi
kubectl_wait_pid=""
"${kubectl}" get dnscertificates -n "${namespace}"

# certificate_pem SECRET prints the PEM certificate chain in the Secret's
# cert-chain.pem key, or nothing when the Secret or the key is missing.
certificate_pem() {
	local data
	data="$("${kubectl}" get secret "$1" -n "${namespace}" -o jsonpath="{.data['cert-chain\.pem']}" 2>/dev/null)" || return 0
	if [[ -n "${data}" ]]; then
		base64 --decode <<<"${data}"
	fi
}

# print_sans SECRET prints the Subject Alternative Name line and the line after it.
print_sans() {
	local secret="$1" text
	say ""
	say "\$ kubectl get secret ${secret} -n ${namespace} -o jsonpath=\"{.data['cert-chain\\.pem']}\" | base64 --decode | openssl x509 -in /dev/stdin -text -noout"
	text="$(certificate_pem "${secret}" | openssl x509 -in /dev/stdin -text -noout)" ||
		fail "Secret ${secret} holds no readable certificate in cert-chain.pem"
	grep -A1 'X509v3 Subject Alternative Name:' <<<"${text}" ||
		fail "the certificate in Secret ${secret} has no Subject Alternative Name extension"
}

for secret in "${secrets[@]}"; do
	print_sans "${secret}"
done

# --- Regeneration ---------------------------------------------------------------

# microseconds converts $EPOCHREALTIME ("seconds.microseconds", with the
# locale's decimal separator) to an integer.
microseconds() {
	local value="${1/[.,]/}"
	echo "$((10#${value}))"
}

secret="${secrets[0]}"
old_serial="$(certificate_pem "${secret}" | openssl x509 -noout -serial)" ||
	fail "Secret ${secret} holds no readable certificate in cert-chain.pem"
say ""
say "\$ kubectl delete secret ${secret} -n ${namespace}"
# The clock starts before the delete request, so the time includes the
# start-up of kubectl for the delete and for each poll. It is an upper bound.
start="$(microseconds "${EPOCHREALTIME}")"
"${kubectl}" delete secret "${secret}" -n "${namespace}"
deadline=$((start + regeneration_timeout_seconds * 1000000))
while :; do
	serial="$(certificate_pem "${secret}" | openssl x509 -noout -serial 2>/dev/null)" || serial=""
	now="$(microseconds "${EPOCHREALTIME}")"
	if [[ -n "${serial}" && "${serial}" != "${old_serial}" ]]; then
		break
	fi
	if ((now >= deadline)); then
		fail "Secret ${secret} was not regenerated with a new certificate within ${regeneration_timeout_seconds}s"
	fi
	sleep 0.01
done
say "Regenerated ${secret} in $(((now - start) / 1000)) ms"
print_sans "${secret}"

# --- Stop or keep -----------------------------------------------------------------

failure_context=""
say ""
if [[ "${KEEP:-}" == "1" ]]; then
	keep_running=1
	stop_command="hack/demo.sh stop"
	if [[ -n "${DEMO_DIR:-}" ]]; then
		stop_command="DEMO_DIR=${demo_dir} ${stop_command}"
	fi
	say "The operator and the control plane are still running (KEEP=1). To use them:"
	say "  export KUBECONFIG=${kubeconfig}"
	say "  export PATH=${KUBEBUILDER_ASSETS}:\$PATH   # the kubectl the demo used"
	say "Logs are in ${demo_dir}. Stop both with:"
	say "  ${stop_command}"
	exit 0
fi

say "Stopping the operator and the control plane"
# The trap stays set, so an interrupt here still stops everything.
stop_all
trap - EXIT INT TERM
say "Stopped; no demo process is left."
