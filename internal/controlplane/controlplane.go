// Package controlplane starts etcd, kube-apiserver and kube-controller-manager
// for tests and the demo.
//
// etcd and kube-apiserver run through controller-runtime's envtest, which
// provides client certificate authentication and installs CRDs.
// kube-controller-manager runs as a plain child process with only the
// controllers that an operator test needs from a real cluster: owner-reference
// garbage collection, namespace deletion, the kube-root-ca.crt publisher and
// the CSR cleaner.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// componentStartTimeout bounds the start of each component. It is generous
	// because tests share small machines with builds.
	componentStartTimeout = 2 * time.Minute
	// componentStopTimeout bounds the graceful stop of each component, after
	// which it is killed.
	componentStopTimeout = 20 * time.Second

	// clientQPS and clientBurst lift client-go's default rate limit, which
	// would slow down tests against a private API server.
	clientQPS   = 1000
	clientBurst = 2000
)

// Options configures Start.
type Options struct {
	// BinaryDir holds etcd, kube-apiserver, kube-controller-manager, kubectl; default $KUBEBUILDER_ASSETS.
	BinaryDir string
	// CRDDirectoryPaths are installed before Start returns (envtest's CRDInstallOptions).
	CRDDirectoryPaths []string
	// WorkDir receives the kubeconfig and component logs; created if missing; default a new temp dir.
	// Start replaces its etcd and kube-apiserver subdirectories, so a WorkDir
	// can be reused, but not by two control planes at once.
	WorkDir string
	// ControllerManager starts kube-controller-manager with garbagecollector, namespace,
	// root-ca-certificate-publisher-controller and csrcleaner when true.
	ControllerManager bool
}

// ControlPlane is a running etcd, kube-apiserver and, optionally,
// kube-controller-manager. Stop it with Stop.
type ControlPlane struct {
	// Config is the admin (system:masters) client configuration.
	Config *rest.Config
	// KubeconfigPath is the admin kubeconfig file, written under WorkDir.
	KubeconfigPath string
	// BinaryDir holds the component binaries and kubectl.
	BinaryDir string
	// WorkDir holds the kubeconfig files, the API server's CA certificate
	// (ca.crt), component data and component logs (*.log).
	WorkDir string

	env               *envtest.Environment
	controllerManager *controllerManager
	logFiles          []*os.File
	removeWorkDir     bool

	stopOnce sync.Once
	stopErr  error
}

// Start starts etcd and kube-apiserver, installs the CRDs and, when
// opts.ControllerManager is set, starts kube-controller-manager. It returns
// once every component is ready. On error, it stops whatever it started.
// ctx bounds the wait for kube-controller-manager, while etcd and
// kube-apiserver have their own start timeout.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	binaryDir := opts.BinaryDir
	if binaryDir == "" {
		binaryDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if binaryDir == "" {
		return nil, errors.New("the control plane binary directory is not set: set Options.BinaryDir or KUBEBUILDER_ASSETS " +
			"(hack/install-control-plane.sh builds the binaries and prints the directory)")
	}
	binaryDir, err = filepath.Abs(binaryDir)
	if err != nil {
		return nil, fmt.Errorf("resolving binary directory %q: %w", binaryDir, err)
	}
	required := []string{"etcd", "kube-apiserver", "kubectl"}
	if opts.ControllerManager {
		required = append(required, "kube-controller-manager")
	}
	if err := checkBinaries(binaryDir, required); err != nil {
		return nil, err
	}

	c := &ControlPlane{BinaryDir: binaryDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()

	if err := c.prepareWorkDir(opts.WorkDir); err != nil {
		return nil, err
	}
	if err := c.startEnvironment(opts.CRDDirectoryPaths); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}

	c.KubeconfigPath = filepath.Join(c.WorkDir, "kubeconfig")
	if err := writeKubeconfig(c.KubeconfigPath, "admin", c.Config); err != nil {
		return nil, err
	}
	caPath := filepath.Join(c.WorkDir, "ca.crt")
	if err := os.WriteFile(caPath, c.Config.CAData, 0o644); err != nil {
		return nil, fmt.Errorf("writing the API server CA certificate: %w", err)
	}

	if opts.ControllerManager {
		if err := c.startControllerManager(ctx, caPath); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func checkBinaries(dir string, names []string) error {
	for _, name := range names {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("control plane binary %s is missing (run hack/install-control-plane.sh): %w", path, err)
		}
		if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("control plane binary %s is not an executable file", path)
		}
	}
	return nil
}

// prepareWorkDir creates the work directory, or a temporary one when dir is
// empty, and clears the component data a previous run left there.
func (c *ControlPlane) prepareWorkDir(dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dnscert-controlplane-")
		if err != nil {
			return fmt.Errorf("creating a work directory: %w", err)
		}
		c.WorkDir = tmp
		c.removeWorkDir = true
		return nil
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolving work directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("creating work directory %s: %w", abs, err)
	}
	c.WorkDir = abs

	// envtest reuses a certificate directory without reloading its CA, and
	// stale etcd data would belong to another CA, so both start empty.
	for _, sub := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "users"} {
		if err := os.RemoveAll(filepath.Join(abs, sub)); err != nil {
			return fmt.Errorf("clearing %s in work directory %s: %w", sub, abs, err)
		}
	}
	return nil
}

// openLog creates (or truncates) WorkDir/NAME.log and closes it on Stop.
func (c *ControlPlane) openLog(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(c.WorkDir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("creating the %s log: %w", name, err)
	}
	c.logFiles = append(c.logFiles, f)
	return f, nil
}

// startEnvironment starts etcd and kube-apiserver through envtest and
// installs the CRDs.
func (c *ControlPlane) startEnvironment(crdPaths []string) error {
	etcdLog, err := c.openLog("etcd")
	if err != nil {
		return err
	}
	apiServerLog, err := c.openLog("kube-apiserver")
	if err != nil {
		return err
	}

	certDir := filepath.Join(c.WorkDir, "kube-apiserver")
	dataDir := filepath.Join(c.WorkDir, "etcd")
	for _, dir := range []string{certDir, dataDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}

	// Explicit paths keep envtest from preferring $KUBEBUILDER_ASSETS or
	// TEST_ASSET_* over BinaryDir. Explicit directories make envtest keep
	// them on stop, which RestartAPIServer relies on.
	c.env = &envtest.Environment{
		ControlPlane: envtest.ControlPlane{
			APIServer: &envtest.APIServer{
				Path:    filepath.Join(c.BinaryDir, "kube-apiserver"),
				CertDir: certDir,
				Out:     apiServerLog,
				Err:     apiServerLog,
			},
			Etcd: &envtest.Etcd{
				Path:    filepath.Join(c.BinaryDir, "etcd"),
				DataDir: dataDir,
				Out:     etcdLog,
				Err:     etcdLog,
			},
			KubectlPath: c.KubectlPath(),
		},
		BinaryAssetsDirectory:    c.BinaryDir,
		CRDDirectoryPaths:        crdPaths,
		ErrorIfCRDPathMissing:    len(crdPaths) > 0,
		ControlPlaneStartTimeout: componentStartTimeout,
		ControlPlaneStopTimeout:  componentStopTimeout,
	}
	// Without a grace period, kube-apiserver leaves open watches (such as
	// those of kube-controller-manager or an operator) to its HTTP server's
	// shutdown timeout, which is the 60 s request timeout, so every stop
	// would wait that long. With one, it ends the watches and exits within
	// seconds.
	c.env.ControlPlane.APIServer.Configure().Set("shutdown-watch-termination-grace-period", "5s")
	cfg, err := c.env.Start()
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver (logs in %s): %w", c.WorkDir, err)
	}
	c.Config = rest.CopyConfig(cfg)
	c.Config.QPS = clientQPS
	c.Config.Burst = clientBurst
	return nil
}

// Stop stops kube-controller-manager, then kube-apiserver and etcd, and
// waits for each to exit, killing a component that does not stop in time.
// It removes WorkDir only when Start created it. Stop is idempotent: later
// calls return the first call's result.
func (c *ControlPlane) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.controllerManager != nil {
			if err := c.controllerManager.stop(componentStopTimeout); err != nil {
				errs = append(errs, err)
			}
		}
		if c.env != nil {
			if err := c.env.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping kube-apiserver and etcd: %w", err))
			}
		}
		for _, f := range c.logFiles {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if c.removeWorkDir {
			if err := os.RemoveAll(c.WorkDir); err != nil {
				errs = append(errs, fmt.Errorf("removing work directory: %w", err))
			}
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// KubectlPath returns the path of the kubectl binary in BinaryDir.
func (c *ControlPlane) KubectlPath() string {
	return filepath.Join(c.BinaryDir, "kubectl")
}

// unsafeFileChars matches the characters of a user name that are kept out of
// a file name.
var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// AddUser provisions a client certificate identity with the given user name
// and groups, authorized only through RBAC unless a group grants more (such
// as system:masters). It writes a kubeconfig for it under WorkDir/users and
// returns its path and the matching client configuration.
func (c *ControlPlane) AddUser(name string, groups []string) (string, *rest.Config, error) {
	if name == "" {
		return "", nil, errors.New("adding a user: the user name is empty")
	}
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, &rest.Config{QPS: clientQPS, Burst: clientBurst})
	if err != nil {
		return "", nil, fmt.Errorf("adding user %s: %w", name, err)
	}
	cfg := user.Config()

	dir := filepath.Join(c.WorkDir, "users")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	// A unique file per call, so two names that differ only in unsafe
	// characters never overwrite each other.
	f, err := os.CreateTemp(dir, unsafeFileChars.ReplaceAllString(name, "_")+"-*.kubeconfig")
	if err != nil {
		return "", nil, fmt.Errorf("creating the kubeconfig of user %s: %w", name, err)
	}
	path := f.Name()
	if err := f.Close(); err != nil {
		return "", nil, err
	}
	if err := writeKubeconfig(path, name, cfg); err != nil {
		return "", nil, err
	}
	return path, rest.CopyConfig(cfg), nil
}

// writeKubeconfig writes a kubeconfig with one cluster, one client
// certificate user and one current context. clientcmd writes it with mode
// 0600 because it contains a private key.
func writeKubeconfig(path, userName string, cfg *rest.Config) error {
	const clusterName = "dnscert-local"
	kubeconfig := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			clusterName: {
				Server:                   cfg.Host,
				CertificateAuthorityData: cfg.CAData,
			},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{
			userName: {
				ClientCertificateData: cfg.CertData,
				ClientKeyData:         cfg.KeyData,
			},
		},
		Contexts: map[string]*clientcmdapi.Context{
			clusterName: {Cluster: clusterName, AuthInfo: userName},
		},
		CurrentContext: clusterName,
	}
	if err := clientcmd.WriteToFile(kubeconfig, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// RestartAPIServer stops kube-apiserver and starts it again on the same port
// with the same certificates, keeping etcd and its data. Clients built from
// Config and the kubeconfig files keep working once it is back.
func (c *ControlPlane) RestartAPIServer() error {
	apiServer := c.env.ControlPlane.APIServer
	if err := apiServer.Stop(); err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	// Start waits until /healthz returns 200.
	if err := apiServer.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again (log in %s): %w", c.WorkDir, err)
	}
	return nil
}
