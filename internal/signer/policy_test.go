package signer

import (
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name      string
		policy    Policy
		expectErr bool
	}{
		{name: "accepts the zero policy", policy: Policy{}},
		{name: "accepts the default policy", policy: DefaultPolicy()},
		{name: "accepts a maximum of ten minutes", policy: Policy{MaxDuration: 10 * time.Minute}},
		{name: "rejects a maximum below ten minutes", policy: Policy{MaxDuration: 9 * time.Minute}, expectErr: true},
		{name: "rejects a negative backdate", policy: Policy{Backdate: -time.Second}, expectErr: true},
		{name: "rejects a backdate of ten minutes", policy: Policy{Backdate: 10 * time.Minute}, expectErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.expectErr && err == nil {
				t.Errorf("Validate returned no error")
			}
			if !tt.expectErr && err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestPolicyDefaults(t *testing.T) {
	got := Policy{}.withDefaults()
	if got != DefaultPolicy() {
		t.Errorf("zero policy with defaults = %+v, expected %+v", got, DefaultPolicy())
	}
	if DefaultPolicy().MaxDuration != 8760*time.Hour || DefaultPolicy().DefaultDuration != 2160*time.Hour || DefaultPolicy().Backdate != 5*time.Minute {
		t.Errorf("default policy = %+v, expected max 8760h, default 2160h, backdate 5m", DefaultPolicy())
	}
}

func TestTrustBundleName(t *testing.T) {
	tests := []struct {
		name       string
		signerName string
		expect     string
	}{
		{name: "names the built-in signer's bundle", signerName: SignerName, expect: "certs.dnscert.io:local:ca"},
		{name: "replaces every slash", signerName: "example.com/a/b", expect: "example.com:a:b:ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TrustBundleName(tt.signerName); got != tt.expect {
				t.Errorf("TrustBundleName(%q) = %q, expected %q", tt.signerName, got, tt.expect)
			}
		})
	}
}
