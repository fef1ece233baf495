// Package e2e drives the real manager binary against the local control plane, using only the
// built kubectl and openssl, the way a platform engineer would.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/dnscert/dnscert-operator/internal/controlplane"
)

const (
	operatorNamespace = "dnscert-system"
	// operatorUser is the identity the operator runs as: the ServiceAccount of the install
	// manifests, bound to the RBAC rendered from config/rbac, so a missing permission fails here.
	operatorUser = "system:serviceaccount:dnscert-system:controller-manager"
)

var (
	repoRoot           string
	cluster            *controlplane.ControlPlane
	operator           *operatorProcess
	managerPath        string
	operatorKubeconfig string
)

func TestE2E(t *testing.T) {
	controlplane.SkipWithoutBinaries(t)
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed; the end-to-end tests check certificates with it (Debian package openssl)")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite")
}

var _ = BeforeSuite(func() {
	// The test signers run controller-runtime managers in this process.
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	var err error
	repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())

	By("building bin/manager")
	managerPath = filepath.Join(repoRoot, "bin", "manager")
	build := exec.Command("go", "build", "-o", managerPath, ".")
	build.Dir = repoRoot
	output, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build: %s", output)

	By("starting the local control plane with kube-controller-manager")
	cluster, err = controlplane.Start(context.Background(), controlplane.Options{
		CRDDirectoryPaths: []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		ControllerManager: true,
	})
	Expect(err).NotTo(HaveOccurred())

	kubectl("create", "namespace", operatorNamespace)
	By("binding the operator's identity to the RBAC of config/rbac")
	kubectl("apply", "-k", "config/rbac")
	operatorKubeconfig, _, err = cluster.AddUser(operatorUser, []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace})
	Expect(err).NotTo(HaveOccurred())

	// The test signers' domain; signers elsewhere stay forbidden, as the ApprovalForbidden test needs.
	grantApproval("e2e-test-signers", testSignerDomain+"/*")

	operator = startOperator()
})

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && operator != nil {
		GinkgoWriter.Printf("manager log (last lines):\n%s\n", operator.tail(80))
	}
})

var _ = AfterSuite(func() {
	if operator != nil {
		operator.stop()
	}
	if cluster != nil && !CurrentSpecReport().Failed() {
		By("searching the logs and events for key material")
		expectNoKeyMaterialLeaked()
	}
	if cluster != nil {
		Expect(cluster.Stop()).To(Succeed())
	}
})

// operatorProcess is the running manager binary.
type operatorProcess struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	// metricsURL is the manager's Prometheus endpoint.
	metricsURL string
}

// startOperator starts bin/manager against the local control plane and waits for its readiness probe.
func startOperator(extraArgs ...string) *operatorProcess {
	probePort, metricsPort := freePort(), freePort()
	logPath := filepath.Join(cluster.WorkDir, fmt.Sprintf("manager-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	Expect(err).NotTo(HaveOccurred())

	args := append([]string{
		"--kubeconfig", operatorKubeconfig,
		"--operator-namespace", operatorNamespace,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
		"--zap-log-level", "debug",
	}, extraArgs...)
	cmd := exec.Command(managerPath, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Expect(cmd.Start()).To(Succeed())

	process := &operatorProcess{cmd: cmd, logPath: logPath, done: make(chan struct{}),
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(process.done)
	}()

	Eventually(func() error {
		select {
		case <-process.done:
			return StopTrying("the manager exited:\n" + process.tail(40))
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", probePort), time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err
	}).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	return process
}

// kill sends SIGKILL, as a crash or an OOM kill would, and waits for the process to end.
func (p *operatorProcess) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// restartOperator stops the running operator and starts a new one with the given flags.
func restartOperator(extraArgs ...string) {
	operator.stop()
	operator = startOperator(extraArgs...)
}

// stop sends SIGTERM and waits for the manager to exit.
func (p *operatorProcess) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last lines of the manager's log.
func (p *operatorProcess) tail(lines int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func freePort() int {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port
}

// kubectl runs the built kubectl against the local control plane and returns its standard output.
func kubectl(args ...string) string {
	output, err := tryKubectl(args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s", strings.Join(args, " "))
	return output
}

func tryKubectl(args ...string) (string, error) {
	cmd := exec.Command(cluster.KubectlPath(), args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.KubeconfigPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		return string(output), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(output), nil
}

// shell runs a bash pipeline with the built kubectl first on PATH, as a user would type it.
func shell(pipeline string) (string, error) {
	cmd := exec.Command("bash", "-o", "pipefail", "-c", pipeline)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+cluster.KubeconfigPath,
		"PATH="+cluster.BinaryDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	output, err := cmd.CombinedOutput()
	return string(output), err
}
