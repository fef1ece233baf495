package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// KeyDescription is the algorithm and size of a public key.
type KeyDescription struct {
	Algorithm v1alpha1.PrivateKeyAlgorithm
	// Bits is the RSA modulus size, the ECDSA curve size (256 for P-256), or 0 for Ed25519.
	Bits int
}

// String returns the description as people write it: "ECDSA P-256", "RSA 3072" or "Ed25519".
func (d KeyDescription) String() string {
	switch d.Algorithm {
	case v1alpha1.ECDSAKeyAlgorithm:
		return fmt.Sprintf("ECDSA P-%d", d.Bits)
	case v1alpha1.RSAKeyAlgorithm:
		return fmt.Sprintf("RSA %d", d.Bits)
	case v1alpha1.Ed25519KeyAlgorithm:
		return string(v1alpha1.Ed25519KeyAlgorithm)
	default:
		return fmt.Sprintf("%s %d", d.Algorithm, d.Bits)
	}
}

// DescribePublicKey returns the algorithm and size of an *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey. Other types, nil and incomplete keys are errors.
func DescribePublicKey(pub crypto.PublicKey) (KeyDescription, error) {
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if key == nil || key.N == nil {
			return KeyDescription{}, errors.New("describing public key: RSA key has no modulus")
		}
		return KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: key.N.BitLen()}, nil
	case *ecdsa.PublicKey:
		if key == nil || key.Curve == nil {
			return KeyDescription{}, errors.New("describing public key: ECDSA key has no curve")
		}
		return KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: key.Curve.Params().BitSize}, nil
	case ed25519.PublicKey:
		if len(key) != ed25519.PublicKeySize {
			return KeyDescription{}, fmt.Errorf("describing public key: Ed25519 key is %d bytes long instead of %d", len(key), ed25519.PublicKeySize)
		}
		return KeyDescription{Algorithm: v1alpha1.Ed25519KeyAlgorithm}, nil
	default:
		return KeyDescription{}, fmt.Errorf("describing public key: unsupported key type %T (expected RSA, ECDSA or Ed25519)", pub)
	}
}

// PublicKeysEqual reports whether a and b are the same *rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey. It returns false when either is nil, incomplete or of another type.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	if !isCompletePublicKey(a) || !isCompletePublicKey(b) {
		return false
	}
	switch key := a.(type) {
	case *rsa.PublicKey:
		return key.Equal(b)
	case *ecdsa.PublicKey:
		return key.Equal(b)
	case ed25519.PublicKey:
		return key.Equal(b)
	default:
		return false
	}
}

// isCompletePublicKey reports whether pub is a supported key whose Equal method will not
// dereference a nil field.
func isCompletePublicKey(pub crypto.PublicKey) bool {
	switch key := pub.(type) {
	case *rsa.PublicKey:
		return key != nil && key.N != nil
	case *ecdsa.PublicKey:
		return key != nil && key.Curve != nil && key.X != nil && key.Y != nil
	case ed25519.PublicKey:
		return len(key) == ed25519.PublicKeySize
	default:
		return false
	}
}

// algorithmName names the algorithm of pub for error messages.
func algorithmName(pub crypto.PublicKey) string {
	description, err := DescribePublicKey(pub)
	if err != nil {
		return fmt.Sprintf("%T", pub)
	}
	return description.String()
}
