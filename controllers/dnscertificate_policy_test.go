package controllers

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// policyFixture is a Secret that passes every check, and the input evaluateSecret gets for it.
// A test case changes it into the situation it checks.
type policyFixture struct {
	ca       *unitCA
	issuance *unitIssuance
	in       secretInput
}

func newPolicyFixture(t *testing.T) *policyFixture {
	t.Helper()
	f := &policyFixture{ca: newUnitCA(t, "unit root")}
	f.use(issueFor(t, f.ca, unitDesired()))
	return f
}

// use puts an issuance under test, with its desired certificate, its Secret, and its CA as the roots.
func (f *policyFixture) use(issuance *unitIssuance) {
	f.issuance = issuance
	f.in = secretInput{
		desired: issuance.desired,
		secret:  issuance.secret,
		roots:   []*x509.Certificate{issuance.ca.certificate},
		now:     unitNow,
	}
}

// reissue replaces the Secret's certificate by one issued from a changed leaf template, with the
// same key, CA and encoding. The desired certificate under test stays as it is.
func (f *policyFixture) reissue(t *testing.T, mutate func(*leafTemplate)) {
	t.Helper()
	template := leafFor(t, f.issuance.desired)
	mutate(&template)
	f.issuance = issueWith(t, f.issuance.ca, f.issuance.desired, f.issuance.key, template)
	f.in.secret = f.issuance.secret
}

// setData sets one key of the Secret, so that it differs from its twin under the other name.
func (f *policyFixture) setData(key string, data []byte) {
	f.in.secret.Data[key] = data
}

// setPair sets a key under both of its names.
func (f *policyFixture) setPair(tlsKey, istioKey string, data []byte) {
	f.in.secret.Data[tlsKey] = data
	f.in.secret.Data[istioKey] = data
}

type policyCase struct {
	name  string
	setup func(t *testing.T, f *policyFixture)
	// wantReason is the reason of the first violation, or "" when the Secret passes.
	wantReason string
	// wantMessage is part of the violation's message.
	wantMessage string
}

func TestEvaluateSecret(t *testing.T) {
	cases := []policyCase{
		{
			name:       "accepts a valid Secret",
			setup:      func(*testing.T, *policyFixture) {},
			wantReason: "",
		},
		{
			name: "accepts a valid Secret with an RSA key",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withKey(certsv1alpha1.RSAKeyAlgorithm, 0, ""))))
			},
			wantReason: "",
		},
		{
			name: "accepts a valid Secret with a PKCS1 RSA key",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withKey(certsv1alpha1.RSAKeyAlgorithm, 2048, certsv1alpha1.PKCS1KeyEncoding))))
			},
			wantReason: "",
		},
		{
			name: "accepts a valid Secret with an Ed25519 key",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withKey(certsv1alpha1.Ed25519KeyAlgorithm, 0, ""))))
			},
			wantReason: "",
		},
		{
			name: "accepts a valid Secret with IP addresses",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withIPAddresses("10.0.0.1", "fd00::1"))))
			},
			wantReason: "",
		},

		// The Secret as a whole.
		{
			name:        "reports SecretMissing when the Secret does not exist",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.secret = nil },
			wantReason:  certsv1alpha1.ReasonSecretMissing,
			wantMessage: "Secret does not exist",
		},
		{
			name:        "reports SecretInvalid when the Secret type is Opaque",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.secret.Type = corev1.SecretTypeOpaque },
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: `Secret type is "Opaque", not "kubernetes.io/tls"`,
		},
		{
			name: "reports SecretInvalid for the type before missing keys",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.secret.Type = corev1.SecretTypeOpaque
				delete(f.in.secret.Data, keyTLSCert)
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret type is",
		},
		{
			name: "reports SecretInvalid when tls.crt and cert-chain.pem differ",
			setup: func(t *testing.T, f *policyFixture) {
				other := f.ca.issueLeaf(t, f.issuance.key.Public(), leafFor(t, f.issuance.desired))
				f.setData(keyIstioCert, pki.EncodeCertificatesPEM(other))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret keys tls.crt and cert-chain.pem differ",
		},
		{
			name: "reports SecretInvalid when tls.key and key.pem differ",
			setup: func(t *testing.T, f *policyFixture) {
				f.setData(keyIstioKey, encodeUnitKey(t, newUnitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0), certsv1alpha1.PKCS8KeyEncoding))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret keys tls.key and key.pem differ",
		},
		{
			name: "reports SecretInvalid when tls.key and key.pem differ only in encoding",
			setup: func(t *testing.T, f *policyFixture) {
				f.setData(keyIstioKey, encodeUnitKey(t, f.issuance.key, pki.SEC1KeyEncoding))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret keys tls.key and key.pem differ",
		},
		{
			name: "reports SecretInvalid when ca.crt and root-cert.pem differ",
			setup: func(t *testing.T, f *policyFixture) {
				f.setData(keyIstioRootCAs, newUnitCA(t, "other root").pem())
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret keys ca.crt and root-cert.pem differ",
		},
		{
			name: "reports SecretInvalid when the certificate is unparsable",
			setup: func(_ *testing.T, f *policyFixture) {
				f.setPair(keyTLSCert, keyIstioCert, []byte("not a certificate"))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key tls.crt",
		},
		{
			name: "reports SecretInvalid when the certificate PEM holds corrupt DER",
			setup: func(_ *testing.T, f *policyFixture) {
				f.setPair(keyTLSCert, keyIstioCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("corrupt")}))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key tls.crt",
		},
		{
			name: "reports SecretInvalid when the private key is unparsable",
			setup: func(_ *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("corrupt")}))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key tls.key does not hold a parsable private key",
		},
		{
			name: "reports SecretInvalid when the key entries hold a certificate",
			setup: func(_ *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, f.in.secret.Data[keyTLSCert])
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key tls.key does not hold a parsable private key",
		},
		{
			name: "reports SecretInvalid when the root bundle is unparsable",
			setup: func(_ *testing.T, f *policyFixture) {
				f.setPair(keyCACert, keyIstioRootCAs, []byte("not a bundle"))
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key ca.crt",
		},
		{
			name: "reports SecretInvalid when only tls.key is present",
			setup: func(_ *testing.T, f *policyFixture) {
				for key := range f.in.secret.Data {
					if key != keyTLSKey {
						delete(f.in.secret.Data, key)
					}
				}
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key tls.crt is missing or empty",
		},
		{
			name:        "reports SecretInvalid when the Secret has no data",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.secret.Data = nil },
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key tls.crt is missing or empty",
		},

		// The key.
		{
			name: "reports KeyMismatch when the key belongs to another certificate",
			setup: func(t *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, encodeUnitKey(t, newUnitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0), certsv1alpha1.PKCS8KeyEncoding))
			},
			wantReason:  certsv1alpha1.ReasonKeyMismatch,
			wantMessage: "does not match the certificate",
		},
		{
			name: "reports KeyMismatch when the key is of another algorithm than the certificate",
			setup: func(t *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, encodeUnitKey(t, unitKey(t, certsv1alpha1.Ed25519KeyAlgorithm, 0), certsv1alpha1.PKCS8KeyEncoding))
			},
			wantReason:  certsv1alpha1.ReasonKeyMismatch,
			wantMessage: "does not match the certificate",
		},

		// The signer.
		{
			name: "reports SignerChanged when the signer annotation is missing",
			setup: func(_ *testing.T, f *policyFixture) {
				delete(f.in.secret.Annotations, certsv1alpha1.AnnotationSignerName)
			},
			wantReason:  certsv1alpha1.ReasonSignerChanged,
			wantMessage: `issued by signer "", the spec names "certs.dnscert.io/local"`,
		},
		{
			name:        "reports SignerChanged when the Secret has no annotations",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.secret.Annotations = nil },
			wantReason:  certsv1alpha1.ReasonSignerChanged,
			wantMessage: `the spec names "certs.dnscert.io/local"`,
		},
		{
			name:        "reissues when the spec names another signer",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.desired.signerName = "example.com/other" },
			wantReason:  certsv1alpha1.ReasonSignerChanged,
			wantMessage: `issued by signer "certs.dnscert.io/local", the spec names "example.com/other"`,
		},

		// The subject alternative names.
		{
			name: "reissues when a DNS name is added",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.dnsNames = append(slices.Clone(f.in.desired.dnsNames), "api.example.svc")
			},
			wantReason:  certsv1alpha1.ReasonSANsChanged,
			wantMessage: "differ from the spec",
		},
		{
			name:        "reissues when a DNS name is removed",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.desired.dnsNames = f.in.desired.dnsNames[:1] },
			wantReason:  certsv1alpha1.ReasonSANsChanged,
			wantMessage: "differ from the spec",
		},
		{
			name:        "reissues when a DNS name is replaced",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.desired.dnsNames = []string{"web.example.svc", "web.other"} },
			wantReason:  certsv1alpha1.ReasonSANsChanged,
			wantMessage: "differ from the spec",
		},
		{
			name:       "reissues when an IP address is added",
			setup:      func(_ *testing.T, f *policyFixture) { f.in.desired.ipAddresses = []string{"10.0.0.1"} },
			wantReason: certsv1alpha1.ReasonSANsChanged,
		},
		{
			name: "reissues when an IP address is removed",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) { template.ipAddresses = []net.IP{net.ParseIP("10.0.0.1")} })
			},
			wantReason: certsv1alpha1.ReasonSANsChanged,
		},
		{
			name: "reissues when an IP address changes",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) { template.ipAddresses = []net.IP{net.ParseIP("10.0.0.1")} })
				f.in.desired.ipAddresses = []string{"10.0.0.2"}
			},
			wantReason: certsv1alpha1.ReasonSANsChanged,
		},
		{
			name: "leaves a valid certificate alone when only the order of names changes",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.dnsNames = slices.Clone(f.in.desired.dnsNames)
				slices.Reverse(f.in.desired.dnsNames)
			},
			wantReason: "",
		},
		{
			name: "leaves a valid certificate alone when only the case of names differs",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) { template.dnsNames = []string{"WEB.example.svc", "Web.Example"} })
			},
			wantReason: "",
		},
		{
			name: "leaves a valid certificate alone when only the order of IP addresses changes",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) {
					template.ipAddresses = []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")}
				})
				f.in.desired.ipAddresses = []string{"fd00:0:0::1", "10.0.0.1"}
			},
			wantReason: "",
		},

		// The private key's algorithm, size and encoding.
		{
			name: "reissues when the key algorithm changes",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.key = pki.KeyDescription{Algorithm: certsv1alpha1.Ed25519KeyAlgorithm}
			},
			wantReason:  certsv1alpha1.ReasonPrivateKeyChanged,
			wantMessage: "The private key is ECDSA P-256, the spec asks for Ed25519",
		},
		{
			name: "reissues when the RSA key size changes",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withKey(certsv1alpha1.RSAKeyAlgorithm, 2048, ""))))
				f.in.desired.key.Bits = 3072
			},
			wantReason:  certsv1alpha1.ReasonPrivateKeyChanged,
			wantMessage: "The private key is RSA 2048, the spec asks for RSA 3072",
		},
		{
			name: "reissues when the encoding changes from PKCS1 to PKCS8",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withKey(certsv1alpha1.RSAKeyAlgorithm, 2048, certsv1alpha1.PKCS1KeyEncoding))))
				f.in.desired.encoding = certsv1alpha1.PKCS8KeyEncoding
			},
			wantReason:  certsv1alpha1.ReasonPrivateKeyChanged,
			wantMessage: "The private key is encoded as PKCS1, the spec asks for PKCS8",
		},
		{
			name: "reissues when the encoding changes from PKCS8 to PKCS1",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca, unitDesired(withKey(certsv1alpha1.RSAKeyAlgorithm, 2048, certsv1alpha1.PKCS8KeyEncoding))))
				f.in.desired.encoding = certsv1alpha1.PKCS1KeyEncoding
			},
			wantReason:  certsv1alpha1.ReasonPrivateKeyChanged,
			wantMessage: "The private key is encoded as PKCS8, the spec asks for PKCS1",
		},
		{
			name: "reissues when an ECDSA key is stored in SEC1 encoding",
			setup: func(t *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, encodeUnitKey(t, f.issuance.key, pki.SEC1KeyEncoding))
			},
			wantReason:  certsv1alpha1.ReasonPrivateKeyChanged,
			wantMessage: "The private key is encoded as SEC1, the spec asks for PKCS8",
		},

		// The extended key usages.
		{
			name: "reissues when client auth is requested but absent",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.usages = []certificatesv1.KeyUsage{
					certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth,
				}
			},
			wantReason:  certsv1alpha1.ReasonUsagesChanged,
			wantMessage: `The certificate does not allow "client auth"`,
		},
		{
			name: "reissues when server auth is absent",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) { template.extKeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })
			},
			wantReason:  certsv1alpha1.ReasonUsagesChanged,
			wantMessage: `The certificate does not allow "server auth"`,
		},
		{
			name: "accepts a certificate without extended key usages",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) { template.extKeyUsages = nil })
			},
			wantReason: "",
		},
		{
			name: "accepts a certificate that allows any extended key usage",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) { template.extKeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} })
				f.in.desired.usages = append(slices.Clone(f.in.desired.usages), certificatesv1.UsageClientAuth)
			},
			wantReason: "",
		},
		{
			name: "accepts usages the signer added",
			setup: func(t *testing.T, f *policyFixture) {
				f.reissue(t, func(template *leafTemplate) {
					template.extKeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
				})
			},
			wantReason: "",
		},

		// Expiry.
		{
			name:        "reports Expired at the certificate's notAfter",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.now = f.issuance.leaf.NotAfter },
			wantReason:  certsv1alpha1.ReasonExpired,
			wantMessage: "The certificate expired at",
		},
		{
			name:        "reports Expired after the certificate's notAfter",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.now = f.issuance.leaf.NotAfter.Add(time.Hour) },
			wantReason:  certsv1alpha1.ReasonExpired,
			wantMessage: unitNow.Add(-time.Hour).Add(defaultDuration).Format(time.RFC3339),
		},

		// The chain.
		{
			name: "reports ChainVerificationFailed against the roots of another CA",
			setup: func(t *testing.T, f *policyFixture) {
				f.in.roots = []*x509.Certificate{newUnitCA(t, "other root").certificate}
			},
			wantReason:  certsv1alpha1.ReasonChainVerificationFailed,
			wantMessage: "does not chain to the signer's root bundle",
		},
		{
			name: "skips the chain check when the root bundle is unknown",
			setup: func(t *testing.T, f *policyFixture) {
				// The Secret's certificate comes from a CA that no bundle names.
				f.use(issueFor(t, newUnitCA(t, "unknown root"), f.issuance.desired))
				f.in.roots = nil
			},
			wantReason: "",
		},
		{
			name: "verifies a chain through an intermediate",
			setup: func(t *testing.T, f *policyFixture) {
				intermediate := f.ca.newIntermediate(t, "unit intermediate")
				issuance := issueFor(t, intermediate, f.issuance.desired)
				f.use(issuance)
				f.setPair(keyTLSCert, keyIstioCert, pki.EncodeCertificatesPEM(issuance.leaf, intermediate.certificate))
				f.in.roots = []*x509.Certificate{f.ca.certificate}
			},
			wantReason: "",
		},
		{
			name: "reports ChainVerificationFailed when the intermediate is missing",
			setup: func(t *testing.T, f *policyFixture) {
				f.use(issueFor(t, f.ca.newIntermediate(t, "unit intermediate"), f.issuance.desired))
				f.in.roots = []*x509.Certificate{f.ca.certificate}
			},
			wantReason:  certsv1alpha1.ReasonChainVerificationFailed,
			wantMessage: "does not chain to the signer's root bundle",
		},

		// Renewal.
		{
			name:        "reports RenewalDue at the renewal time",
			setup:       func(_ *testing.T, f *policyFixture) { f.in.now = renewalTime(f.issuance.leaf, 0) },
			wantReason:  certsv1alpha1.ReasonRenewalDue,
			wantMessage: "has passed",
		},
		{
			name: "leaves a certificate alone a second before the renewal time",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.now = renewalTime(f.issuance.leaf, 0).Add(-time.Second)
			},
			wantReason: "",
		},
		{
			name: "reports RenewalDue renewBefore ahead of expiry",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.renewBefore = 24 * time.Hour
				f.in.now = f.issuance.leaf.NotAfter.Add(-24 * time.Hour)
			},
			wantReason:  certsv1alpha1.ReasonRenewalDue,
			wantMessage: unitNow.Add(-time.Hour).Add(defaultDuration - 24*time.Hour).Format(time.RFC3339),
		},
		{
			name: "leaves a certificate alone until renewBefore ahead of expiry",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.renewBefore = 24 * time.Hour
				f.in.now = f.issuance.leaf.NotAfter.Add(-24*time.Hour - time.Second)
			},
			wantReason: "",
		},

		// The order of the checks.
		{
			name: "reports SecretInvalid before a key mismatch",
			setup: func(t *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, encodeUnitKey(t, newUnitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0), certsv1alpha1.PKCS8KeyEncoding))
				delete(f.in.secret.Data, keyCACert)
			},
			wantReason:  certsv1alpha1.ReasonSecretInvalid,
			wantMessage: "Secret key ca.crt is missing or empty",
		},
		{
			name: "reports KeyMismatch before SignerChanged",
			setup: func(t *testing.T, f *policyFixture) {
				f.setPair(keyTLSKey, keyIstioKey, encodeUnitKey(t, newUnitKey(t, certsv1alpha1.ECDSAKeyAlgorithm, 0), certsv1alpha1.PKCS8KeyEncoding))
				f.in.desired.signerName = "example.com/other"
			},
			wantReason: certsv1alpha1.ReasonKeyMismatch,
		},
		{
			name: "reports SignerChanged before SANsChanged",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.signerName = "example.com/other"
				f.in.desired.dnsNames = []string{"api.example.svc"}
			},
			wantReason: certsv1alpha1.ReasonSignerChanged,
		},
		{
			name: "reports SANsChanged before PrivateKeyChanged",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.dnsNames = []string{"api.example.svc"}
				f.in.desired.key = pki.KeyDescription{Algorithm: certsv1alpha1.Ed25519KeyAlgorithm}
			},
			wantReason: certsv1alpha1.ReasonSANsChanged,
		},
		{
			name: "reports SANsChanged before Expired",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.dnsNames = []string{"api.example.svc"}
				f.in.now = f.issuance.leaf.NotAfter.Add(time.Hour)
			},
			wantReason: certsv1alpha1.ReasonSANsChanged,
		},
		{
			name: "reports PrivateKeyChanged before UsagesChanged",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.key = pki.KeyDescription{Algorithm: certsv1alpha1.Ed25519KeyAlgorithm}
				f.in.desired.usages = append(slices.Clone(f.in.desired.usages), certificatesv1.UsageClientAuth)
			},
			wantReason: certsv1alpha1.ReasonPrivateKeyChanged,
		},
		{
			name: "reports UsagesChanged before Expired",
			setup: func(_ *testing.T, f *policyFixture) {
				f.in.desired.usages = append(slices.Clone(f.in.desired.usages), certificatesv1.UsageClientAuth)
				f.in.now = f.issuance.leaf.NotAfter
			},
			wantReason: certsv1alpha1.ReasonUsagesChanged,
		},
		{
			name: "reports Expired before ChainVerificationFailed",
			setup: func(t *testing.T, f *policyFixture) {
				f.in.roots = []*x509.Certificate{newUnitCA(t, "other root").certificate}
				f.in.now = f.issuance.leaf.NotAfter
			},
			wantReason: certsv1alpha1.ReasonExpired,
		},
		{
			name: "reports ChainVerificationFailed before RenewalDue",
			setup: func(t *testing.T, f *policyFixture) {
				f.in.roots = []*x509.Certificate{newUnitCA(t, "other root").certificate}
				f.in.now = renewalTime(f.issuance.leaf, 0)
			},
			wantReason: certsv1alpha1.ReasonChainVerificationFailed,
		},
	}
	cases = append(cases, missingKeyCases()...)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newPolicyFixture(t)
			tc.setup(t, f)

			issued, v := evaluateSecret(f.in)

			if tc.wantReason == "" {
				if v != nil {
					t.Fatalf("evaluateSecret() reported %s (%s), want no violation", v.reason, v.message)
				}
			} else {
				if v == nil {
					t.Fatalf("evaluateSecret() reported no violation, want %s", tc.wantReason)
				}
				if v.reason != tc.wantReason {
					t.Errorf("evaluateSecret() reason = %s (%s), want %s", v.reason, v.message, tc.wantReason)
				}
				if !strings.Contains(v.message, tc.wantMessage) {
					t.Errorf("evaluateSecret() message = %q, want it to contain %q", v.message, tc.wantMessage)
				}
				if strings.Contains(v.message, "-----BEGIN") {
					t.Errorf("evaluateSecret() message = %q quotes PEM data", v.message)
				}
			}

			// Only a Secret that parses yields a certificate, and then always the one in tls.crt.
			wantParsed := tc.wantReason != certsv1alpha1.ReasonSecretMissing && tc.wantReason != certsv1alpha1.ReasonSecretInvalid
			switch {
			case wantParsed && issued == nil:
				t.Errorf("evaluateSecret() returned no certificate, want the parsed one")
			case wantParsed && !issued.leaf().Equal(f.issuance.leaf):
				t.Errorf("evaluateSecret() returned certificate %x, want %x", issued.leaf().SerialNumber, f.issuance.leaf.SerialNumber)
			case !wantParsed && issued != nil:
				t.Errorf("evaluateSecret() returned a certificate for a Secret that does not parse")
			}
		})
	}
}

// missingKeyCases returns a SecretInvalid case for each of the six keys missing and empty.
func missingKeyCases() []policyCase {
	var cases []policyCase
	for _, key := range []string{keyTLSCert, keyTLSKey, keyCACert, keyIstioCert, keyIstioKey, keyIstioRootCAs} {
		cases = append(cases,
			policyCase{
				name:        fmt.Sprintf("reports SecretInvalid when %s is missing", key),
				setup:       func(_ *testing.T, f *policyFixture) { delete(f.in.secret.Data, key) },
				wantReason:  certsv1alpha1.ReasonSecretInvalid,
				wantMessage: fmt.Sprintf("Secret key %s is missing or empty", key),
			},
			policyCase{
				name:        fmt.Sprintf("reports SecretInvalid when %s is empty", key),
				setup:       func(_ *testing.T, f *policyFixture) { f.in.secret.Data[key] = []byte{} },
				wantReason:  certsv1alpha1.ReasonSecretInvalid,
				wantMessage: fmt.Sprintf("Secret key %s is missing or empty", key),
			},
		)
	}
	return cases
}

func TestIsRenewalOnly(t *testing.T) {
	cases := []struct {
		name      string
		violation *violation
		want      bool
	}{
		{name: "is false without a violation", violation: nil, want: false},
		{name: "is true for RenewalDue", violation: &violation{reason: certsv1alpha1.ReasonRenewalDue}, want: true},
		{name: "is false for Expired", violation: &violation{reason: certsv1alpha1.ReasonExpired}, want: false},
		{name: "is false for SANsChanged", violation: &violation{reason: certsv1alpha1.ReasonSANsChanged}, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isRenewalOnly(tc.violation); got != tc.want {
				t.Errorf("isRenewalOnly() = %v, want %v", got, tc.want)
			}
		})
	}
}
