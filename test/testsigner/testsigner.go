// Package testsigner is a CertificateSigningRequest signer for tests whose behaviour the test
// controls: it signs, denies, fails, stays silent, shortens the lifetime, or returns a wrong
// certificate. It runs in the test process against the local control plane.
package testsigner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Mode is what the signer does with a request.
type Mode string

const (
	// Sign issues the requested certificate.
	Sign Mode = "Sign"
	// Deny denies requests that are not yet approved or denied.
	Deny Mode = "Deny"
	// Fail marks approved requests Failed.
	Fail Mode = "Fail"
	// Silent does nothing.
	Silent Mode = "Silent"
	// Shorten issues a certificate shorter than requested (see Signer.ShortLifetime).
	Shorten Mode = "Shorten"
	// WrongKey issues a certificate for another public key.
	WrongKey Mode = "WrongKey"
	// WrongSANs issues a certificate for other DNS names.
	WrongSANs Mode = "WrongSANs"
)

// Signer handles the CertificateSigningRequests of one signer name.
type Signer struct {
	// Name is the signer name it handles.
	Name string
	// Approve makes it approve requests before acting, for operators run without auto-approval.
	Approve bool
	// ShortLifetime is the lifetime Shorten issues.
	ShortLifetime time.Duration

	mu        sync.Mutex
	mode      Mode
	caCert    *x509.Certificate
	caKey     *ecdsa.PrivateKey
	caPEM     []byte
	client    client.Client
	clientset *kubernetes.Clientset
	signed    int
}

// New creates a signer with its own CA, in the given mode.
func New(name string, mode Mode) (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "test signer " + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Signer{
		Name: name, mode: mode, ShortLifetime: 15 * time.Minute,
		caCert: caCert, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// SetMode changes what the signer does from now on.
func (s *Signer) SetMode(mode Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
}

func (s *Signer) currentMode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// Signed returns the number of certificates issued so far.
func (s *Signer) Signed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed
}

// CAPEM returns the signer's CA certificate.
func (s *Signer) CAPEM() []byte { return s.caPEM }

// TrustBundleName is the ClusterTrustBundle the signer publishes its CA in.
func (s *Signer) TrustBundleName() string {
	return strings.ReplaceAll(s.Name, "/", ":") + ":ca"
}

// Start publishes the CA in a ClusterTrustBundle and runs the signer until ctx ends. It
// returns once the signer's cache has synced.
func (s *Signer) Start(ctx context.Context, cfg *rest.Config) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: boolPointer(true)},
	})
	if err != nil {
		return err
	}
	s.client = mgr.GetClient()
	if s.clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}

	bundle := &certificatesv1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: s.TrustBundleName()},
		Spec:       certificatesv1.ClusterTrustBundleSpec{SignerName: s.Name, TrustBundle: string(s.caPEM)},
	}
	if err := mgr.GetAPIReader().Get(ctx, client.ObjectKeyFromObject(bundle), &certificatesv1.ClusterTrustBundle{}); apierrors.IsNotFound(err) {
		if _, err := s.clientset.CertificatesV1().ClusterTrustBundles().Create(ctx, bundle, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("publishing the test signer's ClusterTrustBundle: %w", err)
		}
	} else if err != nil {
		return err
	}

	forThisSigner := predicate.NewPredicateFuncs(func(object client.Object) bool {
		csr, ok := object.(*certificatesv1.CertificateSigningRequest)
		return ok && csr.Spec.SignerName == s.Name
	})
	err = ctrl.NewControllerManagedBy(mgr).
		Named("testsigner-"+strings.NewReplacer("/", "-", ".", "-").Replace(s.Name)).
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(forThisSigner)).
		Complete(reconcile.Func(s.reconcile))
	if err != nil {
		return err
	}

	go func() { _ = mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("the test signer's cache did not sync")
	}
	return nil
}

func boolPointer(value bool) *bool { return &value }

// Resync handles every request of the signer name again, for use after a mode change.
func (s *Signer) Resync(ctx context.Context) error {
	var list certificatesv1.CertificateSigningRequestList
	if err := s.client.List(ctx, &list); err != nil {
		return err
	}
	for i := range list.Items {
		if list.Items[i].Spec.SignerName != s.Name {
			continue
		}
		request := reconcile.Request{NamespacedName: types.NamespacedName{Name: list.Items[i].Name}}
		// The signer's own controller may update the same CSR at the same time; a conflict
		// means a fresh read and another try.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			_, err := s.reconcile(ctx, request)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Signer) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	csr, err := s.clientset.CertificatesV1().CertificateSigningRequests().Get(ctx, req.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return reconcile.Result{}, nil
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if csr.Spec.SignerName != s.Name || len(csr.Status.Certificate) > 0 {
		return reconcile.Result{}, nil
	}
	approved, denied, failed := conditions(csr)
	if denied || failed {
		return reconcile.Result{}, nil
	}

	mode := s.currentMode()
	switch {
	case mode == Silent:
		return reconcile.Result{}, nil
	case mode == Deny && !approved:
		return reconcile.Result{}, s.setApproval(ctx, csr, certificatesv1.CertificateDenied, "TestDenied", "the test signer denies this request")
	case !approved && s.Approve:
		return reconcile.Result{}, s.setApproval(ctx, csr, certificatesv1.CertificateApproved, "TestApproved", "the test signer approves this request")
	case !approved || mode == Deny:
		return reconcile.Result{}, nil
	case mode == Fail:
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "TestFailed", Message: "the test signer fails this request",
		})
		_, err := s.clientset.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{})
		return reconcile.Result{}, err
	}

	certificatePEM, err := s.sign(csr, mode)
	if err != nil {
		return reconcile.Result{}, err
	}
	csr.Status.Certificate = certificatePEM
	if _, err := s.clientset.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return reconcile.Result{}, err
	}
	s.mu.Lock()
	s.signed++
	s.mu.Unlock()
	return reconcile.Result{}, nil
}

func conditions(csr *certificatesv1.CertificateSigningRequest) (approved, denied, failed bool) {
	for _, condition := range csr.Status.Conditions {
		if condition.Status != corev1.ConditionTrue {
			continue
		}
		switch condition.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	return approved, denied, failed
}

func (s *Signer) setApproval(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, conditionType certificatesv1.RequestConditionType, reason, message string) error {
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: conditionType, Status: corev1.ConditionTrue, Reason: reason, Message: message,
	})
	_, err := s.clientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
	return err
}

// sign issues a leaf for the request, altered as the mode requires.
func (s *Signer) sign(csr *certificatesv1.CertificateSigningRequest, mode Mode) ([]byte, error) {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return nil, fmt.Errorf("CSR %s holds no PEM request", csr.Name)
	}
	request, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}

	now := time.Now()
	lifetime := time.Hour
	if csr.Spec.ExpirationSeconds != nil {
		lifetime = time.Duration(*csr.Spec.ExpirationSeconds) * time.Second
	}
	publicKey := request.PublicKey
	dnsNames, ips := request.DNSNames, request.IPAddresses
	switch mode {
	case Shorten:
		lifetime = s.ShortLifetime
	case WrongKey:
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		publicKey = other.Public()
	case WrongSANs:
		dnsNames, ips = []string{"wrong.example"}, []net.IP{}
	}

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               request.Subject,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, s.caCert, publicKey, s.caKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
