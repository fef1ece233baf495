package controllers

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

const (
	// conflictRecheckDelay is how often a DNSCertificate in conflict looks at its Secret again.
	// An unlabelled Secret is not in the cache, so no watch event reports its deletion, and
	// the recheck is one uncached read.
	conflictRecheckDelay = 30 * time.Second
	// approvalRecheckDelay is how often a forbidden approval is tried again. RBAC changes come
	// with no event, and a rejected approval writes nothing, so a short delay costs little.
	approvalRecheckDelay = 15 * time.Second
)

// actResult records the actions of one reconcile, for the status and the events.
type actResult struct {
	// problem is the first failed check of the Secret, nil when it holds a certificate for the spec.
	problem *violation
	// current is the usable certificate in the Secret, after any write of this reconcile.
	current *issuedCertificate
	// pending is the reason the DNSCertificate waits, nil when it does not wait.
	pending *violation
	// failure is an issuance failure recorded by this reconcile.
	failure *violation
	// issued is true when this reconcile stored a new certificate.
	issued bool
	// issuedBecause is the problem the new certificate fixed.
	issuedBecause *violation
	// requested is true when this reconcile created or approved the CSR, so the signer's
	// response is likely to arrive within moments.
	requested bool
	// requeueAt is when to look again.
	requeueAt time.Time
}

// act takes the next step towards a Secret that holds a verified certificate for the spec.
func (r *DNSCertificateReconciler) act(ctx context.Context, obs *observation, status *certsv1alpha1.DNSCertificateStatus,
	current *issuedCertificate, problem *violation) (*actResult, error) {
	now := r.Clock.Now()
	result := &actResult{problem: problem, current: current, requeueAt: now.Add(backoffCap)}

	for _, csr := range obs.staleCSRs {
		if err := r.deleteCSR(ctx, obs, csr); err != nil {
			return nil, err
		}
	}

	// Someone else's Secret: never write it, and drop any request for it.
	if obs.conflict != "" {
		if err := r.abandonRequest(ctx, obs); err != nil {
			return nil, err
		}
		result.requeueAt = now.Add(conflictRecheckDelay)
		return result, nil
	}

	// A valid certificate: clean up what a crash left behind and repair metadata.
	if problem == nil {
		if err := r.abandonRequest(ctx, obs); err != nil {
			return nil, err
		}
		if err := r.writeSecret(ctx, obs, r.contentOf(current, obs.roots)); err != nil {
			return nil, err
		}
		if err := r.deleteFormerSecrets(ctx, obs); err != nil {
			return nil, err
		}
		result.requeueAt = renewalTime(current.leaf(), obs.desired.renewBefore)
		return result, nil
	}

	return result, r.issue(ctx, obs, status, result)
}

// issue drives the CSR of a DNSCertificate that needs a certificate one step further.
func (r *DNSCertificateReconciler) issue(ctx context.Context, obs *observation, status *certsv1alpha1.DNSCertificateStatus, result *actResult) error {
	now := r.Clock.Now()
	log := logf.FromContext(ctx)

	// An outstanding request that no longer fits the spec, or lost its key, is dropped.
	key, err := r.checkOutstanding(ctx, obs)
	if err != nil {
		return err
	}

	if obs.csr == nil {
		// Wait out the backoff of earlier failures.
		if retryAt := nextAttempt(status); now.Before(retryAt) {
			result.pending = &violation{certsv1alpha1.ReasonBackoff,
				fmt.Sprintf("Retrying at %s after %d failed attempts", retryAt.UTC().Format(time.RFC3339), status.FailedIssuanceAttempts)}
			result.requeueAt = retryAt
			return nil
		}

		if obs.pendingKey == nil {
			obs.pendingKey, key, err = r.createPendingKey(ctx, obs)
			if err != nil {
				return err
			}
		}
		if obs.csr, err = r.createCSR(ctx, obs, key); err != nil {
			return err
		}
		result.requested = true
		log.V(1).Info("Created CertificateSigningRequest", "certificateSigningRequest", obs.csr.Name,
			"signerName", obs.desired.signerName, "reason", result.problem.reason)
	}

	state, message := csrState(obs.csr)
	switch state {
	case csrDenied:
		return r.recordFailure(ctx, obs, status, result, &violation{certsv1alpha1.ReasonDenied,
			fmt.Sprintf("CertificateSigningRequest %s was denied: %s", obs.csr.Name, message)})

	case csrFailed:
		return r.recordFailure(ctx, obs, status, result, &violation{certsv1alpha1.ReasonFailed,
			fmt.Sprintf("Signer %s failed CertificateSigningRequest %s: %s", obs.desired.signerName, obs.csr.Name, message)})

	case csrIssued:
		return r.store(ctx, obs, status, result, key)

	case csrWaitingForApproval:
		if !r.AutoApprove || !r.createdByOperator(obs.csr, obs.certificate) {
			result.pending = &violation{certsv1alpha1.ReasonWaitingForApproval,
				fmt.Sprintf("Waiting for CertificateSigningRequest %s to be approved", obs.csr.Name)}
			return nil
		}
		err := r.approveCSR(ctx, obs)
		if apierrors.IsForbidden(err) {
			result.pending = &violation{certsv1alpha1.ReasonApprovalForbidden,
				fmt.Sprintf("The operator may not approve CertificateSigningRequest %s for signer %s: grant it the verb approve on signers/%s",
					obs.csr.Name, obs.desired.signerName, obs.desired.signerName)}
			result.requeueAt = now.Add(approvalRecheckDelay)
			return nil
		}
		if err != nil {
			return fmt.Errorf("approving CertificateSigningRequest %s: %w", obs.csr.Name, err)
		}
		log.V(1).Info("Approved CertificateSigningRequest", "certificateSigningRequest", obs.csr.Name)
		result.requested = true
	}

	// Approved and waiting for the signer, until the signer timeout.
	deadline := r.signerDeadline(obs.csr)
	if !now.Before(deadline) {
		return r.recordFailure(ctx, obs, status, result, &violation{certsv1alpha1.ReasonSignerTimeout,
			fmt.Sprintf("Signer %s did not sign CertificateSigningRequest %s within %s", obs.desired.signerName, obs.csr.Name, r.SignerTimeout)})
	}
	result.pending = &violation{certsv1alpha1.ReasonWaitingForSigner,
		fmt.Sprintf("Waiting for signer %s to sign CertificateSigningRequest %s", obs.desired.signerName, obs.csr.Name)}
	result.requeueAt = deadline
	return nil
}

// checkOutstanding returns the key of the outstanding request, and drops a request that no
// longer matches the spec or whose key is gone.
func (r *DNSCertificateReconciler) checkOutstanding(ctx context.Context, obs *observation) (*pki.PrivateKey, error) {
	var key *pki.PrivateKey
	if obs.pendingKey != nil {
		parsed, encoding, err := pki.ParsePrivateKeyPEM(obs.pendingKey.Data[pendingKeyDataKey])
		description, describeErr := pki.DescribePublicKey(publicKeyOf(parsed))
		if err == nil && describeErr == nil && description == obs.desired.key && encoding == obs.desired.encoding {
			key = parsed
		}
	}
	if key == nil {
		return nil, r.abandonRequest(ctx, obs)
	}
	if obs.csr == nil {
		return key, nil
	}

	request, err := pki.ParseCSRPEM(obs.csr.Spec.Request)
	if err != nil || !pki.PublicKeysEqual(request.PublicKey, key.Public()) || !csrMatchesSpec(obs.csr, request, obs.desired) {
		return nil, r.abandonRequest(ctx, obs)
	}
	return key, nil
}

func publicKeyOf(key *pki.PrivateKey) any {
	if key == nil {
		return nil
	}
	return key.Public()
}

// nextAttempt returns when the next issuance may start after failures.
func nextAttempt(status *certsv1alpha1.DNSCertificateStatus) time.Time {
	if status.FailedIssuanceAttempts == 0 || status.LastFailureTime == nil {
		return time.Time{}
	}
	return status.LastFailureTime.Add(backoffDelay(status.FailedIssuanceAttempts))
}

// recordFailure drops the failed request and counts the failure for the backoff.
func (r *DNSCertificateReconciler) recordFailure(ctx context.Context, obs *observation, status *certsv1alpha1.DNSCertificateStatus,
	result *actResult, failure *violation) error {
	if err := r.abandonRequest(ctx, obs); err != nil {
		return err
	}
	now := r.Clock.Now()
	status.FailedIssuanceAttempts++
	status.LastFailureTime = &metav1.Time{Time: now}
	result.failure = failure
	result.requeueAt = nextAttempt(status)
	result.pending = &violation{certsv1alpha1.ReasonBackoff,
		fmt.Sprintf("Retrying at %s after %d failed attempts", result.requeueAt.UTC().Format(time.RFC3339), status.FailedIssuanceAttempts)}
	issuanceTotal.WithLabelValues(issuanceResult(failure.reason)).Inc()
	logf.FromContext(ctx).Info("Issuance failed", "reason", failure.reason, "message", failure.message,
		"failedAttempts", status.FailedIssuanceAttempts, "retryAt", result.requeueAt)
	return nil
}

// store verifies the certificate the signer returned and, when it passes, writes it to the
// Secret and deletes the request.
func (r *DNSCertificateReconciler) store(ctx context.Context, obs *observation, status *certsv1alpha1.DNSCertificateStatus,
	result *actResult, key *pki.PrivateKey) error {
	now := r.Clock.Now()
	// The CSR API allows text around the PEM blocks, so parse leniently and store canonical PEM.
	chain, err := pki.ParseIssuedCertificatesPEM(obs.csr.Status.Certificate)
	if err != nil {
		return r.recordFailure(ctx, obs, status, result, &violation{certsv1alpha1.ReasonInvalidCertificate,
			fmt.Sprintf("Signer %s returned an unparsable certificate for CertificateSigningRequest %s: %v", obs.desired.signerName, obs.csr.Name, err)})
	}
	roots, err := r.roots.resolve(ctx, obs.desired.signerName, obs.certificate.Namespace, chain)
	if err != nil {
		return err
	}

	issued, err := verifyIssued(obs.desired, chain, pki.EncodeCertificatesPEM(chain...), key, obs.pendingKey.Data[pendingKeyDataKey], roots, now)
	if err != nil {
		return r.recordFailure(ctx, obs, status, result, &violation{certsv1alpha1.ReasonInvalidCertificate,
			fmt.Sprintf("Signer %s returned a certificate that failed verification for CertificateSigningRequest %s: %v", obs.desired.signerName, obs.csr.Name, err)})
	}

	requested := obs.csr.CreationTimestamp.Time
	if err := r.writeSecret(ctx, obs, r.contentOf(issued, roots)); err != nil {
		return err
	}
	if err := r.abandonRequest(ctx, obs); err != nil {
		return err
	}

	issuanceTotal.WithLabelValues(issuanceSucceeded).Inc()
	issuanceDuration.Observe(max(now.Sub(requested), 0).Seconds())
	status.Revision++
	status.FailedIssuanceAttempts = 0
	status.LastFailureTime = nil
	result.issuedBecause = result.problem
	result.problem = nil
	result.current = issued
	result.issued = true
	obs.roots = roots
	result.requeueAt = renewalTime(issued.leaf(), obs.desired.renewBefore)
	logf.FromContext(ctx).Info("Stored certificate", "secret", obs.certificate.Spec.SecretName,
		"serialNumber", issued.leaf().SerialNumber.Text(16), "notAfter", issued.leaf().NotAfter, "revision", status.Revision)
	return nil
}

// verifyIssued checks a certificate before anything is written: it parses, belongs to the
// pending key, carries exactly the requested SANs, is a leaf, is valid now, allows the
// requested usages and chains to the signer's root bundle.
func verifyIssued(desired desiredCertificate, chain []*x509.Certificate, chainPEM []byte, key *pki.PrivateKey, keyPEM []byte,
	roots rootBundle, now time.Time) (*issuedCertificate, error) {
	leaf := chain[0]
	switch {
	case !pki.PublicKeysEqual(leaf.PublicKey, key.Public()):
		return nil, errors.New("its public key is not the requested one")
	case !pki.SANsEqual(leaf, desired.dnsNames, desired.ipAddresses):
		return nil, fmt.Errorf("its SANs %v %v differ from the requested ones", leaf.DNSNames, leaf.IPAddresses)
	case leaf.IsCA:
		return nil, errors.New("it is a CA certificate")
	case !now.Before(leaf.NotAfter):
		return nil, fmt.Errorf("it expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case len(roots.certificates) == 0:
		return nil, fmt.Errorf("no root bundle is known for signer %s: publish a ClusterTrustBundle for it", desired.signerName)
	}
	// checkOutstanding accepted the pending key only in the encoding the spec requests.
	issued := &issuedCertificate{chain: chain, chainPEM: chainPEM, key: key, keyPEM: keyPEM, keyEncoding: desired.encoding, rootsPEM: roots.pem}
	in := secretInput{desired: desired, roots: roots.certificates, now: now}
	if v := checkUsages(in, issued); v != nil {
		return nil, errors.New(v.message)
	}
	if err := pki.VerifyChain(leaf, chain[1:], roots.certificates, now); err != nil {
		return nil, fmt.Errorf("it does not chain to the root bundle from the %s: %w", roots.source, err)
	}
	return issued, nil
}

// contentOf returns what a Secret holds for a certificate.
func (r *DNSCertificateReconciler) contentOf(issued *issuedCertificate, roots rootBundle) secretContent {
	rootsPEM := roots.pem
	if len(rootsPEM) == 0 {
		rootsPEM = issued.rootsPEM
	}
	return secretContent{chainPEM: issued.chainPEM, keyPEM: issued.keyPEM, rootsPEM: rootsPEM}
}
