package controllers

import (
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// statusGeneration is the generation of the DNSCertificate in the status tests.
const statusGeneration = 3

// Violations as the reconcile reports them, for the status tests.
var (
	renewalDueViolation       = &violation{certsv1alpha1.ReasonRenewalDue, "The renewal time 2026-02-20T12:00:00Z has passed"}
	secretMissingViolation    = &violation{certsv1alpha1.ReasonSecretMissing, "Secret does not exist"}
	sansChangedViolation      = &violation{certsv1alpha1.ReasonSANsChanged, "The certificate's DNS names or IP addresses differ from the spec"}
	secretConflictViolation   = &violation{certsv1alpha1.ReasonSecretConflict, "Secret web-tls exists and is not owned by this DNSCertificate"}
	backoffViolation          = &violation{certsv1alpha1.ReasonBackoff, "Retrying at 2026-03-01T12:04:00Z after 3 failed attempts"}
	waitingApprovalViolation  = &violation{certsv1alpha1.ReasonWaitingForApproval, "Waiting for CertificateSigningRequest default-web-x7k2p to be approved"}
	waitingForSignerViolation = &violation{certsv1alpha1.ReasonWaitingForSigner, "Waiting for signer certs.dnscert.io/local to sign CertificateSigningRequest default-web-x7k2p"}
	deniedViolation           = &violation{certsv1alpha1.ReasonDenied, "CertificateSigningRequest default-web-x7k2p was denied: PolicyViolation: no"}
)

// statusFixture is one reconcile's observation of a DNSCertificate whose Secret holds a valid certificate.
type statusFixture struct {
	reconciler  *DNSCertificateReconciler
	certificate *certsv1alpha1.DNSCertificate
	issuance    *unitIssuance
	current     *issuedCertificate
	obs         *observation
}

func newStatusFixture(t *testing.T) *statusFixture {
	t.Helper()
	issuance := issueFor(t, newUnitCA(t, "unit root"), unitDesired())
	certificate := &certsv1alpha1.DNSCertificate{}
	certificate.Namespace, certificate.Name, certificate.Generation = "default", "web", statusGeneration
	certificate.Spec = unitSpec()
	certificate.Status.ObservedGeneration = statusGeneration
	return &statusFixture{
		reconciler:  &DNSCertificateReconciler{Clock: clocktesting.NewFakePassiveClock(unitNow)},
		certificate: certificate,
		issuance:    issuance,
		current:     parsedIssuance(t, issuance),
		obs:         &observation{certificate: certificate, desired: issuance.desired, secret: issuance.secret},
	}
}

// compute runs computeStatus on a copy of the DNSCertificate's status, as Reconcile does.
func (f *statusFixture) compute(result *actResult) *certsv1alpha1.DNSCertificateStatus {
	status := workingStatus(f.certificate)
	f.reconciler.computeStatus(f.obs, status, result)
	return status
}

type conditionWant struct {
	status metav1.ConditionStatus
	reason string
}

func TestComputeStatusConditions(t *testing.T) {
	ready := func(reason string) conditionWant { return conditionWant{metav1.ConditionTrue, reason} }
	notReady := func(reason string) conditionWant { return conditionWant{metav1.ConditionFalse, reason} }
	cases := []struct {
		name     string
		revision int64
		// signed is the Signed condition from the previous reconcile, if any.
		signed *metav1.Condition
		// noCertificate means the Secret holds no usable certificate.
		noCertificate             bool
		problem, pending, failure *violation
		want                      map[string]conditionWant
		// wantRotatingMessage is part of the Rotating message.
		wantRotatingMessage string
	}{
		{
			name:     "reports Ready when the Secret holds a valid certificate",
			revision: 1,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    ready(certsv1alpha1.ReasonIssued),
				certsv1alpha1.ConditionSigned:   ready(certsv1alpha1.ReasonIssued),
				certsv1alpha1.ConditionPending:  notReady(certsv1alpha1.ReasonIdle),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:     "stays Ready and reports Rotating while a renewal is due",
			revision: 1,
			problem:  renewalDueViolation,
			pending:  waitingForSignerViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    ready(certsv1alpha1.ReasonIssued),
				certsv1alpha1.ConditionSigned:   ready(certsv1alpha1.ReasonIssued),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionRotating: ready(certsv1alpha1.ReasonRenewalDue),
			},
			wantRotatingMessage: "the current certificate stays in place until its replacement is verified",
		},
		{
			name:     "stays Ready while a due renewal waits out a backoff",
			revision: 1,
			signed:   &metav1.Condition{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionTrue, Reason: certsv1alpha1.ReasonIssued},
			problem:  renewalDueViolation,
			pending:  backoffViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    ready(certsv1alpha1.ReasonIssued),
				certsv1alpha1.ConditionSigned:   ready(certsv1alpha1.ReasonIssued),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonBackoff),
				certsv1alpha1.ConditionRotating: ready(certsv1alpha1.ReasonRenewalDue),
			},
		},
		{
			name:          "reports the last failure on Ready while a backoff runs",
			signed:        &metav1.Condition{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionFalse, Reason: deniedViolation.reason, Message: deniedViolation.message},
			noCertificate: true,
			problem:       secretMissingViolation,
			pending:       backoffViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonDenied),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonDenied),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonBackoff),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name: "reports Backoff on Ready when the Signed condition names no failure",
			signed: &metav1.Condition{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionFalse,
				Reason: secretMissingViolation.reason, Message: secretMissingViolation.message},
			noCertificate: true,
			problem:       secretMissingViolation,
			pending:       backoffViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonBackoff),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSecretMissing),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonBackoff),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:          "reports a failure recorded by this reconcile",
			noCertificate: true,
			problem:       secretMissingViolation,
			failure:       deniedViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonDenied),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonDenied),
				certsv1alpha1.ConditionPending:  notReady(certsv1alpha1.ReasonIdle),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:          "reports SecretConflict on Ready over a failure",
			revision:      2,
			noCertificate: true,
			problem:       secretConflictViolation,
			failure:       deniedViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonSecretConflict),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSecretConflict),
				certsv1alpha1.ConditionPending:  notReady(certsv1alpha1.ReasonIdle),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:          "reports SecretConflict on Ready over a failure from an earlier reconcile",
			revision:      2,
			signed:        &metav1.Condition{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionFalse, Reason: deniedViolation.reason, Message: deniedViolation.message},
			noCertificate: true,
			problem:       secretConflictViolation,
			pending:       backoffViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonSecretConflict),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSecretConflict),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonBackoff),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:          "reports Pending with the reason of the outstanding request",
			noCertificate: true,
			problem:       secretMissingViolation,
			pending:       waitingApprovalViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonWaitingForApproval),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSecretMissing),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonWaitingForApproval),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:     "reports no rotation before the first issuance",
			revision: 0,
			problem:  sansChangedViolation,
			pending:  waitingForSignerViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSANsChanged),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionRotating: notReady(certsv1alpha1.ReasonNotRotating),
			},
		},
		{
			name:     "reports Rotating when the spec changed after an issuance",
			revision: 2,
			problem:  sansChangedViolation,
			pending:  waitingForSignerViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSANsChanged),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionRotating: ready(certsv1alpha1.ReasonSANsChanged),
			},
			wantRotatingMessage: sansChangedViolation.message,
		},
		{
			name:          "reports Rotating when the Secret was deleted after an issuance",
			revision:      1,
			noCertificate: true,
			problem:       secretMissingViolation,
			pending:       waitingForSignerViolation,
			want: map[string]conditionWant{
				certsv1alpha1.ConditionReady:    notReady(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionSigned:   notReady(certsv1alpha1.ReasonSecretMissing),
				certsv1alpha1.ConditionPending:  ready(certsv1alpha1.ReasonWaitingForSigner),
				certsv1alpha1.ConditionRotating: ready(certsv1alpha1.ReasonSecretMissing),
			},
			wantRotatingMessage: secretMissingViolation.message,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStatusFixture(t)
			f.certificate.Status.Revision = tc.revision
			if tc.signed != nil {
				signed := *tc.signed
				signed.ObservedGeneration = statusGeneration
				signed.LastTransitionTime = metav1.NewTime(unitNow.Add(-time.Hour))
				f.certificate.Status.Conditions = []metav1.Condition{signed}
			}
			result := &actResult{problem: tc.problem, pending: tc.pending, failure: tc.failure, current: f.current}
			if tc.noCertificate {
				result.current = nil
				f.obs.secret = nil
			}

			status := f.compute(result)

			if len(status.Conditions) != len(tc.want) {
				t.Errorf("status has %d conditions, want %d", len(status.Conditions), len(tc.want))
			}
			for conditionType, want := range tc.want {
				condition := meta.FindStatusCondition(status.Conditions, conditionType)
				if condition == nil {
					t.Errorf("condition %s is missing", conditionType)
					continue
				}
				if condition.Status != want.status || condition.Reason != want.reason {
					t.Errorf("condition %s = %s/%s (%q), want %s/%s", conditionType, condition.Status, condition.Reason, condition.Message, want.status, want.reason)
				}
				if condition.Message == "" {
					t.Errorf("condition %s has no message", conditionType)
				}
				if condition.ObservedGeneration != statusGeneration {
					t.Errorf("condition %s has observedGeneration %d, want %d", conditionType, condition.ObservedGeneration, statusGeneration)
				}
			}
			rotating := meta.FindStatusCondition(status.Conditions, certsv1alpha1.ConditionRotating)
			if tc.wantRotatingMessage != "" && rotating != nil && !strings.Contains(rotating.Message, tc.wantRotatingMessage) {
				t.Errorf("Rotating message = %q, want it to contain %q", rotating.Message, tc.wantRotatingMessage)
			}
		})
	}
}

func TestComputeStatusBackoffFailureReasons(t *testing.T) {
	reasons := []string{
		certsv1alpha1.ReasonDenied, certsv1alpha1.ReasonFailed, certsv1alpha1.ReasonInvalidCertificate, certsv1alpha1.ReasonSignerTimeout,
	}
	for _, reason := range reasons {
		t.Run(reason, func(t *testing.T) {
			f := newStatusFixture(t)
			f.certificate.Status.Conditions = []metav1.Condition{
				{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionFalse, Reason: reason, Message: "The last attempt failed"},
			}
			f.obs.secret = nil

			status := f.compute(&actResult{problem: secretMissingViolation, pending: backoffViolation})

			for _, conditionType := range []string{certsv1alpha1.ConditionReady, certsv1alpha1.ConditionSigned} {
				condition := meta.FindStatusCondition(status.Conditions, conditionType)
				if condition.Reason != reason || condition.Message != "The last attempt failed" {
					t.Errorf("%s = %s (%q), want %s with the failure's message", conditionType, condition.Reason, condition.Message, reason)
				}
			}
		})
	}
}

func TestComputeStatusMessages(t *testing.T) {
	f := newStatusFixture(t)
	f.obs.secret = nil
	status := f.compute(&actResult{problem: secretMissingViolation, failure: deniedViolation})

	ready := meta.FindStatusCondition(status.Conditions, certsv1alpha1.ConditionReady)
	if ready == nil || ready.Message != deniedViolation.message {
		t.Errorf("Ready = %+v, want the failure's message %q", ready, deniedViolation.message)
	}

	f = newStatusFixture(t)
	status = f.compute(&actResult{current: f.current})
	ready = meta.FindStatusCondition(status.Conditions, certsv1alpha1.ConditionReady)
	wantExpiry := f.issuance.leaf.NotAfter.UTC().Format(time.RFC3339)
	if ready == nil || !strings.Contains(ready.Message, wantExpiry) {
		t.Errorf("Ready = %+v, want a message that names the expiry %s", ready, wantExpiry)
	}
	signed := meta.FindStatusCondition(status.Conditions, certsv1alpha1.ConditionSigned)
	wantSerial := f.issuance.leaf.SerialNumber.Text(16)
	if signed == nil || !strings.Contains(signed.Message, wantSerial) {
		t.Errorf("Signed = %+v, want a message that names the serial number %s", signed, wantSerial)
	}
}

func TestComputeStatusFields(t *testing.T) {
	t.Run("describes the certificate in the Secret and the outstanding request", func(t *testing.T) {
		f := newStatusFixture(t)
		f.obs.csr = &certificatesv1.CertificateSigningRequest{}
		f.obs.csr.Name = "default-web-x7k2p"

		status := f.compute(&actResult{problem: renewalDueViolation, pending: waitingForSignerViolation, current: f.current})

		leaf := f.issuance.leaf
		if status.NotBefore == nil || !status.NotBefore.Time.Equal(leaf.NotBefore) {
			t.Errorf("notBefore = %v, want %s", status.NotBefore, leaf.NotBefore)
		}
		if status.NotAfter == nil || !status.NotAfter.Time.Equal(leaf.NotAfter) {
			t.Errorf("notAfter = %v, want %s", status.NotAfter, leaf.NotAfter)
		}
		if want := renewalTime(leaf, 0); status.RenewalTime == nil || !status.RenewalTime.Time.Equal(want) {
			t.Errorf("renewalTime = %v, want %s", status.RenewalTime, want)
		}
		if want := leaf.SerialNumber.Text(16); status.SerialNumber != want {
			t.Errorf("serialNumber = %q, want %q", status.SerialNumber, want)
		}
		if status.SignerName != unitSignerName {
			t.Errorf("signerName = %q, want %q", status.SignerName, unitSignerName)
		}
		if status.CertificateSigningRequest != "default-web-x7k2p" {
			t.Errorf("certificateSigningRequest = %q, want %q", status.CertificateSigningRequest, "default-web-x7k2p")
		}
		if status.ObservedGeneration != statusGeneration {
			t.Errorf("observedGeneration = %d, want %d", status.ObservedGeneration, statusGeneration)
		}
	})

	t.Run("clears the certificate fields when the Secret holds none", func(t *testing.T) {
		f := newStatusFixture(t)
		previous := metav1.NewTime(unitNow)
		f.certificate.Status.NotBefore, f.certificate.Status.NotAfter, f.certificate.Status.RenewalTime = &previous, &previous, &previous
		f.certificate.Status.SerialNumber, f.certificate.Status.SignerName = "1f", unitSignerName
		f.certificate.Status.CertificateSigningRequest = "default-web-old"
		f.obs.secret = nil

		status := f.compute(&actResult{problem: secretMissingViolation})

		if status.NotBefore != nil || status.NotAfter != nil || status.RenewalTime != nil {
			t.Errorf("notBefore, notAfter, renewalTime = %v, %v, %v, want them cleared", status.NotBefore, status.NotAfter, status.RenewalTime)
		}
		if status.SerialNumber != "" || status.SignerName != "" {
			t.Errorf("serialNumber, signerName = %q, %q, want them cleared", status.SerialNumber, status.SignerName)
		}
		if status.CertificateSigningRequest != "" {
			t.Errorf("certificateSigningRequest = %q, want it cleared", status.CertificateSigningRequest)
		}
	})
}

func TestComputeStatusTransitionTime(t *testing.T) {
	f := newStatusFixture(t)
	earlier := metav1.NewTime(unitNow.Add(-24 * time.Hour))
	// The status of a Ready DNSCertificate, written for the previous generation.
	f.certificate.Status.Revision = 1
	f.certificate.Status.Conditions = []metav1.Condition{
		{Type: certsv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: certsv1alpha1.ReasonIssued, Message: "old", LastTransitionTime: earlier, ObservedGeneration: 2},
		{Type: certsv1alpha1.ConditionSigned, Status: metav1.ConditionTrue, Reason: certsv1alpha1.ReasonIssued, Message: "old", LastTransitionTime: earlier, ObservedGeneration: 2},
		{Type: certsv1alpha1.ConditionPending, Status: metav1.ConditionFalse, Reason: certsv1alpha1.ReasonIdle, Message: "old", LastTransitionTime: earlier, ObservedGeneration: 2},
		{Type: certsv1alpha1.ConditionRotating, Status: metav1.ConditionFalse, Reason: certsv1alpha1.ReasonNotRotating, Message: "old", LastTransitionTime: earlier, ObservedGeneration: 2},
	}

	// The renewal became due: Ready and Signed keep their status, Pending and Rotating flip.
	status := f.compute(&actResult{problem: renewalDueViolation, pending: waitingForSignerViolation, current: f.current})

	for _, conditionType := range []string{certsv1alpha1.ConditionReady, certsv1alpha1.ConditionSigned} {
		condition := meta.FindStatusCondition(status.Conditions, conditionType)
		if !condition.LastTransitionTime.Equal(&earlier) {
			t.Errorf("%s lastTransitionTime = %s, want %s because its status stayed %s", conditionType, condition.LastTransitionTime, earlier, condition.Status)
		}
		if condition.Message == "old" {
			t.Errorf("%s message was not updated", conditionType)
		}
	}
	for _, conditionType := range []string{certsv1alpha1.ConditionPending, certsv1alpha1.ConditionRotating} {
		condition := meta.FindStatusCondition(status.Conditions, conditionType)
		if condition.LastTransitionTime.Equal(&earlier) {
			t.Errorf("%s lastTransitionTime stayed %s, want it moved because its status flipped to %s", conditionType, earlier, condition.Status)
		}
	}
	for _, condition := range status.Conditions {
		if condition.ObservedGeneration != statusGeneration {
			t.Errorf("%s observedGeneration = %d, want %d", condition.Type, condition.ObservedGeneration, statusGeneration)
		}
	}
}

func TestComputeStatusReasonOnlyChange(t *testing.T) {
	f := newStatusFixture(t)
	earlier := metav1.NewTime(unitNow.Add(-time.Hour))
	f.certificate.Status.Conditions = []metav1.Condition{
		{Type: certsv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: certsv1alpha1.ReasonWaitingForApproval, Message: "old", LastTransitionTime: earlier},
	}
	f.obs.secret = nil

	status := f.compute(&actResult{problem: secretMissingViolation, failure: deniedViolation})

	ready := meta.FindStatusCondition(status.Conditions, certsv1alpha1.ConditionReady)
	if ready.Reason != certsv1alpha1.ReasonDenied {
		t.Errorf("Ready reason = %s, want %s", ready.Reason, certsv1alpha1.ReasonDenied)
	}
	if !ready.LastTransitionTime.Equal(&earlier) {
		t.Errorf("Ready lastTransitionTime = %s, want %s because its status stayed False", ready.LastTransitionTime, earlier)
	}
}

// Conditions that flip are stamped with the reconciler's clock, like every other time in the status.
func TestComputeStatusTransitionClock(t *testing.T) {
	f := newStatusFixture(t)
	clockNow := unitNow.Add(365 * 24 * time.Hour)
	f.reconciler.Clock = clocktesting.NewFakePassiveClock(clockNow)

	status := f.compute(&actResult{current: f.current})

	for _, condition := range status.Conditions {
		if !condition.LastTransitionTime.Time.Equal(clockNow.Truncate(time.Second)) {
			t.Errorf("%s lastTransitionTime = %s, want the reconciler clock's %s", condition.Type, condition.LastTransitionTime, clockNow)
		}
	}
}

func TestWorkingStatus(t *testing.T) {
	lastFailure := metav1.NewTime(unitNow.Add(-time.Minute))
	cases := []struct {
		name               string
		observedGeneration int64
		wantFailures       int32
		wantLastFailure    *metav1.Time
	}{
		{name: "resets the backoff when the generation changed", observedGeneration: statusGeneration - 1, wantFailures: 0, wantLastFailure: nil},
		{name: "keeps the backoff when the generation is unchanged", observedGeneration: statusGeneration, wantFailures: 4, wantLastFailure: &lastFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certificate := &certsv1alpha1.DNSCertificate{}
			certificate.Generation = statusGeneration
			certificate.Status = certsv1alpha1.DNSCertificateStatus{
				ObservedGeneration:     tc.observedGeneration,
				Revision:               2,
				FailedIssuanceAttempts: 4,
				LastFailureTime:        &lastFailure,
				Conditions:             []metav1.Condition{{Type: certsv1alpha1.ConditionReady, Status: metav1.ConditionTrue}},
			}

			status := workingStatus(certificate)

			if status.FailedIssuanceAttempts != tc.wantFailures {
				t.Errorf("failedIssuanceAttempts = %d, want %d", status.FailedIssuanceAttempts, tc.wantFailures)
			}
			if !status.LastFailureTime.Equal(tc.wantLastFailure) {
				t.Errorf("lastFailureTime = %v, want %v", status.LastFailureTime, tc.wantLastFailure)
			}
			if status.ObservedGeneration != statusGeneration {
				t.Errorf("observedGeneration = %d, want %d", status.ObservedGeneration, statusGeneration)
			}
			if status.Revision != 2 || len(status.Conditions) != 1 {
				t.Errorf("revision, conditions = %d, %d, want them kept", status.Revision, len(status.Conditions))
			}
			// The working copy must not change the object read from the cache.
			if certificate.Status.FailedIssuanceAttempts != 4 || certificate.Status.LastFailureTime == nil ||
				certificate.Status.ObservedGeneration != tc.observedGeneration {
				t.Errorf("workingStatus() changed the DNSCertificate's own status to %+v", certificate.Status)
			}
		})
	}
}
