package pki

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

func TestCreateCSR(t *testing.T) {
	longName := strings.Repeat("a", 60) + ".example.com"

	tests := []struct {
		name           string
		algorithm      v1alpha1.PrivateKeyAlgorithm
		dnsNames       []string
		ipAddresses    []net.IP
		wantCommonName string
		wantSignature  x509.SignatureAlgorithm
	}{
		{
			name:           "uses the first name as CN",
			algorithm:      v1alpha1.ECDSAKeyAlgorithm,
			dnsNames:       []string{"example1.istio-system.svc", "example1.istio-system"},
			wantCommonName: "example1.istio-system.svc",
			wantSignature:  x509.ECDSAWithSHA256,
		},
		{
			name:           "leaves CN empty beyond 64 bytes",
			algorithm:      v1alpha1.ECDSAKeyAlgorithm,
			dnsNames:       []string{longName, "short.example.com"},
			wantCommonName: "",
			wantSignature:  x509.ECDSAWithSHA256,
		},
		{
			name:           "keeps a 64-byte CN",
			algorithm:      v1alpha1.ECDSAKeyAlgorithm,
			dnsNames:       []string{strings.Repeat("b", 52) + ".example.com"},
			wantCommonName: strings.Repeat("b", 52) + ".example.com",
			wantSignature:  x509.ECDSAWithSHA256,
		},
		{
			name:          "requests IP addresses only",
			algorithm:     v1alpha1.ECDSAKeyAlgorithm,
			ipAddresses:   []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")},
			wantSignature: x509.ECDSAWithSHA256,
		},
		{
			name:           "requests DNS names and IP addresses",
			algorithm:      v1alpha1.ECDSAKeyAlgorithm,
			dnsNames:       []string{"*.example.com"},
			ipAddresses:    []net.IP{net.ParseIP("192.0.2.7").To4()},
			wantCommonName: "*.example.com",
			wantSignature:  x509.ECDSAWithSHA256,
		},
		{
			name:           "signs with an RSA key",
			algorithm:      v1alpha1.RSAKeyAlgorithm,
			dnsNames:       []string{"rsa.example.com"},
			wantCommonName: "rsa.example.com",
			wantSignature:  x509.SHA256WithRSA,
		},
		{
			name:           "signs with an Ed25519 key",
			algorithm:      v1alpha1.Ed25519KeyAlgorithm,
			dnsNames:       []string{"ed25519.example.com"},
			wantCommonName: "ed25519.example.com",
			wantSignature:  x509.PureEd25519,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := cachedTestKey(t, tt.algorithm, 0)

			data, err := CreateCSR(key, tt.dnsNames, tt.ipAddresses)
			if err != nil {
				t.Fatalf("CreateCSR: %v", err)
			}
			if block, _ := pem.Decode(data); block == nil || block.Type != "CERTIFICATE REQUEST" {
				t.Fatalf("output is not a CERTIFICATE REQUEST PEM block")
			}

			csr, err := ParseCSRPEM(data)
			if err != nil {
				t.Fatalf("parsing the created CSR: %v", err)
			}
			if csr.Subject.CommonName != tt.wantCommonName {
				t.Errorf("common name is %q, expected %q", csr.Subject.CommonName, tt.wantCommonName)
			}
			if !slices.Equal(csr.DNSNames, tt.dnsNames) {
				t.Errorf("DNS names are %q, expected %q", csr.DNSNames, tt.dnsNames)
			}
			if !slices.EqualFunc(csr.IPAddresses, tt.ipAddresses, net.IP.Equal) {
				t.Errorf("IP addresses are %v, expected %v", csr.IPAddresses, tt.ipAddresses)
			}
			if len(csr.URIs) != 0 || len(csr.EmailAddresses) != 0 {
				t.Errorf("CSR has URI or email SANs: %v %v", csr.URIs, csr.EmailAddresses)
			}
			if !PublicKeysEqual(csr.PublicKey, key.Public()) {
				t.Errorf("CSR public key differs from the key")
			}
			if csr.SignatureAlgorithm != tt.wantSignature {
				t.Errorf("signature algorithm is %v, expected %v", csr.SignatureAlgorithm, tt.wantSignature)
			}
		})
	}
}

func TestCreateCSRErrors(t *testing.T) {
	key := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0)

	tests := []struct {
		name        string
		key         *PrivateKey
		dnsNames    []string
		ipAddresses []net.IP
		wantErr     string
	}{
		{name: "rejects a nil key", key: nil, dnsNames: []string{"example.com"}, wantErr: "no private key present"},
		{name: "rejects a zero key", key: &PrivateKey{}, dnsNames: []string{"example.com"}, wantErr: "no private key present"},
		{name: "rejects a request without names", key: key, wantErr: "no DNS names or IP addresses"},
		{
			name:     "names an invalid DNS name",
			key:      key,
			dnsNames: []string{"good.example.com", "Bad.example.com"},
			wantErr:  `invalid DNS name "Bad.example.com"`,
		},
		{
			name:        "rejects a 3-byte IP address",
			key:         key,
			dnsNames:    []string{"example.com"},
			ipAddresses: []net.IP{{10, 0, 0}},
			wantErr:     "is 3 bytes long instead of 4 or 16",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := CreateCSR(tt.key, tt.dnsNames, tt.ipAddresses)
			checkError(t, err, tt.wantErr)
			if data != nil {
				t.Errorf("expected no CSR with the error, got %d bytes", len(data))
			}
		})
	}
}

func TestParseCSRPEM(t *testing.T) {
	key := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0)
	valid := mustCreateCSR(t, key, []string{"example.com"}, nil)
	der := pemBlockBytes(t, valid)

	tampered := slices.Clone(der)
	tampered[len(tampered)-1] ^= 0x01

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "parses a CSR", data: valid},
		{name: "accepts whitespace around the block", data: concat([]byte("\n\n"), valid, []byte(" \n"))},
		{name: "rejects empty input", data: nil, wantErr: "no PEM block found"},
		{name: "rejects data that is not PEM", data: []byte("csr"), wantErr: "found data that is not a PEM block"},
		{name: "rejects two CSRs", data: concat(valid, valid), wantErr: "found data after the PEM block"},
		{name: "rejects trailing garbage", data: concat(valid, []byte("trailer")), wantErr: "found data after the PEM block"},
		{
			name:    "rejects a certificate block",
			data:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			wantErr: `PEM block type "CERTIFICATE" is not "CERTIFICATE REQUEST"`,
		},
		{
			name:    "rejects PEM headers",
			data:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Headers: map[string]string{"Comment": "x"}, Bytes: der}),
			wantErr: "PEM headers are not allowed",
		},
		{
			name:    "rejects unparsable DER",
			data:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der[:len(der)/2]}),
			wantErr: "parsing CSR",
		},
		{
			name:    "rejects a tampered signature",
			data:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}),
			wantErr: "checking CSR signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := ParseCSRPEM(tt.data)
			checkError(t, err, tt.wantErr)
			if tt.wantErr != "" {
				if csr != nil {
					t.Errorf("expected no CSR with the error")
				}
				return
			}
			if !slices.Equal(csr.DNSNames, []string{"example.com"}) {
				t.Errorf("DNS names are %q, expected [example.com]", csr.DNSNames)
			}
		})
	}
}
