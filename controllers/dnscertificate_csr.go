package controllers

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// pendingKeyDataKey is the key of the private key in the pending key Secret.
const pendingKeyDataKey = "key.pem"

// csrResult is the state of an outstanding CertificateSigningRequest.
type csrResult int

const (
	csrWaitingForApproval csrResult = iota
	csrWaitingForSigner
	csrDenied
	csrFailed
	csrIssued
)

// csrState returns the state of a CSR and, for a denial or failure, its message.
func csrState(csr *certificatesv1.CertificateSigningRequest) (csrResult, string) {
	approved := false
	for _, condition := range csr.Status.Conditions {
		if condition.Status != corev1.ConditionTrue {
			continue
		}
		switch condition.Type {
		case certificatesv1.CertificateDenied:
			return csrDenied, conditionText(condition)
		case certificatesv1.CertificateFailed:
			return csrFailed, conditionText(condition)
		case certificatesv1.CertificateApproved:
			approved = true
		}
	}
	switch {
	case len(csr.Status.Certificate) > 0:
		return csrIssued, ""
	case approved:
		return csrWaitingForSigner, ""
	default:
		return csrWaitingForApproval, ""
	}
}

func conditionText(condition certificatesv1.CertificateSigningRequestCondition) string {
	switch {
	case condition.Reason != "" && condition.Message != "":
		return condition.Reason + ": " + condition.Message
	case condition.Message != "":
		return condition.Message
	default:
		return condition.Reason
	}
}

// csrMatchesSpec reports whether an outstanding CSR still requests what the spec requires.
func csrMatchesSpec(csr *certificatesv1.CertificateSigningRequest, request *x509.CertificateRequest, desired desiredCertificate) bool {
	if csr.Spec.SignerName != desired.signerName {
		return false
	}
	if csr.Spec.ExpirationSeconds == nil || *csr.Spec.ExpirationSeconds != *desired.expirationSeconds() {
		return false
	}
	usages := slices.Clone(csr.Spec.Usages)
	slices.Sort(usages)
	if !slices.Equal(usages, desired.usages) {
		return false
	}
	if key, err := pki.DescribePublicKey(request.PublicKey); err != nil || key != desired.key {
		return false
	}
	template := &x509.Certificate{DNSNames: request.DNSNames, IPAddresses: request.IPAddresses,
		URIs: request.URIs, EmailAddresses: request.EmailAddresses}
	return pki.SANsEqual(template, desired.dnsNames, desired.ipAddresses)
}

// createPendingKey generates a private key and stores it in the temporary Secret, with the name
// of the CSR it will be used for, so a restart resumes the same request.
func (r *DNSCertificateReconciler) createPendingKey(ctx context.Context, obs *observation) (*corev1.Secret, *pki.PrivateKey, error) {
	certificate := obs.certificate
	key, err := pki.GenerateKey(obs.desired.key.Algorithm, obs.desired.key.Bits)
	if err != nil {
		return nil, nil, fmt.Errorf("generating %s key for %s: %w", obs.desired.key, ownerKey(certificate), err)
	}
	keyPEM, err := key.EncodePEM(obs.desired.encoding)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding key for %s: %w", ownerKey(certificate), err)
	}

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: certificate.Namespace,
			Name:      pendingKeySecretName(certificate),
			Labels: map[string]string{
				certsv1alpha1.LabelDNSCertificate: certificate.Name,
				certsv1alpha1.LabelPendingKey:     "true",
			},
			Annotations: map[string]string{
				certsv1alpha1.AnnotationCSRName: csrName(certificate),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{pendingKeyDataKey: keyPEM},
	}
	if err := controllerutil.SetControllerReference(certificate, secret, r.Scheme()); err != nil {
		return nil, nil, err
	}
	if err := r.Create(ctx, secret); err != nil {
		return nil, nil, fmt.Errorf("creating pending key Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	r.expectations.expect(ownerKey(certificate), objectRef{kindSecret, secret.Name}, secret.ResourceVersion)
	return secret, key, nil
}

// csrName returns a fresh name for a CSR: readable, and unique across issuances.
func csrName(certificate *certsv1alpha1.DNSCertificate) string {
	return fmt.Sprintf("%s-%s-%s", certificate.Namespace, certificate.Name, utilrand.String(5))
}

// createCSR creates the CertificateSigningRequest named by the pending key Secret.
func (r *DNSCertificateReconciler) createCSR(ctx context.Context, obs *observation, key *pki.PrivateKey) (*certificatesv1.CertificateSigningRequest, error) {
	certificate := obs.certificate
	var ips []net.IP
	if len(obs.desired.ipAddresses) > 0 {
		ips = obs.desired.parsedIPAddresses()
	}
	request, err := pki.CreateCSR(key, obs.desired.dnsNames, ips)
	if err != nil {
		return nil, fmt.Errorf("creating certificate request for %s: %w", ownerKey(certificate), err)
	}

	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{
			Name: obs.pendingKey.Annotations[certsv1alpha1.AnnotationCSRName],
			Labels: map[string]string{
				certsv1alpha1.LabelDNSCertificate:          certificate.Name,
				certsv1alpha1.LabelDNSCertificateNamespace: certificate.Namespace,
				certsv1alpha1.LabelDNSCertificateUID:       string(certificate.UID),
			},
		},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           request,
			SignerName:        obs.desired.signerName,
			ExpirationSeconds: obs.desired.expirationSeconds(),
			Usages:            obs.desired.usages,
		},
	}
	err = r.Create(ctx, csr)
	if apierrors.IsAlreadyExists(err) {
		// A reconcile before a restart created it; read it and carry on with it.
		existing := &certificatesv1.CertificateSigningRequest{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(csr), existing); err != nil {
			return nil, fmt.Errorf("reading CertificateSigningRequest %s: %w", csr.Name, err)
		}
		return existing, nil
	}
	if err != nil {
		return nil, fmt.Errorf("creating CertificateSigningRequest %s for %s: %w", csr.Name, ownerKey(certificate), err)
	}
	r.expectations.expect(ownerKey(certificate), objectRef{kindCSR, csr.Name}, csr.ResourceVersion)
	return csr, nil
}

// requestedByOperator reports whether the operator's own user requested a CSR. Without a known
// user name (only in tests that set none), every CSR counts as the operator's.
func (r *DNSCertificateReconciler) requestedByOperator(csr *certificatesv1.CertificateSigningRequest) bool {
	return r.Username == "" || csr.Spec.Username == r.Username
}

// createdByOperator reports whether this operator created the CSR for this DNSCertificate:
// both the requesting user and the labels must match, so a look-alike CSR is never approved.
func (r *DNSCertificateReconciler) createdByOperator(csr *certificatesv1.CertificateSigningRequest, certificate *certsv1alpha1.DNSCertificate) bool {
	return r.Username != "" &&
		csr.Spec.Username == r.Username &&
		csr.Labels[certsv1alpha1.LabelDNSCertificateUID] == string(certificate.UID) &&
		csr.Labels[certsv1alpha1.LabelDNSCertificate] == certificate.Name &&
		csr.Labels[certsv1alpha1.LabelDNSCertificateNamespace] == certificate.Namespace
}

// approveCSR approves a CSR through the approval subresource.
func (r *DNSCertificateReconciler) approveCSR(ctx context.Context, obs *observation) error {
	csr := obs.csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type:           certificatesv1.CertificateApproved,
		Status:         corev1.ConditionTrue,
		Reason:         "AutoApproved",
		Message:        fmt.Sprintf("Approved by dnscert-operator for DNSCertificate %s/%s", obs.certificate.Namespace, obs.certificate.Name),
		LastUpdateTime: metav1.NewTime(r.Clock.Now()),
	})
	if err := r.SubResource("approval").Update(ctx, csr); err != nil {
		return err
	}
	r.expectations.expect(ownerKey(obs.certificate), objectRef{kindCSR, csr.Name}, csr.ResourceVersion)
	obs.csr = csr
	return nil
}

// deleteCSR deletes a CSR; one already gone is fine.
func (r *DNSCertificateReconciler) deleteCSR(ctx context.Context, obs *observation, csr *certificatesv1.CertificateSigningRequest) error {
	if err := r.deleteExact(ctx, csr); err != nil {
		return fmt.Errorf("deleting CertificateSigningRequest %s: %w", csr.Name, err)
	}
	r.expectations.expect(ownerKey(obs.certificate), objectRef{kindCSR, csr.Name}, "")
	return nil
}

// deletePendingKey deletes the temporary key Secret; one already gone is fine.
func (r *DNSCertificateReconciler) deletePendingKey(ctx context.Context, obs *observation) error {
	if obs.pendingKey == nil {
		return nil
	}
	if err := r.deleteExact(ctx, obs.pendingKey); err != nil {
		return fmt.Errorf("deleting pending key Secret %s/%s: %w", obs.pendingKey.Namespace, obs.pendingKey.Name, err)
	}
	r.expectations.expect(ownerKey(obs.certificate), objectRef{kindSecret, obs.pendingKey.Name}, "")
	obs.pendingKey = nil
	return nil
}

// deleteExact deletes the object with this UID. An object already gone, or replaced by another
// of the same name (a UID precondition conflict), counts as deleted.
func (r *DNSCertificateReconciler) deleteExact(ctx context.Context, object client.Object) error {
	uid := object.GetUID()
	err := r.Delete(ctx, object, client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// abandonRequest deletes the outstanding CSR and its pending key.
func (r *DNSCertificateReconciler) abandonRequest(ctx context.Context, obs *observation) error {
	if obs.csr != nil {
		if err := r.deleteCSR(ctx, obs, obs.csr); err != nil {
			return err
		}
		obs.csr = nil
	}
	return r.deletePendingKey(ctx, obs)
}

// signerDeadline returns when an approved but unsigned CSR is abandoned: SignerTimeout after its
// approval, or after its creation when the approval carries no time.
func (r *DNSCertificateReconciler) signerDeadline(csr *certificatesv1.CertificateSigningRequest) time.Time {
	start := csr.CreationTimestamp.Time
	for _, condition := range csr.Status.Conditions {
		if condition.Type == certificatesv1.CertificateApproved && !condition.LastUpdateTime.IsZero() {
			start = condition.LastUpdateTime.Time
		}
	}
	return start.Add(r.SignerTimeout)
}
