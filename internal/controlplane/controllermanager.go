package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controllerManagerControllers are the kube-controller-manager controllers
// that run: owner-reference garbage collection, namespace deletion, the
// publisher of the kube-root-ca.crt ConfigMap and the cleaner of old CSRs.
// No CSR signer or approver runs, so only the operator signs and approves.
const controllerManagerControllers = "garbagecollector,namespace,root-ca-certificate-publisher-controller,csrcleaner"

// controllerManagerAttempts bounds the starts of kube-controller-manager,
// because the free port that it gets can be taken before it binds it.
const controllerManagerAttempts = 3

// controllerManager is a running kube-controller-manager process, the leader
// of its own process group.
type controllerManager struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // the result of cmd.Wait, valid once done is closed
}

// startControllerManager starts kube-controller-manager as an admin
// (system:masters) client and waits until its /healthz returns 200.
func (c *ControlPlane) startControllerManager(ctx context.Context, caPath string) error {
	dir := filepath.Join(c.WorkDir, "kube-controller-manager")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// The default RBAC policy grants kube-controller-manager's permissions to
	// this user name, and the system:masters group covers any missing rule.
	user, err := c.env.AddUser(envtest.User{Name: "system:kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the kube-controller-manager user: %w", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, "system:kube-controller-manager", user.Config()); err != nil {
		return err
	}
	logFile, err := c.openLog("kube-controller-manager")
	if err != nil {
		return err
	}

	var lastErr error
	for attempt := 1; attempt <= controllerManagerAttempts; attempt++ {
		port, err := freeLoopbackPort()
		if err != nil {
			return err
		}
		fmt.Fprintf(logFile, "--- start attempt %d on secure port %d ---\n", attempt, port)

		args := []string{
			// No --authentication-kubeconfig or --authorization-kubeconfig:
			// /healthz is always allowed, and delegated authentication would
			// log errors about the request-header CA that envtest does not
			// configure.
			"--kubeconfig=" + kubeconfig,
			"--controllers=" + controllerManagerControllers,
			"--leader-elect=false",
			"--root-ca-file=" + caPath,
			"--use-service-account-credentials=false",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			// Its self-signed serving certificate goes here.
			"--cert-dir=" + dir,
		}
		cm, err := startControllerManagerProcess(filepath.Join(c.BinaryDir, "kube-controller-manager"), args, logFile)
		if err != nil {
			return err
		}
		c.controllerManager = cm

		err = cm.waitHealthy(ctx, port, componentStartTimeout)
		if err == nil {
			return nil
		}
		lastErr = err
		if !cm.exited() || ctx.Err() != nil {
			// It runs but never became healthy, or the caller gave up, so
			// another attempt would not help.
			break
		}
	}
	return fmt.Errorf("starting kube-controller-manager (log in %s): %w", logFile.Name(), lastErr)
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startControllerManagerProcess(path string, args []string, logFile *os.File) (*controllerManager, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so Stop can signal it and anything it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	cm := &controllerManager{cmd: cmd, done: make(chan struct{})}
	go func() {
		cm.err = cmd.Wait()
		close(cm.done)
	}()
	return cm, nil
}

func (cm *controllerManager) exited() bool {
	select {
	case <-cm.done:
		return true
	default:
		return false
	}
}

// waitHealthy polls https://127.0.0.1:PORT/healthz until it returns 200, the
// process exits, ctx ends or the timeout passes.
func (cm *controllerManager) waitHealthy(ctx context.Context, port int, timeout time.Duration) error {
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			// The serving certificate is self-signed, and the check only
			// needs to know that the process serves.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health check
		},
	}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)

	var lastProblem string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if cm.exited() {
			return false, fmt.Errorf("kube-controller-manager exited before it became healthy: %v", cm.err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			lastProblem = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			lastProblem = "status " + resp.Status
			return false, nil
		}
		return true, nil
	})
	if err != nil && lastProblem != "" && !cm.exited() {
		return fmt.Errorf("waiting for %s (last problem: %s): %w", url, lastProblem, err)
	}
	return err
}

// stop sends SIGTERM to the process group, waits up to timeout, then sends
// SIGKILL and waits for the exit.
func (cm *controllerManager) stop(timeout time.Duration) error {
	if cm.exited() {
		return nil
	}
	pgid := cm.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending SIGTERM to kube-controller-manager: %w", err)
	}
	select {
	case <-cm.done:
		return nil
	case <-time.After(timeout):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending SIGKILL to kube-controller-manager: %w", err)
	}
	<-cm.done
	return fmt.Errorf("kube-controller-manager did not stop within %s and was killed", timeout)
}

// ControllerManagerDone returns a channel that is closed when
// kube-controller-manager exits, or nil when it was not started. A receive
// from a nil channel blocks forever, so a select on it is safe either way.
func (c *ControlPlane) ControllerManagerDone() <-chan struct{} {
	if c.controllerManager == nil {
		return nil
	}
	return c.controllerManager.done
}
