package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// scrapeMetrics returns the text of the operator's metrics endpoint.
func scrapeMetrics() string {
	response, err := http.Get(operator.metricsURL)
	Expect(err).NotTo(HaveOccurred())
	defer response.Body.Close()
	Expect(response.StatusCode).To(Equal(http.StatusOK))
	body, err := io.ReadAll(response.Body)
	Expect(err).NotTo(HaveOccurred())
	return string(body)
}

// metricValue returns the value of the first sample whose name and labels match the pattern, or -1.
func metricValue(metrics, series string) float64 {
	match := regexp.MustCompile(`(?m)^` + series + ` (\S+)$`).FindStringSubmatch(metrics)
	if match == nil {
		return -1
	}
	value, err := strconv.ParseFloat(match[1], 64)
	Expect(err).NotTo(HaveOccurred())
	return value
}

var _ = Describe("Metrics", func() {
	It("exposes certificate series and removes them with the DNSCertificate", func() {
		c := adminClient()
		namespace := createNamespace()
		kubectlApply(certificateManifest(namespace, "web", "web-tls", "", "web.example"))
		ready := waitReady(c, namespace, "web")
		labels := `\{name="web",namespace="` + namespace + `"\}`

		var metrics string
		Eventually(func(g Gomega) {
			metrics = scrapeMetrics()
			g.Expect(metricValue(metrics, `dnscert_certificate_expiration_timestamp_seconds`+labels)).To(Equal(float64(ready.Status.NotAfter.Unix())))
		}).WithTimeout(e2eTimeout).WithPolling(e2ePolling).Should(Succeed())
		Expect(metricValue(metrics, `dnscert_certificate_not_before_timestamp_seconds`+labels)).To(Equal(float64(ready.Status.NotBefore.Unix())))
		Expect(metricValue(metrics, `dnscert_certificate_renewal_timestamp_seconds`+labels)).To(Equal(float64(ready.Status.RenewalTime.Unix())))
		Expect(metricValue(metrics, `dnscert_certificate_ready_status\{condition="True",name="web",namespace="`+namespace+`"\}`)).To(Equal(1.0))
		Expect(metricValue(metrics, `dnscert_certificate_ready_status\{condition="False",name="web",namespace="`+namespace+`"\}`)).To(Equal(0.0))
		Expect(metricValue(metrics, `dnscert_certificate_issuance_total\{result="success"\}`)).To(BeNumerically(">=", 1))
		Expect(metricValue(metrics, `dnscert_certificate_issuance_duration_seconds_count`)).To(BeNumerically(">=", 1))
		Expect(metricValue(metrics, `dnscert_certificate_signing_requests_outstanding`)).To(BeNumerically(">=", 0))

		kubectl("delete", "dnscertificate", "web", "-n", namespace)
		Eventually(func() string { return scrapeMetrics() }).WithTimeout(e2eTimeout).WithPolling(e2ePolling).
			ShouldNot(MatchRegexp(`namespace="` + namespace + `"`))
	})

	It("counts an outstanding CSR while nobody signs", func() {
		signer := startTestSigner("Silent")
		c := adminClient()
		namespace := createNamespace()
		before := metricValue(scrapeMetrics(), `dnscert_certificate_signing_requests_outstanding`)
		kubectlApply(certificateManifest(namespace, "web", "web-tls", signer.Name, "web.example"))
		waitForReason(c, namespace, "web", "Pending", "True", "WaitingForSigner")
		Eventually(func() float64 {
			return metricValue(scrapeMetrics(), `dnscert_certificate_signing_requests_outstanding`)
		}).
			WithTimeout(10 * time.Second).WithPolling(e2ePolling).Should(Equal(before + 1))
		Eventually(func() float64 {
			return metricValue(scrapeMetrics(), `dnscert_certificate_ready_status\{condition="False",name="web",namespace="`+namespace+`"\}`)
		}).WithTimeout(10 * time.Second).WithPolling(e2ePolling).Should(Equal(1.0))
		kubectl("delete", "namespace", namespace, "--wait=false")
	})
})
