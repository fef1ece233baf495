package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// touch changes an annotation of a DNSCertificate, which makes the operator reconcile it now.
// Tests with a fake clock use it after moving the clock, instead of waiting for a requeue.
func touch(namespace, name string) {
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{"test.dnscert.io/touched":%q}}}`, time.Now().Format(time.RFC3339Nano)))
	certificate := &certsv1alpha1.DNSCertificate{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	Expect(k8sClient.Patch(testCtx, certificate, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
}

// setApproval approves or denies a CSR as an outside party would.
func setApproval(csr *certificatesv1.CertificateSigningRequest, conditionType certificatesv1.RequestConditionType, message string) {
	csr = csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: conditionType, Status: corev1.ConditionTrue, Reason: "ByTest", Message: message,
	})
	_, err := clientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(testCtx, csr.Name, csr, metav1.UpdateOptions{})
	Expect(err).NotTo(HaveOccurred())
}

// waitForOneCSR waits until the DNSCertificate has exactly one CSR and returns it.
func waitForOneCSR(namespace, name string) certificatesv1.CertificateSigningRequest {
	var csrs []certificatesv1.CertificateSigningRequest
	Eventually(func() []certificatesv1.CertificateSigningRequest {
		csrs = csrsOf(namespace, name)
		return csrs
	}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(HaveLen(1))
	return csrs[0]
}

var _ = Describe("DNSCertificate lifecycle with a fake clock", Ordered, func() {
	var fakeClock *clocktesting.FakeClock

	BeforeAll(func() {
		fakeClock = clocktesting.NewFakeClock(time.Now())
		startManager(managerOptions{autoApprove: true, clock: fakeClock, signerTimeout: 5 * time.Minute})
		DeferCleanup(func() { startManager(managerOptions{autoApprove: true}) })
	})

	It("renews at the renewal time, not before", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example"))).To(Succeed())
		first := waitForReady(namespace, "web")
		renewal := first.Status.RenewalTime.Time
		lifetime := first.Status.NotAfter.Sub(first.Status.NotBefore.Time)
		elapsed := renewal.Sub(first.Status.NotBefore.Time)
		Expect(float64(elapsed) / float64(lifetime)).To(BeNumerically(">=", 0.7))
		Expect(float64(elapsed) / float64(lifetime)).To(BeNumerically("<=", 0.9))

		By("keeping the certificate a minute before the renewal time")
		fakeClock.SetTime(renewal.Add(-time.Minute))
		touch(namespace, "web")
		Consistently(func() int64 { return getCertificate(namespace, "web").Status.Revision }).
			WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Equal(int64(1)))

		By("renewing once the renewal time has passed")
		fakeClock.SetTime(renewal.Add(time.Second))
		touch(namespace, "web")
		Eventually(func() int64 { return getCertificate(namespace, "web").Status.Revision }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Equal(int64(2)))
		renewed := waitForReady(namespace, "web")
		Expect(renewed.Status.RenewalTime.Time).To(BeTemporally(">", renewal))
		Expect(renewed.Status.SerialNumber).NotTo(Equal(first.Status.SerialNumber))
	})

	It("replaces a CSR nobody signs after the signer timeout, with backoff", func() {
		namespace := createNamespace()
		certificate := newCertificate(namespace, "web", "web-tls", "web.example")
		certificate.Spec.SignerName = silentSignerName
		Expect(k8sClient.Create(testCtx, certificate)).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForSigner)
		first := waitForOneCSR(namespace, "web")

		By("keeping the CSR before the timeout")
		fakeClock.Step(4 * time.Minute)
		touch(namespace, "web")
		Consistently(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(HaveLen(1))

		By("dropping it after the timeout and waiting for the backoff")
		fakeClock.Step(2 * time.Minute)
		touch(namespace, "web")
		timedOut := waitForCondition(namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonSignerTimeout)
		Expect(timedOut.Status.FailedIssuanceAttempts).To(Equal(int32(1)))
		Eventually(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(BeEmpty())
		pending, reason := conditionOf(timedOut, certsv1alpha1.ConditionPending)
		Expect(pending).To(Equal(metav1.ConditionTrue))
		Expect(reason).To(Equal(certsv1alpha1.ReasonBackoff))

		By("creating exactly one new CSR once the backoff has passed")
		fakeClock.Step(61 * time.Second)
		touch(namespace, "web")
		second := waitForOneCSR(namespace, "web")
		Expect(second.Name).NotTo(Equal(first.Name))
		Consistently(func() []certificatesv1.CertificateSigningRequest { return csrsOf(namespace, "web") }).
			WithTimeout(time.Second).WithPolling(100 * time.Millisecond).Should(HaveLen(1))
	})
})

var _ = Describe("DNSCertificate lifecycle with outside approval", Ordered, func() {
	var fakeClock *clocktesting.FakeClock

	BeforeAll(func() {
		fakeClock = clocktesting.NewFakeClock(time.Now())
		startManager(managerOptions{autoApprove: false, clock: fakeClock})
		DeferCleanup(func() { startManager(managerOptions{autoApprove: true}) })
	})

	It("backs off after a denial and recovers on its own", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example"))).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonWaitingForApproval)
		setApproval(ptrTo(waitForOneCSR(namespace, "web")), certificatesv1.CertificateDenied, "not now")

		denied := waitForCondition(namespace, "web", certsv1alpha1.ConditionPending, metav1.ConditionTrue, certsv1alpha1.ReasonBackoff)
		ready, readyReason := conditionOf(denied, certsv1alpha1.ConditionReady)
		Expect(ready).To(Equal(metav1.ConditionFalse))
		Expect(readyReason).To(Equal(certsv1alpha1.ReasonDenied))
		Expect(denied.Status.FailedIssuanceAttempts).To(Equal(int32(1)))

		By("creating no CSR while the backoff runs")
		fakeClock.Step(30 * time.Second)
		touch(namespace, "web")
		Consistently(func(g Gomega) {
			g.Expect(csrsOf(namespace, "web")).To(BeEmpty())
			_, reason := conditionOf(getCertificate(namespace, "web"), certsv1alpha1.ConditionReady)
			g.Expect(reason).To(Equal(certsv1alpha1.ReasonDenied))
		}).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

		By("asking again after the backoff, and completing once approved")
		fakeClock.Step(31 * time.Second)
		touch(namespace, "web")
		setApproval(ptrTo(waitForOneCSR(namespace, "web")), certificatesv1.CertificateApproved, "now is fine")
		recovered := waitForReady(namespace, "web")
		Expect(recovered.Status.FailedIssuanceAttempts).To(BeZero())
		Expect(recovered.Status.LastFailureTime).To(BeNil())
	})

	It("keeps a valid Secret while its replacement is denied", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example"))).To(Succeed())
		setApproval(ptrTo(waitForOneCSR(namespace, "web")), certificatesv1.CertificateApproved, "fine")
		waitForReady(namespace, "web")
		before := getSecret(namespace, "web-tls")

		certificate := getCertificate(namespace, "web")
		certificate.Spec.DNSNames = append(certificate.Spec.DNSNames, "www.example")
		Expect(k8sClient.Update(testCtx, certificate)).To(Succeed())
		setApproval(ptrTo(waitForOneCSR(namespace, "web")), certificatesv1.CertificateDenied, "www is not yours")
		waitForCondition(namespace, "web", certsv1alpha1.ConditionSigned, metav1.ConditionFalse, certsv1alpha1.ReasonDenied)

		Consistently(func() string { return getSecret(namespace, "web-tls").ResourceVersion }).
			WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Equal(before.ResourceVersion))
	})
})

var _ = Describe("DNSCertificate spec changes", func() {
	It("reissues exactly once when a DNS name is removed", func() {
		namespace := createNamespace()
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example", "www.example"))).To(Succeed())
		waitForReady(namespace, "web")
		before := getSecret(namespace, "web-tls")

		certificate := getCertificate(namespace, "web")
		certificate.Spec.DNSNames = []string{"web.example"}
		Expect(k8sClient.Update(testCtx, certificate)).To(Succeed())

		Eventually(func() []string { return leafOf(getSecret(namespace, "web-tls")).DNSNames }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(ConsistOf("web.example"))
		waitForReady(namespace, "web")
		Consistently(func(g Gomega) {
			g.Expect(getCertificate(namespace, "web").Status.Revision).To(Equal(int64(2)))
			g.Expect(getSecret(namespace, "web-tls").UID).To(Equal(before.UID))
		}).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	})
})

func ptrTo[T any](value T) *T { return &value }
