package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

func TestParseCertificatesPEM(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	intermediate := root.newIntermediate(t, "Test Intermediate")
	key := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0)
	leaf := intermediate.issueLeaf(t, key.Public(), leafOptions{dnsNames: []string{"example.com"}})

	leafPEM := EncodeCertificatesPEM(leaf)
	chainPEM := EncodeCertificatesPEM(leaf, intermediate.cert)
	keyPEM := mustEncodePEM(t, key, v1alpha1.PKCS8KeyEncoding)
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Comment": "leaf"}, Bytes: leaf.Raw})
	truncatedDER := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw[:len(leaf.Raw)-10]})

	tests := []struct {
		name    string
		data    []byte
		want    []*x509.Certificate
		wantErr string
	}{
		{name: "parses one certificate", data: leafPEM, want: []*x509.Certificate{leaf}},
		{name: "parses a chain in order", data: chainPEM, want: []*x509.Certificate{leaf, intermediate.cert}},
		{
			name: "accepts whitespace around and between the blocks",
			data: concat([]byte("\r\n\n"), leafPEM, []byte("\n \t\n"), EncodeCertificatesPEM(intermediate.cert), []byte("\n\n")),
			want: []*x509.Certificate{leaf, intermediate.cert},
		},
		{name: "rejects empty input", data: []byte{}, wantErr: "no CERTIFICATE PEM block found"},
		{name: "rejects whitespace only", data: []byte("\n\n  \t"), wantErr: "no CERTIFICATE PEM block found"},
		{name: "rejects a lone BEGIN line", data: []byte("-----BEGIN CERTIFICATE-----\n"), wantErr: "PEM block 1: malformed PEM block"},
		{name: "rejects a BEGIN line without newline", data: []byte("-----BEGIN CERTIFICATE-----"), wantErr: "PEM block 1: malformed PEM block"},
		{
			name:    "rejects a PRIVATE KEY block mixed in",
			data:    concat(leafPEM, keyPEM, EncodeCertificatesPEM(intermediate.cert)),
			wantErr: `PEM block 2: type "PRIVATE KEY" is not "CERTIFICATE"`,
		},
		{name: "rejects a private key alone", data: keyPEM, wantErr: `PEM block 1: type "PRIVATE KEY" is not`},
		{name: "rejects trailing garbage", data: concat(chainPEM, []byte("garbage")), wantErr: "PEM block 3: found data that is not a PEM block"},
		{name: "rejects leading text", data: concat([]byte("Subject: leaf\n"), leafPEM), wantErr: "PEM block 1: found data that is not a PEM block"},
		{
			name:    "rejects text between the blocks",
			data:    concat(leafPEM, []byte("intermediate:\n"), EncodeCertificatesPEM(intermediate.cert)),
			wantErr: "PEM block 2: found data that is not a PEM block",
		},
		{
			name:    "rejects a broken first block",
			data:    concat([]byte("-----BEGIN CERTIFICATE-----\n@@@\n"), leafPEM),
			wantErr: "PEM block 1: malformed PEM block",
		},
		{name: "rejects a truncated block at the end", data: concat(leafPEM, leafPEM[:40]), wantErr: "PEM block 2: malformed PEM block"},
		{name: "rejects unparsable DER", data: truncatedDER, wantErr: "PEM block 1: x509:"},
		{name: "rejects PEM headers", data: withHeaders, wantErr: "PEM headers are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificatesPEM(tt.data)
			checkError(t, err, tt.wantErr)
			checkCertificates(t, certs, tt.want)
		})
	}
}

func TestParseIssuedCertificatesPEM(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	leaf := root.issueLeaf(t, cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0).Public(), leafOptions{dnsNames: []string{"example.com"}})
	leafPEM := EncodeCertificatesPEM(leaf)
	rootPEM := EncodeCertificatesPEM(root.cert)

	tests := []struct {
		name    string
		data    []byte
		want    []*x509.Certificate
		wantErr string
	}{
		{name: "parses a chain in order", data: concat(leafPEM, rootPEM), want: []*x509.Certificate{leaf, root.cert}},
		{
			name: "ignores explanatory text around blocks",
			data: concat([]byte("Issued by Test Root\n"), leafPEM, []byte("Test Root:\n"), rootPEM, []byte("end\n")),
			want: []*x509.Certificate{leaf, root.cert},
		},
		{name: "rejects empty input", data: nil, wantErr: "no CERTIFICATE PEM block found"},
		{name: "rejects text without blocks", data: []byte("no certificate here"), wantErr: "no CERTIFICATE PEM block found"},
		{
			name:    "rejects a PRIVATE KEY block",
			data:    concat(leafPEM, mustEncodePEM(t, cachedTestKey(t, v1alpha1.Ed25519KeyAlgorithm, 0), "")),
			wantErr: `PEM block 2: type "PRIVATE KEY" is not`,
		},
		{
			name:    "rejects unparsable DER",
			data:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}}),
			wantErr: "PEM block 1: x509:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseIssuedCertificatesPEM(tt.data)
			checkError(t, err, tt.wantErr)
			checkCertificates(t, certs, tt.want)
		})
	}
}

func TestEncodeCertificatesPEM(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	leaf := root.issueLeaf(t, cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0).Public(), leafOptions{dnsNames: []string{"example.com"}})

	tests := []struct {
		name       string
		certs      []*x509.Certificate
		want       []*x509.Certificate
		wantBlocks int
	}{
		{name: "encodes nothing for no certificates", certs: nil, wantBlocks: 0},
		{name: "encodes one certificate", certs: []*x509.Certificate{leaf}, want: []*x509.Certificate{leaf}, wantBlocks: 1},
		{name: "encodes a chain in order", certs: []*x509.Certificate{leaf, root.cert}, want: []*x509.Certificate{leaf, root.cert}, wantBlocks: 2},
		{name: "skips nil entries", certs: []*x509.Certificate{nil, leaf, nil}, want: []*x509.Certificate{leaf}, wantBlocks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := EncodeCertificatesPEM(tt.certs...)
			if got := bytes.Count(data, []byte("-----BEGIN CERTIFICATE-----\n")); got != tt.wantBlocks {
				t.Errorf("output has %d CERTIFICATE blocks, expected %d", got, tt.wantBlocks)
			}
			if tt.wantBlocks == 0 {
				if len(data) != 0 {
					t.Errorf("expected empty output, got %q", data)
				}
				return
			}
			certs, err := ParseCertificatesPEM(data)
			if err != nil {
				t.Fatalf("parsing the encoded certificates: %v", err)
			}
			checkCertificates(t, certs, tt.want)
		})
	}
}

func TestFingerprint(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	other := newTestRoot(t, "Test Root")

	tests := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{name: "returns the hex SHA-256 of the DER", cert: root.cert, want: fmt.Sprintf("%x", sha256.Sum256(root.cert.Raw))},
		{name: "returns an empty string for nil", cert: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fingerprint(tt.cert)
			if got != tt.want {
				t.Errorf("Fingerprint() = %q, expected %q", got, tt.want)
			}
			if tt.cert != nil && len(got) != 64 {
				t.Errorf("fingerprint has %d characters, expected 64", len(got))
			}
		})
	}

	t.Run("differs for certificates with the same subject", func(t *testing.T) {
		if Fingerprint(root.cert) == Fingerprint(other.cert) {
			t.Errorf("two different certificates have the same fingerprint")
		}
	})
}

// checkCertificates fails the test unless got contains the certificates of want, in order.
func checkCertificates(t *testing.T, got, want []*x509.Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d certificates, expected %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("certificate %d is %q, expected %q", i, got[i].Subject, want[i].Subject)
		}
	}
}
