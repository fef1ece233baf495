package pki

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// The fuzz targets check that the parsers never panic and that what they accept survives a
// round trip. Seed corpora are in testdata/fuzz/<target>, and the f.Add calls add freshly
// generated valid inputs.

func FuzzParseCertificatesPEM(f *testing.F) {
	root := newTestRoot(f, "Fuzz Root")
	intermediate := root.newIntermediate(f, "Fuzz Intermediate")
	leaf := intermediate.issueLeaf(f, newTestECDSAKey(f).Public(), leafOptions{dnsNames: []string{"example.com"}})
	f.Add(EncodeCertificatesPEM(leaf, intermediate.cert, root.cert))
	f.Add(EncodeCertificatesPEM(root.cert))

	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificatesPEM(data)
		issued, issuedErr := ParseIssuedCertificatesPEM(data)
		if err != nil {
			if certs != nil {
				t.Fatalf("returned %d certificates with the error %v", len(certs), err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatalf("returned no certificates and no error")
		}

		// Everything the strict parser accepts, the lenient one reads the same way.
		if issuedErr != nil {
			t.Fatalf("ParseIssuedCertificatesPEM rejects what ParseCertificatesPEM accepts: %v", issuedErr)
		}
		checkCertificates(t, issued, certs)

		again, err := ParseCertificatesPEM(EncodeCertificatesPEM(certs...))
		if err != nil {
			t.Fatalf("parsing the re-encoded certificates: %v", err)
		}
		checkCertificates(t, again, certs)
	})
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	for _, algorithm := range []v1alpha1.PrivateKeyAlgorithm{v1alpha1.ECDSAKeyAlgorithm, v1alpha1.Ed25519KeyAlgorithm} {
		key, err := GenerateKey(algorithm, 0)
		if err != nil {
			f.Fatalf("generating %s key: %v", algorithm, err)
		}
		data, err := key.EncodePEM(v1alpha1.PKCS8KeyEncoding)
		if err != nil {
			f.Fatalf("encoding %s key: %v", algorithm, err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		key, encoding, err := ParsePrivateKeyPEM(data)
		if err != nil {
			if key != nil || encoding != "" {
				t.Fatalf("returned a key or an encoding with the error %v", err)
			}
			return
		}

		if printed := fmt.Sprintf("%v %+v %#v %s", key, key, key, key); printed != "REDACTED REDACTED REDACTED REDACTED" {
			t.Fatalf("parsed key prints as %q", printed)
		}
		if _, err := DescribePublicKey(key.Public()); err != nil {
			t.Fatalf("describing the parsed key: %v", err)
		}

		encoded, err := key.EncodePEM(encoding)
		if err != nil {
			t.Fatalf("encoding the parsed key as %s: %v", encoding, err)
		}
		again, againEncoding, err := ParsePrivateKeyPEM(encoded)
		if err != nil {
			t.Fatalf("parsing the re-encoded key: %v", err)
		}
		if againEncoding != encoding {
			t.Fatalf("re-encoded key has encoding %q, expected %q", againEncoding, encoding)
		}
		if !PublicKeysEqual(again.Public(), key.Public()) {
			t.Fatalf("re-encoded key differs from the parsed key")
		}
	})
}

func FuzzValidateDNSName(f *testing.F) {
	for _, name := range []string{"example1.istio-system.svc", "*.example.com", "Example.com", "example.com.", "10.0.0.1", "a..b", "-a.b"} {
		f.Add(name)
	}

	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateDNSName(name)
		if got, want := err == nil, matchesAdmissionRule(name); got != want {
			t.Fatalf("ValidateDNSName(%q) accepts the name: %t, the admission rule: %t (error: %v)", name, got, want, err)
		}
		if err != nil && name != "" && !strings.Contains(err.Error(), strconv.Quote(name)) {
			t.Fatalf("error does not name %q: %v", name, err)
		}
	})
}

func FuzzParseCSRPEM(f *testing.F) {
	key, err := GenerateKey(v1alpha1.ECDSAKeyAlgorithm, 0)
	if err != nil {
		f.Fatalf("generating key: %v", err)
	}
	csr, err := CreateCSR(key, []string{"example.com", "*.example.com"}, nil)
	if err != nil {
		f.Fatalf("creating CSR: %v", err)
	}
	f.Add(csr)

	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := ParseCSRPEM(data)
		if err != nil {
			if parsed != nil {
				t.Fatalf("returned a CSR with the error %v", err)
			}
			return
		}
		if err := parsed.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
		}

		again, err := ParseCSRPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: parsed.Raw}))
		if err != nil {
			t.Fatalf("parsing the re-encoded CSR: %v", err)
		}
		if !bytes.Equal(again.Raw, parsed.Raw) {
			t.Fatalf("re-encoded CSR differs from the parsed CSR")
		}
	})
}
