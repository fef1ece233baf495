package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseCertificatesPEM parses data that contains one or more "CERTIFICATE" PEM blocks and nothing
// else but whitespace, such as a Secret's tls.crt or ca.crt. Empty input, another block type,
// PEM headers, other data before, between or after the blocks, and unparsable DER are errors.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		block, next, err := nextPEMBlock(rest)
		if err != nil {
			return nil, fmt.Errorf("parsing certificates: PEM block %d: %w", len(certs)+1, err)
		}
		if block == nil {
			break
		}

		cert, err := parseCertificateBlock(block)
		if err != nil {
			return nil, fmt.Errorf("parsing certificates: PEM block %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
		rest = next
	}
	if len(certs) == 0 {
		return nil, errors.New("parsing certificates: no CERTIFICATE PEM block found")
	}
	return certs, nil
}

// ParseIssuedCertificatesPEM parses the status.certificate of a certificates.k8s.io/v1
// CertificateSigningRequest: one or more "CERTIFICATE" PEM blocks, the issued certificate
// first. Unlike ParseCertificatesPEM, it ignores text around and between the blocks, because
// the API allows a signer to add explanatory text there (RFC 7468, section 5.2).
func ParseIssuedCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}

		cert, err := parseCertificateBlock(block)
		if err != nil {
			return nil, fmt.Errorf("parsing issued certificates: PEM block %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("parsing issued certificates: no CERTIFICATE PEM block found")
	}
	return certs, nil
}

func parseCertificateBlock(block *pem.Block) (*x509.Certificate, error) {
	if block.Type != pemTypeCertificate {
		return nil, fmt.Errorf("type %q is not %q", block.Type, pemTypeCertificate)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("PEM headers are not allowed")
	}
	return x509.ParseCertificate(block.Bytes)
}

// EncodeCertificatesPEM encodes certs, in order, as "CERTIFICATE" PEM blocks. It skips nil entries.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, cert := range certs {
		if cert == nil {
			continue
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: cert.Raw})...)
	}
	return out
}

// Fingerprint returns the lower-case hex SHA-256 of the certificate's DER encoding, or an
// empty string for a nil certificate.
func Fingerprint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
