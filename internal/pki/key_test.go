package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		name            string
		algorithm       v1alpha1.PrivateKeyAlgorithm
		rsaBits         int
		wantDescription KeyDescription
		wantErr         string
	}{
		{
			name:            "defaults to ECDSA P-256",
			wantDescription: KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: 256},
		},
		{
			name:            "generates ECDSA P-256",
			algorithm:       v1alpha1.ECDSAKeyAlgorithm,
			wantDescription: KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: 256},
		},
		{
			name:            "ignores the RSA size for ECDSA",
			algorithm:       v1alpha1.ECDSAKeyAlgorithm,
			rsaBits:         4096,
			wantDescription: KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: 256},
		},
		{
			name:            "defaults RSA to 2048 bits",
			algorithm:       v1alpha1.RSAKeyAlgorithm,
			wantDescription: KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: 2048},
		},
		{
			name:            "generates RSA 3072",
			algorithm:       v1alpha1.RSAKeyAlgorithm,
			rsaBits:         3072,
			wantDescription: KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: 3072},
		},
		{
			name:            "generates RSA 4096",
			algorithm:       v1alpha1.RSAKeyAlgorithm,
			rsaBits:         4096,
			wantDescription: KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: 4096},
		},
		{
			name:            "generates Ed25519",
			algorithm:       v1alpha1.Ed25519KeyAlgorithm,
			wantDescription: KeyDescription{Algorithm: v1alpha1.Ed25519KeyAlgorithm},
		},
		{
			name:      "rejects RSA 1024",
			algorithm: v1alpha1.RSAKeyAlgorithm,
			rsaBits:   1024,
			wantErr:   "unsupported RSA key size 1024 bits",
		},
		{
			name:      "rejects RSA 2047",
			algorithm: v1alpha1.RSAKeyAlgorithm,
			rsaBits:   2047,
			wantErr:   "unsupported RSA key size 2047 bits",
		},
		{
			name:      "rejects an unknown algorithm",
			algorithm: "DSA",
			wantErr:   `unsupported private key algorithm "DSA"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := GenerateKey(tt.algorithm, tt.rsaBits)
			checkError(t, err, tt.wantErr)
			if tt.wantErr != "" {
				if key != nil {
					t.Errorf("expected no key with the error, got one")
				}
				return
			}

			description, err := DescribePublicKey(key.Public())
			if err != nil {
				t.Fatalf("describing the generated key: %v", err)
			}
			if description != tt.wantDescription {
				t.Errorf("generated %v, expected %v", description, tt.wantDescription)
			}
			if !PublicKeysEqual(key.Signer().Public(), key.Public()) {
				t.Errorf("Signer().Public() and Public() differ")
			}
		})
	}
}

func TestPrivateKeyWithoutKey(t *testing.T) {
	tests := []struct {
		name string
		key  *PrivateKey
	}{
		{name: "nil pointer", key: nil},
		{name: "zero value", key: &PrivateKey{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if signer := tt.key.Signer(); signer != nil {
				t.Errorf("Signer() = %T, expected nil", signer)
			}
			if pub := tt.key.Public(); pub != nil {
				t.Errorf("Public() = %T, expected nil", pub)
			}
			_, err := tt.key.EncodePEM("")
			checkError(t, err, "no key present")
		})
	}
}

func TestEncodePEM(t *testing.T) {
	tests := []struct {
		name         string
		algorithm    v1alpha1.PrivateKeyAlgorithm
		rsaBits      int
		encoding     v1alpha1.PrivateKeyEncoding
		wantType     string
		wantEncoding v1alpha1.PrivateKeyEncoding
		wantErr      string
	}{
		{
			name:         "defaults to PKCS8",
			algorithm:    v1alpha1.ECDSAKeyAlgorithm,
			wantType:     "PRIVATE KEY",
			wantEncoding: v1alpha1.PKCS8KeyEncoding,
		},
		{
			name:         "encodes ECDSA as PKCS8",
			algorithm:    v1alpha1.ECDSAKeyAlgorithm,
			encoding:     v1alpha1.PKCS8KeyEncoding,
			wantType:     "PRIVATE KEY",
			wantEncoding: v1alpha1.PKCS8KeyEncoding,
		},
		{
			name:         "encodes ECDSA as SEC1",
			algorithm:    v1alpha1.ECDSAKeyAlgorithm,
			encoding:     SEC1KeyEncoding,
			wantType:     "EC PRIVATE KEY",
			wantEncoding: SEC1KeyEncoding,
		},
		{
			name:         "encodes RSA as PKCS8",
			algorithm:    v1alpha1.RSAKeyAlgorithm,
			encoding:     v1alpha1.PKCS8KeyEncoding,
			wantType:     "PRIVATE KEY",
			wantEncoding: v1alpha1.PKCS8KeyEncoding,
		},
		{
			name:         "encodes RSA as PKCS1",
			algorithm:    v1alpha1.RSAKeyAlgorithm,
			encoding:     v1alpha1.PKCS1KeyEncoding,
			wantType:     "RSA PRIVATE KEY",
			wantEncoding: v1alpha1.PKCS1KeyEncoding,
		},
		{
			name:         "round-trips an Ed25519 key as PKCS8",
			algorithm:    v1alpha1.Ed25519KeyAlgorithm,
			encoding:     v1alpha1.PKCS8KeyEncoding,
			wantType:     "PRIVATE KEY",
			wantEncoding: v1alpha1.PKCS8KeyEncoding,
		},
		{
			name:      "rejects PKCS1 for an ECDSA key",
			algorithm: v1alpha1.ECDSAKeyAlgorithm,
			encoding:  v1alpha1.PKCS1KeyEncoding,
			wantErr:   "PKCS1 encoding is only for RSA keys, and this key is ECDSA P-256",
		},
		{
			name:      "rejects PKCS1 for an Ed25519 key",
			algorithm: v1alpha1.Ed25519KeyAlgorithm,
			encoding:  v1alpha1.PKCS1KeyEncoding,
			wantErr:   "PKCS1 encoding is only for RSA keys, and this key is Ed25519",
		},
		{
			name:      "rejects SEC1 for an RSA key",
			algorithm: v1alpha1.RSAKeyAlgorithm,
			encoding:  SEC1KeyEncoding,
			wantErr:   "SEC1 encoding is only for ECDSA keys, and this key is RSA 2048",
		},
		{
			name:      "rejects an unknown encoding",
			algorithm: v1alpha1.ECDSAKeyAlgorithm,
			encoding:  "PKCS12",
			wantErr:   `unsupported encoding "PKCS12"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := cachedTestKey(t, tt.algorithm, tt.rsaBits)

			data, err := key.EncodePEM(tt.encoding)
			checkError(t, err, tt.wantErr)
			if tt.wantErr != "" {
				return
			}

			block, rest := pem.Decode(data)
			if block == nil {
				t.Fatalf("output is not PEM")
			}
			if block.Type != tt.wantType {
				t.Errorf("PEM block type is %q, expected %q", block.Type, tt.wantType)
			}
			if len(rest) != 0 {
				t.Errorf("output has %d bytes after the PEM block", len(rest))
			}

			parsed, encoding, err := ParsePrivateKeyPEM(data)
			if err != nil {
				t.Fatalf("parsing the encoded key: %v", err)
			}
			if encoding != tt.wantEncoding {
				t.Errorf("parsed encoding is %q, expected %q", encoding, tt.wantEncoding)
			}
			if !PublicKeysEqual(parsed.Public(), key.Public()) {
				t.Errorf("parsed key differs from the encoded key")
			}
			comparable, ok := parsed.Signer().(interface{ Equal(crypto.PrivateKey) bool })
			if !ok {
				t.Fatalf("parsed signer %T has no Equal method", parsed.Signer())
			}
			if !comparable.Equal(key.Signer()) {
				t.Errorf("parsed private key differs from the encoded private key")
			}
		})
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	ecdsaPKCS8 := mustEncodePEM(t, cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0), v1alpha1.PKCS8KeyEncoding)
	ecdsaSEC1 := mustEncodePEM(t, cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0), SEC1KeyEncoding)
	rsaPKCS1 := mustEncodePEM(t, cachedTestKey(t, v1alpha1.RSAKeyAlgorithm, 0), v1alpha1.PKCS1KeyEncoding)
	ed25519PKCS8 := mustEncodePEM(t, cachedTestKey(t, v1alpha1.Ed25519KeyAlgorithm, 0), v1alpha1.PKCS8KeyEncoding)

	x25519Key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generating X25519 key: %v", err)
	}
	x25519DER, err := x509.MarshalPKCS8PrivateKey(x25519Key)
	if err != nil {
		t.Fatalf("encoding X25519 key: %v", err)
	}
	x25519PKCS8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: x25519DER})

	withHeaders := pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"},
		Bytes:   pemBlockBytes(t, rsaPKCS1),
	})

	tests := []struct {
		name         string
		data         []byte
		wantEncoding v1alpha1.PrivateKeyEncoding
		wantErr      string
	}{
		{name: "parses an ECDSA PKCS8 key", data: ecdsaPKCS8, wantEncoding: v1alpha1.PKCS8KeyEncoding},
		{name: "parses an ECDSA SEC1 key", data: ecdsaSEC1, wantEncoding: SEC1KeyEncoding},
		{name: "parses an RSA PKCS1 key", data: rsaPKCS1, wantEncoding: v1alpha1.PKCS1KeyEncoding},
		{name: "parses an Ed25519 PKCS8 key", data: ed25519PKCS8, wantEncoding: v1alpha1.PKCS8KeyEncoding},
		{
			name:         "accepts whitespace around the block",
			data:         concat([]byte("\n \t\r\n"), ecdsaPKCS8, []byte("\n\n  \n")),
			wantEncoding: v1alpha1.PKCS8KeyEncoding,
		},
		{name: "rejects empty input", data: nil, wantErr: "no PEM block found"},
		{name: "rejects whitespace only", data: []byte(" \n\t\n"), wantErr: "no PEM block found"},
		{name: "rejects data that is not PEM", data: []byte("not a key"), wantErr: "found data that is not a PEM block"},
		{name: "rejects a lone BEGIN line", data: []byte("-----BEGIN PRIVATE KEY-----\n"), wantErr: "malformed PEM block"},
		{
			name:    "rejects text before the block",
			data:    concat([]byte("my key:\n"), ecdsaPKCS8),
			wantErr: "found data that is not a PEM block",
		},
		{
			name:    "rejects trailing garbage",
			data:    concat(ecdsaPKCS8, []byte("garbage\n")),
			wantErr: "found data after the PEM block",
		},
		{
			name:    "rejects two keys",
			data:    concat(ecdsaPKCS8, ed25519PKCS8),
			wantErr: "found data after the PEM block",
		},
		{
			name:    "rejects a broken first block",
			data:    concat([]byte("-----BEGIN PRIVATE KEY-----\n!!!\n"), ecdsaPKCS8),
			wantErr: "malformed PEM block",
		},
		{
			name:    "rejects a certificate block",
			data:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pemBlockBytes(t, ecdsaPKCS8)}),
			wantErr: `PEM block type "CERTIFICATE" is not a private key`,
		},
		{name: "rejects PEM headers", data: withHeaders, wantErr: "PEM headers are not supported"},
		{
			name:    "rejects PKCS8 data labelled as PKCS1",
			data:    pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pemBlockBytes(t, ecdsaPKCS8)}),
			wantErr: "parsing PKCS1 private key",
		},
		{
			name:    "rejects PKCS1 data labelled as PKCS8",
			data:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pemBlockBytes(t, rsaPKCS1)}),
			wantErr: "parsing PKCS8 private key",
		},
		{
			name:    "rejects unparsable SEC1 data",
			data:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}),
			wantErr: "parsing SEC1 private key",
		},
		{name: "rejects an X25519 key", data: x25519PKCS8, wantErr: "unsupported key type *ecdh.PrivateKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, encoding, err := ParsePrivateKeyPEM(tt.data)
			checkError(t, err, tt.wantErr)
			if tt.wantErr != "" {
				if key != nil || encoding != "" {
					t.Errorf("expected no key and no encoding with the error, got %v and %q", key, encoding)
				}
				if body := pemBody(tt.data); body != "" && strings.Contains(err.Error(), body[:32]) {
					t.Errorf("error contains PEM data: %v", err)
				}
				return
			}
			if encoding != tt.wantEncoding {
				t.Errorf("encoding is %q, expected %q", encoding, tt.wantEncoding)
			}
			if key.Signer() == nil {
				t.Errorf("parsed key has no signer")
			}
		})
	}
}

// holder has the fields through which a PrivateKey might be printed as part of another value.
type holder struct {
	Key        *PrivateKey
	KeyValue   PrivateKey
	key        *PrivateKey
	keyValue   PrivateKey
	keyAsAny   any
	Keys       []*PrivateKey
	KeysByName map[string]*PrivateKey
}

func TestPrivateKeyRedaction(t *testing.T) {
	tests := []struct {
		name      string
		algorithm v1alpha1.PrivateKeyAlgorithm
	}{
		{name: "ECDSA key", algorithm: v1alpha1.ECDSAKeyAlgorithm},
		{name: "RSA key", algorithm: v1alpha1.RSAKeyAlgorithm},
		{name: "Ed25519 key", algorithm: v1alpha1.Ed25519KeyAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := cachedTestKey(t, tt.algorithm, 0)
			secrets := secretRenderings(t, key)
			h := holder{
				Key:        key,
				KeyValue:   *key,
				key:        key,
				keyValue:   *key,
				keyAsAny:   key,
				Keys:       []*PrivateKey{key},
				KeysByName: map[string]*PrivateKey{"tls.key": key},
			}

			outputs := map[string]string{
				"fmt of the pointer": fmt.Sprintf("%v %+v %#v %s %q %x %X %d %T", key, key, key, key, key, key, key, key, key),
				"fmt of the value":   fmt.Sprintf("%v %+v %#v %s %q %x %X %d", *key, *key, *key, *key, *key, *key, *key, *key),
				"fmt of a holder":    fmt.Sprintf("%v %+v %#v", h, h, &h),
				"Sprint":             fmt.Sprint(key, *key),
				"String":             key.String(),
				"GoString":           key.GoString(),
			}

			for name, value := range map[string]any{"pointer": key, "value": *key, "holder": h} {
				data, err := json.Marshal(value)
				if err != nil {
					t.Fatalf("json.Marshal of the %s: %v", name, err)
				}
				outputs["json.Marshal of the "+name] = string(data)
			}

			text, err := key.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText: %v", err)
			}
			outputs["MarshalText"] = string(text)

			var logs bytes.Buffer
			slog.New(slog.NewTextHandler(&logs, nil)).Info("Generated key", "key", key, "value", *key)
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("Generated key", "key", key, "holder", h)
			outputs["slog"] = logs.String()

			for name, output := range outputs {
				for _, secret := range secrets {
					if strings.Contains(output, secret) {
						t.Errorf("%s contains key material %q: %s", name, secret, output)
					}
				}
			}
			for _, name := range []string{"fmt of the pointer", "fmt of the value", "String", "GoString", "json.Marshal of the pointer", "json.Marshal of the holder", "MarshalText", "slog"} {
				if !strings.Contains(outputs[name], "REDACTED") {
					t.Errorf("%s does not contain REDACTED: %s", name, outputs[name])
				}
			}
		})
	}
}

func TestPrivateKeyFormatVerbs(t *testing.T) {
	key := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0)
	tests := []struct {
		name   string
		format string
		want   string
	}{
		{name: "prints REDACTED for %v", format: "%v", want: "REDACTED"},
		{name: "prints REDACTED for %+v", format: "%+v", want: "REDACTED"},
		{name: "prints REDACTED for %#v", format: "%#v", want: "REDACTED"},
		{name: "prints REDACTED for %s", format: "%s", want: "REDACTED"},
		{name: "prints a quoted REDACTED for %q", format: "%q", want: `"REDACTED"`},
		{name: "prints REDACTED for %x", format: "%x", want: "REDACTED"},
		{name: "prints REDACTED for %d", format: "%d", want: "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprintf(tt.format, key); got != tt.want {
				t.Errorf("Sprintf(%q, key) = %q, expected %q", tt.format, got, tt.want)
			}
			if got := fmt.Sprintf(tt.format, *key); got != tt.want {
				t.Errorf("Sprintf(%q, *key) = %q, expected %q", tt.format, got, tt.want)
			}
		})
	}
}

// secretRenderings returns forms in which the key's secret material could appear in output:
// the lines of its PEM encoding, and its secret value in hex, as a decimal big integer and
// as fmt prints a byte slice.
func secretRenderings(t *testing.T, key *PrivateKey) []string {
	t.Helper()
	var secrets []string
	for line := range strings.SplitSeq(string(mustEncodePEM(t, key, v1alpha1.PKCS8KeyEncoding)), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}

	var raw []byte
	switch signer := key.Signer().(type) {
	case *ecdsa.PrivateKey:
		var err error
		raw, err = signer.Bytes()
		if err != nil {
			t.Fatalf("reading the ECDSA scalar: %v", err)
		}
	case *rsa.PrivateKey:
		raw = signer.Primes[0].Bytes()
	case ed25519.PrivateKey:
		raw = signer.Seed()
	default:
		t.Fatalf("unexpected signer type %T", signer)
	}
	byteSlice := fmt.Sprint(raw[:8])
	return append(secrets,
		hex.EncodeToString(raw[:8]),
		new(big.Int).SetBytes(raw).String()[:16],
		strings.TrimSuffix(byteSlice, "]"),
	)
}

// pemBlockBytes returns the DER bytes of the first PEM block in data.
func pemBlockBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("test data is not PEM")
	}
	return block.Bytes
}

// pemBody returns the first base64 line of the first PEM block in data, or "" when there is
// none at least 32 characters long.
func pemBody(data []byte) string {
	for line := range strings.SplitSeq(string(data), "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") {
			return line
		}
	}
	return ""
}

func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}
