package controllers

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

// Keys of the Secret: the names ingress controllers read and the names Istio-era consumers read.
const (
	keyTLSCert      = corev1.TLSCertKey       // tls.crt: leaf and intermediates
	keyTLSKey       = corev1.TLSPrivateKeyKey // tls.key
	keyCACert       = "ca.crt"                // root bundle
	keyIstioCert    = "cert-chain.pem"
	keyIstioKey     = "key.pem"
	keyIstioRootCAs = "root-cert.pem"
)

// violation is the first reason a Secret does not hold a certificate for the current spec.
type violation struct {
	reason  string
	message string
}

// issuedCertificate is the parsed content of a Secret that passed the checks.
type issuedCertificate struct {
	chain    []*x509.Certificate
	chainPEM []byte
	key      *pki.PrivateKey
	keyPEM   []byte
	// keyEncoding is the PEM encoding of keyPEM.
	keyEncoding certsv1alpha1.PrivateKeyEncoding
	rootsPEM    []byte
}

func (c *issuedCertificate) leaf() *x509.Certificate { return c.chain[0] }

// secretInput is what the checks look at.
type secretInput struct {
	desired desiredCertificate
	secret  *corev1.Secret
	// roots is the signer's current root bundle; empty when it is unknown.
	roots []*x509.Certificate
	now   time.Time
}

// evaluateSecret runs the ordered checks on a Secret. It returns the parsed certificate when
// the Secret holds a usable certificate (even one that violates a later check), and the first
// violation, or nil when none fails.
func evaluateSecret(in secretInput) (*issuedCertificate, *violation) {
	if in.secret == nil {
		return nil, &violation{certsv1alpha1.ReasonSecretMissing, "Secret does not exist"}
	}

	if in.secret.Type != corev1.SecretTypeTLS {
		return nil, &violation{certsv1alpha1.ReasonSecretInvalid,
			fmt.Sprintf("Secret type is %q, not %q", in.secret.Type, corev1.SecretTypeTLS)}
	}
	issued, v := parseSecretData(in.secret.Data)
	if v != nil {
		return nil, v
	}

	checks := []func(secretInput, *issuedCertificate) *violation{
		checkKeyMatches,
		checkSigner,
		checkSANs,
		checkPrivateKey,
		checkUsages,
		checkExpiry,
		checkChain,
		checkRenewal,
	}
	for _, check := range checks {
		if v := check(in, issued); v != nil {
			return issued, v
		}
	}
	return issued, nil
}

// parseSecretData checks the Secret as a whole: every key present and parsable, and both
// naming schemes holding the same bytes.
func parseSecretData(data map[string][]byte) (*issuedCertificate, *violation) {
	for _, key := range []string{keyTLSCert, keyTLSKey, keyCACert, keyIstioCert, keyIstioKey, keyIstioRootCAs} {
		if len(data[key]) == 0 {
			return nil, &violation{certsv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret key %s is missing or empty", key)}
		}
	}
	pairs := [][2]string{{keyTLSCert, keyIstioCert}, {keyTLSKey, keyIstioKey}, {keyCACert, keyIstioRootCAs}}
	for _, pair := range pairs {
		if !bytes.Equal(data[pair[0]], data[pair[1]]) {
			return nil, &violation{certsv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret keys %s and %s differ", pair[0], pair[1])}
		}
	}

	chain, err := pki.ParseCertificatesPEM(data[keyTLSCert])
	if err != nil {
		return nil, &violation{certsv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret key %s: %v", keyTLSCert, err)}
	}
	key, encoding, err := pki.ParsePrivateKeyPEM(data[keyTLSKey])
	if err != nil {
		// The parse error may quote nothing of the key, but keep the message generic anyway.
		return nil, &violation{certsv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret key %s does not hold a parsable private key", keyTLSKey)}
	}
	if _, err := pki.ParseCertificatesPEM(data[keyCACert]); err != nil {
		return nil, &violation{certsv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret key %s: %v", keyCACert, err)}
	}
	return &issuedCertificate{chain: chain, chainPEM: data[keyTLSCert], key: key, keyPEM: data[keyTLSKey],
		keyEncoding: encoding, rootsPEM: data[keyCACert]}, nil
}

func checkKeyMatches(_ secretInput, issued *issuedCertificate) *violation {
	if !pki.PublicKeysEqual(issued.key.Public(), issued.leaf().PublicKey) {
		return &violation{certsv1alpha1.ReasonKeyMismatch, "The private key does not match the certificate"}
	}
	return nil
}

func checkSigner(in secretInput, _ *issuedCertificate) *violation {
	issuedBy := in.secret.Annotations[certsv1alpha1.AnnotationSignerName]
	if issuedBy != in.desired.signerName {
		return &violation{certsv1alpha1.ReasonSignerChanged,
			fmt.Sprintf("The certificate was issued by signer %q, the spec names %q", issuedBy, in.desired.signerName)}
	}
	return nil
}

func checkSANs(in secretInput, issued *issuedCertificate) *violation {
	if !pki.SANsEqual(issued.leaf(), in.desired.dnsNames, in.desired.ipAddresses) {
		return &violation{certsv1alpha1.ReasonSANsChanged, "The certificate's DNS names or IP addresses differ from the spec"}
	}
	return nil
}

func checkPrivateKey(in secretInput, issued *issuedCertificate) *violation {
	got, err := pki.DescribePublicKey(issued.key.Public())
	if err != nil || got != in.desired.key {
		return &violation{certsv1alpha1.ReasonPrivateKeyChanged,
			fmt.Sprintf("The private key is %s, the spec asks for %s", got, in.desired.key)}
	}
	encoding := issued.keyEncoding
	if encoding != in.desired.encoding {
		return &violation{certsv1alpha1.ReasonPrivateKeyChanged,
			fmt.Sprintf("The private key is encoded as %s, the spec asks for %s", encoding, in.desired.encoding)}
	}
	return nil
}

// checkUsages requires every extended key usage the spec requests; a signer may add others.
func checkUsages(in secretInput, issued *issuedCertificate) *violation {
	leaf := issued.leaf()
	for _, usage := range in.desired.usages {
		var want x509.ExtKeyUsage
		switch usage {
		case certificatesv1.UsageServerAuth:
			want = x509.ExtKeyUsageServerAuth
		case certificatesv1.UsageClientAuth:
			want = x509.ExtKeyUsageClientAuth
		default:
			continue
		}
		if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, want) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return &violation{certsv1alpha1.ReasonUsagesChanged, fmt.Sprintf("The certificate does not allow %q", usage)}
		}
	}
	return nil
}

func checkExpiry(in secretInput, issued *issuedCertificate) *violation {
	if !in.now.Before(issued.leaf().NotAfter) {
		return &violation{certsv1alpha1.ReasonExpired,
			fmt.Sprintf("The certificate expired at %s", issued.leaf().NotAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// checkChain verifies the chain against the signer's current root bundle, when it is known.
func checkChain(in secretInput, issued *issuedCertificate) *violation {
	if len(in.roots) == 0 {
		return nil
	}
	if err := pki.VerifyChain(issued.leaf(), issued.chain[1:], in.roots, in.now); err != nil {
		return &violation{certsv1alpha1.ReasonChainVerificationFailed,
			fmt.Sprintf("The certificate does not chain to the signer's root bundle: %v", err)}
	}
	return nil
}

func checkRenewal(in secretInput, issued *issuedCertificate) *violation {
	at := renewalTime(issued.leaf(), in.desired.renewBefore)
	if !in.now.Before(at) {
		return &violation{certsv1alpha1.ReasonRenewalDue,
			fmt.Sprintf("The renewal time %s has passed", at.UTC().Format(time.RFC3339))}
	}
	return nil
}

// isRenewalOnly reports whether a violation leaves the current certificate valid for the spec.
func isRenewalOnly(v *violation) bool {
	return v != nil && v.reason == certsv1alpha1.ReasonRenewalDue
}
