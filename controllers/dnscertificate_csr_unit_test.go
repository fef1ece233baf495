package controllers

import (
	"crypto/x509"
	"net"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// csrCondition returns a CSR condition of a type with status True.
func csrCondition(conditionType certificatesv1.RequestConditionType, reason, message string) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: conditionType, Status: corev1.ConditionTrue, Reason: reason, Message: message}
}

func TestCSRState(t *testing.T) {
	approved := csrCondition(certificatesv1.CertificateApproved, "AutoApproved", "Approved by dnscert-operator")
	certificate := []byte("issued certificate")
	cases := []struct {
		name        string
		conditions  []certificatesv1.CertificateSigningRequestCondition
		certificate []byte
		want        csrResult
		wantMessage string
	}{
		{name: "waits for approval without conditions", want: csrWaitingForApproval},
		{
			name:       "waits for approval while the Approved condition is not True",
			conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse}},
			want:       csrWaitingForApproval,
		},
		{name: "waits for the signer once approved", conditions: []certificatesv1.CertificateSigningRequestCondition{approved}, want: csrWaitingForSigner},
		{
			name:        "reports issued when approved and signed",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{approved},
			certificate: certificate,
			want:        csrIssued,
		},
		{
			name:        "reports denied with reason and message",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{csrCondition(certificatesv1.CertificateDenied, "PolicyViolation", "Wildcards are not allowed")},
			want:        csrDenied,
			wantMessage: "PolicyViolation: Wildcards are not allowed",
		},
		{
			name:        "reports denied with only a reason",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{csrCondition(certificatesv1.CertificateDenied, "PolicyViolation", "")},
			want:        csrDenied,
			wantMessage: "PolicyViolation",
		},
		{
			name:        "reports denied with only a message",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{csrCondition(certificatesv1.CertificateDenied, "", "Not today")},
			want:        csrDenied,
			wantMessage: "Not today",
		},
		{
			name: "reports failed with reason and message after approval",
			conditions: []certificatesv1.CertificateSigningRequestCondition{
				approved, csrCondition(certificatesv1.CertificateFailed, "SignerError", "The CA is offline"),
			},
			want:        csrFailed,
			wantMessage: "SignerError: The CA is offline",
		},
		{
			name: "reports failed even when a certificate is present",
			conditions: []certificatesv1.CertificateSigningRequestCondition{
				approved, csrCondition(certificatesv1.CertificateFailed, "SignerError", "Partial write"),
			},
			certificate: certificate,
			want:        csrFailed,
			wantMessage: "SignerError: Partial write",
		},
		{
			name: "ignores a Denied condition that is not True",
			conditions: []certificatesv1.CertificateSigningRequestCondition{
				{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionFalse, Reason: "Reconsidered"}, approved,
			},
			want: csrWaitingForSigner,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{
				Status: certificatesv1.CertificateSigningRequestStatus{Conditions: tc.conditions, Certificate: tc.certificate},
			}

			got, message := csrState(csr)

			if got != tc.want {
				t.Errorf("csrState() = %d, want %d", got, tc.want)
			}
			if message != tc.wantMessage {
				t.Errorf("csrState() message = %q, want %q", message, tc.wantMessage)
			}
		})
	}
}

func TestCSRMatchesSpec(t *testing.T) {
	desired := unitDesired(withIPAddresses("10.0.0.1"))
	ecdsaKey := unitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0)
	ipAddresses := []net.IP{net.ParseIP("10.0.0.1")}

	cases := []struct {
		name string
		// mutate changes the CSR object, and request returns the parsed request it carries.
		mutate  func(*certificatesv1.CertificateSigningRequest)
		request func(t *testing.T) *x509.CertificateRequest
		want    bool
	}{
		{name: "matches a CSR created for the spec", want: true},
		{
			name: "matches when the usages are listed in another order",
			mutate: func(csr *certificatesv1.CertificateSigningRequest) {
				csr.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth, certificatesv1.UsageDigitalSignature}
			},
			want: true,
		},
		{
			name: "matches when the names are requested in another order",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, ecdsaKey, []string{"web.example", "web.example.svc"}, ipAddresses)
			},
			want: true,
		},
		{
			name:   "rejects a CSR for another signer",
			mutate: func(csr *certificatesv1.CertificateSigningRequest) { csr.Spec.SignerName = "example.com/other" },
			want:   false,
		},
		{
			name:   "rejects a CSR with another expiration",
			mutate: func(csr *certificatesv1.CertificateSigningRequest) { csr.Spec.ExpirationSeconds = ptr.To[int32](3600) },
			want:   false,
		},
		{
			name:   "rejects a CSR without an expiration",
			mutate: func(csr *certificatesv1.CertificateSigningRequest) { csr.Spec.ExpirationSeconds = nil },
			want:   false,
		},
		{
			name: "rejects a CSR with an extra usage",
			mutate: func(csr *certificatesv1.CertificateSigningRequest) {
				csr.Spec.Usages = append(csr.Spec.Usages, certificatesv1.UsageClientAuth)
			},
			want: false,
		},
		{
			name: "rejects a CSR with a missing usage",
			mutate: func(csr *certificatesv1.CertificateSigningRequest) {
				csr.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}
			},
			want: false,
		},
		{
			name: "rejects a CSR with another key type",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, unitKey(t, certsv1alpha1.Ed25519KeyAlgorithm, 0), desired.dnsNames, ipAddresses)
			},
			want: false,
		},
		{
			name: "rejects a CSR with another RSA size",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, unitKey(t, certsv1alpha1.RSAKeyAlgorithm, 2048), desired.dnsNames, ipAddresses)
			},
			want: false,
		},
		{
			name: "rejects a CSR with an extra DNS name",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, ecdsaKey, append([]string{"api.example.svc"}, desired.dnsNames...), ipAddresses)
			},
			want: false,
		},
		{
			name: "rejects a CSR with a missing DNS name",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, ecdsaKey, desired.dnsNames[:1], ipAddresses)
			},
			want: false,
		},
		{
			name: "rejects a CSR with another IP address",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, ecdsaKey, desired.dnsNames, []net.IP{net.ParseIP("10.0.0.2")})
			},
			want: false,
		},
		{
			name: "rejects a CSR without the IP address",
			request: func(t *testing.T) *x509.CertificateRequest {
				return unitRequest(t, ecdsaKey, desired.dnsNames, nil)
			},
			want: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{
				Spec: certificatesv1.CertificateSigningRequestSpec{
					SignerName:        desired.signerName,
					ExpirationSeconds: desired.expirationSeconds(),
					Usages:            append([]certificatesv1.KeyUsage(nil), desired.usages...),
				},
			}
			if tc.mutate != nil {
				tc.mutate(csr)
			}
			request := unitRequest(t, ecdsaKey, desired.dnsNames, ipAddresses)
			if tc.request != nil {
				request = tc.request(t)
			}

			if got := csrMatchesSpec(csr, request, desired); got != tc.want {
				t.Errorf("csrMatchesSpec() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSignerDeadline(t *testing.T) {
	created := unitNow.Add(-time.Hour)
	approvedAt := unitNow.Add(-10 * time.Minute)
	cases := []struct {
		name       string
		conditions []certificatesv1.CertificateSigningRequestCondition
		want       time.Time
	}{
		{name: "counts from creation before approval", want: created.Add(15 * time.Minute)},
		{
			name: "counts from the approval time",
			conditions: []certificatesv1.CertificateSigningRequestCondition{
				{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, LastUpdateTime: metav1.NewTime(approvedAt)},
			},
			want: approvedAt.Add(15 * time.Minute),
		},
		{
			name: "counts from creation when the approval has no time",
			conditions: []certificatesv1.CertificateSigningRequestCondition{
				{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue},
			},
			want: created.Add(15 * time.Minute),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &DNSCertificateReconciler{SignerTimeout: 15 * time.Minute}
			csr := &certificatesv1.CertificateSigningRequest{}
			csr.CreationTimestamp = metav1.NewTime(created)
			csr.Status.Conditions = tc.conditions

			if got := r.signerDeadline(csr); !got.Equal(tc.want) {
				t.Errorf("signerDeadline() = %s, want %s", got, tc.want)
			}
		})
	}
}

// unitRequest creates and parses a certificate request, as the reconciler reads it from a CSR.
func unitRequest(t *testing.T, key *pki.PrivateKey, dnsNames []string, ipAddresses []net.IP) *x509.CertificateRequest {
	t.Helper()
	data, err := pki.CreateCSR(key, dnsNames, ipAddresses)
	if err != nil {
		t.Fatalf("creating certificate request: %v", err)
	}
	request, err := pki.ParseCSRPEM(data)
	if err != nil {
		t.Fatalf("parsing certificate request: %v", err)
	}
	return request
}
