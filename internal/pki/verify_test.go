package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
	"time"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

func TestVerifyChain(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	intermediate := root.newIntermediate(t, "Test Intermediate")
	otherRoot := newTestRoot(t, "Other Root")
	pub := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0).Public()
	names := leafOptions{commonName: "example.com", dnsNames: []string{"example.com"}}

	leafFromRoot := root.issueLeaf(t, pub, names)
	leafFromIntermediate := intermediate.issueLeaf(t, pub, names)
	leafFromOtherRoot := otherRoot.issueLeaf(t, pub, names)
	clientLeaf := root.issueLeaf(t, pub, leafOptions{dnsNames: []string{"example.com"}, extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	expiredLeaf := root.issueLeaf(t, pub, leafOptions{
		dnsNames:  []string{"example.com"},
		notBefore: testNow.Add(-48 * time.Hour),
		notAfter:  testNow.Add(-time.Minute),
	})
	futureLeaf := root.issueLeaf(t, pub, leafOptions{
		dnsNames:  []string{"example.com"},
		notBefore: testNow.Add(time.Minute),
		notAfter:  testNow.Add(48 * time.Hour),
	})

	tests := []struct {
		name          string
		leaf          *x509.Certificate
		intermediates []*x509.Certificate
		roots         []*x509.Certificate
		now           time.Time
		wantErr       string
		wantErrType   error
	}{
		{name: "verifies a leaf signed by the root", leaf: leafFromRoot, roots: []*x509.Certificate{root.cert}, now: testNow},
		{
			name:          "verifies a leaf through an intermediate",
			leaf:          leafFromIntermediate,
			intermediates: []*x509.Certificate{intermediate.cert},
			roots:         []*x509.Certificate{root.cert},
			now:           testNow,
		},
		{
			name:  "verifies against one of several roots",
			leaf:  leafFromRoot,
			roots: []*x509.Certificate{otherRoot.cert, nil, root.cert},
			now:   testNow,
		},
		{name: "accepts any extended key usage", leaf: clientLeaf, roots: []*x509.Certificate{root.cert}, now: testNow},
		{
			name:        "rejects a leaf signed by another CA",
			leaf:        leafFromOtherRoot,
			roots:       []*x509.Certificate{root.cert},
			now:         testNow,
			wantErr:     `verifying certificate chain of certificate "CN=example.com" (serial `,
			wantErrType: x509.UnknownAuthorityError{},
		},
		{
			name:        "rejects a leaf whose intermediate is missing",
			leaf:        leafFromIntermediate,
			roots:       []*x509.Certificate{root.cert},
			now:         testNow,
			wantErr:     "against 1 root certificate(s)",
			wantErrType: x509.UnknownAuthorityError{},
		},
		{
			name:        "rejects an expired leaf at now",
			leaf:        expiredLeaf,
			roots:       []*x509.Certificate{root.cert},
			now:         testNow,
			wantErr:     "certificate has expired or is not yet valid",
			wantErrType: x509.CertificateInvalidError{},
		},
		{
			name:        "rejects a not yet valid leaf",
			leaf:        futureLeaf,
			roots:       []*x509.Certificate{root.cert},
			now:         testNow,
			wantErr:     "certificate has expired or is not yet valid",
			wantErrType: x509.CertificateInvalidError{},
		},
		{
			name:        "rejects a leaf under an expired root",
			leaf:        leafFromRoot,
			roots:       []*x509.Certificate{root.cert},
			now:         root.cert.NotAfter.Add(time.Second),
			wantErr:     "certificate has expired or is not yet valid",
			wantErrType: x509.CertificateInvalidError{},
		},
		{name: "rejects an empty root list", leaf: leafFromRoot, roots: nil, now: testNow, wantErr: "no root certificates to verify against"},
		{name: "rejects a root list of nils", leaf: leafFromRoot, roots: []*x509.Certificate{nil}, now: testNow, wantErr: "no root certificates to verify against"},
		{name: "rejects a nil leaf", leaf: nil, roots: []*x509.Certificate{root.cert}, now: testNow, wantErr: "no leaf certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyChain(tt.leaf, tt.intermediates, tt.roots, tt.now)
			checkError(t, err, tt.wantErr)
			switch want := tt.wantErrType.(type) {
			case x509.UnknownAuthorityError:
				if !errors.As(err, &want) {
					t.Errorf("error does not wrap x509.UnknownAuthorityError: %v", err)
				}
			case x509.CertificateInvalidError:
				if !errors.As(err, &want) {
					t.Errorf("error does not wrap x509.CertificateInvalidError: %v", err)
				} else if want.Reason != x509.Expired {
					t.Errorf("invalid certificate reason is %v, expected x509.Expired", want.Reason)
				}
			}
		})
	}
}

func TestSelfSignedTop(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	intermediate := root.newIntermediate(t, "Test Intermediate")
	pub := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0).Public()
	leaf := intermediate.issueLeaf(t, pub, leafOptions{dnsNames: []string{"example.com"}})

	// A self-signed leaf that is not a CA.
	selfSignedKey := newTestECDSAKey(t)
	selfSignedTemplate := &x509.Certificate{
		SerialNumber: newSerialNumber(t),
		Subject:      pkix.Name{CommonName: "self.example.com"},
		DNSNames:     []string{"self.example.com"},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(time.Hour),
	}
	selfSignedLeaf := signTestCertificate(t, selfSignedTemplate, selfSignedTemplate, selfSignedKey.Public(), selfSignedKey)

	// A certificate named like its issuer but signed by that issuer's key, not its own.
	impostorIssuer := newTestRoot(t, "Impostor")
	impostor := signTestCertificate(t, caTemplate(t, "Impostor"), impostorIssuer.cert, newTestECDSAKey(t).Public(), impostorIssuer.key)
	if !bytes.Equal(impostor.RawSubject, impostor.RawIssuer) {
		t.Fatalf("test setup: impostor subject %q differs from its issuer %q", impostor.Subject, impostor.Issuer)
	}

	tests := []struct {
		name  string
		chain []*x509.Certificate
		want  *x509.Certificate
	}{
		{name: "returns the root ending a chain", chain: []*x509.Certificate{leaf, intermediate.cert, root.cert}, want: root.cert},
		{name: "returns a root alone", chain: []*x509.Certificate{root.cert}, want: root.cert},
		{name: "returns a self-signed non-CA leaf", chain: []*x509.Certificate{selfSignedLeaf}, want: selfSignedLeaf},
		{name: "returns nil at an intermediate", chain: []*x509.Certificate{leaf, intermediate.cert}},
		{name: "returns nil for a leaf alone", chain: []*x509.Certificate{leaf}},
		{name: "returns nil for a forged self-signature", chain: []*x509.Certificate{impostor}},
		{name: "returns nil for an empty chain", chain: nil},
		{name: "returns nil for a nil last entry", chain: []*x509.Certificate{root.cert, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SelfSignedTop(tt.chain)
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("SelfSignedTop() = %q, expected nil", got.Subject)
			case tt.want != nil && (got == nil || !got.Equal(tt.want)):
				t.Errorf("SelfSignedTop() = %v, expected %q", got, tt.want.Subject)
			}
		})
	}
}
