package controllers

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/controlplane"
	"github.com/dnscert/dnscert-operator/internal/signer"
)

const (
	operatorNamespace = "dnscert-system"
	localSignerName   = "certs.dnscert.io/local"
	// silentSignerName is a signer nobody serves in these tests.
	silentSignerName = "example.com/silent"
)

var (
	testCtx    context.Context
	cancelTest context.CancelFunc
	cluster    *controlplane.ControlPlane
	k8sClient  client.Client
	clientset  *kubernetes.Clientset
	testScheme *runtime.Scheme
	adminUser  string
	// stopManager stops the running manager and waits until it has stopped.
	stopManager func()
)

func TestControllers(t *testing.T) {
	controlplane.SkipWithoutBinaries(t)
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	testCtx, cancelTest = context.WithCancel(context.Background())

	var err error
	cluster, err = controlplane.Start(testCtx, controlplane.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "config", "crd", "bases")},
		ControllerManager: true,
	})
	Expect(err).NotTo(HaveOccurred())

	testScheme = runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(certsv1alpha1.AddToScheme(testScheme))
	k8sClient, err = client.New(cluster.Config, client.Options{Scheme: testScheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cluster.Config)
	Expect(err).NotTo(HaveOccurred())

	review, err := clientset.AuthenticationV1().SelfSubjectReviews().Create(testCtx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	adminUser = review.Status.UserInfo.Username

	Expect(k8sClient.Create(testCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())
	startManager(managerOptions{autoApprove: true})
})

var _ = AfterSuite(func() {
	if stopManager != nil {
		stopManager()
	}
	if cancelTest != nil {
		cancelTest()
	}
	if cluster != nil {
		Expect(cluster.Stop()).To(Succeed())
	}
})

// managerOptions varies the operator started for a test.
type managerOptions struct {
	autoApprove bool
	// clock is the reconciler's and the signer's clock; the real clock when nil.
	clock clock.PassiveClock
	// signerTimeout is how long an approved CSR may stay unsigned; one hour when zero.
	signerTimeout time.Duration
}

// startManager stops the running manager, if any, and runs the reconciler and the local
// signer in a new manager, with the same caches as the binary.
func startManager(opts managerOptions) {
	if stopManager != nil {
		stopManager()
	}
	ownedSecrets, err := labels.Parse(certsv1alpha1.LabelDNSCertificate)
	Expect(err).NotTo(HaveOccurred())
	ownCSRs, err := labels.Parse(certsv1alpha1.LabelDNSCertificateUID)
	Expect(err).NotTo(HaveOccurred())
	mgr, err := ctrl.NewManager(cluster.Config, ctrl.Options{
		Scheme:  testScheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: ownedSecrets},
			&certificatesv1.CertificateSigningRequest{}: {Label: ownCSRs},
		}},
		// Each manager gets a controller name of its own, so restarts do not collide.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())

	if opts.clock == nil {
		opts.clock = clock.RealClock{}
	}
	if opts.signerTimeout == 0 {
		opts.signerTimeout = time.Hour
	}
	reconciler := &DNSCertificateReconciler{
		Client:             mgr.GetClient(),
		APIReader:          mgr.GetAPIReader(),
		Recorder:           mgr.GetEventRecorder("dnscert-operator"),
		Clock:              opts.clock,
		DefaultSignerName:  localSignerName,
		AutoApprove:        opts.autoApprove,
		Username:           adminUser,
		SignerTimeout:      opts.signerTimeout,
		TrustBundlesServed: true,
	}
	Expect(reconciler.SetupWithManager(mgr)).To(Succeed())
	Expect((&signer.Controller{
		Clock:              opts.clock,
		SignerName:         localSignerName,
		Namespace:          operatorNamespace,
		PublishTrustBundle: true,
	}).SetupWithManager(mgr)).To(Succeed())

	ctx, cancel := context.WithCancel(testCtx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	stopManager = func() {
		cancel()
		<-done
		stopManager = nil
	}
}
