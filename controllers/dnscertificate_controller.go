// Package controllers contains the DNSCertificate reconciler: it issues certificates through
// CertificateSigningRequests and keeps them, verified, in Secrets it owns.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// pendingStatusDelay is how long a new CSR may be outstanding before its Pending status is written.
const pendingStatusDelay = time.Second

// DNSCertificateReconciler issues and renews the certificate of each DNSCertificate.
type DNSCertificateReconciler struct {
	client.Client
	// APIReader reads around the cache: Secrets the operator does not own, and objects it just wrote.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock

	// DefaultSignerName signs DNSCertificates that name no signer.
	DefaultSignerName string
	// AutoApprove makes the operator approve the CSRs it creates itself.
	AutoApprove bool
	// Username is the operator's own user name, as the API server reports it; only CSRs
	// requested by this user are approved.
	Username string
	// SignerTimeout is how long an approved CSR may stay unsigned before it is replaced.
	SignerTimeout time.Duration
	// TrustBundlesServed is true when the API server serves certificates.k8s.io/v1 ClusterTrustBundles.
	TrustBundlesServed bool
	// ConfiguredRoots returns the PEM roots configured for a signer, or nil; they are used when
	// no ClusterTrustBundle names the signer. May be nil.
	ConfiguredRoots func(signerName string) []byte
	// MaxConcurrentReconciles is the number of DNSCertificates reconciled at once.
	MaxConcurrentReconciles int

	expectations *expectations
	roots        *rootResolver
}

// +kubebuilder:rbac:groups=certs.dnscert.io,resources=dnscertificates,verbs=get;list;watch
// +kubebuilder:rbac:groups=certs.dnscert.io,resources=dnscertificates/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=certs.dnscert.io,resources=dnscertificates/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/approval,verbs=update
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=approve,resourceNames=certs.dnscert.io/local
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=clustertrustbundles,verbs=get;list;watch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// Reconcile observes a DNSCertificate and what belongs to it, decides whether it needs a new
// certificate, takes the next step of issuance, and records the result in one status write.
func (r *DNSCertificateReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	certificate, err := r.getCertificate(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if certificate == nil {
		deleteCertificateMetrics(req.NamespacedName)
		return ctrl.Result{}, r.sweepCSRs(ctx, req.NamespacedName)
	}
	if certificate.DeletionTimestamp != nil {
		// The Secret and the pending key go with it through their owner references.
		return ctrl.Result{}, r.sweepCSRs(ctx, req.NamespacedName)
	}

	obs, err := r.observe(ctx, certificate)
	if err != nil {
		return ctrl.Result{}, err
	}
	current, problem, err := r.decide(ctx, obs)
	if err != nil {
		return ctrl.Result{}, err
	}

	status := workingStatus(certificate)
	result, err := r.act(ctx, obs, status, current, problem)
	if isNamespaceTerminating(err) {
		// The namespace is being deleted with everything in it; nothing is left to issue for.
		logf.FromContext(ctx).V(1).Info("Stopped issuing: the namespace is being deleted")
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	r.computeStatus(obs, status, result)
	if result.requested && result.failure == nil {
		// Most signers sign within moments, and the watch event of the signed CSR reconciles again.
		// Writing Pending now would cost a status write per issuance that the next reconcile
		// overwrites, so it is written only if the CSR is still outstanding after a short delay.
		return ctrl.Result{RequeueAfter: pendingStatusDelay}, nil
	}
	if err := r.writeStatus(ctx, certificate, status); err != nil {
		return ctrl.Result{}, err
	}
	r.recordEvents(certificate, result)
	recordCertificateMetrics(certificate, status)
	return ctrl.Result{RequeueAfter: requeueDelay(r.Clock.Now(), result.requeueAt)}, nil
}

// getCertificate reads a DNSCertificate from the cache, or live when the cache has not caught up
// with this reconciler's last status write: the status holds the backoff state, and acting on
// an older one would start a request too early. It returns nil when the object does not exist.
func (r *DNSCertificateReconciler) getCertificate(ctx context.Context, key types.NamespacedName) (*certsv1alpha1.DNSCertificate, error) {
	ref := objectRef{kind: kindDNSCertificate, name: key.Name}
	certificate := &certsv1alpha1.DNSCertificate{}
	err := r.Get(ctx, key, certificate)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading DNSCertificate %s: %w", key, err)
	}
	if r.expectations.satisfied(key, ref, certificate.ResourceVersion) {
		return certificate, nil
	}

	live := &certsv1alpha1.DNSCertificate{}
	err = r.APIReader.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading DNSCertificate %s: %w", key, err)
	}
	if live.ResourceVersion == certificate.ResourceVersion {
		r.expectations.forgetObject(key, ref)
	}
	return live, nil
}

// decide runs the ordered checks on the observed Secret.
func (r *DNSCertificateReconciler) decide(ctx context.Context, obs *observation) (*issuedCertificate, *violation, error) {
	if obs.conflict != "" {
		return nil, &violation{certsv1alpha1.ReasonSecretConflict, obs.conflict}, nil
	}
	var roots rootBundle
	if obs.secret != nil {
		chain, _ := pki.ParseCertificatesPEM(obs.secret.Data[keyTLSCert])
		var err error
		roots, err = r.roots.resolve(ctx, obs.desired.signerName, obs.certificate.Namespace, chain)
		if err != nil {
			return nil, nil, err
		}
	}
	obs.roots = roots
	current, problem := evaluateSecret(secretInput{
		desired: obs.desired,
		secret:  obs.secret,
		roots:   roots.certificates,
		now:     r.Clock.Now(),
	})
	return current, problem, nil
}

// writeStatus writes the status when it differs semantically from the one read.
func (r *DNSCertificateReconciler) writeStatus(ctx context.Context, certificate *certsv1alpha1.DNSCertificate, status *certsv1alpha1.DNSCertificateStatus) error {
	if equality.Semantic.DeepEqual(&certificate.Status, status) {
		return nil
	}
	updated := certificate.DeepCopy()
	updated.Status = *status
	patch := client.MergeFromWithOptions(certificate, client.MergeFromWithOptimisticLock{})
	err := r.Status().Patch(ctx, updated, patch)
	if apierrors.IsConflict(err) {
		// Usually a label or annotation changed meanwhile. Only this operator writes the status,
		// so the new status goes onto the live object when its status is still the one this
		// reconcile started from. Otherwise the reconcile starts over.
		updated, err = r.patchLiveStatus(ctx, certificate, status)
	}
	if err != nil {
		return fmt.Errorf("writing status of DNSCertificate %s: %w", ownerKey(certificate), err)
	}
	r.expectations.expect(ownerKey(certificate), objectRef{kind: kindDNSCertificate, name: certificate.Name}, updated.ResourceVersion)
	return nil
}

// patchLiveStatus writes the status onto the live object when its status is still base's.
func (r *DNSCertificateReconciler) patchLiveStatus(ctx context.Context, base *certsv1alpha1.DNSCertificate,
	status *certsv1alpha1.DNSCertificateStatus) (*certsv1alpha1.DNSCertificate, error) {
	live := &certsv1alpha1.DNSCertificate{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(base), live); err != nil {
		return nil, err
	}
	if live.UID != base.UID || !equality.Semantic.DeepEqual(&live.Status, &base.Status) {
		return nil, apierrors.NewConflict(certsv1alpha1.GroupVersion.WithResource("dnscertificates").GroupResource(), base.Name,
			errors.New("the status changed since it was read"))
	}
	updated := live.DeepCopy()
	updated.Status = *status
	if err := r.Status().Patch(ctx, updated, client.MergeFromWithOptions(live, client.MergeFromWithOptimisticLock{})); err != nil {
		return nil, err
	}
	return updated, nil
}

// sweepCSRs deletes the CSRs of a DNSCertificate that no longer exists.
func (r *DNSCertificateReconciler) sweepCSRs(ctx context.Context, key types.NamespacedName) error {
	r.expectations.forget(key)
	var list certificatesv1.CertificateSigningRequestList
	err := r.List(ctx, &list, client.MatchingLabels{
		certsv1alpha1.LabelDNSCertificate:          key.Name,
		certsv1alpha1.LabelDNSCertificateNamespace: key.Namespace,
	})
	if err != nil {
		return fmt.Errorf("listing CertificateSigningRequests of %s: %w", key, err)
	}
	for i := range list.Items {
		csr := &list.Items[i]
		if !r.requestedByOperator(csr) {
			continue
		}
		if err := r.deleteExact(ctx, csr); err != nil {
			return fmt.Errorf("deleting CertificateSigningRequest %s of deleted DNSCertificate %s: %w", csr.Name, key, err)
		}
		logf.FromContext(ctx).V(1).Info("Deleted CertificateSigningRequest of a deleted DNSCertificate", "certificateSigningRequest", csr.Name)
	}
	return nil
}

// SetupWithManager registers the reconciler and its watches.
func (r *DNSCertificateReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.SignerTimeout <= 0 {
		r.SignerTimeout = 15 * time.Minute
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = 4
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &certsv1alpha1.DNSCertificate{}, secretNameField, indexSecretName); err != nil {
		return fmt.Errorf("indexing DNSCertificates by %s: %w", secretNameField, err)
	}
	r.expectations = newExpectations()
	outstandingReader.Lock()
	outstandingReader.reader = r.Client
	outstandingReader.Unlock()
	r.roots = &rootResolver{reader: r.Client, liveReader: r.APIReader, trustBundlesServed: r.TrustBundlesServed,
		configuredRoots: r.ConfiguredRoots}

	b := ctrl.NewControllerManagedBy(mgr).
		Named("dnscertificate").
		// Status writes do not trigger a reconcile; spec, label and annotation changes do.
		For(&certsv1alpha1.DNSCertificate{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Owned Secrets map to their owner. A labelled Secret whose owner reference someone
		// removed still maps to the DNSCertificate its label names. A deleted Secret also wakes
		// the DNSCertificates that name it, because it may have blocked them.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.mapSecretToCertificates)).
		// A deleted DNSCertificate releases its Secret to another that names it.
		Watches(&certsv1alpha1.DNSCertificate{}, handler.EnqueueRequestsFromMapFunc(r.mapToCertificatesNamingSameSecret),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(event.UpdateEvent) bool { return false },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		Watches(&certificatesv1.CertificateSigningRequest{}, handler.EnqueueRequestsFromMapFunc(mapCSRToCertificate)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles})
	if r.TrustBundlesServed {
		b = b.Watches(&certificatesv1.ClusterTrustBundle{}, handler.EnqueueRequestsFromMapFunc(r.mapTrustBundleToCertificates))
	}
	return b.Complete(r)
}

// mapSecretToCertificates finds the DNSCertificates of a Secret: its controller owner, the one its
// label names, and those whose spec.secretName names it, which may be waiting for it to go.
func (r *DNSCertificateReconciler) mapSecretToCertificates(ctx context.Context, object client.Object) []reconcile.Request {
	var requests []reconcile.Request
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: object.GetNamespace(), Name: name}})
		}
	}
	if owner := metav1.GetControllerOfNoCopy(object); owner != nil && owner.Kind == "DNSCertificate" {
		add(owner.Name)
	}
	add(object.GetLabels()[certsv1alpha1.LabelDNSCertificate])

	list, err := r.certificatesNamingSecret(ctx, object.GetNamespace(), object.GetName())
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing DNSCertificates for a Secret change failed")
		return requests
	}
	for i := range list.Items {
		add(list.Items[i].Name)
	}
	return requests
}

// mapToCertificatesNamingSameSecret finds the other DNSCertificates of a namespace that name the
// same Secret as the given one.
func (r *DNSCertificateReconciler) mapToCertificatesNamingSameSecret(ctx context.Context, object client.Object) []reconcile.Request {
	deleted, ok := object.(*certsv1alpha1.DNSCertificate)
	if !ok {
		return nil
	}
	list, err := r.certificatesNamingSecret(ctx, deleted.Namespace, deleted.Spec.SecretName)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Listing DNSCertificates after a deletion failed")
		return nil
	}
	var requests []reconcile.Request
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID != deleted.UID {
			requests = append(requests, reconcile.Request{NamespacedName: ownerKey(other)})
		}
	}
	return requests
}

// mapCSRToCertificate finds the DNSCertificate of a CSR from its labels.
func mapCSRToCertificate(_ context.Context, object client.Object) []reconcile.Request {
	labels := object.GetLabels()
	name, namespace := labels[certsv1alpha1.LabelDNSCertificate], labels[certsv1alpha1.LabelDNSCertificateNamespace]
	if name == "" || namespace == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}}
}

// mapTrustBundleToCertificates finds the DNSCertificates whose signer a ClusterTrustBundle serves.
func (r *DNSCertificateReconciler) mapTrustBundleToCertificates(ctx context.Context, object client.Object) []reconcile.Request {
	bundle, ok := object.(*certificatesv1.ClusterTrustBundle)
	if !ok || bundle.Spec.SignerName == "" {
		return nil
	}
	var list certsv1alpha1.DNSCertificateList
	if err := r.List(ctx, &list); err != nil {
		logf.FromContext(ctx).Error(err, "Listing DNSCertificates for a ClusterTrustBundle change failed", "clusterTrustBundle", bundle.Name)
		return nil
	}
	var requests []reconcile.Request
	for i := range list.Items {
		certificate := &list.Items[i]
		if desiredFromSpec(certificate.Spec, r.DefaultSignerName).signerName == bundle.Spec.SignerName {
			requests = append(requests, reconcile.Request{NamespacedName: ownerKey(certificate)})
		}
	}
	return requests
}

// isNamespaceTerminating reports whether an API error reports that the namespace is being deleted.
func isNamespaceTerminating(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && apierrors.HasStatusCause(status.(error), corev1.NamespaceTerminatingCause)
}
