package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// SignerName is the name of the built-in signer.
const SignerName = "certs.dnscert.io/local"

// ControllerName names the controller in logs and metrics.
const ControllerName = "localsigner"

// caNotLoadedDelay is how long an approved CertificateSigningRequest waits when it arrives
// before the CA is loaded, which happens right after the operator becomes leader.
const caNotLoadedDelay = 2 * time.Second

// The permissions of the signer. The API server checks sign on the signer name before it stores
// status.certificate, and attest before it stores a ClusterTrustBundle for the signer name.
// The Secret rule covers only the operator's namespace, dnscert-system in the default install.
//
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,resourceNames=certs.dnscert.io/local,verbs=sign;attest
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=clustertrustbundles,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",namespace=dnscert-system,resources=secrets,verbs=get;create

// Controller signs approved CertificateSigningRequests for one signer name with a CA kept in a Secret.
type Controller struct {
	// Client writes CertificateSigningRequest status, the CA Secret and the ClusterTrustBundle.
	// SetupWithManager sets it to the manager's client when nil.
	Client client.Client
	// APIReader reads the CA Secret and the ClusterTrustBundle without a cache.
	// SetupWithManager sets it to the manager's API reader when nil.
	APIReader client.Reader
	// Clock supplies the signing time. SetupWithManager sets it to the real clock when nil.
	Clock clock.PassiveClock

	// SignerName is the spec.signerName this controller signs for, SignerName when empty.
	SignerName string
	// Namespace is the operator's namespace, which holds the CA Secret. It must exist.
	Namespace string
	// CASecretName is the name of the CA Secret, DefaultCASecretName when empty.
	CASecretName string
	// Policy bounds the certificates the controller issues. Zero fields take their defaults.
	Policy Policy
	// PublishTrustBundle publishes the CA in a ClusterTrustBundle named TrustBundleName(SignerName).
	PublishTrustBundle bool
	// MaxConcurrentReconciles is the number of CertificateSigningRequests signed at once; 1 when zero.
	MaxConcurrentReconciles int

	// csrReader reads CertificateSigningRequests from a cache that holds only those for SignerName.
	csrReader client.Reader
	// ca is nil until the CA is loaded after the operator becomes leader.
	ca  atomic.Pointer[CA]
	log logr.Logger
}

// SetupWithManager adds the controller to the manager: a runnable that loads or creates the CA
// once the manager is leader, a cache of the CertificateSigningRequests for SignerName, and
// the controller that signs them.
func (c *Controller) SetupWithManager(mgr ctrl.Manager) error {
	if err := c.complete(mgr); err != nil {
		return err
	}

	// The manager's cache may be limited to the CertificateSigningRequests the operator creates,
	// and this signer also signs requests made by others. Its own cache holds every request for
	// its signer name and no other, selected by the API server.
	csrCache, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:       mgr.GetHTTPClient(),
		DefaultTransform: cache.TransformStripManagedFields(),
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&certificatesv1.CertificateSigningRequest{}: {
				Field: fields.OneTermEqualSelector("spec.signerName", c.SignerName),
			},
		},
	})
	if err != nil {
		return fmt.Errorf("creating the CertificateSigningRequest cache of signer %s: %w", c.SignerName, err)
	}
	if err := mgr.Add(csrCache); err != nil {
		return fmt.Errorf("adding the CertificateSigningRequest cache of signer %s: %w", c.SignerName, err)
	}
	c.csrReader = csrCache

	if err := mgr.Add(&caLoader{controller: c}); err != nil {
		return fmt.Errorf("adding the CA loader of signer %s: %w", c.SignerName, err)
	}

	if c.PublishTrustBundle {
		if err := c.setupTrustBundleKeeper(mgr); err != nil {
			return fmt.Errorf("watching the ClusterTrustBundle of signer %s: %w", c.SignerName, err)
		}
	}

	forSigner := predicate.NewTypedPredicateFuncs(func(csr *certificatesv1.CertificateSigningRequest) bool {
		return csr.Spec.SignerName == c.SignerName
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(c.MaxConcurrentReconciles, 1)}).
		WatchesRawSource(source.Kind(csrCache, &certificatesv1.CertificateSigningRequest{},
			&handler.TypedEnqueueRequestForObject[*certificatesv1.CertificateSigningRequest]{}, forSigner)).
		Complete(c)
}

// complete fills in defaults and checks the configuration.
func (c *Controller) complete(mgr ctrl.Manager) error {
	if c.Client == nil {
		c.Client = mgr.GetClient()
	}
	if c.APIReader == nil {
		c.APIReader = mgr.GetAPIReader()
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.SignerName == "" {
		c.SignerName = SignerName
	}
	if c.CASecretName == "" {
		c.CASecretName = DefaultCASecretName
	}
	c.log = mgr.GetLogger().WithValues("controller", ControllerName, "signerName", c.SignerName)

	if c.Namespace == "" {
		return errors.New("the local signer needs the operator's namespace to keep its CA Secret in, and none is set")
	}
	return c.Policy.Validate()
}

// Reconcile signs one CertificateSigningRequest or marks it Failed when the policy rejects it.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var csr certificatesv1.CertificateSigningRequest
	if err := c.csrReader.Get(ctx, req.NamespacedName, &csr); err != nil {
		// A deleted request needs nothing.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("certificateSigningRequest", klog.KObj(&csr))

	// Requests for other signers belong to them.
	if csr.Spec.SignerName != c.SignerName {
		return ctrl.Result{}, nil
	}

	// A request is signed once.
	if len(csr.Status.Certificate) > 0 {
		return ctrl.Result{}, nil
	}

	// Denied and failed requests are final.
	if hasTrueCondition(&csr, certificatesv1.CertificateDenied) || hasTrueCondition(&csr, certificatesv1.CertificateFailed) {
		return ctrl.Result{}, nil
	}

	// Only an approved request is signed. Approval changes the request, which brings it back here.
	if !hasTrueCondition(&csr, certificatesv1.CertificateApproved) {
		return ctrl.Result{}, nil
	}

	// The CA loads right after the operator becomes leader, and the request waits for it.
	ca := c.ca.Load()
	if ca == nil {
		log.V(1).Info("Waiting for the CA to load before signing")
		return ctrl.Result{RequeueAfter: caNotLoadedDelay}, nil
	}

	now := c.Clock.Now()
	certPEM, err := ca.Sign(&csr, c.Policy, now)
	var policyErr *PolicyError
	if errors.As(err, &policyErr) {
		log.Info("Rejecting CertificateSigningRequest", "reason", policyErr.Reason, "message", policyErr.Message)
		return ctrl.Result{}, c.markFailed(ctx, &csr, policyErr, now)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("signing CertificateSigningRequest %s: %w", csr.Name, err)
	}

	csr.Status.Certificate = certPEM
	if err := c.Client.Status().Update(ctx, &csr); err != nil {
		return ctrl.Result{}, fmt.Errorf("storing the certificate of CertificateSigningRequest %s: %w", csr.Name, err)
	}
	log.Info("Signed CertificateSigningRequest", certificateLogValues(certPEM)...)
	return ctrl.Result{}, nil
}

// markFailed appends a Failed condition with the policy's reason and message.
func (c *Controller) markFailed(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, policyErr *PolicyError, now time.Time) error {
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type:               certificatesv1.CertificateFailed,
		Status:             corev1.ConditionTrue,
		Reason:             policyErr.Reason,
		Message:            policyErr.Message,
		LastUpdateTime:     metav1.NewTime(now),
		LastTransitionTime: metav1.NewTime(now),
	})
	if err := c.Client.Status().Update(ctx, csr); err != nil {
		return fmt.Errorf("marking CertificateSigningRequest %s failed: %w", csr.Name, err)
	}
	return nil
}

// hasTrueCondition reports whether the request has a condition of the type with status True.
// An empty status counts as True, as in kube-controller-manager, because old clients left it empty.
func hasTrueCondition(csr *certificatesv1.CertificateSigningRequest, conditionType certificatesv1.RequestConditionType) bool {
	for _, condition := range csr.Status.Conditions {
		if condition.Type == conditionType && (condition.Status == "" || condition.Status == corev1.ConditionTrue) {
			return true
		}
	}
	return false
}

// certificateLogValues returns the serial number and validity of a signed certificate as log key/values.
func certificateLogValues(certPEM []byte) []any {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return []any{"serialNumber", cert.SerialNumber.Text(16), "notBefore", cert.NotBefore, "notAfter", cert.NotAfter}
}
