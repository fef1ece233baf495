package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// failureReasons are the Signed reasons that report a failed issuance; they stay on the
// conditions while the backoff runs.
var failureReasons = map[string]bool{
	certsv1alpha1.ReasonDenied:             true,
	certsv1alpha1.ReasonFailed:             true,
	certsv1alpha1.ReasonInvalidCertificate: true,
	certsv1alpha1.ReasonSignerTimeout:      true,
}

// workingStatus returns a copy of the status to fill in. A spec change resets the backoff.
func workingStatus(certificate *certsv1alpha1.DNSCertificate) *certsv1alpha1.DNSCertificateStatus {
	status := certificate.Status.DeepCopy()
	if status.ObservedGeneration != certificate.Generation {
		status.FailedIssuanceAttempts = 0
		status.LastFailureTime = nil
	}
	status.ObservedGeneration = certificate.Generation
	return status
}

// computeStatus derives the status fields and the four conditions from what the reconcile saw and did.
func (r *DNSCertificateReconciler) computeStatus(obs *observation, status *certsv1alpha1.DNSCertificateStatus, result *actResult) {
	generation := obs.certificate.Generation

	status.NotBefore, status.NotAfter, status.RenewalTime, status.SerialNumber, status.SignerName = nil, nil, nil, "", ""
	if result.current != nil {
		leaf := result.current.leaf()
		status.NotBefore = timeOf(leaf.NotBefore)
		status.NotAfter = timeOf(leaf.NotAfter)
		status.RenewalTime = timeOf(renewalTime(leaf, obs.desired.renewBefore))
		status.SerialNumber = leaf.SerialNumber.Text(16)
		if obs.secret != nil {
			status.SignerName = obs.secret.Annotations[certsv1alpha1.AnnotationSignerName]
		}
	}
	status.CertificateSigningRequest = ""
	if obs.csr != nil {
		status.CertificateSigningRequest = obs.csr.Name
	}

	// The failure that explains the state: one recorded now, or the last one while its backoff runs.
	failure := result.failure
	if failure == nil && result.pending != nil && result.pending.reason == certsv1alpha1.ReasonBackoff {
		if signed := meta.FindStatusCondition(status.Conditions, certsv1alpha1.ConditionSigned); signed != nil && failureReasons[signed.Reason] {
			failure = &violation{signed.Reason, signed.Message}
		}
	}

	valid := result.problem == nil || isRenewalOnly(result.problem)
	if result.problem == nil {
		// A valid certificate for the spec ends any earlier run of failures.
		status.FailedIssuanceAttempts = 0
		status.LastFailureTime = nil
	}
	conditions := []metav1.Condition{
		readyCondition(valid, result, failure),
		signedCondition(valid, result, failure),
		pendingCondition(result),
		rotatingCondition(valid, status.Revision, result),
	}
	now := metav1.NewTime(r.Clock.Now().Truncate(time.Second))
	for _, condition := range conditions {
		condition.ObservedGeneration = generation
		// Used only when the status flips; an unchanged status keeps its transition time.
		condition.LastTransitionTime = now
		meta.SetStatusCondition(&status.Conditions, condition)
	}
}

func readyCondition(valid bool, result *actResult, failure *violation) metav1.Condition {
	if valid {
		return metav1.Condition{Type: certsv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: certsv1alpha1.ReasonIssued,
			Message: fmt.Sprintf("The certificate is valid until %s", result.current.leaf().NotAfter.UTC().Format(time.RFC3339))}
	}
	cause := result.problem
	switch {
	case cause.reason == certsv1alpha1.ReasonSecretConflict:
	case failure != nil:
		cause = failure
	case result.pending != nil:
		cause = result.pending
	}
	return metav1.Condition{Type: certsv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: cause.reason, Message: cause.message}
}

func signedCondition(valid bool, result *actResult, failure *violation) metav1.Condition {
	if valid {
		return metav1.Condition{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionTrue, Reason: certsv1alpha1.ReasonIssued,
			Message: fmt.Sprintf("The Secret holds a verified certificate with serial number %s", result.current.leaf().SerialNumber.Text(16))}
	}
	cause := result.problem
	if failure != nil && cause.reason != certsv1alpha1.ReasonSecretConflict {
		cause = failure
	}
	return metav1.Condition{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionFalse, Reason: cause.reason, Message: cause.message}
}

func pendingCondition(result *actResult) metav1.Condition {
	if result.pending == nil {
		return metav1.Condition{Type: certsv1alpha1.ConditionPending, Status: metav1.ConditionFalse, Reason: certsv1alpha1.ReasonIdle,
			Message: "No CertificateSigningRequest is outstanding"}
	}
	return metav1.Condition{Type: certsv1alpha1.ConditionPending, Status: metav1.ConditionTrue, Reason: result.pending.reason, Message: result.pending.message}
}

// rotatingCondition is True while a certificate issued earlier is being replaced.
func rotatingCondition(valid bool, revision int64, result *actResult) metav1.Condition {
	replacing := result.problem != nil && result.problem.reason != certsv1alpha1.ReasonSecretConflict && revision > 0
	if !replacing {
		return metav1.Condition{Type: certsv1alpha1.ConditionRotating, Status: metav1.ConditionFalse, Reason: certsv1alpha1.ReasonNotRotating,
			Message: "No replacement is being issued"}
	}
	message := result.problem.message
	if valid {
		message += "; the current certificate stays in place until its replacement is verified"
	}
	return metav1.Condition{Type: certsv1alpha1.ConditionRotating, Status: metav1.ConditionTrue, Reason: result.problem.reason, Message: message}
}

func timeOf(t time.Time) *metav1.Time {
	return &metav1.Time{Time: t.Truncate(time.Second)}
}

// recordEvents emits the events of one reconcile: an issuance, a failure, or a new conflict.
func (r *DNSCertificateReconciler) recordEvents(certificate *certsv1alpha1.DNSCertificate, result *actResult) {
	if r.Recorder == nil {
		return
	}
	switch {
	case result.issued:
		because := "the certificate was requested"
		if result.issuedBecause != nil {
			because = result.issuedBecause.message
		}
		r.Recorder.Eventf(certificate, nil, "Normal", certsv1alpha1.ReasonIssued, "Issue",
			"Stored certificate %s in Secret %s because: %s", result.current.leaf().SerialNumber.Text(16), certificate.Spec.SecretName, because)
	case result.failure != nil:
		r.Recorder.Eventf(certificate, nil, "Warning", result.failure.reason, "Issue", "%s", result.failure.message)
	case result.problem != nil && result.problem.reason == certsv1alpha1.ReasonSecretConflict:
		if ready := meta.FindStatusCondition(certificate.Status.Conditions, certsv1alpha1.ConditionReady); ready == nil || ready.Reason != certsv1alpha1.ReasonSecretConflict {
			r.Recorder.Eventf(certificate, nil, "Warning", certsv1alpha1.ReasonSecretConflict, "Issue", "%s", result.problem.message)
		}
	}
}
