package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

const (
	kindSecret = "Secret"
	kindCSR    = "CertificateSigningRequest"
	// kindDNSCertificate marks the expectation of a status write.
	kindDNSCertificate = "DNSCertificate"
)

// observation is everything one reconcile looks at, gathered before any decision.
type observation struct {
	certificate *certsv1alpha1.DNSCertificate
	desired     desiredCertificate

	// secret is the target Secret when this DNSCertificate owns it, nil when it does not exist.
	secret *corev1.Secret
	// conflict explains why the target Secret is not ours to write; empty when it is.
	conflict string

	// pendingKey is the temporary Secret with the key of the outstanding request, nil when none.
	pendingKey *corev1.Secret
	// csr is the outstanding CertificateSigningRequest of this DNSCertificate, nil when none.
	csr *certificatesv1.CertificateSigningRequest
	// staleCSRs are CertificateSigningRequests of this DNSCertificate that no longer serve a purpose.
	staleCSRs []*certificatesv1.CertificateSigningRequest

	// roots is the signer's root bundle, resolved for the certificate in the Secret.
	roots rootBundle
}

func (r *DNSCertificateReconciler) observe(ctx context.Context, certificate *certsv1alpha1.DNSCertificate) (*observation, error) {
	obs := &observation{
		certificate: certificate,
		desired:     desiredFromSpec(certificate.Spec, r.DefaultSignerName),
	}
	if err := r.observePendingKey(ctx, obs); err != nil {
		return nil, err
	}
	if err := r.observeSecret(ctx, obs); err != nil {
		return nil, err
	}
	if err := r.observeConflictingCertificates(ctx, obs); err != nil {
		return nil, err
	}
	if err := r.observeCSRs(ctx, obs); err != nil {
		return nil, err
	}
	return obs, nil
}

// observeSecret finds the target Secret. The cache holds only labelled Secrets, so a cache miss
// is confirmed with a live read, which also finds a Secret someone else created. While a request
// is outstanding, that check was made before the request started, and a Secret created since
// makes the final create fail, which writeSecret turns into a live read on the next reconcile.
func (r *DNSCertificateReconciler) observeSecret(ctx context.Context, obs *observation) error {
	certificate := obs.certificate
	key := types.NamespacedName{Namespace: certificate.Namespace, Name: certificate.Spec.SecretName}
	secret, err := r.getSecret(ctx, ownerKey(certificate), key, obs.pendingKey != nil)
	if err != nil || secret == nil {
		return err
	}

	owner := metav1.GetControllerOf(secret)
	switch {
	case owner != nil && owner.UID == certificate.UID:
		obs.secret = secret
	case owner != nil && owner.Kind == "DNSCertificate":
		obs.conflict = fmt.Sprintf("Secret %s is owned by DNSCertificate %s", key.Name, owner.Name)
	default:
		obs.conflict = fmt.Sprintf("Secret %s exists and is not owned by this DNSCertificate; delete it or choose another spec.secretName", key.Name)
	}
	return nil
}

// observeConflictingCertificates gives the target Secret to the oldest DNSCertificate that names
// it, so two of them never both issue for one Secret.
func (r *DNSCertificateReconciler) observeConflictingCertificates(ctx context.Context, obs *observation) error {
	if obs.secret != nil || obs.conflict != "" {
		return nil
	}
	list, err := r.certificatesNamingSecret(ctx, obs.certificate.Namespace, obs.certificate.Spec.SecretName)
	if err != nil {
		return err
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == obs.certificate.UID {
			continue
		}
		if other.DeletionTimestamp == nil && isOlder(other, obs.certificate) {
			obs.conflict = fmt.Sprintf("Secret %s is claimed by DNSCertificate %s", other.Spec.SecretName, other.Name)
			return nil
		}
	}
	return nil
}

// isOlder orders DNSCertificates by creation time. Creation times have a resolution of one
// second, so a tie goes to the one that already started issuing, then to the lower name.
func isOlder(a, b *certsv1alpha1.DNSCertificate) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if aStarted, bStarted := hasStartedIssuing(a), hasStartedIssuing(b); aStarted != bStarted {
		return aStarted
	}
	return a.Name < b.Name
}

func hasStartedIssuing(certificate *certsv1alpha1.DNSCertificate) bool {
	return certificate.Status.Revision > 0 || certificate.Status.CertificateSigningRequest != ""
}

func (r *DNSCertificateReconciler) observePendingKey(ctx context.Context, obs *observation) error {
	key := types.NamespacedName{Namespace: obs.certificate.Namespace, Name: pendingKeySecretName(obs.certificate)}
	secret, err := r.getSecret(ctx, ownerKey(obs.certificate), key, true)
	if err != nil || secret == nil {
		return err
	}
	if owner := metav1.GetControllerOf(secret); owner == nil || owner.UID != obs.certificate.UID {
		// Not ours: the name is derived from our UID, so this is unexpected; leave it alone.
		return fmt.Errorf("Secret %s/%s is not owned by DNSCertificate %s", key.Namespace, key.Name, obs.certificate.Name)
	}
	obs.pendingKey = secret
	return nil
}

// getSecret reads a Secret from the cache, and live when the cache lags behind a write. The cache
// holds only labelled Secrets, so a miss is trusted only when trustMiss is set, such as for a
// Secret that always carries the operator's label. Any other miss is confirmed with a live read.
func (r *DNSCertificateReconciler) getSecret(ctx context.Context, owner types.NamespacedName, key types.NamespacedName,
	trustMiss bool) (*corev1.Secret, error) {
	ref := objectRef{kind: kindSecret, name: key.Name}
	cached := &corev1.Secret{}
	err := r.Get(ctx, key, cached)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	if err != nil && trustMiss && r.expectations.satisfied(owner, ref, "") {
		return nil, nil
	}
	cachedVersion := ""
	if err == nil {
		cachedVersion = cached.ResourceVersion
		if r.expectations.satisfied(owner, ref, cachedVersion) {
			return cached, nil
		}
	}

	live := &corev1.Secret{}
	err = r.APIReader.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		if cachedVersion == "" {
			r.expectations.forgetObject(owner, ref)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	if live.ResourceVersion == cachedVersion {
		r.expectations.forgetObject(owner, ref)
	}
	return live, nil
}

// observeCSRs finds the CertificateSigningRequests this DNSCertificate created. The one named
// by the pending key Secret is the outstanding one; any other is stale.
func (r *DNSCertificateReconciler) observeCSRs(ctx context.Context, obs *observation) error {
	owner := ownerKey(obs.certificate)
	var list certificatesv1.CertificateSigningRequestList
	err := r.List(ctx, &list, client.MatchingLabels{
		certsv1alpha1.LabelDNSCertificate:          obs.certificate.Name,
		certsv1alpha1.LabelDNSCertificateNamespace: obs.certificate.Namespace,
	})
	if err != nil {
		return fmt.Errorf("listing CertificateSigningRequests of %s: %w", owner, err)
	}

	byName := map[string]*certificatesv1.CertificateSigningRequest{}
	for i := range list.Items {
		csr := &list.Items[i]
		// Labels can be copied by anyone: a CSR another user requested is never ours to
		// approve or delete, whatever labels it carries.
		if r.requestedByOperator(csr) {
			byName[csr.Name] = csr
		}
	}
	// A CSR created or deleted by an earlier reconcile may not have reached the cache yet.
	for _, name := range r.expectations.pending(owner, kindCSR) {
		ref := objectRef{kind: kindCSR, name: name}
		cachedVersion := ""
		if csr, ok := byName[name]; ok {
			cachedVersion = csr.ResourceVersion
		}
		if r.expectations.satisfied(owner, ref, cachedVersion) {
			continue
		}
		live := &certificatesv1.CertificateSigningRequest{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, live)
		switch {
		case apierrors.IsNotFound(err):
			delete(byName, name)
			r.expectations.forgetObject(owner, ref)
		case err != nil:
			return fmt.Errorf("reading CertificateSigningRequest %s: %w", name, err)
		case r.requestedByOperator(live):
			byName[name] = live
		}
	}

	outstanding := ""
	if obs.pendingKey != nil {
		outstanding = obs.pendingKey.Annotations[certsv1alpha1.AnnotationCSRName]
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		csr := byName[name]
		if name == outstanding && csr.Labels[certsv1alpha1.LabelDNSCertificateUID] == string(obs.certificate.UID) {
			obs.csr = csr
			continue
		}
		obs.staleCSRs = append(obs.staleCSRs, csr)
	}
	return nil
}

func ownerKey(certificate *certsv1alpha1.DNSCertificate) types.NamespacedName {
	return types.NamespacedName{Namespace: certificate.Namespace, Name: certificate.Name}
}

// pendingKeySecretName is the temporary Secret holding the key of an outstanding request. The
// UID suffix keeps it apart from Secrets of a deleted and recreated DNSCertificate.
func pendingKeySecretName(certificate *certsv1alpha1.DNSCertificate) string {
	uid := strings.ReplaceAll(string(certificate.UID), "-", "")
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("%s-pending-key-%s", certificate.Name, uid)
}

// secretNameField indexes DNSCertificates by spec.secretName in the cache.
const secretNameField = ".spec.secretName"

// indexSecretName is the cache index function of secretNameField.
func indexSecretName(object client.Object) []string {
	certificate, ok := object.(*certsv1alpha1.DNSCertificate)
	if !ok {
		return nil
	}
	return []string{certificate.Spec.SecretName}
}

// certificatesNamingSecret lists, from the cache's index, the DNSCertificates of a namespace whose
// spec.secretName is the given Secret. The items are shared with the cache: read them only.
func (r *DNSCertificateReconciler) certificatesNamingSecret(ctx context.Context, namespace, secretName string) (*certsv1alpha1.DNSCertificateList, error) {
	var list certsv1alpha1.DNSCertificateList
	err := r.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{secretNameField: secretName}, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, fmt.Errorf("listing DNSCertificates of Secret %s/%s: %w", namespace, secretName, err)
	}
	return &list, nil
}
