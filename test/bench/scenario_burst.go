package main

import (
	"context"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	certsv1alpha1 "github.com/dnscert/dnscert-operator/api/v1alpha1"
)

// eventSettleTimeout bounds the wait for the Issued events after the last DNSCertificate turned
// Ready. The manager sends events asynchronously and may drop some under load.
const eventSettleTimeout = 30 * time.Second

// burstResult is what later scenarios use of the burst.
type burstResult struct {
	// issuances is the number of DNSCertificates created at once.
	issuances int
	// requests are the requests kube-apiserver served during the burst, the bench's own creates
	// subtracted.
	requests apiServerRequests
}

// runBurst creates -n DNSCertificates at once and measures, through a watch, how long each
// takes from the start of its create request to its Ready condition turning True. It also counts
// the API server's write requests and the CPU time of every process during the burst.
func (b *bench) runBurst(ctx context.Context) error {
	n := b.cfg.n
	if err := b.ensureOperator(ctx); err != nil {
		return err
	}
	op := b.operator
	// One issuance first, so the burst starts with the CA loaded and every cache synced.
	if _, err := b.createCertificateAndWait(ctx, warmupNamespace, "warmup"); err != nil {
		return fmt.Errorf("warming up the manager: %w", err)
	}
	if err := b.createNamespace(ctx, burstNamespace); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	watcher, err := b.watchCertificates(ctx, burstNamespace)
	if err != nil {
		return err
	}
	defer watcher.Stop()

	names := make(map[string]int, n)
	for i := range n {
		names[fmt.Sprintf("cert-%05d", i)] = i
	}
	created := make([]time.Time, n)
	readyAt := make([]time.Time, n)

	apiBefore, err := b.scrapeAPIServer(ctx)
	if err != nil {
		return err
	}
	operatorBefore, err := op.scrape(ctx)
	if err != nil {
		return err
	}
	pids, err := b.cluster.PIDs()
	if err != nil {
		return err
	}
	pids = append(pids, op.pid(), os.Getpid())
	cpuBefore := sampleCPU(pids)
	profileDone := b.startCPUProfile(ctx, op)

	b.logf("Creating %d DNSCertificates in %s", n, burstNamespace)
	start := time.Now()
	readyDone := make(chan error, 1)
	go func() {
		readyDone <- awaitReady(ctx, watcher, names, readyAt)
	}()
	err = parallel(ctx, b.cfg.workers, n, func(ctx context.Context, i int) error {
		certificate := newCertificate(burstNamespace, fmt.Sprintf("cert-%05d", i))
		created[i] = time.Now()
		if err := b.client.Create(ctx, certificate); err != nil {
			return fmt.Errorf("creating DNSCertificate %s/%s: %w", certificate.Namespace, certificate.Name, err)
		}
		return nil
	})
	if err != nil {
		cancel()
		<-readyDone
		return err
	}
	createdIn := time.Since(start)
	b.logf("Created %d DNSCertificates in %s; waiting for Ready", n, createdIn.Round(time.Millisecond))
	if err := <-readyDone; err != nil {
		return fmt.Errorf("waiting for %d DNSCertificates to become Ready: %w", n, err)
	}
	var last time.Time
	timesToReady := make([]time.Duration, n)
	for i := range n {
		timesToReady[i] = readyAt[i].Sub(created[i])
		if readyAt[i].After(last) {
			last = readyAt[i]
		}
	}
	total := last.Sub(start)
	cpuAfter := sampleCPU(pids)
	peakRSS, err := statusKilobytes(op.pid(), "VmHWM")
	if err != nil {
		return err
	}

	events, err := b.waitIssuedEvents(ctx, burstNamespace, n)
	if err != nil {
		return err
	}
	apiAfter, err := b.scrapeAPIServer(ctx)
	if err != nil {
		return err
	}
	operatorAfter, err := op.scrape(ctx)
	if err != nil {
		return err
	}
	requests := apiAfter.since(apiBefore, requestCounts{"dnscertificates.certs.dnscert.io": float64(n)})
	b.burst = &burstResult{issuances: n, requests: requests}
	b.report.burstCPU = cpuAfter.since(cpuBefore)
	b.report.burstWall = total
	b.finishCPUProfile(profileDone)

	rate := float64(n) / total.Seconds()
	b.report.add(scenarioBurst, fmt.Sprintf("%d DNSCertificates created at once: all Ready after", n), total.Seconds(), "%.1f s")
	if b.limitRate > 0 {
		target := 0.5 * b.limitRate / 6
		b.report.addTarget(scenarioBurst, "issuance rate", rate, "%.1f/s",
			fmt.Sprintf("≥ 50%% of plain create rate / 6 = %.1f/s", target), rate >= target)
	} else {
		b.report.add(scenarioBurst, "issuance rate (limit did not run, so no target)", rate, "%.1f/s")
	}
	b.report.add(scenarioBurst, "time to Ready per object, p50", percentile(timesToReady, 0.50).Seconds(), "%.2f s")
	b.report.add(scenarioBurst, "time to Ready per object, p99", percentile(timesToReady, 0.99).Seconds(), "%.2f s")
	b.report.add(scenarioBurst, fmt.Sprintf("time for the bench to create the %d objects", n), createdIn.Seconds(), "%.2f s")
	b.report.add(scenarioBurst, "manager API requests per second (rest_client_requests_total)",
		(operatorAfter.totalRequests()-operatorBefore.totalRequests())/total.Seconds(), "%.1f/s")
	for _, controller := range []string{dnsCertificateController, localSignerController} {
		workers := operatorAfter.workers[controller]
		if workers == 0 {
			continue
		}
		busy := (operatorAfter.reconcileSeconds[controller] - operatorBefore.reconcileSeconds[controller]) / (total.Seconds() * workers)
		b.report.add(scenarioBurst, fmt.Sprintf("time the %.0f workers of controller %s spent in Reconcile", workers, controller), 100*busy, "%.0f%%")
	}
	b.report.add(scenarioBurst, "manager peak RSS (VmHWM) after the burst", mebibytes(peakRSS), "%.1f MiB")
	if events < n {
		b.report.note("Only %d of %d Issued events were stored within %s of the last Ready condition.", events, n, eventSettleTimeout)
	}
	return nil
}

// awaitReady reads watch events until every named DNSCertificate has been seen Ready, recording
// in readyAt, by the index in names, when the bench received that event.
func awaitReady(ctx context.Context, watcher watch.Interface, names map[string]int, readyAt []time.Time) error {
	remaining := len(names)
	for remaining > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d not Ready yet: %w", remaining, ctx.Err())
		case event, ok := <-watcher.ResultChan():
			if !ok {
				return fmt.Errorf("%d not Ready yet: %w", remaining, errWatchClosed)
			}
			if event.Type == watch.Error {
				return fmt.Errorf("watching DNSCertificates: %w", apierrors.FromObject(event.Object))
			}
			certificate, ok := event.Object.(*certsv1alpha1.DNSCertificate)
			if !ok {
				continue
			}
			i, ok := names[certificate.Name]
			if !ok || !readyAt[i].IsZero() || !isReady(certificate) {
				continue
			}
			readyAt[i] = time.Now()
			remaining--
		}
	}
	return nil
}

// waitIssuedEvents polls until the namespace holds want events with reason Issued, and returns
// how many it holds when they are all there or eventSettleTimeout has passed.
func (b *bench) waitIssuedEvents(ctx context.Context, namespace string, want int) (int, error) {
	var count int
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, eventSettleTimeout, true, func(ctx context.Context) (bool, error) {
		events, err := b.clientset.EventsV1().Events(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("listing events in %s: %w", namespace, err)
		}
		count = 0
		for _, event := range events.Items {
			if event.Reason == certsv1alpha1.ReasonIssued {
				count++
			}
		}
		return count >= want, nil
	})
	if err != nil && !wait.Interrupted(err) {
		return count, err
	}
	return count, nil
}

// startCPUProfile starts fetching a CPU profile of the manager when -cpuprofile is set, and
// returns the channel that receives its result, or nil.
func (b *bench) startCPUProfile(ctx context.Context, op *operator) <-chan error {
	if b.cfg.cpuProfile == "" {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		profile, err := op.profile(ctx, fmt.Sprintf("profile?seconds=%d", int(b.cfg.cpuProfileDuration.Seconds())))
		if err == nil {
			err = os.WriteFile(b.cfg.cpuProfile, profile, 0o644)
		}
		done <- err
	}()
	return done
}

// finishCPUProfile waits for the CPU profile and notes where it is, or why it is missing.
func (b *bench) finishCPUProfile(done <-chan error) {
	if done == nil {
		return
	}
	b.logf("Waiting for the CPU profile")
	if err := <-done; err != nil {
		b.report.note("The CPU profile of the manager failed: %v", err)
		return
	}
	b.report.note("CPU profile of the manager during the first %s of the burst: %s (read it with `go tool pprof -top %s %s`).",
		b.cfg.cpuProfileDuration, b.cfg.cpuProfile, b.cfg.managerPath, b.cfg.cpuProfile)
}
