package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

func TestNewCA(t *testing.T) {
	certPEM, keyPEM, err := NewCA(testNow, 0)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key is not a PKCS #8 PEM block")
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("LoadCA of a new CA: %v", err)
	}
	cert := ca.Certificate()

	if cert.Subject.CommonName != CACommonName {
		t.Errorf("common name = %q, expected %q", cert.Subject.CommonName, CACommonName)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		t.Errorf("basic constraints valid = %v, CA = %v; expected both true", cert.BasicConstraintsValid, cert.IsCA)
	}
	if cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		t.Errorf("MaxPathLen = %d (zero set: %v), expected 0", cert.MaxPathLen, cert.MaxPathLenZero)
	}
	if expected := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; cert.KeyUsage != expected {
		t.Errorf("key usage = %v, expected %v", cert.KeyUsage, expected)
	}
	key, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("public key = %T, expected ECDSA P-256", cert.PublicKey)
	}
	if !cert.NotBefore.Equal(testNow.Add(-time.Hour)) {
		t.Errorf("NotBefore = %s, expected an hour before %s", cert.NotBefore, testNow)
	}
	if !cert.NotAfter.Equal(testNow.Add(DefaultCAValidity)) {
		t.Errorf("NotAfter = %s, expected %s", cert.NotAfter, testNow.Add(DefaultCAValidity))
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial number %s is not a positive 128-bit number", cert.SerialNumber)
	}
	if len(cert.SubjectKeyId) == 0 {
		t.Errorf("subject key ID is empty")
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if got := string(ca.CertificatePEM()); got != string(certPEM) {
		t.Errorf("CertificatePEM differs from the PEM NewCA returned")
	}
}

func TestNewCAValidity(t *testing.T) {
	certPEM, _, err := NewCA(testNow, 48*time.Hour)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	cert := parseCertificatePEM(t, certPEM)
	if !cert.NotAfter.Equal(testNow.Add(48 * time.Hour)) {
		t.Errorf("NotAfter = %s, expected %s", cert.NotAfter, testNow.Add(48*time.Hour))
	}

	if _, _, err := NewCA(testNow, -time.Hour); err == nil {
		t.Errorf("NewCA with a negative validity returned no error")
	}
}

func TestNewCASerialNumbersDiffer(t *testing.T) {
	first, _, err := NewCA(testNow, 0)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	second, _, err := NewCA(testNow, 0)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	if parseCertificatePEM(t, first).SerialNumber.Cmp(parseCertificatePEM(t, second).SerialNumber) == 0 {
		t.Errorf("two CAs got the same serial number")
	}
}

func TestLoadCA(t *testing.T) {
	certPEM, keyPEM, err := NewCA(testNow, 0)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	otherCertPEM, otherKeyPEM, err := NewCA(testNow, 0)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}

	block, _ := pem.Decode(keyPEM)
	parsedKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parsing key: %v", err)
	}
	sec1DER, err := x509.MarshalECPrivateKey(parsedKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatalf("encoding SEC 1 key: %v", err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})

	leafPEM, leafKeyPEM := newLeafWithKey(t)

	tests := []struct {
		name      string
		certPEM   []byte
		keyPEM    []byte
		expectErr string
	}{
		{name: "loads a PKCS #8 key", certPEM: certPEM, keyPEM: keyPEM},
		{name: "loads a SEC 1 key", certPEM: certPEM, keyPEM: sec1PEM},
		{name: "rejects an empty certificate", keyPEM: keyPEM, expectErr: "no PEM block of type CERTIFICATE"},
		{name: "rejects a key in place of the certificate", certPEM: keyPEM, keyPEM: keyPEM, expectErr: "no PEM block of type CERTIFICATE"},
		{name: "rejects a damaged certificate", certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), keyPEM: keyPEM, expectErr: "invalid CA certificate"},
		{name: "rejects a certificate that is not a CA", certPEM: leafPEM, keyPEM: leafKeyPEM, expectErr: "do not mark it as a CA"},
		{name: "rejects a key of another CA", certPEM: certPEM, keyPEM: otherKeyPEM, expectErr: "does not belong to certificate"},
		{name: "rejects a certificate of another CA", certPEM: otherCertPEM, keyPEM: keyPEM, expectErr: "does not belong to certificate"},
		{name: "rejects a missing key", certPEM: certPEM, expectErr: "no PEM block"},
		{name: "rejects an unknown key block", certPEM: certPEM, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte("x")}), expectErr: "unsupported PEM block type"},
		{name: "rejects a damaged key", certPEM: certPEM, keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), expectErr: "invalid CA private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := LoadCA(tt.certPEM, tt.keyPEM)
			if tt.expectErr == "" {
				if err != nil {
					t.Fatalf("LoadCA: %v", err)
				}
				if ca.Certificate() == nil {
					t.Fatalf("LoadCA returned a CA without a certificate")
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadCA returned no error, expected one containing %q", tt.expectErr)
			}
			if !strings.Contains(err.Error(), tt.expectErr) {
				t.Errorf("error %q does not contain %q", err, tt.expectErr)
			}
		})
	}
}

// newLeafWithKey returns a self-signed certificate that is not a CA, and its key.
func newLeafWithKey(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "leaf"},
		NotBefore:             testNow,
		NotAfter:              testNow.Add(time.Hour),
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		t.Fatalf("creating certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func TestPrivateKeyRedacted(t *testing.T) {
	ca := newTestCA(t, testNow, 0)
	secret := ca.key.signer.(*ecdsa.PrivateKey)
	secretBytes, err := secret.Bytes()
	if err != nil {
		t.Fatalf("encoding the private scalar: %v", err)
	}
	scalar := new(big.Int).SetBytes(secretBytes)
	forbidden := []string{scalar.String(), scalar.Text(16), fmt.Sprintf("%x", secretBytes)}

	printed := map[string]string{
		"key %v":             fmt.Sprintf("%v", ca.key),
		"key %+v":            fmt.Sprintf("%+v", ca.key),
		"key %#v":            fmt.Sprintf("%#v", ca.key),
		"key %s":             fmt.Sprintf("%s", ca.key),
		"key %x":             fmt.Sprintf("%x", ca.key),
		"key %d":             fmt.Sprintf("%d", ca.key),
		"key %q":             fmt.Sprintf("%q", ca.key),
		"String":             ca.key.String(),
		"GoString":           ca.key.GoString(),
		"CA %v":              fmt.Sprintf("%v", ca),
		"CA %+v":             fmt.Sprintf("%+v", ca),
		"CA %#v":             fmt.Sprintf("%#v", ca),
		"CA %v of the value": fmt.Sprintf("%+v", *ca),
	}
	for form, output := range printed {
		for _, value := range forbidden {
			if strings.Contains(output, value) {
				t.Errorf("%s prints the private key", form)
			}
		}
	}
	for _, form := range []string{"key %v", "key %#v", "key %x", "String", "GoString"} {
		if printed[form] != "REDACTED" {
			t.Errorf("%s = %q, expected REDACTED", form, printed[form])
		}
	}
	if got := ca.key.MarshalLog(); got != "REDACTED" {
		t.Errorf("MarshalLog = %v, expected REDACTED", got)
	}
}
