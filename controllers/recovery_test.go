package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
	"github.com/dnscert/dnscert-operator/internal/signer"
	"github.com/dnscert/dnscert-operator/test/testsigner"
)

var _ = Describe("Recovery", func() {
	var namespace string

	BeforeEach(func() {
		namespace = createNamespace()
	})

	It("gives the Secret to the next DNSCertificate when its owner is deleted", func() {
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "first", "shared-tls", "first.example"))).To(Succeed())
		waitForReady(namespace, "first")
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "second", "shared-tls", "second.example"))).To(Succeed())
		waitForCondition(namespace, "second", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonSecretConflict)

		Expect(k8sClient.Delete(testCtx, getCertificate(namespace, "first"))).To(Succeed())
		// The garbage collector deletes the first one's Secret; the second then issues its own.
		Eventually(func(g Gomega) {
			secret := &corev1.Secret{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKey{Namespace: namespace, Name: "shared-tls"}, secret)).To(Succeed())
			g.Expect(leafOf(secret).DNSNames).To(ConsistOf("second.example"))
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
		waitForReady(namespace, "second")
	})

	It("issues again at once when a disowned Secret is deleted", func() {
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example"))).To(Succeed())
		waitForReady(namespace, "web")

		secret := getSecret(namespace, "web-tls")
		secret.OwnerReferences = nil
		Expect(k8sClient.Update(testCtx, secret)).To(Succeed())
		waitForCondition(namespace, "web", certsv1alpha1.ConditionReady, metav1.ConditionFalse, certsv1alpha1.ReasonSecretConflict)

		Expect(k8sClient.Delete(testCtx, secret)).To(Succeed())
		Eventually(func(g Gomega) {
			recreated := &corev1.Secret{}
			g.Expect(k8sClient.Get(testCtx, client.ObjectKeyFromObject(secret), recreated)).To(Succeed())
			g.Expect(recreated.UID).NotTo(Equal(secret.UID))
			g.Expect(metav1.GetControllerOf(recreated)).NotTo(BeNil())
		}).WithTimeout(5*time.Second).WithPolling(pollInterval).Should(Succeed(), "well before the periodic conflict recheck")
		waitForReady(namespace, "web")
	})

	It("deletes the Secret of an earlier spec.secretName", func() {
		Expect(k8sClient.Create(testCtx, newCertificate(namespace, "web", "web-tls", "web.example"))).To(Succeed())
		waitForReady(namespace, "web")

		certificate := getCertificate(namespace, "web")
		certificate.Spec.SecretName = "web-renamed-tls"
		Expect(k8sClient.Update(testCtx, certificate)).To(Succeed())

		Eventually(func() []string { return secretNames(namespace) }).
			WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(ConsistOf("web-renamed-tls"))
		waitForReady(namespace, "web")
	})

	It("rejects operator keys in the Secret template", func() {
		certificate := newCertificate(namespace, "web", "web-tls", "web.example")
		certificate.Spec.SecretTemplate = &certsv1alpha1.SecretTemplate{Labels: map[string]string{certsv1alpha1.LabelPendingKey: "true"}}
		err := k8sClient.Create(testCtx, certificate)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.secretTemplate.labels"))
	})

	It("restores the local signer's ClusterTrustBundle", func() {
		key := client.ObjectKey{Name: signer.TrustBundleName(localSignerName)}
		original := &certificatesv1.ClusterTrustBundle{}
		Expect(k8sClient.Get(testCtx, key, original)).To(Succeed())

		By("putting the CA back after an edit")
		edited := original.DeepCopy()
		impostor, err := testsigner.New("impostor.dnscert.io/ca", testsigner.Silent)
		Expect(err).NotTo(HaveOccurred())
		edited.Spec.TrustBundle = string(impostor.CAPEM())
		Expect(k8sClient.Update(testCtx, edited)).To(Succeed())
		Eventually(func(g Gomega) {
			current := &certificatesv1.ClusterTrustBundle{}
			g.Expect(k8sClient.Get(testCtx, key, current)).To(Succeed())
			g.Expect(current.Spec.TrustBundle).To(Equal(original.Spec.TrustBundle))
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())

		By("creating it again after a deletion")
		Expect(k8sClient.Delete(testCtx, original)).To(Succeed())
		Eventually(func(g Gomega) {
			current := &certificatesv1.ClusterTrustBundle{}
			g.Expect(k8sClient.Get(testCtx, key, current)).To(Succeed())
			g.Expect(current.UID).NotTo(Equal(original.UID))
			g.Expect(current.Spec.TrustBundle).To(Equal(original.Spec.TrustBundle))
		}).WithTimeout(eventuallyTimeout).WithPolling(pollInterval).Should(Succeed())
	})
})
