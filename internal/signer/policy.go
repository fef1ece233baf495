package signer

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// Defaults of Policy, used for every field left at zero.
const (
	DefaultMaxDuration     = 8760 * time.Hour
	DefaultDefaultDuration = 2160 * time.Hour
	DefaultBackdate        = 5 * time.Minute
)

// minDuration is the shortest lifetime the signer issues. It matches the minimum
// spec.expirationSeconds (600) that the API server accepts, and kube-controller-manager's
// signer uses the same floor. It keeps a certificate valid for longer than Backdate.
const minDuration = 10 * time.Minute

// minRSAKeyBits is the smallest RSA key the signer certifies.
const minRSAKeyBits = 2048

// Policy bounds the certificates the signer issues.
type Policy struct {
	// MaxDuration caps the lifetime of a certificate, whatever spec.expirationSeconds requests.
	MaxDuration time.Duration
	// DefaultDuration is the lifetime when spec.expirationSeconds is unset.
	DefaultDuration time.Duration
	// Backdate moves NotBefore into the past, so clients with a slow clock accept a new certificate.
	Backdate time.Duration
}

// DefaultPolicy returns the policy with every field at its default.
func DefaultPolicy() Policy {
	return Policy{
		MaxDuration:     DefaultMaxDuration,
		DefaultDuration: DefaultDefaultDuration,
		Backdate:        DefaultBackdate,
	}
}

// withDefaults returns p with each zero or negative duration set to its default, except a
// negative Backdate, which Validate rejects.
func (p Policy) withDefaults() Policy {
	if p.MaxDuration <= 0 {
		p.MaxDuration = DefaultMaxDuration
	}
	if p.DefaultDuration <= 0 {
		p.DefaultDuration = DefaultDefaultDuration
	}
	if p.Backdate == 0 {
		p.Backdate = DefaultBackdate
	}
	return p
}

// Validate rejects a maximum duration below the ten-minute floor, a negative backdate, and a
// backdate of ten minutes or more, which would move most of a short certificate's lifetime into the past.
func (p Policy) Validate() error {
	p = p.withDefaults()
	if p.MaxDuration < minDuration {
		return fmt.Errorf("invalid signer policy: maximum duration %s is below the minimum of %s", p.MaxDuration, minDuration)
	}
	if p.Backdate < 0 || p.Backdate >= minDuration {
		return fmt.Errorf("invalid signer policy: backdate %s must not be negative and must be below %s", p.Backdate, minDuration)
	}
	return nil
}

// lifetime returns how long a certificate for a request with the given
// spec.expirationSeconds is valid, counted from the signing time.
func (p Policy) lifetime(expirationSeconds *int32) time.Duration {
	requested := p.DefaultDuration
	if expirationSeconds != nil {
		requested = time.Duration(*expirationSeconds) * time.Second
	}
	return max(minDuration, min(requested, p.MaxDuration))
}

// Reasons of a PolicyError. The controller writes them into the CertificateSigningRequest's
// Failed condition.
const (
	ReasonInvalidRequest   = "InvalidRequest"
	ReasonCARequested      = "CARequested"
	ReasonUnsupportedSAN   = "UnsupportedSAN"
	ReasonMissingSAN       = "MissingSAN"
	ReasonUnsupportedUsage = "UnsupportedUsage"
	ReasonUnsupportedKey   = "UnsupportedKey"
)

// PolicyError is a CertificateSigningRequest the signer will never sign.
// Retrying does not help, so the controller marks the request Failed.
type PolicyError struct {
	// Reason is a CamelCase word, one of the Reason constants of this package.
	Reason string
	// Message names what the request contains and what the signer allows instead.
	Message string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("%s: %s", e.Reason, e.Message)
}

func rejectf(reason, format string, args ...any) *PolicyError {
	return &PolicyError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// allowedUsages are the only spec.usages the signer accepts: a TLS server or client leaf.
var allowedUsages = []certificatesv1.KeyUsage{
	certificatesv1.UsageDigitalSignature,
	certificatesv1.UsageKeyEncipherment,
	certificatesv1.UsageServerAuth,
	certificatesv1.UsageClientAuth,
}

// oidBasicConstraints is the object identifier of the X.509 basic constraints extension (RFC 5280, 4.2.1.9).
var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// parseRequest decodes spec.request and checks its signature.
func parseRequest(request []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, rejectf(ReasonInvalidRequest, "spec.request holds no PEM block of type CERTIFICATE REQUEST")
	}
	parsed, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, rejectf(ReasonInvalidRequest, "spec.request cannot be parsed: %v", err)
	}
	if err := parsed.CheckSignature(); err != nil {
		return nil, rejectf(ReasonInvalidRequest, "spec.request has an invalid signature: %v", err)
	}
	return parsed, nil
}

// checkRequest returns a *PolicyError for the first rule the request breaks, or nil when the
// signer may sign it. The checks run in a fixed order so a request always fails with the same reason.
func checkRequest(request *x509.CertificateRequest, usages []certificatesv1.KeyUsage) *PolicyError {
	if err := checkBasicConstraints(request); err != nil {
		return err
	}
	if err := checkSANs(request); err != nil {
		return err
	}
	if err := checkUsages(usages); err != nil {
		return err
	}
	return checkPublicKey(request)
}

// checkBasicConstraints rejects a request whose basic constraints extension requests a CA.
func checkBasicConstraints(request *x509.CertificateRequest) *PolicyError {
	for _, extension := range request.Extensions {
		if !extension.Id.Equal(oidBasicConstraints) {
			continue
		}
		var constraints struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		rest, err := asn1.Unmarshal(extension.Value, &constraints)
		if err != nil || len(rest) > 0 {
			return rejectf(ReasonInvalidRequest, "the basic constraints extension of the request cannot be parsed")
		}
		if constraints.IsCA {
			return rejectf(ReasonCARequested, "the request asks for a CA certificate, and this signer issues only leaf certificates")
		}
	}
	return nil
}

// checkSANs allows DNS and IP SANs only, and requires at least one of them.
func checkSANs(request *x509.CertificateRequest) *PolicyError {
	if len(request.URIs) > 0 {
		return rejectf(ReasonUnsupportedSAN, "the request has %d URI SANs, and this signer allows only DNS and IP SANs", len(request.URIs))
	}
	if len(request.EmailAddresses) > 0 {
		return rejectf(ReasonUnsupportedSAN, "the request has %d email SANs, and this signer allows only DNS and IP SANs", len(request.EmailAddresses))
	}
	if len(request.DNSNames) == 0 && len(request.IPAddresses) == 0 {
		return rejectf(ReasonMissingSAN, "the request has no DNS or IP SAN, and this signer requires at least one")
	}
	return nil
}

// checkUsages allows digital signature, key encipherment, server auth and client auth,
// and requires server auth or client auth, because a certificate without an extended
// key usage would be valid for every purpose.
func checkUsages(usages []certificatesv1.KeyUsage) *PolicyError {
	for _, usage := range usages {
		if !slices.Contains(allowedUsages, usage) {
			return rejectf(ReasonUnsupportedUsage, "usage %q is not allowed. This signer allows %q", usage, allowedUsages)
		}
	}
	if !slices.Contains(usages, certificatesv1.UsageServerAuth) && !slices.Contains(usages, certificatesv1.UsageClientAuth) {
		return rejectf(ReasonUnsupportedUsage, "the request has neither usage %q nor %q, and this signer requires one of them",
			certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth)
	}
	return nil
}

// checkPublicKey rejects RSA keys shorter than minRSAKeyBits. crypto/x509 parses only
// RSA, ECDSA on the NIST curves and Ed25519 keys, and every ECDSA and Ed25519 key it parses is strong enough.
func checkPublicKey(request *x509.CertificateRequest) *PolicyError {
	if key, ok := request.PublicKey.(*rsa.PublicKey); ok && key.N.BitLen() < minRSAKeyBits {
		return rejectf(ReasonUnsupportedKey, "the request has a %d-bit RSA key, and this signer requires at least %d bits", key.N.BitLen(), minRSAKeyBits)
	}
	return nil
}
