package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// runConvert runs the convert-istio command with stdin and returns its exit code, stdout
// and stderr.
func runConvert(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := convertIstioCommand(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// parseDNSCertificates decodes the command's output strictly into the API type, so that
// a field the CRD does not know fails the test.
func parseDNSCertificates(t *testing.T, output string) []certsv1alpha1.DNSCertificate {
	t.Helper()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(output)))
	var certificates []certsv1alpha1.DNSCertificate
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return certificates
		}
		if err != nil {
			t.Fatalf("reading output document: %v\noutput:\n%s", err, output)
		}
		var certificate certsv1alpha1.DNSCertificate
		if err := yaml.UnmarshalStrict(document, &certificate); err != nil {
			t.Fatalf("decoding output document as a DNSCertificate: %v\ndocument:\n%s", err, document)
		}
		certificates = append(certificates, certificate)
	}
}

func TestConvertIstioExample(t *testing.T) {
	code, stdout, stderr := runConvert(t, "", "-f", filepath.Join("testdata", "istio", "example.yaml"))
	if code != exitOK {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	if got := strings.Count(stdout, "\n---\n"); got != 1 {
		t.Errorf("output has %d document separators, want 1:\n%s", got, stdout)
	}

	certificates := parseDNSCertificates(t, stdout)
	want := []struct {
		name       string
		secretName string
		dnsNames   []string
	}{
		{"dns-example1-service-account", "dns.example1-service-account", []string{"example1.istio-system.svc", "example1.istio-system"}},
		{"dns-example2-service-account", "dns.example2-service-account", []string{"example2.istio-system.svc", "example2.istio-system"}},
	}
	if len(certificates) != len(want) {
		t.Fatalf("got %d DNSCertificates, want %d:\n%s", len(certificates), len(want), stdout)
	}
	for i, certificate := range certificates {
		if certificate.APIVersion != "certs.dnscert.io/v1alpha1" || certificate.Kind != "DNSCertificate" {
			t.Errorf("document %d: apiVersion/kind = %s/%s, want certs.dnscert.io/v1alpha1/DNSCertificate", i+1, certificate.APIVersion, certificate.Kind)
		}
		if certificate.Name != want[i].name {
			t.Errorf("document %d: metadata.name = %q, want %q", i+1, certificate.Name, want[i].name)
		}
		if certificate.Namespace != "istio-system" {
			t.Errorf("document %d: metadata.namespace = %q, want istio-system", i+1, certificate.Namespace)
		}
		if certificate.Spec.SecretName != want[i].secretName {
			t.Errorf("document %d: spec.secretName = %q, want %q", i+1, certificate.Spec.SecretName, want[i].secretName)
		}
		if !slices.Equal(certificate.Spec.DNSNames, want[i].dnsNames) {
			t.Errorf("document %d: spec.dnsNames = %q, want %q", i+1, certificate.Spec.DNSNames, want[i].dnsNames)
		}
		if certificate.Spec.SignerName != "" || certificate.Spec.Duration != nil || len(certificate.Spec.IPAddresses) > 0 {
			t.Errorf("document %d: sets fields beyond secretName and dnsNames: %+v", i+1, certificate.Spec)
		}
	}
}

func TestConvertIstioStdinAndNamespace(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("testdata", "istio", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runConvert(t, string(example), "-f", "-", "--namespace", "mesh")
	if code != exitOK {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	certificates := parseDNSCertificates(t, stdout)
	if len(certificates) != 2 {
		t.Fatalf("got %d DNSCertificates, want 2", len(certificates))
	}
	for _, certificate := range certificates {
		if certificate.Namespace != "mesh" {
			t.Errorf("%s: metadata.namespace = %q, want mesh", certificate.Name, certificate.Namespace)
		}
	}
	if !strings.Contains(stdout, "# Converted from stdin, document 1, spec.meshConfig.certificates[1]\n") {
		t.Errorf("output lacks the source comment of the second entry:\n%s", stdout)
	}
}

func TestConvertIstioMultipleDocuments(t *testing.T) {
	code, stdout, stderr := runConvert(t, "", "-f", filepath.Join("testdata", "istio", "multiple-documents.yaml"))
	if code != exitOK {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	certificates := parseDNSCertificates(t, stdout)
	if len(certificates) != 2 {
		t.Fatalf("got %d DNSCertificates, want 2:\n%s", len(certificates), stdout)
	}
	// "dns.webhook" and "dns-webhook" derive the same label, so the second gets a suffix.
	if got := certificates[0].Name; got != "dns-webhook" {
		t.Errorf("first metadata.name = %q, want dns-webhook", got)
	}
	if got := certificates[1].Name; got != "dns-webhook-2" {
		t.Errorf("second metadata.name = %q, want dns-webhook-2", got)
	}
	if got := certificates[1].Spec.DNSNames; !slices.Equal(got, []string{"*.gateways.example.com", "gateways.example.com"}) {
		t.Errorf("second spec.dnsNames = %q", got)
	}
	if !strings.Contains(stdout, "multiple-documents.yaml, document 3, spec.meshConfig.certificates[0]") {
		t.Errorf("the second IstioOperator is not counted as document 3 (the comment-only and Namespace documents come first):\n%s", stdout)
	}
}

func TestConvertIstioErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"missing-dns-names.yaml", []string{"document 1, spec.meshConfig.certificates[1]: missing dnsNames"}},
		{"missing-secret-name.yaml", []string{"document 1, spec.meshConfig.certificates[0]: missing secretName"}},
		{"duplicate-secret-name.yaml", []string{
			`document 2, spec.meshConfig.certificates[1]: duplicate secretName "dns.example1-service-account", already used by document 1, spec.meshConfig.certificates[0]`,
		}},
		{"invalid-dns-name.yaml", []string{`document 1, spec.meshConfig.certificates[0]: dnsNames[1]: invalid DNS name "Example1.Istio-System."`}},
		{"no-certificates.yaml", []string{"no install.istio.io/IstioOperator document with a non-empty spec.meshConfig.certificates list found"}},
		{"invalid-yaml.yaml", []string{"document 1: invalid YAML"}},
	}
	for _, test := range tests {
		t.Run(test.file, func(t *testing.T) {
			path := filepath.Join("testdata", "istio", test.file)
			code, stdout, stderr := runConvert(t, "", "-f", path)
			if code != exitConversion {
				t.Errorf("exit code = %d, want %d", code, exitConversion)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing when an entry fails", stdout)
			}
			for _, want := range test.want {
				if !strings.Contains(stderr, path+": "+want) {
					t.Errorf("stderr lacks %q:\n%s", path+": "+want, stderr)
				}
			}
		})
	}
}

func TestConvertIstioReportsEveryProblem(t *testing.T) {
	input := `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    certificates:
      - secretName: Not_A_Secret
        dnsNames: [a.example.com, a.example.com, 10.0.0.1]
      - {}
`
	code, stdout, stderr := runConvert(t, input, "-f", "-")
	if code != exitConversion {
		t.Errorf("exit code = %d, want %d", code, exitConversion)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	for _, want := range []string{
		`certificates[0]: invalid secretName "Not_A_Secret"`,
		`certificates[0]: dnsNames[1]: duplicate DNS name "a.example.com"`,
		`certificates[0]: dnsNames[2]: invalid DNS name "10.0.0.1": it is an IP address`,
		"certificates[1]: missing secretName",
		"certificates[1]: missing dnsNames",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestConvertIstioUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", nil, exitUsage, "missing -f FILE"},
		{"positional argument", []string{"-f", "istio.yaml", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"unknown flag", []string{"--output", "json"}, exitUsage, "flag provided but not defined: -output"},
		{"invalid namespace", []string{"-f", "-", "--namespace", "Istio_System"}, exitUsage, `invalid --namespace "Istio_System"`},
		{"help", []string{"-h"}, exitOK, "Usage: manager convert-istio -f FILE"},
		{"missing file", []string{"-f", filepath.Join("testdata", "istio", "absent.yaml")}, exitConversion, "reading the IstioOperator manifest"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			code, stdout, stderr := runConvert(t, "", test.args...)
			if code != test.code {
				t.Errorf("exit code = %d, want %d", code, test.code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, test.want) {
				t.Errorf("stderr lacks %q:\n%s", test.want, stderr)
			}
		})
	}
}

func TestDNSLabelFromSecretName(t *testing.T) {
	tests := []struct {
		secretName string
		want       string
	}{
		{"dns.example1-service-account", "dns-example1-service-account"},
		{"web-tls", "web-tls"},
		{"Upper.Case", "upper-case"},
		{".leading.and.trailing.", "leading-and-trailing"},
		{strings.Repeat("a", 60) + ".example", strings.Repeat("a", 60) + "-ex"},
		{strings.Repeat("b", 62) + ".x", strings.Repeat("b", 62)},
		{"...", "dnscertificate"},
	}
	for _, test := range tests {
		t.Run(test.secretName, func(t *testing.T) {
			got := dnsLabelFromSecretName(test.secretName)
			if got != test.want {
				t.Errorf("dnsLabelFromSecretName(%q) = %q, want %q", test.secretName, got, test.want)
			}
			if problems := validation.IsDNS1123Label(got); len(problems) > 0 {
				t.Errorf("%q is not a DNS-1123 label: %v", got, problems)
			}
		})
	}
}

func TestDNSCertificateNamerCollisions(t *testing.T) {
	namer := newDNSCertificateNamer()
	long := strings.Repeat("c", 63)
	inputs := []string{"a.b", "a-b", "a.b.", "a-b-2", long, long + ".x", long + ".y"}
	want := []string{"a-b", "a-b-2", "a-b-3", "a-b-2-2", long, strings.Repeat("c", 61) + "-2", strings.Repeat("c", 61) + "-3"}

	seen := map[string]bool{}
	for i, secretName := range inputs {
		got := namer.name(secretName)
		if got != want[i] {
			t.Errorf("name(%q) = %q, want %q", secretName, got, want[i])
		}
		if problems := validation.IsDNS1123Label(got); len(problems) > 0 {
			t.Errorf("name(%q) = %q is not a DNS-1123 label: %v", secretName, got, problems)
		}
		if seen[got] {
			t.Errorf("name(%q) = %q was returned before", secretName, got)
		}
		seen[got] = true
	}
}

func FuzzConvertIstioOperators(f *testing.F) {
	for _, name := range []string{"example.yaml", "multiple-documents.yaml", "duplicate-secret-name.yaml", "invalid-yaml.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "istio", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		converted, errs := convertIstioOperators(input, defaultIstioNamespace)
		if len(errs) > 0 {
			if len(converted) > 0 {
				t.Fatalf("returned %d certificates together with errors %v", len(converted), errs)
			}
			return
		}
		names := map[string]bool{}
		for _, certificate := range converted {
			name := certificate.DNSCertificate.Metadata.Name
			if problems := validation.IsDNS1123Label(name); len(problems) > 0 {
				t.Fatalf("metadata.name %q is not a DNS-1123 label: %v", name, problems)
			}
			if names[name] {
				t.Fatalf("metadata.name %q is used twice", name)
			}
			names[name] = true
		}
		output, err := formatDNSCertificates(converted, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		if got := len(parseDNSCertificates(t, string(output))); got != len(converted) {
			t.Fatalf("output parses into %d DNSCertificates, want %d", got, len(converted))
		}
	})
}
