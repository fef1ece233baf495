package controllers

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// Helpers of the plain unit tests in this package. They build certificates in memory and need
// no API server, unlike the envtest suite in suite_test.go.

// unitNow is the fixed "now" of the unit tests.
var unitNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// unitSignerName is the signer the unit tests request by default.
const unitSignerName = "certs.dnscert.io/local"

// unitDNSNames are the DNS names of the default test spec.
var unitDNSNames = []string{"web.example.svc", "web.example"}

// unitCA is a certificate authority that signs test certificates.
type unitCA struct {
	certificate *x509.Certificate
	signer      crypto.Signer
}

// newUnitCA creates a self-signed ECDSA root, valid from a year before unitNow to ten years after.
func newUnitCA(t testing.TB, commonName string) *unitCA {
	t.Helper()
	signer := unitECDSAKey(t)
	template := unitCATemplate(t, commonName)
	return &unitCA{certificate: signUnitCertificate(t, template, template, signer.Public(), signer), signer: signer}
}

// newIntermediate creates an intermediate CA signed by ca.
func (ca *unitCA) newIntermediate(t testing.TB, commonName string) *unitCA {
	t.Helper()
	signer := unitECDSAKey(t)
	template := unitCATemplate(t, commonName)
	return &unitCA{certificate: signUnitCertificate(t, template, ca.certificate, signer.Public(), ca.signer), signer: signer}
}

// pem returns the CA certificate PEM-encoded.
func (ca *unitCA) pem() []byte {
	return pki.EncodeCertificatesPEM(ca.certificate)
}

// leafTemplate is what a test leaf certificate contains besides its public key.
type leafTemplate struct {
	dnsNames     []string
	ipAddresses  []net.IP
	notBefore    time.Time
	notAfter     time.Time
	extKeyUsages []x509.ExtKeyUsage
}

// issueLeaf signs a serving certificate for public with ca. Every call gets a new random
// serial number, so two leaves with the same template still differ in their bytes.
func (ca *unitCA) issueLeaf(t testing.TB, public crypto.PublicKey, template leafTemplate) *x509.Certificate {
	t.Helper()
	keyUsage := x509.KeyUsageDigitalSignature
	if description, err := pki.DescribePublicKey(public); err == nil && description.Algorithm == certsv1alpha1.RSAKeyAlgorithm {
		keyUsage |= x509.KeyUsageKeyEncipherment
	}
	commonName := ""
	if len(template.dnsNames) > 0 {
		commonName = template.dnsNames[0]
	}
	certificate := &x509.Certificate{
		SerialNumber:          unitSerialNumber(t),
		Subject:               pkix.Name{CommonName: commonName},
		DNSNames:              template.dnsNames,
		IPAddresses:           template.ipAddresses,
		NotBefore:             template.notBefore,
		NotAfter:              template.notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           template.extKeyUsages,
		BasicConstraintsValid: true,
	}
	return signUnitCertificate(t, certificate, ca.certificate, public, ca.signer)
}

func unitCATemplate(t testing.TB, commonName string) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{
		SerialNumber:          unitSerialNumber(t),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             unitNow.AddDate(-1, 0, 0),
		NotAfter:              unitNow.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func signUnitCertificate(t testing.TB, template, parent *x509.Certificate, public crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, template, parent, public, parentKey)
	if err != nil {
		t.Fatalf("signing test certificate %q: %v", template.Subject.CommonName, err)
	}
	certificate, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing test certificate %q: %v", template.Subject.CommonName, err)
	}
	return certificate
}

func unitSerialNumber(t testing.TB) *big.Int {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("generating serial number: %v", err)
	}
	return serial
}

func unitECDSAKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating ECDSA key: %v", err)
	}
	return key
}

// unitKeys caches one key per algorithm and size, because RSA key generation is slow. A test
// that needs two different keys of one kind calls newUnitKey for the second.
var unitKeys sync.Map

// unitKey returns the cached test key of an algorithm and size (bits is ignored except for RSA).
func unitKey(t testing.TB, algorithm certsv1alpha1.PrivateKeyAlgorithm, bits int) *pki.PrivateKey {
	t.Helper()
	cacheKey := fmt.Sprintf("%s/%d", algorithm, bits)
	if key, ok := unitKeys.Load(cacheKey); ok {
		return key.(*pki.PrivateKey)
	}
	key := newUnitKey(t, algorithm, bits)
	actual, _ := unitKeys.LoadOrStore(cacheKey, key)
	return actual.(*pki.PrivateKey)
}

// newUnitKey generates a new, uncached private key.
func newUnitKey(t testing.TB, algorithm certsv1alpha1.PrivateKeyAlgorithm, bits int) *pki.PrivateKey {
	t.Helper()
	key, err := pki.GenerateKey(algorithm, bits)
	if err != nil {
		t.Fatalf("generating %s key: %v", algorithm, err)
	}
	return key
}

func encodeUnitKey(t testing.TB, key *pki.PrivateKey, encoding certsv1alpha1.PrivateKeyEncoding) []byte {
	t.Helper()
	data, err := key.EncodePEM(encoding)
	if err != nil {
		t.Fatalf("encoding test key as %s: %v", encoding, err)
	}
	return data
}

// unitSpec returns the spec of the default test DNSCertificate, changed by each mutate function in order.
func unitSpec(mutate ...func(*certsv1alpha1.DNSCertificateSpec)) certsv1alpha1.DNSCertificateSpec {
	spec := certsv1alpha1.DNSCertificateSpec{SecretName: "web-tls", DNSNames: append([]string(nil), unitDNSNames...)}
	for _, m := range mutate {
		m(&spec)
	}
	return spec
}

// unitDesired returns the desired certificate of unitSpec with the defaults filled in.
func unitDesired(mutate ...func(*certsv1alpha1.DNSCertificateSpec)) desiredCertificate {
	return desiredFromSpec(unitSpec(mutate...), unitSignerName)
}

// withKey sets spec.privateKey.
func withKey(algorithm certsv1alpha1.PrivateKeyAlgorithm, size int32, encoding certsv1alpha1.PrivateKeyEncoding) func(*certsv1alpha1.DNSCertificateSpec) {
	return func(spec *certsv1alpha1.DNSCertificateSpec) {
		spec.PrivateKey = certsv1alpha1.PrivateKey{Algorithm: algorithm, Size: size, Encoding: encoding}
	}
}

// withIPAddresses sets spec.ipAddresses.
func withIPAddresses(ips ...string) func(*certsv1alpha1.DNSCertificateSpec) {
	return func(spec *certsv1alpha1.DNSCertificateSpec) { spec.IPAddresses = ips }
}

// extKeyUsagesOf maps the CSR usages to the extended key usages a signer puts into the certificate.
func extKeyUsagesOf(usages []certificatesv1.KeyUsage) []x509.ExtKeyUsage {
	var result []x509.ExtKeyUsage
	for _, usage := range usages {
		switch usage {
		case certificatesv1.UsageServerAuth:
			result = append(result, x509.ExtKeyUsageServerAuth)
		case certificatesv1.UsageClientAuth:
			result = append(result, x509.ExtKeyUsageClientAuth)
		}
	}
	return result
}

// unitIssuance is a certificate issued for a desiredCertificate and the Secret that holds it.
type unitIssuance struct {
	ca      *unitCA
	desired desiredCertificate
	key     *pki.PrivateKey
	leaf    *x509.Certificate
	secret  *corev1.Secret
}

// leafFor returns the template of a leaf that matches desired exactly, issued an hour before
// unitNow for the desired duration.
func leafFor(t testing.TB, desired desiredCertificate) leafTemplate {
	t.Helper()
	ips, err := pki.ParseIPAddresses(desired.ipAddresses)
	if err != nil {
		t.Fatalf("parsing desired IP addresses: %v", err)
	}
	notBefore := unitNow.Add(-time.Hour)
	return leafTemplate{
		dnsNames:     append([]string(nil), desired.dnsNames...),
		ipAddresses:  ips,
		notBefore:    notBefore,
		notAfter:     notBefore.Add(desired.duration),
		extKeyUsages: extKeyUsagesOf(desired.usages),
	}
}

// issueFor issues a certificate that satisfies desired, with a key of the desired algorithm and
// size, and builds a complete valid Secret for it.
func issueFor(t testing.TB, ca *unitCA, desired desiredCertificate) *unitIssuance {
	t.Helper()
	return issueWith(t, ca, desired, unitKey(t, desired.key.Algorithm, desired.key.Bits), leafFor(t, desired))
}

// issueWith issues a certificate from a given key and leaf template, and builds the Secret that
// holds it with the key encoded as desired and the signer annotation of desired.
func issueWith(t testing.TB, ca *unitCA, desired desiredCertificate, key *pki.PrivateKey, template leafTemplate) *unitIssuance {
	t.Helper()
	leaf := ca.issueLeaf(t, key.Public(), template)
	secret := unitTLSSecret(pki.EncodeCertificatesPEM(leaf), encodeUnitKey(t, key, desired.encoding), ca.pem(), desired.signerName)
	return &unitIssuance{ca: ca, desired: desired, key: key, leaf: leaf, secret: secret}
}

// unitTLSSecret builds a Secret with all six keys, as the reconciler writes it.
func unitTLSSecret(chainPEM, keyPEM, rootsPEM []byte, signerName string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   "default",
			Name:        "web-tls",
			Labels:      map[string]string{certsv1alpha1.LabelDNSCertificate: "web"},
			Annotations: map[string]string{certsv1alpha1.AnnotationSignerName: signerName},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			keyTLSCert:      chainPEM,
			keyIstioCert:    chainPEM,
			keyTLSKey:       keyPEM,
			keyIstioKey:     keyPEM,
			keyCACert:       rootsPEM,
			keyIstioRootCAs: rootsPEM,
		},
	}
}

// parsedIssuance returns the issuedCertificate the reconciler reads from the Secret of an issuance.
func parsedIssuance(t testing.TB, issuance *unitIssuance) *issuedCertificate {
	t.Helper()
	issued, v := parseSecretData(issuance.secret.Data)
	if v != nil {
		t.Fatalf("parsing the test Secret: %s: %s", v.reason, v.message)
	}
	return issued
}
