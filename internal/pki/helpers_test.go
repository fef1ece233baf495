package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// testNow is the time at which test certificates are valid.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// testCA is a CA certificate with its signing key.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// leafOptions are the fields of a test leaf certificate. Zero times mean a validity
// of one day before to one day after testNow.
type leafOptions struct {
	commonName  string
	dnsNames    []string
	ipAddresses []net.IP
	uris        []*url.URL
	emails      []string
	notBefore   time.Time
	notAfter    time.Time
	extKeyUsage []x509.ExtKeyUsage
}

func newTestECDSAKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating ECDSA key: %v", err)
	}
	return key
}

func newSerialNumber(t testing.TB) *big.Int {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("generating serial number: %v", err)
	}
	return serial
}

// signTestCertificate creates template with the public key pub, signed by parent and parentKey,
// and parses the result.
func signTestCertificate(t testing.TB, template, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, parentKey)
	if err != nil {
		t.Fatalf("creating certificate %q: %v", template.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing certificate %q: %v", template.Subject.CommonName, err)
	}
	return cert
}

func caTemplate(t testing.TB, commonName string) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{
		SerialNumber:          newSerialNumber(t),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             testNow.Add(-365 * 24 * time.Hour),
		NotAfter:              testNow.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// newTestRoot creates a self-signed root CA.
func newTestRoot(t testing.TB, commonName string) *testCA {
	t.Helper()
	key := newTestECDSAKey(t)
	template := caTemplate(t, commonName)
	return &testCA{cert: signTestCertificate(t, template, template, key.Public(), key), key: key}
}

// newIntermediate creates an intermediate CA signed by ca.
func (ca *testCA) newIntermediate(t testing.TB, commonName string) *testCA {
	t.Helper()
	key := newTestECDSAKey(t)
	cert := signTestCertificate(t, caTemplate(t, commonName), ca.cert, key.Public(), ca.key)
	return &testCA{cert: cert, key: key}
}

// issueLeaf issues a serving certificate for pub signed by ca.
func (ca *testCA) issueLeaf(t testing.TB, pub crypto.PublicKey, opts leafOptions) *x509.Certificate {
	t.Helper()
	notBefore, notAfter := opts.notBefore, opts.notAfter
	if notBefore.IsZero() {
		notBefore = testNow.Add(-24 * time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = testNow.Add(24 * time.Hour)
	}
	extKeyUsage := opts.extKeyUsage
	if extKeyUsage == nil {
		extKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	template := &x509.Certificate{
		SerialNumber:   newSerialNumber(t),
		Subject:        pkix.Name{CommonName: opts.commonName},
		DNSNames:       opts.dnsNames,
		IPAddresses:    opts.ipAddresses,
		URIs:           opts.uris,
		EmailAddresses: opts.emails,
		NotBefore:      notBefore,
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    extKeyUsage,
	}
	return signTestCertificate(t, template, ca.cert, pub, ca.key)
}

// testKeys caches one generated key per algorithm and size, because RSA generation is slow.
var testKeys sync.Map

// cachedTestKey returns a key for algorithm and rsaBits that is shared by all tests.
func cachedTestKey(t testing.TB, algorithm v1alpha1.PrivateKeyAlgorithm, rsaBits int) *PrivateKey {
	t.Helper()
	type cacheKey struct {
		algorithm v1alpha1.PrivateKeyAlgorithm
		bits      int
	}
	id := cacheKey{algorithm, rsaBits}
	if key, ok := testKeys.Load(id); ok {
		return key.(*PrivateKey)
	}
	key, err := GenerateKey(algorithm, rsaBits)
	if err != nil {
		t.Fatalf("generating %s key: %v", algorithm, err)
	}
	actual, _ := testKeys.LoadOrStore(id, key)
	return actual.(*PrivateKey)
}

func mustEncodePEM(t testing.TB, key *PrivateKey, encoding v1alpha1.PrivateKeyEncoding) []byte {
	t.Helper()
	data, err := key.EncodePEM(encoding)
	if err != nil {
		t.Fatalf("encoding key as %q: %v", encoding, err)
	}
	return data
}

func mustCreateCSR(t testing.TB, key *PrivateKey, dnsNames []string, ipAddresses []net.IP) []byte {
	t.Helper()
	data, err := CreateCSR(key, dnsNames, ipAddresses)
	if err != nil {
		t.Fatalf("creating CSR: %v", err)
	}
	return data
}

// checkError fails the test unless err is nil for an empty wantErr, or contains wantErr in
// its message otherwise.
func checkError(t testing.TB, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("expected an error containing %q, got none", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("expected an error containing %q, got %q", wantErr, err.Error())
	}
}
