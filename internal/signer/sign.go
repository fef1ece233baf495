package signer

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// Sign issues a leaf certificate for a CertificateSigningRequest and returns it PEM-encoded,
// without the CA, which clients get from the trust bundle.
//
// A request the policy rejects returns a *PolicyError. Any other error (an invalid policy,
// an expired CA, a failure of crypto/rand) may go away and is worth a retry.
// Sign does not check the request's conditions: the caller signs only approved requests.
func (ca *CA) Sign(csr *certificatesv1.CertificateSigningRequest, policy Policy, now time.Time) ([]byte, error) {
	policy = policy.withDefaults()
	if err := policy.Validate(); err != nil {
		return nil, err
	}

	request, err := parseRequest(csr.Spec.Request)
	if err != nil {
		return nil, err
	}
	if err := checkRequest(request, csr.Spec.Usages); err != nil {
		return nil, err
	}

	notBefore, notAfter, err := ca.validity(policy, csr.Spec.ExpirationSeconds, now)
	if err != nil {
		return nil, err
	}
	serial, err := newSerialNumber()
	if err != nil {
		return nil, err
	}

	keyUsage, extKeyUsage := certificateUsages(csr.Spec.Usages)
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: request.Subject.CommonName},
		DNSNames:              request.DNSNames,
		IPAddresses:           request.IPAddresses,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           extKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  false,
		AuthorityKeyId:        ca.certificate.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.certificate, request.PublicKey, ca.key.signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate for CertificateSigningRequest %s: %w", csr.Name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: der}), nil
}

// validity returns the NotBefore and NotAfter of a certificate signed at now:
// backdated by the policy but not before the CA's NotBefore, and valid for the
// policy's lifetime but not after the CA's NotAfter.
func (ca *CA) validity(policy Policy, expirationSeconds *int32, now time.Time) (notBefore, notAfter time.Time, err error) {
	caNotBefore, caNotAfter := ca.certificate.NotBefore, ca.certificate.NotAfter
	if !now.Before(caNotAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("the signer's CA expired at %s: replace the CA Secret to sign again", caNotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(caNotBefore) {
		return time.Time{}, time.Time{}, fmt.Errorf("the signer's CA is not valid before %s: check the clock or replace the CA Secret", caNotBefore.UTC().Format(time.RFC3339))
	}

	notBefore = now.Add(-policy.Backdate)
	if notBefore.Before(caNotBefore) {
		notBefore = caNotBefore
	}
	notAfter = now.Add(policy.lifetime(expirationSeconds))
	if notAfter.After(caNotAfter) {
		notAfter = caNotAfter
	}
	return notBefore, notAfter, nil
}

// certificateUsages maps spec.usages, already checked by checkUsages, to X.509 key usages.
// Every leaf gets digital signature, which TLS needs with any key type.
func certificateUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage) {
	keyUsage := x509.KeyUsageDigitalSignature
	if slices.Contains(usages, certificatesv1.UsageKeyEncipherment) {
		keyUsage |= x509.KeyUsageKeyEncipherment
	}

	var extKeyUsage []x509.ExtKeyUsage
	if slices.Contains(usages, certificatesv1.UsageServerAuth) {
		extKeyUsage = append(extKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if slices.Contains(usages, certificatesv1.UsageClientAuth) {
		extKeyUsage = append(extKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	return keyUsage, extKeyUsage
}
