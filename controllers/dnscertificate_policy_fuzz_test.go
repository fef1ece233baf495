package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/dnscert/dnscert-operator/internal/pki"
)

// FuzzEvaluateSecret puts arbitrary bytes into every key of a Secret: the checks must never
// panic, must reject what is not a consistent certificate Secret, and must never quote PEM
// data in a message.
func FuzzEvaluateSecret(f *testing.F) {
	ca := newUnitCA(f, "fuzz root")
	desired := unitDesired()
	valid := issueFor(f, ca, desired).secret.Data
	f.Add(valid[keyTLSCert], valid[keyTLSKey], valid[keyCACert], valid[keyIstioCert], valid[keyIstioKey], valid[keyIstioRootCAs])
	f.Add(valid[keyTLSCert], valid[keyTLSKey], valid[keyCACert], valid[keyTLSCert], valid[keyTLSKey], []byte{})
	f.Add([]byte{}, valid[keyTLSKey], valid[keyCACert], []byte{}, valid[keyTLSKey], valid[keyCACert])

	roots, err := pki.ParseCertificatesPEM(valid[keyCACert])
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()

	f.Fuzz(func(t *testing.T, tlsCert, tlsKey, caCert, istioCert, istioKey, istioRoots []byte) {
		secret := unitTLSSecret(nil, nil, nil, desired.signerName)
		secret.Data = map[string][]byte{
			keyTLSCert: tlsCert, keyTLSKey: tlsKey, keyCACert: caCert,
			keyIstioCert: istioCert, keyIstioKey: istioKey, keyIstioRootCAs: istioRoots,
		}
		issued, v := evaluateSecret(secretInput{desired: desired, secret: secret, roots: roots, now: now})

		if v == nil && issued == nil {
			t.Fatal("no violation and no certificate")
		}
		if v != nil && strings.Contains(v.message, "-----BEGIN") {
			t.Fatalf("message quotes PEM data: %q", v.message)
		}
		if v == nil || isRenewalOnly(v) {
			if string(tlsCert) != string(istioCert) || string(tlsKey) != string(istioKey) || string(caCert) != string(istioRoots) {
				t.Fatal("accepted a Secret whose two key sets differ")
			}
			if !pki.PublicKeysEqual(issued.key.Public(), issued.leaf().PublicKey) {
				t.Fatal("accepted a key that does not match the certificate")
			}
		}
	})
}
