package pki

import (
	"crypto/x509"
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/dnscert/dnscert-operator/api/v1alpha1"
)

func TestSANsEqual(t *testing.T) {
	root := newTestRoot(t, "Test Root")
	pub := cachedTestKey(t, v1alpha1.ECDSAKeyAlgorithm, 0).Public()
	cert := root.issueLeaf(t, pub, leafOptions{
		dnsNames:    []string{"example1.istio-system.svc", "example1.istio-system"},
		ipAddresses: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("::1")},
	})
	withURI := root.issueLeaf(t, pub, leafOptions{
		dnsNames: []string{"example.com"},
		uris:     []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/default/sa/web"}},
	})
	withEmail := root.issueLeaf(t, pub, leafOptions{dnsNames: []string{"example.com"}, emails: []string{"admin@example.com"}})
	withoutSANs := root.issueLeaf(t, pub, leafOptions{commonName: "example.com"})

	names := []string{"example1.istio-system.svc", "example1.istio-system"}
	ips := []string{"10.0.0.1", "::1"}

	tests := []struct {
		name        string
		cert        *x509.Certificate
		dnsNames    []string
		ipAddresses []string
		want        bool
	}{
		{name: "matches the same names", cert: cert, dnsNames: names, ipAddresses: ips, want: true},
		{
			name:        "matches names in another order",
			cert:        cert,
			dnsNames:    []string{"example1.istio-system", "example1.istio-system.svc"},
			ipAddresses: []string{"::1", "10.0.0.1"},
			want:        true,
		},
		{
			name:        "matches names in another case",
			cert:        cert,
			dnsNames:    []string{"Example1.Istio-System.SVC", "example1.istio-system"},
			ipAddresses: ips,
			want:        true,
		},
		{
			name:        "ignores duplicates",
			cert:        cert,
			dnsNames:    []string{"example1.istio-system.svc", "example1.istio-system", "example1.istio-system"},
			ipAddresses: []string{"10.0.0.1", "::1", "10.0.0.1"},
			want:        true,
		},
		{
			name:        "compares IPv6 addresses as parsed",
			cert:        cert,
			dnsNames:    names,
			ipAddresses: []string{"10.0.0.1", "0:0::1"},
			want:        true,
		},
		{
			name:        "matches IPv4-mapped IPv6 addresses",
			cert:        cert,
			dnsNames:    names,
			ipAddresses: []string{"::ffff:10.0.0.1", "::1"},
			want:        true,
		},
		{name: "matches no SANs to empty lists", cert: withoutSANs, want: true},
		{
			name:        "differs when a DNS name is added",
			cert:        cert,
			dnsNames:    append(slices.Clone(names), "example1"),
			ipAddresses: ips,
		},
		{name: "differs when a DNS name is removed", cert: cert, dnsNames: names[:1], ipAddresses: ips},
		{
			name:        "differs when a DNS name is replaced",
			cert:        cert,
			dnsNames:    []string{"example1.istio-system.svc", "example2.istio-system"},
			ipAddresses: ips,
		},
		{name: "differs when an IP address is removed", cert: cert, dnsNames: names, ipAddresses: ips[:1]},
		{name: "differs when an IP address is replaced", cert: cert, dnsNames: names, ipAddresses: []string{"10.0.0.2", "::1"}},
		{name: "differs when IP addresses are missing", cert: cert, dnsNames: names},
		{name: "differs on an unparsable IP address", cert: cert, dnsNames: names, ipAddresses: []string{"10.0.0.1", "::1", "nope"}},
		{name: "differs when the certificate lacks SANs", cert: withoutSANs, dnsNames: []string{"example.com"}},
		{name: "differs with a URI SAN", cert: withURI, dnsNames: []string{"example.com"}},
		{name: "differs with an email SAN", cert: withEmail, dnsNames: []string{"example.com"}},
		{name: "differs for a nil certificate", cert: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SANsEqual(tt.cert, tt.dnsNames, tt.ipAddresses); got != tt.want {
				t.Errorf("SANsEqual() = %t, expected %t", got, tt.want)
			}
		})
	}
}

func TestParseIPAddresses(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    []net.IP
		wantErr string
	}{
		{name: "returns nil for no values", values: nil, want: nil},
		{
			name:   "parses IPv4 and IPv6 addresses in order",
			values: []string{"10.0.0.1", "fd00::1", "::ffff:192.0.2.1"},
			want:   []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1"), net.ParseIP("192.0.2.1")},
		},
		{name: "names the bad value", values: []string{"10.0.0.1", "10.0.0.256"}, wantErr: `invalid IP address "10.0.0.256"`},
		{name: "rejects a DNS name", values: []string{"example.com"}, wantErr: `invalid IP address "example.com"`},
		{name: "rejects an empty value", values: []string{""}, wantErr: `invalid IP address ""`},
		{name: "rejects a CIDR", values: []string{"10.0.0.0/8"}, wantErr: `invalid IP address "10.0.0.0/8"`},
		{name: "rejects an IPv6 zone", values: []string{"fe80::1%eth0"}, wantErr: `invalid IP address "fe80::1%eth0"`},
		{name: "rejects leading zeros", values: []string{"010.0.0.1"}, wantErr: `invalid IP address "010.0.0.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIPAddresses(tt.values)
			checkError(t, err, tt.wantErr)
			if !slices.EqualFunc(got, tt.want, net.IP.Equal) {
				t.Errorf("ParseIPAddresses() = %v, expected %v", got, tt.want)
			}
		})
	}
}
