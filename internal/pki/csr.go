package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
)

// maxCommonNameLength is the upper bound of the X.520 CommonName attribute (RFC 5280, ub-common-name).
const maxCommonNameLength = 64

// CreateCSR creates a PEM "CERTIFICATE REQUEST" signed by key, with dnsNames and ipAddresses as
// its subject alternative names. The subject CommonName is the first DNS name when it fits in
// 64 bytes, and empty otherwise. Each DNS name must pass ValidateDNSName and each IP address
// must be 4 or 16 bytes long.
func CreateCSR(key *PrivateKey, dnsNames []string, ipAddresses []net.IP) ([]byte, error) {
	signer := key.Signer()
	if signer == nil {
		return nil, errors.New("creating CSR: no private key present")
	}
	if len(dnsNames) == 0 && len(ipAddresses) == 0 {
		return nil, errors.New("creating CSR: no DNS names or IP addresses to request")
	}
	for _, name := range dnsNames {
		if err := ValidateDNSName(name); err != nil {
			return nil, fmt.Errorf("creating CSR: %w", err)
		}
	}
	for _, ip := range ipAddresses {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return nil, fmt.Errorf("creating CSR: IP address %v is %d bytes long instead of 4 or 16", ip, len(ip))
		}
	}

	template := &x509.CertificateRequest{
		DNSNames:    dnsNames,
		IPAddresses: ipAddresses,
	}
	if len(dnsNames) > 0 && len(dnsNames[0]) <= maxCommonNameLength {
		template.Subject = pkix.Name{CommonName: dnsNames[0]}
	}

	der, err := x509.CreateCertificateRequest(rand.Reader, template, signer)
	if err != nil {
		return nil, fmt.Errorf("creating CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificateRequest, Bytes: der}), nil
}

// ParseCSRPEM parses data that contains exactly one "CERTIFICATE REQUEST" PEM block and nothing
// else but whitespace, and checks the CSR's signature.
func ParseCSRPEM(data []byte) (*x509.CertificateRequest, error) {
	block, err := decodeSinglePEMBlock(data)
	if err != nil {
		return nil, fmt.Errorf("parsing CSR: %w", err)
	}
	if block.Type != pemTypeCertificateRequest {
		return nil, fmt.Errorf("parsing CSR: PEM block type %q is not %q", block.Type, pemTypeCertificateRequest)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("parsing CSR: PEM headers are not allowed")
	}

	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("checking CSR signature: %w", err)
	}
	return csr, nil
}
