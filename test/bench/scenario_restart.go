package main

import (
	"context"
	"fmt"
	"time"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// runRestart stops a manager that has every DNSCertificate Ready and starts a new one. It
// measures the time from the new process's start until its DNSCertificate controller has
// reconciled as many times as there are DNSCertificates, which is the manager's own sign that it
// has checked each of them. It also counts the write requests from the stop until then.
func (b *bench) runRestart(ctx context.Context) error {
	if err := b.ensureOperator(ctx); err != nil {
		return err
	}
	count, err := b.certificateCount(ctx)
	if err != nil {
		return err
	}
	apiBefore, err := b.scrapeAPIServer(ctx)
	if err != nil {
		return err
	}

	stopStart := time.Now()
	if err := b.stopOperator(); err != nil {
		return err
	}
	stoppedIn := time.Since(stopStart)
	op, err := b.startOperator(ctx)
	if err != nil {
		return err
	}
	metrics, err := b.waitReverified(ctx, op, count, restartPollInterval)
	if err != nil {
		return err
	}
	reverifiedIn := time.Since(op.started)

	apiAfter, err := b.scrapeAPIServer(ctx)
	if err != nil {
		return err
	}
	requests := apiAfter.since(apiBefore, nil)
	writes := requests.writes
	var list certsv1alpha1.DNSCertificateList
	if err := b.client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing DNSCertificates: %w", err)
	}
	ready := 0
	for i := range list.Items {
		if isReady(&list.Items[i]) {
			ready++
		}
	}

	b.report.add(scenarioRestart, "manager stop after SIGTERM", stoppedIn.Seconds(), "%.2f s")
	b.report.addTarget(scenarioRestart, fmt.Sprintf("re-verification of %d DNSCertificates, from process start", count),
		reverifiedIn.Seconds(), "%.2f s", "≤ 10 s", reverifiedIn <= 10*time.Second)
	b.report.addTarget(scenarioRestart, "write requests from stop to re-verified, all but leader election", writes.withoutLeaderElection(), "%.0f",
		"0", writes.withoutLeaderElection() == 0)
	b.report.add(scenarioRestart, "leader election and kube-apiserver Lease writes from stop to re-verified", writes.leaderElection(), "%.0f")
	b.report.add(scenarioRestart, fmt.Sprintf("DNSCertificates Ready afterwards, of %d", count), float64(ready), "%.0f")
	if errs := metrics.reconcileErrors[dnsCertificateController]; errs > 0 {
		b.report.add(scenarioRestart, "reconcile errors during re-verification", errs, "%.0f")
	}
	b.report.windows = append(b.report.windows, requestWindow{title: "restart", requests: requests, divisor: 1})
	return nil
}
