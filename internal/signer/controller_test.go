package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"github.com/dnscert/dnscert-operator/internal/controlplane"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

const (
	testNamespace   = "dnscert-system"
	otherSignerName = "example.com/other"
)

// The API server started by TestMain, nil when KUBEBUILDER_ASSETS is unset.
var (
	testEnv       *envtest.Environment
	testConfig    *rest.Config
	testClient    client.Client
	testClientset *kubernetes.Clientset
)

// csrCounter makes CertificateSigningRequest names unique within a run.
var csrCounter atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return m.Run()
	}

	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest with KUBEBUILDER_ASSETS=%s: %v\n", os.Getenv("KUBEBUILDER_ASSETS"), err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()

	testEnv = env
	testConfig = cfg
	if testClient, err = client.New(cfg, client.Options{Scheme: clientgoscheme.Scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	if testClientset, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "creating clientset: %v\n", err)
		return 1
	}
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}
	if err := testClient.Create(context.Background(), namespace); err != nil {
		fmt.Fprintf(os.Stderr, "creating namespace %s: %v\n", testNamespace, err)
		return 1
	}
	return m.Run()
}

func requireAPIServer(t *testing.T) {
	t.Helper()
	if testConfig == nil {
		controlplane.SkipWithoutBinaries(t)
	}
}

// startSigner runs a manager with the signer controller, connected with cfg, until the test
// ends or until the returned function stops it.
func startSigner(t *testing.T, cfg *rest.Config, signer *Controller) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 clientgoscheme.Scheme,
		Logger:                 testr.New(t),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// A restart test runs a second manager with a controller of the same name.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := signer.SetupWithManager(mgr); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager stopped with an error: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// createCSR creates a CertificateSigningRequest through the API and returns its name.
func createCSR(t *testing.T, signerName string, requestPEM []byte, expirationSeconds *int32) string {
	t.Helper()
	csr := newCSR(fmt.Sprintf("signer-test-%d", csrCounter.Add(1)), requestPEM, expirationSeconds, servingUsages...)
	csr.Spec.SignerName = signerName
	if err := testClient.Create(context.Background(), csr); err != nil {
		t.Fatalf("creating CertificateSigningRequest: %v", err)
	}
	t.Cleanup(func() {
		if err := testClient.Delete(context.Background(), csr); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting CertificateSigningRequest %s: %v", csr.Name, err)
		}
	})
	return csr.Name
}

// setApproval adds an Approved or Denied condition through the approval subresource.
func setApproval(t *testing.T, name string, conditionType certificatesv1.RequestConditionType) {
	t.Helper()
	ctx := context.Background()
	csr, err := testClientset.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading CertificateSigningRequest %s: %v", name, err)
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type:    conditionType,
		Status:  corev1.ConditionTrue,
		Reason:  "SignerTest",
		Message: "set by the signer's controller test",
	})
	if _, err := testClientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting %s on CertificateSigningRequest %s: %v", conditionType, name, err)
	}
}

func getCSR(g Gomega, name string) *certificatesv1.CertificateSigningRequest {
	var csr certificatesv1.CertificateSigningRequest
	g.Expect(testClient.Get(context.Background(), types.NamespacedName{Name: name}, &csr)).To(Succeed())
	return &csr
}

// waitForCertificate polls until the CertificateSigningRequest has a certificate and returns it.
func waitForCertificate(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	g := NewWithT(t)
	var certPEM []byte
	g.Eventually(func(g Gomega) {
		certPEM = getCSR(g, name).Status.Certificate
		g.Expect(certPEM).NotTo(BeEmpty())
	}).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return parseCertificatePEM(t, certPEM)
}

// signBarrier creates and approves a valid request and waits for its certificate. The
// controller runs one worker over a FIFO queue, so once this request is signed every
// request changed before it has been reconciled, and those left alone stay that way.
func signBarrier(t *testing.T) *x509.Certificate {
	t.Helper()
	name := createCSR(t, SignerName, newRequestPEM(t, requestOptions{dnsNames: []string{"barrier.example.test"}}), nil)
	setApproval(t, name, certificatesv1.CertificateApproved)
	return waitForCertificate(t, name)
}

// trustBundleRoots reads the signer's ClusterTrustBundle into a certificate pool.
func trustBundleRoots(t *testing.T) (*x509.CertPool, string) {
	t.Helper()
	var bundle certificatesv1.ClusterTrustBundle
	g := NewWithT(t)
	g.Eventually(func() error {
		return testClient.Get(context.Background(), types.NamespacedName{Name: TrustBundleName(SignerName)}, &bundle)
	}).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

	g.Expect(bundle.Spec.SignerName).To(Equal(SignerName))
	roots := x509.NewCertPool()
	g.Expect(roots.AppendCertsFromPEM([]byte(bundle.Spec.TrustBundle))).To(BeTrue(), "the trust bundle holds no certificate")
	return roots, bundle.Spec.TrustBundle
}

func newTestController(clock *clocktesting.FakePassiveClock) *Controller {
	return &Controller{
		Clock:              clock,
		Namespace:          testNamespace,
		Policy:             DefaultPolicy(),
		PublishTrustBundle: true,
	}
}

func TestControllerSigning(t *testing.T) {
	requireAPIServer(t)
	now := time.Now().Truncate(time.Second)
	startSigner(t, testConfig, newTestController(clocktesting.NewFakePassiveClock(now)))

	t.Run("signs an approved request", func(t *testing.T) {
		g := NewWithT(t)
		name := createCSR(t, SignerName, newRequestPEM(t, requestOptions{
			dnsNames: []string{"web.example.test", "web"},
			ips:      []net.IP{net.ParseIP("10.1.2.3")},
		}), nil)
		setApproval(t, name, certificatesv1.CertificateApproved)

		cert := waitForCertificate(t, name)
		roots, _ := trustBundleRoots(t)
		_, err := cert.Verify(x509.VerifyOptions{
			DNSName:     "web.example.test",
			Roots:       roots,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cert.IsCA).To(BeFalse())
		g.Expect(cert.DNSNames).To(Equal([]string{"web.example.test", "web"}))
		g.Expect(cert.NotAfter).To(BeTemporally("==", now.Add(DefaultDefaultDuration)))
	})

	t.Run("honours expirationSeconds of 600", func(t *testing.T) {
		g := NewWithT(t)
		name := createCSR(t, SignerName, newRequestPEM(t, requestOptions{dnsNames: []string{"short.example.test"}}), int32Pointer(600))
		setApproval(t, name, certificatesv1.CertificateApproved)

		cert := waitForCertificate(t, name)
		g.Expect(cert.NotBefore).To(BeTemporally("==", now.Add(-DefaultBackdate)))
		g.Expect(cert.NotAfter).To(BeTemporally("==", now.Add(10*time.Minute)))
		g.Expect(cert.NotAfter.Sub(cert.NotBefore)).To(Equal(10*time.Minute + DefaultBackdate))
	})

	t.Run("fails a request with a URI SAN", func(t *testing.T) {
		g := NewWithT(t)
		name := createCSR(t, SignerName, newRequestPEM(t, requestOptions{
			dnsNames: []string{"mesh.example.test"},
			uris:     []string{"spiffe://cluster.local/ns/default/sa/web"},
		}), nil)
		setApproval(t, name, certificatesv1.CertificateApproved)

		var failed *certificatesv1.CertificateSigningRequestCondition
		g.Eventually(func(g Gomega) {
			failed = nil
			csr := getCSR(g, name)
			for i := range csr.Status.Conditions {
				if csr.Status.Conditions[i].Type == certificatesv1.CertificateFailed {
					failed = &csr.Status.Conditions[i]
				}
			}
			g.Expect(failed).NotTo(BeNil())
			g.Expect(csr.Status.Certificate).To(BeEmpty())
		}).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		g.Expect(failed.Status).To(Equal(corev1.ConditionTrue))
		g.Expect(failed.Reason).To(Equal(ReasonUnsupportedSAN))
		g.Expect(failed.Message).To(ContainSubstring("URI"))
	})

	t.Run("leaves unapproved, denied and foreign requests alone", func(t *testing.T) {
		g := NewWithT(t)
		request := newRequestPEM(t, requestOptions{dnsNames: []string{"alone.example.test"}})
		unapproved := createCSR(t, SignerName, request, nil)
		denied := createCSR(t, SignerName, request, nil)
		setApproval(t, denied, certificatesv1.CertificateDenied)
		foreign := createCSR(t, otherSignerName, request, nil)
		setApproval(t, foreign, certificatesv1.CertificateApproved)

		signBarrier(t)

		for _, name := range []string{unapproved, denied, foreign} {
			csr := getCSR(g, name)
			g.Expect(csr.Status.Certificate).To(BeEmpty(), "CertificateSigningRequest %s was signed", name)
			for _, condition := range csr.Status.Conditions {
				g.Expect(condition.Type).NotTo(Equal(certificatesv1.CertificateFailed), "CertificateSigningRequest %s was marked failed", name)
			}
		}
	})

	t.Run("signs a request approved later", func(t *testing.T) {
		name := createCSR(t, SignerName, newRequestPEM(t, requestOptions{dnsNames: []string{"later.example.test"}}), nil)
		signBarrier(t)
		if len(getCSR(NewWithT(t), name).Status.Certificate) > 0 {
			t.Fatalf("CertificateSigningRequest %s was signed before approval", name)
		}

		setApproval(t, name, certificatesv1.CertificateApproved)
		waitForCertificate(t, name)
	})
}

func TestControllerRestartReusesCA(t *testing.T) {
	requireAPIServer(t)
	g := NewWithT(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	secretKey := types.NamespacedName{Namespace: testNamespace, Name: DefaultCASecretName}

	// Start from nothing, so the first signer creates the CA.
	deleteCA(t)

	firstSigner := newTestController(clocktesting.NewFakePassiveClock(now))
	g.Expect(firstSigner.CACertificatePEM()).To(BeNil())
	stopFirst := startSigner(t, testConfig, firstSigner)
	firstLeaf := signBarrier(t)
	var firstSecret corev1.Secret
	g.Expect(testClient.Get(ctx, secretKey, &firstSecret)).To(Succeed())
	g.Expect(firstSecret.Type).To(Equal(corev1.SecretTypeOpaque))
	g.Expect(firstSecret.Labels).To(HaveKeyWithValue(ManagedByLabel, ManagedByValue))
	g.Expect(firstSecret.Data).To(HaveKey(corev1.TLSCertKey))
	g.Expect(firstSecret.Data).To(HaveKey(corev1.TLSPrivateKeyKey))
	g.Expect(firstSigner.CACertificatePEM()).To(Equal(firstSecret.Data[corev1.TLSCertKey]))
	_, firstBundle := trustBundleRoots(t)
	g.Expect(firstBundle).To(Equal(string(firstSecret.Data[corev1.TLSCertKey])))
	stopFirst()

	startSigner(t, testConfig, newTestController(clocktesting.NewFakePassiveClock(now.Add(time.Hour))))
	secondLeaf := signBarrier(t)

	var secondSecret corev1.Secret
	g.Expect(testClient.Get(ctx, secretKey, &secondSecret)).To(Succeed())
	g.Expect(secondSecret.UID).To(Equal(firstSecret.UID))
	g.Expect(secondSecret.ResourceVersion).To(Equal(firstSecret.ResourceVersion), "the CA Secret was written again")
	roots, secondBundle := trustBundleRoots(t)
	g.Expect(secondBundle).To(Equal(firstBundle))

	caBlock, _ := pem.Decode(firstSecret.Data[corev1.TLSCertKey])
	g.Expect(caBlock).NotTo(BeNil())
	caCert, err := x509.ParseCertificate(caBlock.Bytes)
	g.Expect(err).NotTo(HaveOccurred())
	for _, leaf := range []*x509.Certificate{firstLeaf, secondLeaf} {
		g.Expect(leaf.CheckSignatureFrom(caCert)).To(Succeed())
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: "barrier.example.test", Roots: roots, CurrentTime: now.Add(time.Hour)})
		g.Expect(err).NotTo(HaveOccurred())
	}
}

func TestControllerRejectsMissingNamespace(t *testing.T) {
	requireAPIServer(t)
	mgr, err := ctrl.NewManager(testConfig, ctrl.Options{
		Scheme:                 clientgoscheme.Scheme,
		Logger:                 testr.New(t),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	signer := newTestController(clocktesting.NewFakePassiveClock(time.Now()))
	signer.Namespace = "missing-namespace"
	if err := signer.SetupWithManager(mgr); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = mgr.Start(ctx)
	if err == nil {
		t.Fatalf("manager started without the namespace of the CA Secret")
	}
	if !strings.Contains(err.Error(), `namespace "missing-namespace" not found`) {
		t.Errorf("error %q does not name the missing namespace", err)
	}
}

// deleteCA deletes the CA Secret and the ClusterTrustBundle, so the next signer creates both.
func deleteCA(t *testing.T) {
	t.Helper()
	for _, object := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: DefaultCASecretName}},
		&certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: TrustBundleName(SignerName)}},
	} {
		if err := testClient.Delete(context.Background(), object); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("deleting %T %s: %v", object, object.GetName(), err)
		}
	}
}

// rbacMarkerRules reads the kubebuilder RBAC markers of controller.go into cluster-wide rules
// and rules per namespace, the same rules controller-gen writes into the operator's roles.
func rbacMarkerRules(t *testing.T) (clusterRules []rbacv1.PolicyRule, namespaceRules map[string][]rbacv1.PolicyRule) {
	t.Helper()
	source, err := os.ReadFile("controller.go")
	if err != nil {
		t.Fatalf("reading controller.go: %v", err)
	}
	namespaceRules = map[string][]rbacv1.PolicyRule{}
	const prefix = "// +kubebuilder:rbac:"
	for _, line := range strings.Split(string(source), "\n") {
		marker, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
		if !ok {
			continue
		}
		var rule rbacv1.PolicyRule
		var namespace string
		for _, field := range strings.Split(marker, ",") {
			key, value, found := strings.Cut(field, "=")
			if !found {
				t.Fatalf("RBAC marker %q has a field without a value: %q", line, field)
			}
			values := strings.Split(strings.Trim(value, `"`), ";")
			switch key {
			case "groups":
				rule.APIGroups = values
			case "resources":
				rule.Resources = values
			case "resourceNames":
				rule.ResourceNames = values
			case "verbs":
				rule.Verbs = values
			case "namespace":
				namespace = values[0]
			default:
				t.Fatalf("RBAC marker %q has an unknown field %q", line, key)
			}
		}
		if namespace == "" {
			clusterRules = append(clusterRules, rule)
		} else {
			namespaceRules[namespace] = append(namespaceRules[namespace], rule)
		}
	}
	if len(clusterRules) == 0 {
		t.Fatalf("controller.go has no cluster-wide RBAC markers")
	}
	return clusterRules, namespaceRules
}

func TestControllerRunsWithItsRBAC(t *testing.T) {
	requireAPIServer(t)
	g := NewWithT(t)
	ctx := context.Background()
	const userName = "dnscert-local-signer-test"

	clusterRules, namespaceRules := rbacMarkerRules(t)
	g.Expect(namespaceRules).To(HaveKey(testNamespace))
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: userName}}
	objects := []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: userName}, Rules: clusterRules},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: userName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: userName},
			Subjects:   subjects,
		},
	}
	for namespace, rules := range namespaceRules {
		objects = append(objects,
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: userName}, Rules: rules},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: userName},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: userName},
				Subjects:   subjects,
			})
	}
	for _, object := range objects {
		g.Expect(testClient.Create(ctx, object)).To(Succeed())
		t.Cleanup(func() {
			if err := testClient.Delete(context.Background(), object); err != nil {
				t.Errorf("deleting %T %s: %v", object, object.GetName(), err)
			}
		})
	}

	user, err := testEnv.AddUser(envtest.User{Name: userName}, nil)
	g.Expect(err).NotTo(HaveOccurred())

	// With no CA, the signer must be allowed to create the Secret and the ClusterTrustBundle too.
	deleteCA(t)
	startSigner(t, user.Config(), newTestController(clocktesting.NewFakePassiveClock(time.Now())))

	leaf := signBarrier(t)
	roots, _ := trustBundleRoots(t)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "barrier.example.test", Roots: roots})
	g.Expect(err).NotTo(HaveOccurred())
}
