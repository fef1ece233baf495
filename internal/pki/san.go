package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"strings"
)

// SANsEqual reports whether the certificate's subject alternative names are exactly dnsNames
// and ipAddresses, compared as sets. DNS names compare case-insensitively. IP addresses compare
// as parsed addresses, so "::1" equals "0:0::1" and, as in net.IP.Equal, "1.2.3.4" equals
// "::ffff:1.2.3.4". A certificate with URI or email SANs, an unparsable IP address in
// ipAddresses, and a nil certificate are never equal.
func SANsEqual(cert *x509.Certificate, dnsNames []string, ipAddresses []string) bool {
	if cert == nil {
		return false
	}
	if len(cert.URIs) != 0 || len(cert.EmailAddresses) != 0 {
		return false
	}

	if !stringSetsEqual(lowerCaseSet(cert.DNSNames), lowerCaseSet(dnsNames)) {
		return false
	}

	wantIPs, err := ParseIPAddresses(ipAddresses)
	if err != nil {
		return false
	}
	return stringSetsEqual(ipSet(cert.IPAddresses), ipSet(wantIPs))
}

// ParseIPAddresses parses each value as an IPv4 or IPv6 address. The error names the first
// value that is not one.
func ParseIPAddresses(values []string) ([]net.IP, error) {
	if len(values) == 0 {
		return nil, nil
	}
	ips := make([]net.IP, 0, len(values))
	for _, value := range values {
		ip := net.ParseIP(value)
		if ip == nil {
			return nil, fmt.Errorf("invalid IP address %q: expected an IPv4 or IPv6 address such as 10.0.0.1 or fd00::1", value)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

func lowerCaseSet(names []string) map[string]struct{} {
	set := make(map[string]struct{}, len(names))
	for _, name := range names {
		set[strings.ToLower(name)] = struct{}{}
	}
	return set
}

// ipSet keys each address by its 16-byte form, so that an IPv4 address and its IPv4-mapped
// IPv6 form are one entry. crypto/x509 writes an IPv4-mapped address as 4 bytes, so a CSR for
// "::ffff:1.2.3.4" yields a certificate for 1.2.3.4.
func ipSet(ips []net.IP) map[string]struct{} {
	set := make(map[string]struct{}, len(ips))
	for _, ip := range ips {
		set[string(ip.To16())] = struct{}{}
	}
	return set
}

func stringSetsEqual(a, b map[string]struct{}) bool {
	if len(a) != len(b) {
		return false
	}
	for key := range a {
		if _, ok := b[key]; !ok {
			return false
		}
	}
	return true
}
