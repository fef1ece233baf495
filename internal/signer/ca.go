package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

const (
	// CACommonName is the subject common name of a CA made by NewCA.
	CACommonName = "dnscert-operator local signer"

	// DefaultCAValidity is the lifetime of a CA made by NewCA when the caller passes zero.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour

	// caBackdate moves a new CA's NotBefore into the past, so that certificates
	// signed right after the CA was made can still be backdated for clock skew.
	caBackdate = time.Hour

	pemTypeCertificate = "CERTIFICATE"
	pemTypePrivateKey  = "PRIVATE KEY"
)

// serialNumberLimit bounds random serial numbers to 128 bits.
var serialNumberLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// CA is a loaded signing CA: its certificate and the private key that belongs to it.
// The key field is a pointer, so printing a CA with fmt shows an address, never the key.
type CA struct {
	certificate    *x509.Certificate
	certificatePEM []byte
	key            *privateKey
}

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate {
	return ca.certificate
}

// CertificatePEM returns the CA certificate as one PEM block, the form a trust bundle holds.
func (ca *CA) CertificatePEM() []byte {
	return ca.certificatePEM
}

// privateKey holds the CA's signing key. Every printed form of it is "REDACTED",
// so neither fmt nor a logr sink can write the key out.
type privateKey struct {
	signer crypto.Signer
}

const redacted = "REDACTED"

func (*privateKey) String() string   { return redacted }
func (*privateKey) GoString() string { return redacted }

// Format implements fmt.Formatter for every verb, including %#v and %x.
func (*privateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalLog implements logr.Marshaler.
func (*privateKey) MarshalLog() any { return redacted }

// NewCA creates a self-signed ECDSA P-256 CA certificate and key, both PEM-encoded
// (the key as PKCS #8). The CA may sign leaf certificates only (MaxPathLen 0).
// It is valid from an hour before now for validity, or DefaultCAValidity when validity is zero.
func NewCA(now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if validity < 0 {
		return nil, nil, fmt.Errorf("invalid CA validity %s: must not be negative", validity)
	}
	if validity == 0 {
		validity = DefaultCAValidity
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := newSerialNumber()
	if err != nil {
		return nil, nil, err
	}

	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CACommonName},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	// x509.CreateCertificate derives the SubjectKeyId of a CA template from its public key,
	// and later copies it into the AuthorityKeyId of every certificate the CA signs.
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding CA key: %w", err)
	}

	certPEM = pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// LoadCA parses a PEM CA certificate and its PEM private key (PKCS #8, SEC 1 or PKCS #1).
// It rejects a certificate that is not a CA, that may not sign certificates, or
// whose public key does not belong to the private key.
// Errors never contain key material.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	certBlock, _ := pem.Decode(certPEM)
	if certBlock == nil || certBlock.Type != pemTypeCertificate {
		return nil, errors.New("invalid CA certificate: no PEM block of type CERTIFICATE")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("invalid CA certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("invalid CA certificate %q: basic constraints do not mark it as a CA", cert.Subject.CommonName)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("invalid CA certificate %q: key usage lacks certificate signing", cert.Subject.CommonName)
	}

	signer, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	public, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !public.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("invalid CA: the private key does not belong to certificate %q", cert.Subject.CommonName)
	}

	return &CA{
		certificate:    cert,
		certificatePEM: pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: cert.Raw}),
		key:            &privateKey{signer: signer},
	}, nil
}

// parsePrivateKey decodes the first PEM block of keyPEM as a signing key.
// The parse errors of crypto/x509 describe the structure, not the key bytes, so they are safe to return.
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("invalid CA private key: no PEM block")
	}

	var key any
	var err error
	switch block.Type {
	case pemTypePrivateKey:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("invalid CA private key: unsupported PEM block type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid CA private key: %w", err)
	}

	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("invalid CA private key: %T cannot sign", key)
	}
	return signer, nil
}

// newSerialNumber returns a random positive serial number of at most 128 bits.
func newSerialNumber() (*big.Int, error) {
	for {
		serial, err := rand.Int(rand.Reader, serialNumberLimit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		// RFC 5280 requires a positive serial number, and zero comes up once in 2^128 draws.
		if serial.Sign() > 0 {
			return serial, nil
		}
	}
}
