package controllers

import (
	"math"
	"net"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

const (
	// defaultDuration is the requested lifetime when spec.duration is unset.
	defaultDuration = 2160 * time.Hour
	// defaultRSABits is the RSA modulus size when spec.privateKey.size is unset.
	defaultRSABits = 2048
)

// desiredCertificate is the spec with every default filled in, so the checks compare like with like.
type desiredCertificate struct {
	signerName  string
	dnsNames    []string
	ipAddresses []string
	duration    time.Duration
	renewBefore time.Duration
	key         pki.KeyDescription
	encoding    certsv1alpha1.PrivateKeyEncoding
	usages      []certificatesv1.KeyUsage
}

// desiredFromSpec fills in the defaults of a DNSCertificate's spec.
func desiredFromSpec(spec certsv1alpha1.DNSCertificateSpec, defaultSignerName string) desiredCertificate {
	desired := desiredCertificate{
		signerName:  spec.SignerName,
		dnsNames:    spec.DNSNames,
		ipAddresses: spec.IPAddresses,
		duration:    defaultDuration,
		encoding:    spec.PrivateKey.Encoding,
	}
	if desired.signerName == "" {
		desired.signerName = defaultSignerName
	}
	if spec.Duration != nil {
		desired.duration = spec.Duration.Duration
	}
	if spec.RenewBefore != nil {
		desired.renewBefore = spec.RenewBefore.Duration
	}
	if desired.encoding == "" {
		desired.encoding = certsv1alpha1.PKCS8KeyEncoding
	}

	switch spec.PrivateKey.Algorithm {
	case certsv1alpha1.RSAKeyAlgorithm:
		bits := int(spec.PrivateKey.Size)
		if bits == 0 {
			bits = defaultRSABits
		}
		desired.key = pki.KeyDescription{Algorithm: certsv1alpha1.RSAKeyAlgorithm, Bits: bits}
	case certsv1alpha1.Ed25519KeyAlgorithm:
		desired.key = pki.KeyDescription{Algorithm: certsv1alpha1.Ed25519KeyAlgorithm}
	default:
		desired.key = pki.KeyDescription{Algorithm: certsv1alpha1.ECDSAKeyAlgorithm, Bits: 256}
	}

	desired.usages = requestUsages(spec.Usages, desired.key.Algorithm)
	return desired
}

// requestUsages returns the CSR usages for the spec's usages, with the defaults when none are set.
func requestUsages(usages []certsv1alpha1.KeyUsage, algorithm certsv1alpha1.PrivateKeyAlgorithm) []certificatesv1.KeyUsage {
	if len(usages) == 0 {
		usages = []certsv1alpha1.KeyUsage{certsv1alpha1.UsageDigitalSignature, certsv1alpha1.UsageServerAuth}
		if algorithm == certsv1alpha1.RSAKeyAlgorithm {
			usages = append(usages, certsv1alpha1.UsageKeyEncipherment)
		}
	}
	result := make([]certificatesv1.KeyUsage, 0, len(usages))
	for _, usage := range usages {
		result = append(result, certificatesv1.KeyUsage(usage))
	}
	slices.Sort(result)
	return slices.Compact(result)
}

// ipAddresses parses the spec's IP addresses; admission already validated them.
func (d desiredCertificate) parsedIPAddresses() []net.IP {
	ips, err := pki.ParseIPAddresses(d.ipAddresses)
	if err != nil {
		return nil
	}
	return ips
}

// expirationSeconds is the requested lifetime as the CSR API expects it, saturated at the
// largest int32 (admission already caps spec.duration well below that).
func (d desiredCertificate) expirationSeconds() *int32 {
	seconds := int32(min(d.duration/time.Second, math.MaxInt32))
	return &seconds
}
