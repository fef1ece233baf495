package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// requestOptions describes a PKCS #10 request built by newRequestPEM.
type requestOptions struct {
	commonName   string
	organization []string
	dnsNames     []string
	ips          []net.IP
	uris         []string
	emails       []string
	extensions   []pkix.Extension
	key          crypto.Signer
}

// newRequestPEM builds a signed PEM certificate request with crypto/x509.
// It generates a P-256 key when options.key is nil.
func newRequestPEM(t *testing.T, options requestOptions) []byte {
	t.Helper()
	key := options.key
	if key == nil {
		var err error
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("generating request key: %v", err)
		}
	}
	var uris []*url.URL
	for _, raw := range options.uris {
		parsed, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("parsing URI %q: %v", raw, err)
		}
		uris = append(uris, parsed)
	}
	template := &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: options.commonName, Organization: options.organization},
		DNSNames:        options.dnsNames,
		IPAddresses:     options.ips,
		URIs:            uris,
		EmailAddresses:  options.emails,
		ExtraExtensions: options.extensions,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, template, key)
	if err != nil {
		t.Fatalf("creating certificate request: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// newCSR wraps a PEM request in a CertificateSigningRequest for signer SignerName.
func newCSR(name string, requestPEM []byte, expirationSeconds *int32, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           requestPEM,
			SignerName:        SignerName,
			ExpirationSeconds: expirationSeconds,
			Usages:            usages,
		},
	}
}

// servingUsages are the usages the operator requests for an ECDSA serving certificate.
var servingUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}

// newTestCA creates and loads a CA valid from an hour before now for validity.
func newTestCA(t *testing.T, now time.Time, validity time.Duration) *CA {
	t.Helper()
	certPEM, keyPEM, err := NewCA(now, validity)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	return ca
}

// parseCertificatePEM parses the only PEM block of certPEM and fails the test when there is
// anything else in it.
func parseCertificatePEM(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("no CERTIFICATE PEM block in %q", certPEM)
	}
	if len(rest) > 0 {
		t.Fatalf("expected one PEM block, got %d bytes after it", len(rest))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parsing certificate: %v", err)
	}
	return cert
}

func int32Pointer(value int32) *int32 { return &value }
