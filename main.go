// Command manager runs dnscert-operator: the DNSCertificate controller and, unless disabled,
// the built-in CertificateSigningRequest signer certs.dnscert.io/local.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/controllers"
	"github.com/dnscert/dnscert-operator/internal/signer"
)

// options are the manager's command-line flags.
type options struct {
	metricsAddress         string
	probeAddress           string
	leaderElect            bool
	defaultSignerName      string
	enableLocalSigner      bool
	autoApprove            bool
	operatorNamespace      string
	signerTimeout          time.Duration
	maxConcurrentRecons    int
	localSignerMaxDuration time.Duration
	syncPeriod             time.Duration
	kubeAPIQPS             float64
	kubeAPIBurst           int
	pprofAddress           string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "convert-istio" {
		os.Exit(runConvertIstio(os.Args[2:], os.Stdout, os.Stderr))
	}
	opts := options{}
	flag.StringVar(&opts.metricsAddress, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&opts.probeAddress, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.BoolVar(&opts.leaderElect, "leader-elect", false, "Elect a leader, so that only one replica works at a time.")
	flag.StringVar(&opts.defaultSignerName, "default-signer-name", signer.SignerName, "Signer of DNSCertificates that set no spec.signerName.")
	flag.BoolVar(&opts.enableLocalSigner, "enable-local-signer", true, "Run the built-in signer "+signer.SignerName+", which keeps a CA key in a Secret in the operator namespace.")
	flag.BoolVar(&opts.autoApprove, "auto-approve", true, "Approve the CertificateSigningRequests the operator creates itself.")
	flag.StringVar(&opts.operatorNamespace, "operator-namespace", defaultOperatorNamespace(), "Namespace of the operator's own objects: the local signer's CA Secret and the leader election lease. Defaults to $POD_NAMESPACE, else dnscert-system.")
	flag.DurationVar(&opts.signerTimeout, "signer-timeout", 15*time.Minute, "How long an approved CertificateSigningRequest may stay unsigned before it is replaced.")
	flag.IntVar(&opts.maxConcurrentRecons, "max-concurrent-reconciles", 8, "Number of DNSCertificates reconciled in parallel, and of CertificateSigningRequests the local signer signs in parallel.")
	flag.DurationVar(&opts.localSignerMaxDuration, "local-signer-max-duration", 8760*time.Hour, "Longest certificate lifetime the local signer issues.")
	flag.DurationVar(&opts.syncPeriod, "sync-period", 10*time.Hour, "How often every DNSCertificate is checked again even without a change.")
	flag.Float64Var(&opts.kubeAPIQPS, "kube-api-qps", 200, "Requests per second the operator may send to the API server, on average.")
	flag.IntVar(&opts.kubeAPIBurst, "kube-api-burst", 400, "Requests the operator may send to the API server in a burst above --kube-api-qps.")
	flag.StringVar(&opts.pprofAddress, "pprof-bind-address", "", "Address of the net/http/pprof endpoint, such as 127.0.0.1:6060; empty disables it.")
	zapOptions := zap.Options{}
	zapOptions.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
	if os.Getenv("GOGC") == "" {
		// Collect garbage when the heap grows by half instead of doubling: the cache's initial
		// sync is the peak, and this keeps it lower for a little more CPU (see docs/benchmarks.md).
		debug.SetGCPercent(50)
	}
	if err := run(ctrl.SetupSignalHandler(), opts); err != nil {
		ctrl.Log.Error(err, "Manager stopped with an error")
		os.Exit(1)
	}
}

func defaultOperatorNamespace() string {
	if namespace := os.Getenv("POD_NAMESPACE"); namespace != "" {
		return namespace
	}
	return "dnscert-system"
}

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(certsv1alpha1.AddToScheme(scheme))
	return scheme
}

func run(ctx context.Context, opts options) error {
	log := ctrl.Log.WithName("setup")
	config, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	config.QPS = float32(opts.kubeAPIQPS)
	config.Burst = opts.kubeAPIBurst

	username, err := ownUsername(ctx, config)
	if err != nil {
		return err
	}
	trustBundlesServed, err := servesClusterTrustBundles(config)
	if err != nil {
		return err
	}
	log.Info("Starting manager", "username", username, "operatorNamespace", opts.operatorNamespace,
		"defaultSignerName", opts.defaultSignerName, "localSigner", opts.enableLocalSigner,
		"autoApprove", opts.autoApprove, "clusterTrustBundles", trustBundlesServed)

	ownedSecrets, err := labels.Parse(certsv1alpha1.LabelDNSCertificate)
	if err != nil {
		return err
	}
	ownCSRs, err := labels.Parse(certsv1alpha1.LabelDNSCertificateUID)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme:                        newScheme(),
		Metrics:                       metricsserver.Options{BindAddress: opts.metricsAddress},
		HealthProbeBindAddress:        opts.probeAddress,
		PprofBindAddress:              opts.pprofAddress,
		LeaderElection:                opts.leaderElect,
		LeaderElectionID:              "dnscert-operator.certs.dnscert.io",
		LeaderElectionNamespace:       opts.operatorNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			SyncPeriod: &opts.syncPeriod,
			// Managed fields are never read; dropping them saves memory and copying.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				// Only the Secrets the operator owns; unrelated Secrets never enter memory.
				&corev1.Secret{}: {Label: ownedSecrets},
				// Only the CertificateSigningRequests the operator creates; the local signer keeps
				// its own cache of the requests for its signer name.
				&certificatesv1.CertificateSigningRequest{}: {Label: ownCSRs},
			}},
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	reconciler := &controllers.DNSCertificateReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Recorder:                mgr.GetEventRecorder("dnscert-operator"),
		Clock:                   clock.RealClock{},
		DefaultSignerName:       opts.defaultSignerName,
		AutoApprove:             opts.autoApprove,
		Username:                username,
		SignerTimeout:           opts.signerTimeout,
		TrustBundlesServed:      trustBundlesServed,
		MaxConcurrentReconciles: opts.maxConcurrentRecons,
	}

	if opts.enableLocalSigner {
		localSigner := &signer.Controller{
			Client:                  mgr.GetClient(),
			APIReader:               mgr.GetAPIReader(),
			Clock:                   clock.RealClock{},
			SignerName:              signer.SignerName,
			Namespace:               opts.operatorNamespace,
			Policy:                  signer.Policy{MaxDuration: opts.localSignerMaxDuration},
			PublishTrustBundle:      trustBundlesServed,
			MaxConcurrentReconciles: opts.maxConcurrentRecons,
		}
		if err := localSigner.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up the local signer: %w", err)
		}
		// Without ClusterTrustBundles, the local signer's CA is still the root of what it signs.
		reconciler.ConfiguredRoots = func(signerName string) []byte {
			if signerName == signer.SignerName {
				return localSigner.CACertificatePEM()
			}
			return nil
		}
	}

	if err := reconciler.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DNSCertificate controller: %w", err)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// ownUsername reads the operator's user name from the API server, so that it approves only the
// CertificateSigningRequests this user requested.
func ownUsername(ctx context.Context, config *rest.Config) (string, error) {
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return "", err
	}
	review, err := clientset.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("reading the operator's own user name with a SelfSubjectReview: %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("the API server returned an empty user name for the operator")
	}
	return review.Status.UserInfo.Username, nil
}

// servesClusterTrustBundles reports whether the API server serves certificates.k8s.io/v1
// ClusterTrustBundles; before Kubernetes 1.37 they are beta and off by default.
func servesClusterTrustBundles(config *rest.Config) (bool, error) {
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return false, err
	}
	resources, err := clientset.Discovery().ServerResourcesForGroupVersion(certificatesv1.SchemeGroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", certificatesv1.SchemeGroupVersion, err)
	}
	for _, resource := range resources.APIResources {
		if resource.Name == "clustertrustbundles" {
			return true, nil
		}
	}
	return false, nil
}
