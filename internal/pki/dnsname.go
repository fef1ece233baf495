package pki

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

const (
	maxDNSNameLength  = 253
	maxDNSLabelLength = 63
	wildcardPrefix    = "*."
)

// ValidateDNSName checks that name is a lower-case RFC 1123 DNS name, optionally with a
// leading "*." wildcard label. Each label has 1 to 63 characters from a-z, 0-9 and '-', and
// does not start or end with '-'. The name has at most 253 characters, no trailing dot, and
// is not an IP address. The error message quotes the name and states the problem.
func ValidateDNSName(name string) error {
	if name == "" {
		return errors.New("invalid DNS name: the name is empty")
	}
	if len(name) > maxDNSNameLength {
		return fmt.Errorf("invalid DNS name %q: it is %d characters long, more than the maximum of %d", name, len(name), maxDNSNameLength)
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("invalid DNS name %q: it is an IP address, so request it as an IP address SAN instead", name)
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Errorf("invalid DNS name %q: a trailing dot is not allowed", name)
	}

	host := strings.TrimPrefix(name, wildcardPrefix)
	if strings.Contains(host, "*") {
		return fmt.Errorf("invalid DNS name %q: a wildcard '*' is allowed only as the whole first label, as in *.example.com", name)
	}
	for _, r := range host {
		switch {
		case r >= 'A' && r <= 'Z':
			return fmt.Errorf("invalid DNS name %q: it contains upper-case letters, but DNS names must be lower case", name)
		case (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.':
			return fmt.Errorf("invalid DNS name %q: it contains %q, but only a-z, 0-9, '-' and '.' are allowed", name, r)
		}
	}

	for label := range strings.SplitSeq(host, ".") {
		if err := validateDNSLabel(label); err != nil {
			return fmt.Errorf("invalid DNS name %q: %w", name, err)
		}
	}
	return nil
}

// validateDNSLabel checks the length and the first and last characters of one label whose
// characters ValidateDNSName has already checked.
func validateDNSLabel(label string) error {
	if label == "" {
		return errors.New("it has an empty label (two dots in a row, or a leading dot)")
	}
	if len(label) > maxDNSLabelLength {
		return fmt.Errorf("label %q is %d characters long, more than the maximum of %d", label, len(label), maxDNSLabelLength)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'", label)
	}
	return nil
}
