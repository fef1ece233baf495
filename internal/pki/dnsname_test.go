package pki

import (
	"net"
	"regexp"
	"strings"
	"testing"
)

func TestValidateDNSName(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 3 labels of 63 characters, one of 61, and 3 dots: 253 characters.
	name253 := strings.Join([]string{label63, label63, label63, strings.Repeat("b", 61)}, ".")

	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{name: "accepts a single label", input: "localhost"},
		{name: "accepts a service name", input: "example1.istio-system.svc"},
		{name: "accepts digits and hyphens", input: "0a-b.c9.x-1"},
		{name: "accepts a wildcard label", input: "*.example.com"},
		{name: "accepts a wildcard over one label", input: "*.com"},
		{name: "accepts a label of 63 characters", input: label63 + ".com"},
		{name: "accepts 253 characters", input: name253},
		{name: "accepts a partial IPv4 address", input: "10.0.0"},
		{name: "rejects an empty name", input: "", wantErr: "the name is empty"},
		{name: "rejects a trailing dot", input: "example.com.", wantErr: `"example.com.": a trailing dot is not allowed`},
		{name: "rejects upper-case letters", input: "Example.com", wantErr: `"Example.com": it contains upper-case letters`},
		{name: "rejects an underscore", input: "_http.example.com", wantErr: `"_http.example.com": it contains '_'`},
		{name: "rejects a space", input: "example .com", wantErr: `it contains ' '`},
		{name: "rejects non-ASCII letters", input: "exämple.com", wantErr: `it contains 'ä'`},
		{name: "rejects a wildcard inside a label", input: "web*.example.com", wantErr: "a wildcard '*' is allowed only as the whole first label"},
		{name: "rejects a wildcard in a later label", input: "www.*.example.com", wantErr: "a wildcard '*' is allowed only as the whole first label"},
		{name: "rejects two wildcard labels", input: "*.*.example.com", wantErr: "a wildcard '*' is allowed only as the whole first label"},
		{name: "rejects a lone wildcard", input: "*", wantErr: "a wildcard '*' is allowed only as the whole first label"},
		{name: "rejects a wildcard without a domain", input: "*.", wantErr: "a trailing dot is not allowed"},
		{name: "rejects a label of 64 characters", input: label63 + "a.com", wantErr: "is 64 characters long, more than the maximum of 63"},
		{name: "rejects 254 characters", input: name253 + "b", wantErr: "it is 254 characters long, more than the maximum of 253"},
		{name: "rejects a leading hyphen", input: "-web.example.com", wantErr: `label "-web" starts or ends with '-'`},
		{name: "rejects a trailing hyphen", input: "web-.example.com", wantErr: `label "web-" starts or ends with '-'`},
		{name: "rejects two dots in a row", input: "web..example.com", wantErr: "it has an empty label"},
		{name: "rejects a leading dot", input: ".example.com", wantErr: "it has an empty label"},
		{name: "rejects a wildcard followed by a dot", input: "*..example.com", wantErr: "it has an empty label"},
		{name: "rejects an IPv4 address", input: "10.0.0.1", wantErr: `"10.0.0.1": it is an IP address`},
		{name: "rejects an IPv6 address", input: "fd00::1", wantErr: `"fd00::1": it is an IP address`},
		{name: "rejects a bracketed IPv6 address", input: "[fd00::1]", wantErr: "it contains '['"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDNSName(tt.input)
			checkError(t, err, tt.wantErr)
			if err != nil && tt.input != "" && !strings.Contains(err.Error(), tt.input) {
				t.Errorf("error does not name %q: %v", tt.input, err)
			}
			if got, want := err == nil, matchesAdmissionRule(tt.input); got != want {
				t.Errorf("ValidateDNSName accepts the name: %t, the admission rule: %t", got, want)
			}
		})
	}
}

// admissionDNSNamePattern is the pattern of the CEL rule on spec.dnsNames in api/v1alpha1.
// ValidateDNSName must accept exactly the names that admission accepts, so that a spec that
// passed admission never fails later.
var admissionDNSNamePattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`)

// matchesAdmissionRule applies the admission rules on one entry of spec.dnsNames: the
// pattern, a maximum length of 253 and not an IP address (CEL's isIP, here net.ParseIP).
func matchesAdmissionRule(name string) bool {
	return len(name) <= 253 && admissionDNSNamePattern.MatchString(name) && net.ParseIP(name) == nil
}
