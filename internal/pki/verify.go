package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// VerifyChain verifies that leaf chains through intermediates to one of roots and that every
// certificate on the chain is valid at now. Any extended key usage is accepted. A zero now
// means the current time, as in x509.VerifyOptions. Nil entries in intermediates and roots
// are skipped. The error wraps the crypto/x509 error.
func VerifyChain(leaf *x509.Certificate, intermediates, roots []*x509.Certificate, now time.Time) error {
	if leaf == nil {
		return errors.New("verifying certificate chain: no leaf certificate")
	}

	rootPool := x509.NewCertPool()
	rootCount := 0
	for _, root := range roots {
		if root != nil {
			rootPool.AddCert(root)
			rootCount++
		}
	}
	if rootCount == 0 {
		return fmt.Errorf("verifying certificate chain of %s: no root certificates to verify against", describeCertificate(leaf))
	}

	intermediatePool := x509.NewCertPool()
	for _, intermediate := range intermediates {
		if intermediate != nil {
			intermediatePool.AddCert(intermediate)
		}
	}

	opts := x509.VerifyOptions{
		Roots:         rootPool,
		Intermediates: intermediatePool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	if _, err := leaf.Verify(opts); err != nil {
		return fmt.Errorf("verifying certificate chain of %s against %d root certificate(s): %w", describeCertificate(leaf), rootCount, err)
	}
	return nil
}

// SelfSignedTop returns the last certificate of chain when its subject equals its issuer and
// its signature verifies with its own public key, and nil otherwise. The certificate need
// not be a CA. A self-signature with an algorithm that crypto/x509 rejects as insecure, such as
// SHA-1, does not verify.
func SelfSignedTop(chain []*x509.Certificate) *x509.Certificate {
	if len(chain) == 0 {
		return nil
	}
	top := chain[len(chain)-1]
	if top == nil || !bytes.Equal(top.RawSubject, top.RawIssuer) {
		return nil
	}
	if err := top.CheckSignature(top.SignatureAlgorithm, top.RawTBSCertificate, top.Signature); err != nil {
		return nil
	}
	return top
}

// describeCertificate names a certificate in error messages by its subject and serial number.
func describeCertificate(cert *x509.Certificate) string {
	serial := "none"
	if cert.SerialNumber != nil {
		serial = cert.SerialNumber.Text(16)
	}
	return fmt.Sprintf("certificate %q (serial %s)", cert.Subject.String(), serial)
}
