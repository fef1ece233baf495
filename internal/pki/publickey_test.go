package pki

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

func TestDescribePublicKey(t *testing.T) {
	p384Key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("generating P-384 key: %v", err)
	}
	x25519Key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generating X25519 key: %v", err)
	}
	ecdsaKey := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0)

	tests := []struct {
		name       string
		pub        crypto.PublicKey
		want       KeyDescription
		wantString string
		wantErr    string
	}{
		{
			name:       "describes ECDSA P-256",
			pub:        ecdsaKey.Public(),
			want:       KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: 256},
			wantString: "ECDSA P-256",
		},
		{
			name:       "describes ECDSA P-384",
			pub:        p384Key.Public(),
			want:       KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: 384},
			wantString: "ECDSA P-384",
		},
		{
			name:       "describes RSA 2048",
			pub:        cachedTestKey(t, v1alpha1.RSAKeyAlgorithm, 2048).Public(),
			want:       KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: 2048},
			wantString: "RSA 2048",
		},
		{
			name:       "describes RSA 3072",
			pub:        cachedTestKey(t, v1alpha1.RSAKeyAlgorithm, 3072).Public(),
			want:       KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: 3072},
			wantString: "RSA 3072",
		},
		{
			name:       "describes Ed25519",
			pub:        cachedTestKey(t, v1alpha1.Ed25519KeyAlgorithm, 0).Public(),
			want:       KeyDescription{Algorithm: v1alpha1.Ed25519KeyAlgorithm},
			wantString: "Ed25519",
		},
		{name: "rejects nil", pub: nil, wantErr: "unsupported key type <nil>"},
		{name: "rejects a nil RSA key", pub: (*rsa.PublicKey)(nil), wantErr: "RSA key has no modulus"},
		{name: "rejects an RSA key without modulus", pub: &rsa.PublicKey{E: 65537}, wantErr: "RSA key has no modulus"},
		{name: "rejects a nil ECDSA key", pub: (*ecdsa.PublicKey)(nil), wantErr: "ECDSA key has no curve"},
		{name: "rejects an ECDSA key without curve", pub: &ecdsa.PublicKey{}, wantErr: "ECDSA key has no curve"},
		{name: "rejects a short Ed25519 key", pub: ed25519.PublicKey{1, 2, 3}, wantErr: "Ed25519 key is 3 bytes long instead of 32"},
		{name: "rejects an X25519 key", pub: x25519Key.PublicKey(), wantErr: "unsupported key type *ecdh.PublicKey"},
		{name: "rejects a private key", pub: ecdsaKey.Signer(), wantErr: "unsupported key type *ecdsa.PrivateKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DescribePublicKey(tt.pub)
			checkError(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("DescribePublicKey() = %#v, expected %#v", got, tt.want)
			}
			if tt.wantErr == "" && got.String() != tt.wantString {
				t.Errorf("String() = %q, expected %q", got.String(), tt.wantString)
			}
		})
	}
}

func TestKeyDescriptionString(t *testing.T) {
	tests := []struct {
		name        string
		description KeyDescription
		want        string
	}{
		{name: "names the ECDSA curve", description: KeyDescription{Algorithm: v1alpha1.ECDSAKeyAlgorithm, Bits: 521}, want: "ECDSA P-521"},
		{name: "names the RSA size", description: KeyDescription{Algorithm: v1alpha1.RSAKeyAlgorithm, Bits: 4096}, want: "RSA 4096"},
		{name: "leaves out the size of Ed25519", description: KeyDescription{Algorithm: v1alpha1.Ed25519KeyAlgorithm}, want: "Ed25519"},
		{name: "prints an unknown algorithm with its size", description: KeyDescription{Algorithm: "DSA", Bits: 1024}, want: "DSA 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.description.String(); got != tt.want {
				t.Errorf("String() = %q, expected %q", got, tt.want)
			}
		})
	}
}

func TestPublicKeysEqual(t *testing.T) {
	ecdsaKey := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0)
	otherECDSAKey, err := GenerateKey(v1alpha1.ECDSAKeyAlgorithm, 0)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	rsaKey := cachedTestKey(t, v1alpha1.RSAKeyAlgorithm, 0)
	otherRSAKey := cachedTestKey(t, v1alpha1.RSAKeyAlgorithm, 3072)
	ed25519Key := cachedTestKey(t, v1alpha1.Ed25519KeyAlgorithm, 0)
	otherEd25519Key, err := GenerateKey(v1alpha1.Ed25519KeyAlgorithm, 0)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}

	// reparse returns an equal public key that shares no memory with pub.
	reparse := func(pub crypto.PublicKey) crypto.PublicKey {
		t.Helper()
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("encoding public key: %v", err)
		}
		parsed, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatalf("parsing public key: %v", err)
		}
		return parsed
	}

	tests := []struct {
		name string
		a, b crypto.PublicKey
		want bool
	}{
		{name: "matches the same ECDSA key", a: ecdsaKey.Public(), b: reparse(ecdsaKey.Public()), want: true},
		{name: "matches the same RSA key", a: rsaKey.Public(), b: reparse(rsaKey.Public()), want: true},
		{name: "matches the same Ed25519 key", a: ed25519Key.Public(), b: reparse(ed25519Key.Public()), want: true},
		{name: "tells different ECDSA keys apart", a: ecdsaKey.Public(), b: otherECDSAKey.Public()},
		{name: "tells different RSA keys apart", a: rsaKey.Public(), b: otherRSAKey.Public()},
		{name: "tells different Ed25519 keys apart", a: ed25519Key.Public(), b: otherEd25519Key.Public()},
		{name: "tells ECDSA from RSA", a: ecdsaKey.Public(), b: rsaKey.Public()},
		{name: "tells Ed25519 from ECDSA", a: ed25519Key.Public(), b: ecdsaKey.Public()},
		{name: "returns false for two nils", a: nil, b: nil},
		{name: "returns false for nil and a key", a: nil, b: ecdsaKey.Public()},
		{name: "returns false for a key and nil", a: ecdsaKey.Public(), b: nil},
		{name: "returns false for typed nil RSA", a: (*rsa.PublicKey)(nil), b: rsaKey.Public()},
		{name: "returns false for typed nil ECDSA", a: ecdsaKey.Public(), b: (*ecdsa.PublicKey)(nil)},
		{name: "returns false for two empty ECDSA keys", a: &ecdsa.PublicKey{}, b: &ecdsa.PublicKey{}},
		{name: "returns false for two empty RSA keys", a: &rsa.PublicKey{}, b: &rsa.PublicKey{}},
		{name: "returns false for two empty Ed25519 keys", a: ed25519.PublicKey{}, b: ed25519.PublicKey{}},
		{name: "returns false for an unknown type", a: "key", b: "key"},
		{name: "returns false for private keys", a: ecdsaKey.Signer(), b: ecdsaKey.Signer()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PublicKeysEqual(tt.a, tt.b); got != tt.want {
				t.Errorf("PublicKeysEqual() = %t, expected %t", got, tt.want)
			}
		})
	}
}
