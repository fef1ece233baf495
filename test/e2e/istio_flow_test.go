package e2e

import (
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// certificateText is the exact command of the Istio DNS certificate guide, for one Secret.
func certificateText(secret string) (string, error) {
	return shell(`kubectl get secret ` + secret + ` -n istio-system -o jsonpath="{.data['cert-chain\.pem']}" | base64 --decode | openssl x509 -in /dev/stdin -text -noout`)
}

// serialPattern finds the serial number in openssl's text output, on one line or the next.
var serialPattern = regexp.MustCompile(`Serial Number:\s*\n?\s*([0-9a-fA-F:]+)`)

func serialOf(text string) string {
	match := serialPattern.FindStringSubmatch(text)
	Expect(match).To(HaveLen(2), "no serial number in:\n%s", text)
	return match[1]
}

// expectSANs checks the SAN line of openssl's output, which follows the extension's header.
func expectSANs(text, sans string) {
	Expect(text).To(MatchRegexp(`X509v3 Subject Alternative Name:\s*\n\s*` + regexp.QuoteMeta(sans) + `\s*\n`))
}

// verifySecret checks with openssl that the chain verifies against root-cert.pem and that
// key.pem belongs to the certificate.
func verifySecret(secret string) {
	dir := GinkgoT().TempDir()
	for _, key := range []string{"cert-chain.pem", "key.pem", "root-cert.pem"} {
		output, err := shell(`kubectl get secret ` + secret + ` -n istio-system -o jsonpath="{.data['` + strings.ReplaceAll(key, ".", `\.`) + `']}" | base64 --decode > ` + dir + "/" + key)
		Expect(err).NotTo(HaveOccurred(), output)
	}
	output, err := shell(`openssl verify -CAfile ` + dir + `/root-cert.pem ` + dir + `/cert-chain.pem`)
	Expect(err).NotTo(HaveOccurred(), output)
	Expect(output).To(ContainSubstring(": OK"))

	certKey, err := shell(`openssl x509 -in ` + dir + `/cert-chain.pem -noout -pubkey`)
	Expect(err).NotTo(HaveOccurred(), certKey)
	privateKey, err := shell(`openssl pkey -in ` + dir + `/key.pem -pubout`)
	Expect(err).NotTo(HaveOccurred(), "openssl pkey failed")
	Expect(privateKey).To(Equal(certKey), "key.pem does not match the certificate")
}

var _ = Describe("Istio DNS certificate flow", Ordered, func() {
	It("issues both example certificates", func() {
		kubectl("create", "namespace", "istio-system")
		kubectl("apply", "-f", "config/samples/certs_v1alpha1_dnscertificate_example1.yaml",
			"-f", "config/samples/certs_v1alpha1_dnscertificate_example2.yaml")
		kubectl("wait", "--for=condition=Ready", "dnscertificate", "--all", "-n", "istio-system", "--timeout=60s")
	})

	It("stores certificates with the requested names that verify", func() {
		text, err := certificateText("dns.example1-service-account")
		Expect(err).NotTo(HaveOccurred(), text)
		expectSANs(text, "DNS:example1.istio-system.svc, DNS:example1.istio-system")
		verifySecret("dns.example1-service-account")

		text, err = certificateText("dns.example2-service-account")
		Expect(err).NotTo(HaveOccurred(), text)
		expectSANs(text, "DNS:example2.istio-system.svc, DNS:example2.istio-system")
		verifySecret("dns.example2-service-account")
	})

	It("regenerates a deleted Secret with a new certificate", func() {
		before, err := certificateText("dns.example1-service-account")
		Expect(err).NotTo(HaveOccurred(), before)
		oldSerial := serialOf(before)

		kubectl("delete", "secret", "dns.example1-service-account", "-n", "istio-system")

		Eventually(func(g Gomega) {
			text, err := certificateText("dns.example1-service-account")
			g.Expect(err).NotTo(HaveOccurred(), text)
			g.Expect(serialOf(text)).NotTo(Equal(oldSerial))
			expectSANs(text, "DNS:example1.istio-system.svc, DNS:example1.istio-system")
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		verifySecret("dns.example1-service-account")

		By("telling the story in kubectl describe")
		Eventually(func() string { return kubectl("describe", "dnscertificate", "example1", "-n", "istio-system") }).
			WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(And(
			ContainSubstring("Issued"), ContainSubstring("because: Secret does not exist"), ContainSubstring("Ready")))
	})

	It("lists DNSCertificates with the design's columns", func() {
		kubectl("wait", "--for=condition=Ready", "dnscertificate", "--all", "-n", "istio-system", "--timeout=60s")
		output := kubectl("get", "dnscertificates", "-n", "istio-system")
		header := strings.Fields(strings.SplitN(output, "\n", 2)[0])
		Expect(header).To(Equal([]string{"NAME", "READY", "STATUS", "SECRET", "EXPIRES", "AGE"}))
		Expect(output).To(MatchRegexp(`example1\s+True\s+Issued\s+dns\.example1-service-account\s+\S+\s+\S+`))
		Expect(output).To(MatchRegexp(`example2\s+True\s+Issued\s+dns\.example2-service-account\s+\S+\s+\S+`))

		wide := kubectl("get", "dnscerts", "-n", "istio-system", "-o", "wide")
		Expect(strings.Fields(strings.SplitN(wide, "\n", 2)[0])).To(Equal(
			[]string{"NAME", "READY", "STATUS", "SECRET", "EXPIRES", "AGE", "SIGNER", "RENEWAL"}))
		Expect(wide).To(ContainSubstring("certs.dnscert.io/local"))
	})

	It("deletes the namespace and leaves nothing behind", func() {
		kubectl("delete", "namespace", "istio-system", "--timeout=120s")

		Eventually(func(g Gomega) {
			csrs := kubectl("get", "csr", "-l", "certs.dnscert.io/dnscertificate-namespace=istio-system", "-o", "name")
			g.Expect(strings.TrimSpace(csrs)).To(BeEmpty())
			namespaces := kubectl("get", "secrets", "-A", "-l", "certs.dnscert.io/dnscertificate", "-o", "jsonpath={.items[*].metadata.namespace}")
			g.Expect(strings.Fields(namespaces)).NotTo(ContainElement("istio-system"))
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		_, err := tryKubectl("get", "namespace", "istio-system")
		Expect(err).To(HaveOccurred(), "the namespace is gone")
	})
})
