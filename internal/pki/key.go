package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// SEC1KeyEncoding is the encoding ParsePrivateKeyPEM reports for an "EC PRIVATE KEY" block
// (RFC 5915). The API does not offer it for new keys, but EncodePEM writes it for ECDSA keys.
const SEC1KeyEncoding v1alpha1.PrivateKeyEncoding = "SEC1"

// DefaultRSABits is the RSA modulus size GenerateKey uses when rsaBits is 0.
const DefaultRSABits = 2048

const redacted = "REDACTED"

// PrivateKey is a private key that prints and marshals as REDACTED, through fmt (every verb),
// encoding/json, encoding.TextMarshaler and log/slog. Only EncodePEM and Signer expose the key.
// The zero value contains no key.
type PrivateKey struct {
	// material is behind a pointer so that fmt, when it prints a PrivateKey by reflection
	// (as an unexported field of another struct), prints an address and not key bytes.
	material *keyMaterial
}

type keyMaterial struct {
	signer crypto.Signer
}

// GenerateKey generates a new private key. An empty algorithm means ECDSA, which always uses
// P-256. rsaBits applies to RSA only: 0 means DefaultRSABits, and 2048, 3072 and 4096 are
// allowed. Other algorithms ignore rsaBits, because the API rejects a size for them.
func GenerateKey(algorithm v1alpha1.PrivateKeyAlgorithm, rsaBits int) (*PrivateKey, error) {
	if algorithm == "" {
		algorithm = v1alpha1.ECDSAKeyAlgorithm
	}

	var signer crypto.Signer
	var err error
	switch algorithm {
	case v1alpha1.ECDSAKeyAlgorithm:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case v1alpha1.RSAKeyAlgorithm:
		if rsaBits == 0 {
			rsaBits = DefaultRSABits
		}
		if rsaBits != 2048 && rsaBits != 3072 && rsaBits != 4096 {
			return nil, fmt.Errorf("unsupported RSA key size %d bits (expected 2048, 3072 or 4096)", rsaBits)
		}
		signer, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case v1alpha1.Ed25519KeyAlgorithm:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported private key algorithm %q (expected ECDSA, RSA or Ed25519)", algorithm)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s private key: %w", algorithm, err)
	}
	return newPrivateKey(signer), nil
}

func newPrivateKey(signer crypto.Signer) *PrivateKey {
	return &PrivateKey{material: &keyMaterial{signer: signer}}
}

// Signer returns the key as a crypto.Signer, or nil when k contains no key.
func (k *PrivateKey) Signer() crypto.Signer {
	if k == nil || k.material == nil {
		return nil
	}
	return k.material.signer
}

// Public returns the public half of the key, or nil when k contains no key.
func (k *PrivateKey) Public() crypto.PublicKey {
	signer := k.Signer()
	if signer == nil {
		return nil
	}
	return signer.Public()
}

// EncodePEM encodes the key as one PEM block. An empty encoding or PKCS8 writes a
// "PRIVATE KEY" block (RFC 5208), PKCS1 an "RSA PRIVATE KEY" block (RSA keys only), and
// SEC1KeyEncoding an "EC PRIVATE KEY" block (ECDSA keys only).
func (k *PrivateKey) EncodePEM(encoding v1alpha1.PrivateKeyEncoding) ([]byte, error) {
	signer := k.Signer()
	if signer == nil {
		return nil, errors.New("encoding private key: no key present")
	}

	var blockType string
	var der []byte
	var err error
	switch encoding {
	case "", v1alpha1.PKCS8KeyEncoding:
		blockType = pemTypePKCS8PrivateKey
		der, err = x509.MarshalPKCS8PrivateKey(signer)
	case v1alpha1.PKCS1KeyEncoding:
		rsaKey, ok := signer.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("encoding private key: PKCS1 encoding is only for RSA keys, and this key is %s", algorithmName(signer.Public()))
		}
		blockType = pemTypePKCS1PrivateKey
		der = x509.MarshalPKCS1PrivateKey(rsaKey)
	case SEC1KeyEncoding:
		ecKey, ok := signer.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("encoding private key: SEC1 encoding is only for ECDSA keys, and this key is %s", algorithmName(signer.Public()))
		}
		blockType = pemTypeSEC1PrivateKey
		der, err = x509.MarshalECPrivateKey(ecKey)
	default:
		return nil, fmt.Errorf("encoding private key: unsupported encoding %q (expected PKCS8, PKCS1 or SEC1)", encoding)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding private key as %s: %w", blockType, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), nil
}

// ParsePrivateKeyPEM parses data that contains exactly one private key PEM block and nothing else
// but whitespace. It reads "PRIVATE KEY" (PKCS8), "RSA PRIVATE KEY" (PKCS1) and "EC PRIVATE KEY"
// (SEC1) blocks with RSA, ECDSA or Ed25519 keys, and returns the encoding it found.
// Error messages contain the block type and the crypto/x509 error, not the key data.
func ParsePrivateKeyPEM(data []byte) (*PrivateKey, v1alpha1.PrivateKeyEncoding, error) {
	block, err := decodeSinglePEMBlock(data)
	if err != nil {
		return nil, "", fmt.Errorf("parsing private key: %w", err)
	}
	if len(block.Headers) != 0 {
		return nil, "", errors.New("parsing private key: PEM headers are not supported (is the key encrypted?)")
	}

	var parsed any
	var encoding v1alpha1.PrivateKeyEncoding
	switch block.Type {
	case pemTypePKCS8PrivateKey:
		encoding = v1alpha1.PKCS8KeyEncoding
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemTypePKCS1PrivateKey:
		encoding = v1alpha1.PKCS1KeyEncoding
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case pemTypeSEC1PrivateKey:
		encoding = SEC1KeyEncoding
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("parsing private key: PEM block type %q is not a private key (expected %q, %q or %q)",
			block.Type, pemTypePKCS8PrivateKey, pemTypePKCS1PrivateKey, pemTypeSEC1PrivateKey)
	}
	if err != nil {
		return nil, "", fmt.Errorf("parsing %s private key: %w", encoding, err)
	}

	switch signer := parsed.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return newPrivateKey(signer.(crypto.Signer)), encoding, nil
	default:
		return nil, "", fmt.Errorf("parsing %s private key: unsupported key type %T (expected RSA, ECDSA or Ed25519)", encoding, parsed)
	}
}

// String returns REDACTED.
func (PrivateKey) String() string { return redacted }

// GoString returns REDACTED, so that %#v does not print the key either.
func (PrivateKey) GoString() string { return redacted }

// Format writes REDACTED for every verb, quoted for %q.
func (PrivateKey) Format(state fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(state, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(state, redacted)
}

// MarshalJSON returns the JSON string "REDACTED".
func (PrivateKey) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(redacted)), nil }

// MarshalText returns REDACTED.
func (PrivateKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns REDACTED for log/slog.
func (PrivateKey) LogValue() slog.Value { return slog.StringValue(redacted) }
