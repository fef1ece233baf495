package controllers

import (
	"math"
	"net"
	"reflect"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/pki"
)

var (
	wantECDSAP256 = pki.KeyDescription{Algorithm: certsv1alpha1.ECDSAKeyAlgorithm, Bits: 256}

	// wantDefaultUsages are the usages of a spec without usages and a key other than RSA.
	wantDefaultUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	// wantDefaultRSAUsages are the usages of a spec without usages and an RSA key.
	wantDefaultRSAUsages = []certificatesv1.KeyUsage{
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth,
	}
)

func TestDesiredFromSpec(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*certsv1alpha1.DNSCertificateSpec)
		want   desiredCertificate
	}{
		{
			name:   "fills in every default",
			mutate: func(*certsv1alpha1.DNSCertificateSpec) {},
			want: desiredCertificate{
				signerName: unitSignerName,
				dnsNames:   unitDNSNames,
				duration:   2160 * time.Hour,
				key:        wantECDSAP256,
				encoding:   certsv1alpha1.PKCS8KeyEncoding,
				usages:     wantDefaultUsages,
			},
		},
		{
			name: "keeps the spec's signer, names, duration and renewBefore",
			mutate: func(spec *certsv1alpha1.DNSCertificateSpec) {
				spec.SignerName = "example.com/signer"
				spec.DNSNames = []string{"b.example", "a.example"}
				spec.IPAddresses = []string{"10.0.0.1"}
				spec.Duration = &metav1.Duration{Duration: 48 * time.Hour}
				spec.RenewBefore = &metav1.Duration{Duration: 12 * time.Hour}
			},
			want: desiredCertificate{
				signerName:  "example.com/signer",
				dnsNames:    []string{"b.example", "a.example"},
				ipAddresses: []string{"10.0.0.1"},
				duration:    48 * time.Hour,
				renewBefore: 12 * time.Hour,
				key:         wantECDSAP256,
				encoding:    certsv1alpha1.PKCS8KeyEncoding,
				usages:      wantDefaultUsages,
			},
		},
		{
			name:   "uses ECDSA P-256 when the algorithm is ECDSA",
			mutate: withKey(certsv1alpha1.ECDSAKeyAlgorithm, 0, certsv1alpha1.PKCS8KeyEncoding),
			want: desiredCertificate{signerName: unitSignerName, dnsNames: unitDNSNames, duration: defaultDuration,
				key: wantECDSAP256, encoding: certsv1alpha1.PKCS8KeyEncoding, usages: wantDefaultUsages},
		},
		{
			name:   "uses RSA 2048 with key encipherment when RSA has no size",
			mutate: withKey(certsv1alpha1.RSAKeyAlgorithm, 0, ""),
			want: desiredCertificate{signerName: unitSignerName, dnsNames: unitDNSNames, duration: defaultDuration,
				key:      pki.KeyDescription{Algorithm: certsv1alpha1.RSAKeyAlgorithm, Bits: 2048},
				encoding: certsv1alpha1.PKCS8KeyEncoding, usages: wantDefaultRSAUsages},
		},
		{
			name:   "keeps the RSA size and PKCS1 encoding",
			mutate: withKey(certsv1alpha1.RSAKeyAlgorithm, 4096, certsv1alpha1.PKCS1KeyEncoding),
			want: desiredCertificate{signerName: unitSignerName, dnsNames: unitDNSNames, duration: defaultDuration,
				key:      pki.KeyDescription{Algorithm: certsv1alpha1.RSAKeyAlgorithm, Bits: 4096},
				encoding: certsv1alpha1.PKCS1KeyEncoding, usages: wantDefaultRSAUsages},
		},
		{
			name:   "uses Ed25519 without size and without key encipherment",
			mutate: withKey(certsv1alpha1.Ed25519KeyAlgorithm, 0, ""),
			want: desiredCertificate{signerName: unitSignerName, dnsNames: unitDNSNames, duration: defaultDuration,
				key:      pki.KeyDescription{Algorithm: certsv1alpha1.Ed25519KeyAlgorithm},
				encoding: certsv1alpha1.PKCS8KeyEncoding, usages: wantDefaultUsages},
		},
		{
			name: "sorts and de-duplicates the spec's usages",
			mutate: func(spec *certsv1alpha1.DNSCertificateSpec) {
				spec.Usages = []certsv1alpha1.KeyUsage{
					certsv1alpha1.UsageServerAuth, certsv1alpha1.UsageClientAuth, certsv1alpha1.UsageServerAuth, certsv1alpha1.UsageDigitalSignature,
				}
			},
			want: desiredCertificate{signerName: unitSignerName, dnsNames: unitDNSNames, duration: defaultDuration,
				key: wantECDSAP256, encoding: certsv1alpha1.PKCS8KeyEncoding,
				usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}},
		},
		{
			name: "adds no key encipherment to an RSA spec that lists its usages",
			mutate: func(spec *certsv1alpha1.DNSCertificateSpec) {
				withKey(certsv1alpha1.RSAKeyAlgorithm, 3072, "")(spec)
				spec.Usages = []certsv1alpha1.KeyUsage{certsv1alpha1.UsageServerAuth, certsv1alpha1.UsageDigitalSignature}
			},
			want: desiredCertificate{signerName: unitSignerName, dnsNames: unitDNSNames, duration: defaultDuration,
				key:      pki.KeyDescription{Algorithm: certsv1alpha1.RSAKeyAlgorithm, Bits: 3072},
				encoding: certsv1alpha1.PKCS8KeyEncoding, usages: wantDefaultUsages},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredFromSpec(unitSpec(tc.mutate), unitSignerName)

			if got.signerName != tc.want.signerName {
				t.Errorf("signerName = %q, want %q", got.signerName, tc.want.signerName)
			}
			if !reflect.DeepEqual(got.dnsNames, tc.want.dnsNames) {
				t.Errorf("dnsNames = %q, want %q", got.dnsNames, tc.want.dnsNames)
			}
			if !reflect.DeepEqual(got.ipAddresses, tc.want.ipAddresses) {
				t.Errorf("ipAddresses = %q, want %q", got.ipAddresses, tc.want.ipAddresses)
			}
			if got.duration != tc.want.duration {
				t.Errorf("duration = %s, want %s", got.duration, tc.want.duration)
			}
			if got.renewBefore != tc.want.renewBefore {
				t.Errorf("renewBefore = %s, want %s", got.renewBefore, tc.want.renewBefore)
			}
			if got.key != tc.want.key {
				t.Errorf("key = %s, want %s", got.key, tc.want.key)
			}
			if got.encoding != tc.want.encoding {
				t.Errorf("encoding = %s, want %s", got.encoding, tc.want.encoding)
			}
			if !reflect.DeepEqual(got.usages, tc.want.usages) {
				t.Errorf("usages = %q, want %q", got.usages, tc.want.usages)
			}
		})
	}
}

func TestDesiredFromSpecDefaultSigner(t *testing.T) {
	got := desiredFromSpec(unitSpec(), "example.com/platform")
	if got.signerName != "example.com/platform" {
		t.Errorf("signerName = %q, want the operator default %q", got.signerName, "example.com/platform")
	}
}

func TestExpirationSeconds(t *testing.T) {
	cases := []struct {
		name     string
		duration time.Duration
		want     int32
	}{
		{name: "converts the default of 2160 hours", duration: defaultDuration, want: 7776000},
		{name: "converts the API minimum of ten minutes", duration: 10 * time.Minute, want: 600},
		{name: "drops fractions of a second", duration: time.Hour + 500*time.Millisecond, want: 3600},
		// Admission caps spec.duration at 87600h, but the int32 must not wrap for any duration.
		{name: "saturates a duration beyond the int32 range", duration: 1_000_000 * time.Hour, want: math.MaxInt32},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredCertificate{duration: tc.duration}.expirationSeconds()
			if got == nil {
				t.Fatalf("expirationSeconds() = nil, want %d", tc.want)
			}
			if *got != tc.want {
				t.Errorf("expirationSeconds() = %d, want %d", *got, tc.want)
			}
		})
	}
}

func TestParsedIPAddresses(t *testing.T) {
	cases := []struct {
		name        string
		ipAddresses []string
		want        []net.IP
	}{
		{name: "returns nil without IP addresses", ipAddresses: nil, want: nil},
		{name: "parses IPv4 and IPv6 addresses", ipAddresses: []string{"10.0.0.1", "fd00::1"},
			want: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")}},
		{name: "returns nil for an invalid address", ipAddresses: []string{"10.0.0.1", "not-an-ip"}, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredCertificate{ipAddresses: tc.ipAddresses}.parsedIPAddresses()
			if len(got) != len(tc.want) {
				t.Fatalf("parsedIPAddresses() = %v, want %v", got, tc.want)
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Errorf("parsedIPAddresses()[%d] = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
