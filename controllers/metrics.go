package controllers

import (
	"context"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	certificatesv1 "k8s.io/api/certificates/v1"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// Issuance results, the values of the result label of dnscert_certificate_issuance_total.
const (
	issuanceSucceeded = "success"
)

var (
	expirationTimestamp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnscert_certificate_expiration_timestamp_seconds",
		Help: "Expiry (notAfter) of the certificate in the Secret of a DNSCertificate, in Unix seconds.",
	}, []string{"namespace", "name"})
	notBeforeTimestamp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnscert_certificate_not_before_timestamp_seconds",
		Help: "Start of the validity (notBefore) of the certificate in the Secret of a DNSCertificate, in Unix seconds.",
	}, []string{"namespace", "name"})
	renewalTimestamp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnscert_certificate_renewal_timestamp_seconds",
		Help: "Time at which the certificate of a DNSCertificate is renewed, in Unix seconds.",
	}, []string{"namespace", "name"})
	readyStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnscert_certificate_ready_status",
		Help: "Ready condition of a DNSCertificate: 1 for the current status (True, False or Unknown), 0 for the others.",
	}, []string{"namespace", "name", "condition"})
	issuanceTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnscert_certificate_issuance_total",
		Help: "Issuances that ended, by result: success, or the failure reason in snake case (denied, failed, invalid_certificate, signer_timeout).",
	}, []string{"result"})
	issuanceDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dnscert_certificate_issuance_duration_seconds",
		Help:    "Time from the creation of a CertificateSigningRequest to the Secret holding its verified certificate.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900},
	})
	outstandingRequests = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dnscert_certificate_signing_requests_outstanding",
		Help: "CertificateSigningRequests created by the operator that still exist.",
	}, countOutstandingRequests)
)

// outstandingReader lists the operator's CSRs for the outstanding gauge; the latest manager's cache wins.
var outstandingReader struct {
	sync.Mutex
	reader client.Reader
}

func init() {
	metrics.Registry.MustRegister(expirationTimestamp, notBeforeTimestamp, renewalTimestamp, readyStatus,
		issuanceTotal, issuanceDuration, outstandingRequests)
}

func countOutstandingRequests() float64 {
	outstandingReader.Lock()
	reader := outstandingReader.reader
	outstandingReader.Unlock()
	if reader == nil {
		return 0
	}
	var list certificatesv1.CertificateSigningRequestList
	if err := reader.List(context.Background(), &list, client.HasLabels{certsv1alpha1.LabelDNSCertificateUID}); err != nil {
		return 0
	}
	return float64(len(list.Items))
}

// recordCertificateMetrics publishes the gauges of one DNSCertificate from its status.
func recordCertificateMetrics(certificate *certsv1alpha1.DNSCertificate, status *certsv1alpha1.DNSCertificateStatus) {
	labels := prometheus.Labels{"namespace": certificate.Namespace, "name": certificate.Name}
	setTimestamp(expirationTimestamp, labels, status.NotAfter)
	setTimestamp(notBeforeTimestamp, labels, status.NotBefore)
	setTimestamp(renewalTimestamp, labels, status.RenewalTime)

	current := string(metav1.ConditionUnknown)
	for _, condition := range status.Conditions {
		if condition.Type == certsv1alpha1.ConditionReady {
			current = string(condition.Status)
		}
	}
	for _, value := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
		gauge := 0.0
		if string(value) == current {
			gauge = 1
		}
		readyStatus.WithLabelValues(certificate.Namespace, certificate.Name, string(value)).Set(gauge)
	}
}

func setTimestamp(gauge *prometheus.GaugeVec, labels prometheus.Labels, at *metav1.Time) {
	if at == nil {
		gauge.Delete(labels)
		return
	}
	gauge.With(labels).Set(float64(at.Unix()))
}

// deleteCertificateMetrics removes the series of a deleted DNSCertificate.
func deleteCertificateMetrics(key types.NamespacedName) {
	labels := prometheus.Labels{"namespace": key.Namespace, "name": key.Name}
	expirationTimestamp.Delete(labels)
	notBeforeTimestamp.Delete(labels)
	renewalTimestamp.Delete(labels)
	readyStatus.DeletePartialMatch(labels)
}

// issuanceResult turns a failure reason into the result label: "SignerTimeout" becomes "signer_timeout".
func issuanceResult(reason string) string {
	var b strings.Builder
	for i, r := range reason {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
