package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	// operatorStartTimeout bounds the wait for the manager's readiness probe.
	operatorStartTimeout = 60 * time.Second
	// operatorStopTimeout is how long the manager may take to exit after SIGTERM before it is killed.
	operatorStopTimeout = 30 * time.Second
	// dnsCertificateController is the controller name of the DNSCertificate reconciler in metrics.
	dnsCertificateController = "dnscertificate"
	// localSignerController is the controller name of the built-in signer in metrics.
	localSignerController = "localsigner"

	// Every scrape of the manager's metrics allocates memory in the manager (about 1 MiB with the
	// per-DNSCertificate series of 1000 objects, by a heap profile), which can raise its peak RSS.
	// The restart scenario polls often because it measures time. The other waits poll less, and
	// the memory scenario least, so that the bench inflates the figure it measures little.
	restartPollInterval = 100 * time.Millisecond
	settlePollInterval  = 500 * time.Millisecond
	memoryPollInterval  = 2 * time.Second
)

// operator is a running manager process, the leader of its own process group.
type operator struct {
	cmd *exec.Cmd
	// extraArgs are the flags this manager got beyond those of every manager the bench starts.
	extraArgs  []string
	logPath    string
	metricsURL string
	probeURL   string
	pprofURL   string
	// started is the time just before the process was started.
	started time.Time
	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error         // the result of cmd.Wait, valid once done is closed
}

// managerArgs returns the flags of every manager the bench starts, with the given ports.
func (b *bench) managerArgs(metricsPort, probePort, pprofPort int) []string {
	args := []string{
		"--kubeconfig", b.operatorKubeconfig,
		"--operator-namespace", operatorNamespace,
		// As in config/manager: the manager elects a leader, and renews its Lease while it leads.
		"--leader-elect",
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
		"--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", pprofPort),
	}
	if b.cfg.managerQPS > 0 {
		args = append(args, "--kube-api-qps", strconv.FormatFloat(b.cfg.managerQPS, 'f', -1, 64))
	}
	if b.cfg.managerBurst > 0 {
		args = append(args, "--kube-api-burst", strconv.Itoa(b.cfg.managerBurst))
	}
	if b.cfg.managerConcurrency > 0 {
		args = append(args, "--max-concurrent-reconciles", strconv.Itoa(b.cfg.managerConcurrency))
	}
	return args
}

// startOperator stops the running manager, if any, starts a new one with extraArgs added to the
// common flags and waits for its readiness probe.
func (b *bench) startOperator(ctx context.Context, extraArgs ...string) (*operator, error) {
	if err := b.stopOperator(); err != nil {
		return nil, err
	}
	ports, err := freeLoopbackPorts(3)
	if err != nil {
		return nil, err
	}
	args := append(b.managerArgs(ports[0], ports[1], ports[2]), extraArgs...)
	logPath := filepath.Join(b.cluster.WorkDir, fmt.Sprintf("manager-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the manager log: %w", err)
	}

	cmd := exec.Command(b.cfg.managerPath, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so that an interrupt of the bench reaches only the bench, which
	// then stops the manager in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	op := &operator{
		cmd:        cmd,
		extraArgs:  slices.Clone(extraArgs),
		logPath:    logPath,
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]),
		probeURL:   fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1]),
		pprofURL:   fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", ports[2]),
		done:       make(chan struct{}),
	}
	if len(extraArgs) == 0 {
		b.logf("Starting the manager")
	} else {
		b.logf("Starting the manager with %s", strings.Join(extraArgs, " "))
	}
	op.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", b.cfg.managerPath, err)
	}
	go func() {
		op.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(op.done)
	}()
	b.operator = op

	err = wait.PollUntilContextTimeout(ctx, pollInterval, operatorStartTimeout, true, func(ctx context.Context) (bool, error) {
		if op.exited() {
			return false, fmt.Errorf("the manager exited before it became ready (%v); last log lines:\n%s", op.waitErr, op.tail(20))
		}
		status, _, err := httpGet(ctx, op.probeURL)
		return err == nil && status == http.StatusOK, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for the manager's readiness probe (log in %s): %w", logPath, err)
	}
	return op, nil
}

// stopOperator stops the running manager, if any.
func (b *bench) stopOperator() error {
	if b.operator == nil {
		return nil
	}
	err := b.operator.stop()
	b.operator = nil
	return err
}

// ensureOperator makes sure that a manager started with extraArgs runs and has reconciled every
// DNSCertificate, starting a new one when the running one has other flags or none runs.
func (b *bench) ensureOperator(ctx context.Context, extraArgs ...string) error {
	if b.operator != nil && !b.operator.exited() && slices.Equal(b.operator.extraArgs, extraArgs) {
		return nil
	}
	op, err := b.startOperator(ctx, extraArgs...)
	if err != nil {
		return err
	}
	count, err := b.certificateCount(ctx)
	if err != nil {
		return err
	}
	_, err = b.waitReverified(ctx, op, count, settlePollInterval)
	return err
}

// waitReverified polls the manager's metrics every interval until its DNSCertificate controller
// has finished at least count reconciles, which a fresh manager reaches once it has checked every
// object.
func (b *bench) waitReverified(ctx context.Context, op *operator, count int, interval time.Duration) (operatorMetrics, error) {
	var last operatorMetrics
	err := wait.PollUntilContextTimeout(ctx, interval, b.cfg.timeout, true, func(ctx context.Context) (bool, error) {
		if op.exited() {
			return false, fmt.Errorf("the manager exited (%v); last log lines:\n%s", op.waitErr, op.tail(20))
		}
		metrics, err := op.scrape(ctx)
		if err != nil {
			// The metrics server may not listen yet.
			return false, nil
		}
		last = metrics
		return metrics.reconciles[dnsCertificateController] >= float64(count), nil
	})
	if err != nil {
		return last, fmt.Errorf("waiting for the manager to reconcile %d DNSCertificates (%v so far): %w",
			count, last.reconciles[dnsCertificateController], err)
	}
	return last, nil
}

// operatorMetrics are the manager's counters the bench reads.
type operatorMetrics struct {
	// reconciles and reconcileErrors are controller_runtime_reconcile_total and
	// controller_runtime_reconcile_errors_total by controller.
	reconciles      map[string]float64
	reconcileErrors map[string]float64
	// reconcileSeconds is the sum of controller_runtime_reconcile_time_seconds by controller: the
	// time its workers spent in Reconcile.
	reconcileSeconds map[string]float64
	// workers is controller_runtime_max_concurrent_reconciles by controller.
	workers map[string]float64
	// requests is rest_client_requests_total by HTTP method: every request of the manager's clients.
	requests map[string]float64
}

// totalRequests returns the number of requests of all methods.
func (m operatorMetrics) totalRequests() float64 {
	var total float64
	for _, count := range m.requests {
		total += count
	}
	return total
}

// scrape reads the manager's metrics endpoint.
func (op *operator) scrape(ctx context.Context) (operatorMetrics, error) {
	status, body, err := httpGet(ctx, op.metricsURL)
	if err != nil {
		return operatorMetrics{}, err
	}
	if status != http.StatusOK {
		return operatorMetrics{}, fmt.Errorf("GET %s returned HTTP %d", op.metricsURL, status)
	}
	samples, err := parseSamples(body, "controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
		"controller_runtime_reconcile_time_seconds_sum", "controller_runtime_max_concurrent_reconciles", "rest_client_requests_total")
	if err != nil {
		return operatorMetrics{}, fmt.Errorf("parsing the metrics of %s: %w", op.metricsURL, err)
	}
	m := operatorMetrics{
		reconciles:       map[string]float64{},
		reconcileErrors:  map[string]float64{},
		reconcileSeconds: map[string]float64{},
		workers:          map[string]float64{},
		requests:         map[string]float64{},
	}
	for _, s := range samples {
		switch s.name {
		case "controller_runtime_reconcile_total":
			m.reconciles[s.labels["controller"]] += s.value
		case "controller_runtime_reconcile_errors_total":
			m.reconcileErrors[s.labels["controller"]] += s.value
		case "controller_runtime_reconcile_time_seconds_sum":
			m.reconcileSeconds[s.labels["controller"]] += s.value
		case "controller_runtime_max_concurrent_reconciles":
			m.workers[s.labels["controller"]] = s.value
		case "rest_client_requests_total":
			m.requests[s.labels["method"]] += s.value
		}
	}
	return m, nil
}

// profile fetches a profile from the manager's net/http/pprof endpoint, such as
// "profile?seconds=30" for a CPU profile or "heap?gc=1" for a heap profile after a collection.
func (op *operator) profile(ctx context.Context, query string) ([]byte, error) {
	url := op.pprofURL + "/" + query
	status, body, err := httpGet(ctx, url)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s returned HTTP %d: %.200s", url, status, body)
	}
	return body, nil
}

func (op *operator) pid() int {
	return op.cmd.Process.Pid
}

func (op *operator) exited() bool {
	select {
	case <-op.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for the manager to exit, killing its process group when it
// takes longer than operatorStopTimeout.
func (op *operator) stop() error {
	if op.exited() {
		return nil
	}
	if err := op.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping the manager: %w", err)
	}
	select {
	case <-op.done:
		return nil
	case <-time.After(operatorStopTimeout):
	}
	_ = syscall.Kill(-op.cmd.Process.Pid, syscall.SIGKILL)
	<-op.done
	return fmt.Errorf("the manager did not exit within %s of SIGTERM and was killed (log in %s)", operatorStopTimeout, op.logPath)
}

// tail returns the last lines of the manager's log.
func (op *operator) tail(lines int) string {
	data, err := os.ReadFile(op.logPath)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freeLoopbackPorts returns distinct TCP ports on 127.0.0.1 that were free a moment ago.
func freeLoopbackPorts(count int) ([]int, error) {
	var ports []int
	for range count {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		// Kept open until all are chosen, so that the ports differ.
		defer listener.Close()
		ports = append(ports, listener.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// httpGet fetches a URL on the loopback interface and returns the status and body.
func httpGet(ctx context.Context, url string) (int, []byte, error) {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return 0, nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return response.StatusCode, body, nil
}
