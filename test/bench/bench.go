package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/controlplane"
)

const (
	// operatorNamespace holds the manager's CA Secret and leader election Lease, as in config/default.
	operatorNamespace = "dnscert-system"
	// operatorUser is the ServiceAccount of the install manifests. The manager runs as this user,
	// bound to the RBAC of config/rbac, so it has exactly the permissions of an installed operator.
	operatorUser = "system:serviceaccount:dnscert-system:controller-manager"

	limitNamespace        = "bench-limit"
	warmupNamespace       = "bench-warmup"
	burstNamespace        = "bench-burst"
	regenerationNamespace = "bench-regeneration"

	// pollInterval is how often the bench polls the API server or the manager's endpoints.
	pollInterval = 100 * time.Millisecond
)

// bench is one run: the control plane, the bench's own clients, the running manager and the
// figures shared between scenarios.
type bench struct {
	cfg     config
	cluster *controlplane.ControlPlane
	// restConfig is the admin (system:masters) configuration without a client-side rate limit.
	restConfig         *rest.Config
	client             client.WithWatch
	clientset          kubernetes.Interface
	operatorKubeconfig string
	// operator is the running manager, or nil.
	operator *operator
	report   *report

	// limitRate is the plain client's create rate in Secrets per second, 0 until limit ran.
	limitRate float64
	// burst is the result of the burst scenario, nil until it ran.
	burst *burstResult
}

// newBench starts the control plane and prepares the manager's namespace, RBAC and user.
func newBench(ctx context.Context, cfg config) (_ *bench, err error) {
	b := &bench{cfg: cfg}
	b.report, err = newReport(cfg)
	if err != nil {
		return nil, err
	}

	b.logf("Starting the control plane from %s", cfg.binaryDir)
	b.cluster, err = controlplane.Start(ctx, controlplane.Options{
		BinaryDir:         cfg.binaryDir,
		CRDDirectoryPaths: []string{filepath.Join(cfg.repoRoot, "config", "crd", "bases")},
		WorkDir:           cfg.workDir,
		ControllerManager: true,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.cluster.Stop())
		}
	}()

	b.restConfig = rest.CopyConfig(b.cluster.Config)
	// A negative QPS turns client-go's rate limiter off, so the bench measures the API server.
	b.restConfig.QPS = -1
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(certsv1alpha1.AddToScheme(scheme))
	if b.client, err = client.NewWithWatch(b.restConfig, client.Options{Scheme: scheme}); err != nil {
		return nil, fmt.Errorf("creating the admin client: %w", err)
	}
	if b.clientset, err = kubernetes.NewForConfig(b.restConfig); err != nil {
		return nil, fmt.Errorf("creating the admin clientset: %w", err)
	}

	if err := b.createNamespace(ctx, operatorNamespace); err != nil {
		return nil, err
	}
	b.logf("Applying config/rbac and adding the user %s", operatorUser)
	if err := b.kubectl("apply", "-k", "config/rbac"); err != nil {
		return nil, err
	}
	b.operatorKubeconfig, _, err = b.cluster.AddUser(operatorUser, []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// close stops the manager and the control plane.
func (b *bench) close() error {
	var errs []error
	if b.operator != nil {
		errs = append(errs, b.operator.stop())
		b.operator = nil
	}
	b.logf("Stopping the control plane")
	errs = append(errs, b.cluster.Stop())
	return errors.Join(errs...)
}

// logf writes one progress line.
func (b *bench) logf(format string, args ...any) {
	if b.cfg.progress == nil {
		return
	}
	fmt.Fprintf(b.cfg.progress, "%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// kubectl runs the control plane's kubectl as the admin in the repository root.
func (b *bench) kubectl(args ...string) error {
	cmd := exec.Command(b.cluster.KubectlPath(), args...)
	cmd.Dir = b.cfg.repoRoot
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.cluster.KubeconfigPath)
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl %s failed: %w: %s", strings.Join(args, " "), err, output)
	}
	return nil
}

// createNamespace creates a namespace unless it exists.
func (b *bench) createNamespace(ctx context.Context, name string) error {
	_, err := b.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// certificateCount returns the number of DNSCertificates in the cluster, which is what a fresh
// manager reconciles when it starts.
func (b *bench) certificateCount(ctx context.Context) (int, error) {
	var list certsv1alpha1.DNSCertificateList
	if err := b.client.List(ctx, &list); err != nil {
		return 0, fmt.Errorf("listing DNSCertificates: %w", err)
	}
	return len(list.Items), nil
}

// parallel calls do for 0 <= i < n from the given number of goroutines and returns the first
// error, after which it starts no further calls.
func parallel(ctx context.Context, workers, n int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	indices := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range indices {
				if err := do(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case indices <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(indices)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}
