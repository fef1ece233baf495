package signer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

func basicConstraintsExtension(t *testing.T, isCA bool) pkix.Extension {
	t.Helper()
	value, err := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{IsCA: isCA})
	if err != nil {
		t.Fatalf("encoding basic constraints: %v", err)
	}
	return pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: value}
}

func TestSignRejects(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	valid := requestOptions{dnsNames: []string{"example.test"}}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("generating RSA key: %v", err)
	}

	goodRequest := newRequestPEM(t, valid)
	block, _ := pem.Decode(goodRequest)
	tampered := bytes.Clone(block.Bytes)
	// The signature is the last field of the request, so this changes its last byte.
	tampered[len(tampered)-1] ^= 0xff
	tamperedPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})

	tests := []struct {
		name         string
		request      []byte
		usages       []certificatesv1.KeyUsage
		expectReason string
	}{
		{
			name:         "rejects a URI SAN",
			request:      newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}, uris: []string{"spiffe://cluster.local/ns/a/sa/b"}}),
			usages:       servingUsages,
			expectReason: ReasonUnsupportedSAN,
		},
		{
			name:         "rejects an email SAN",
			request:      newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}, emails: []string{"admin@example.test"}}),
			usages:       servingUsages,
			expectReason: ReasonUnsupportedSAN,
		},
		{
			name:         "rejects a request without SANs",
			request:      newRequestPEM(t, requestOptions{commonName: "example.test"}),
			usages:       servingUsages,
			expectReason: ReasonMissingSAN,
		},
		{
			name:         "rejects a request for a CA",
			request:      newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}, extensions: []pkix.Extension{basicConstraintsExtension(t, true)}}),
			usages:       servingUsages,
			expectReason: ReasonCARequested,
		},
		{
			name:         "rejects damaged basic constraints",
			request:      newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}, extensions: []pkix.Extension{{Id: oidBasicConstraints, Value: []byte{0x05}}}}),
			usages:       servingUsages,
			expectReason: ReasonInvalidRequest,
		},
		{
			name:         "rejects the cert sign usage",
			request:      goodRequest,
			usages:       append(slices.Clone(servingUsages), certificatesv1.UsageCertSign),
			expectReason: ReasonUnsupportedUsage,
		},
		{
			name:         "rejects the code signing usage",
			request:      goodRequest,
			usages:       []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageCodeSigning},
			expectReason: ReasonUnsupportedUsage,
		},
		{
			name:         "rejects the any usage",
			request:      goodRequest,
			usages:       []certificatesv1.KeyUsage{certificatesv1.UsageAny},
			expectReason: ReasonUnsupportedUsage,
		},
		{
			name:         "rejects usages without auth",
			request:      goodRequest,
			usages:       []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment},
			expectReason: ReasonUnsupportedUsage,
		},
		{
			name:         "rejects a request that is not PEM",
			request:      []byte("not a certificate request"),
			usages:       servingUsages,
			expectReason: ReasonInvalidRequest,
		},
		{
			name:         "rejects a PEM block of another type",
			request:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}),
			usages:       servingUsages,
			expectReason: ReasonInvalidRequest,
		},
		{
			name:         "rejects a request that does not parse",
			request:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("junk")}),
			usages:       servingUsages,
			expectReason: ReasonInvalidRequest,
		},
		{
			name:         "rejects a request with a broken signature",
			request:      tamperedPEM,
			usages:       servingUsages,
			expectReason: ReasonInvalidRequest,
		},
		{
			name:         "rejects a 1024-bit RSA key",
			request:      newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}, key: rsaKey}),
			usages:       servingUsages,
			expectReason: ReasonUnsupportedKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := ca.Sign(newCSR("csr", tt.request, nil, tt.usages...), DefaultPolicy(), testNow)
			if certPEM != nil {
				t.Errorf("Sign returned a certificate for a rejected request")
			}
			var policyErr *PolicyError
			if !errors.As(err, &policyErr) {
				t.Fatalf("Sign error = %v, expected a *PolicyError", err)
			}
			if policyErr.Reason != tt.expectReason {
				t.Errorf("reason = %q (message %q), expected %q", policyErr.Reason, policyErr.Message, tt.expectReason)
			}
			if policyErr.Message == "" {
				t.Errorf("message is empty")
			}
		})
	}
}

func TestSignAcceptsBasicConstraintsWithoutCA(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	request := newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}, extensions: []pkix.Extension{basicConstraintsExtension(t, false)}})

	certPEM, err := ca.Sign(newCSR("csr", request, nil, servingUsages...), DefaultPolicy(), testNow)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if cert := parseCertificatePEM(t, certPEM); cert.IsCA {
		t.Errorf("issued certificate is a CA")
	}
}

func TestSignLifetime(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	shortCA := newTestCA(t, testNow, 30*24*time.Hour)
	request := newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}})

	tests := []struct {
		name              string
		ca                *CA
		policy            Policy
		now               time.Time
		expirationSeconds *int32
		expectNotBefore   time.Time
		expectNotAfter    time.Time
	}{
		{
			name:            "defaults an unset expirationSeconds",
			ca:              ca,
			now:             testNow,
			expectNotBefore: testNow.Add(-5 * time.Minute),
			expectNotAfter:  testNow.Add(2160 * time.Hour),
		},
		{
			name:              "honours ten minutes and backdates five",
			ca:                ca,
			now:               testNow,
			expirationSeconds: int32Pointer(600),
			expectNotBefore:   testNow.Add(-5 * time.Minute),
			expectNotAfter:    testNow.Add(10 * time.Minute),
		},
		{
			name:              "honours a request below the maximum",
			ca:                ca,
			now:               testNow,
			expirationSeconds: int32Pointer(86400),
			expectNotBefore:   testNow.Add(-5 * time.Minute),
			expectNotAfter:    testNow.Add(24 * time.Hour),
		},
		{
			name:              "caps a request at the maximum of a year",
			ca:                ca,
			now:               testNow,
			expirationSeconds: int32Pointer(2 * 365 * 86400),
			expectNotBefore:   testNow.Add(-5 * time.Minute),
			expectNotAfter:    testNow.Add(8760 * time.Hour),
		},
		{
			name:              "raises a lifetime below ten minutes",
			ca:                ca,
			now:               testNow,
			expirationSeconds: int32Pointer(60),
			expectNotBefore:   testNow.Add(-5 * time.Minute),
			expectNotAfter:    testNow.Add(10 * time.Minute),
		},
		{
			name:              "caps a request at a configured maximum",
			ca:                ca,
			policy:            Policy{MaxDuration: 24 * time.Hour},
			now:               testNow,
			expirationSeconds: int32Pointer(48 * 3600),
			expectNotBefore:   testNow.Add(-5 * time.Minute),
			expectNotAfter:    testNow.Add(24 * time.Hour),
		},
		{
			name:            "caps the default duration at a lower maximum",
			ca:              ca,
			policy:          Policy{MaxDuration: 24 * time.Hour},
			now:             testNow,
			expectNotBefore: testNow.Add(-5 * time.Minute),
			expectNotAfter:  testNow.Add(24 * time.Hour),
		},
		{
			name:            "uses a configured default duration",
			ca:              ca,
			policy:          Policy{DefaultDuration: 72 * time.Hour},
			now:             testNow,
			expectNotBefore: testNow.Add(-5 * time.Minute),
			expectNotAfter:  testNow.Add(72 * time.Hour),
		},
		{
			name:            "uses a configured backdate",
			ca:              ca,
			policy:          Policy{Backdate: time.Minute},
			now:             testNow,
			expectNotBefore: testNow.Add(-time.Minute),
			expectNotAfter:  testNow.Add(2160 * time.Hour),
		},
		{
			name:              "backdates no further than the CA's NotBefore",
			ca:                ca,
			now:               testNow.Add(-time.Hour + 2*time.Minute),
			expirationSeconds: int32Pointer(600),
			expectNotBefore:   testNow.Add(-time.Hour),
			expectNotAfter:    testNow.Add(-time.Hour + 12*time.Minute),
		},
		{
			name:            "ends no later than the CA's NotAfter",
			ca:              shortCA,
			now:             testNow,
			expectNotBefore: testNow.Add(-5 * time.Minute),
			expectNotAfter:  testNow.Add(30 * 24 * time.Hour),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := tt.ca.Sign(newCSR("csr", request, tt.expirationSeconds, servingUsages...), tt.policy, tt.now)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			cert := parseCertificatePEM(t, certPEM)
			if !cert.NotBefore.Equal(tt.expectNotBefore) {
				t.Errorf("NotBefore = %s, expected %s", cert.NotBefore, tt.expectNotBefore)
			}
			if !cert.NotAfter.Equal(tt.expectNotAfter) {
				t.Errorf("NotAfter = %s, expected %s", cert.NotAfter, tt.expectNotAfter)
			}
		})
	}
}

func TestSignFailsOutsideTheCAValidity(t *testing.T) {
	ca := newTestCA(t, testNow, 24*time.Hour)
	request := newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}})

	tests := []struct {
		name string
		now  time.Time
	}{
		{name: "fails when the CA has expired", now: testNow.Add(24 * time.Hour)},
		{name: "fails before the CA is valid", now: testNow.Add(-2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.Sign(newCSR("csr", request, nil, servingUsages...), DefaultPolicy(), tt.now)
			if err == nil {
				t.Fatalf("Sign returned no error")
			}
			// The request is fine, so it must not be marked Failed.
			var policyErr *PolicyError
			if errors.As(err, &policyErr) {
				t.Errorf("Sign returned a *PolicyError %v, expected a retryable error", err)
			}
		})
	}
}

func TestSignUsages(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	request := newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}})

	tests := []struct {
		name              string
		usages            []certificatesv1.KeyUsage
		expectKeyUsage    x509.KeyUsage
		expectExtKeyUsage []x509.ExtKeyUsage
	}{
		{
			name:              "issues a serving certificate",
			usages:            servingUsages,
			expectKeyUsage:    x509.KeyUsageDigitalSignature,
			expectExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			name:              "adds key encipherment when requested",
			usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
			expectKeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			expectExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			name:              "issues a server and client certificate",
			usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth},
			expectKeyUsage:    x509.KeyUsageDigitalSignature,
			expectExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		{
			name:              "issues a client certificate",
			usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			expectKeyUsage:    x509.KeyUsageDigitalSignature,
			expectExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := ca.Sign(newCSR("csr", request, nil, tt.usages...), DefaultPolicy(), testNow)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			cert := parseCertificatePEM(t, certPEM)
			if cert.KeyUsage != tt.expectKeyUsage {
				t.Errorf("key usage = %v, expected %v", cert.KeyUsage, tt.expectKeyUsage)
			}
			if !slices.Equal(cert.ExtKeyUsage, tt.expectExtKeyUsage) {
				t.Errorf("extended key usage = %v, expected %v", cert.ExtKeyUsage, tt.expectExtKeyUsage)
			}
		})
	}
}

func TestSignIssuesVerifiableLeaf(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	request := newRequestPEM(t, requestOptions{
		commonName:   "web.example.test",
		organization: []string{"system:masters"},
		dnsNames:     []string{"web.example.test", "*.web.example.test"},
		ips:          []net.IP{net.ParseIP("10.0.0.7"), net.ParseIP("fd00::7")},
		key:          key,
	})

	certPEM, err := ca.Sign(newCSR("csr", request, nil, servingUsages...), DefaultPolicy(), testNow)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	cert := parseCertificatePEM(t, certPEM)

	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, name := range []string{"web.example.test", "api.web.example.test", "10.0.0.7", "fd00::7"} {
		_, err := cert.Verify(x509.VerifyOptions{
			DNSName:     name,
			Roots:       roots,
			CurrentTime: testNow,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("certificate does not verify for %s: %v", name, err)
		}
	}

	if !cert.BasicConstraintsValid || cert.IsCA {
		t.Errorf("basic constraints valid = %v, CA = %v; expected a valid extension that is not a CA", cert.BasicConstraintsValid, cert.IsCA)
	}
	if !bytes.Equal(cert.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
		t.Errorf("authority key ID %x differs from the CA's subject key ID %x", cert.AuthorityKeyId, ca.Certificate().SubjectKeyId)
	}
	if cert.Subject.CommonName != "web.example.test" {
		t.Errorf("common name = %q, expected web.example.test", cert.Subject.CommonName)
	}
	if len(cert.Subject.Organization) != 0 {
		t.Errorf("organization %q was copied from the request", cert.Subject.Organization)
	}
	if !slices.Equal(cert.DNSNames, []string{"web.example.test", "*.web.example.test"}) {
		t.Errorf("DNS names = %q", cert.DNSNames)
	}
	if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) || !cert.IPAddresses[1].Equal(net.ParseIP("fd00::7")) {
		t.Errorf("IP addresses = %v", cert.IPAddresses)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("certificate holds another public key than the request")
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial number %s is not a positive 128-bit number", cert.SerialNumber)
	}
	if !bytes.Equal(cert.RawIssuer, ca.Certificate().RawSubject) {
		t.Errorf("issuer differs from the CA's subject")
	}
}

func TestSignRejectsInvalidPolicy(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	request := newRequestPEM(t, requestOptions{dnsNames: []string{"example.test"}})

	_, err := ca.Sign(newCSR("csr", request, nil, servingUsages...), Policy{Backdate: -time.Minute}, testNow)
	if err == nil {
		t.Fatalf("Sign with a negative backdate returned no error")
	}
	var policyErr *PolicyError
	if errors.As(err, &policyErr) {
		t.Errorf("an invalid signer policy was reported as a rejected request: %v", err)
	}
}
