package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runAPICost reports the burst's write requests per issuance, then counts the write requests of
// an idle manager: one restarted with --sync-period=-idle-sync-period, which re-checks every
// DNSCertificate each sync period, over -idle-window after it has reconciled them all once.
func (b *bench) runAPICost(ctx context.Context) error {
	if b.burst == nil {
		return errors.New("the burst did not run, so there are no writes per issuance to report")
	}
	issuances := float64(b.burst.issuances)
	burst := b.burst.requests
	perIssuance := burst.writes.withoutLeaderElection() / issuances
	b.report.addTarget(scenarioAPICost, "write requests per issuance, all but leader election", perIssuance, "%.2f",
		"≤ 8", perIssuance <= 8)
	b.report.add(scenarioAPICost, "leader election and kube-apiserver Lease writes per issuance", burst.writes.leaderElection()/issuances, "%.3f")
	b.report.add(scenarioAPICost, "read requests (GET, LIST) per issuance, by every client", burst.reads.total()/issuances, "%.2f")
	if burst.failedWrites > 0 {
		b.report.add(scenarioAPICost, "write requests rejected during the burst (HTTP code ≥ 400)", burst.failedWrites, "%.0f")
	}

	syncPeriod := "--sync-period=" + b.cfg.idleSyncPeriod.String()
	if err := b.ensureOperator(ctx, syncPeriod); err != nil {
		return err
	}
	op := b.operator
	apiBefore, err := b.scrapeAPIServer(ctx)
	if err != nil {
		return err
	}
	operatorBefore, err := op.scrape(ctx)
	if err != nil {
		return err
	}
	b.logf("Counting writes over an idle window of %s", b.cfg.idleWindow)
	// The window is the measurement, so it is a fixed wait rather than a poll.
	select {
	case <-time.After(b.cfg.idleWindow):
	case <-ctx.Done():
		return ctx.Err()
	}
	apiAfter, err := b.scrapeAPIServer(ctx)
	if err != nil {
		return err
	}
	operatorAfter, err := op.scrape(ctx)
	if err != nil {
		return err
	}
	idle := apiAfter.since(apiBefore, nil)
	window := fmt.Sprintf("idle %s, %s", b.cfg.idleWindow, syncPeriod)

	b.report.addTarget(scenarioAPICost, "write requests while idle ("+window+"), all but leader election", idle.writes.withoutLeaderElection(), "%.0f",
		"0", idle.writes.withoutLeaderElection() == 0)
	b.report.add(scenarioAPICost, "leader election and kube-apiserver Lease writes while idle", idle.writes.leaderElection(), "%.0f")
	b.report.add(scenarioAPICost, "DNSCertificate reconciles while idle (shows the resyncs ran)",
		operatorAfter.reconciles[dnsCertificateController]-operatorBefore.reconciles[dnsCertificateController], "%.0f")

	b.report.windows = append(b.report.windows,
		requestWindow{title: fmt.Sprintf("burst of %d", b.burst.issuances), requests: burst, divisor: 1},
		requestWindow{title: "per issuance", requests: burst, divisor: issuances},
		requestWindow{title: window, requests: idle, divisor: 1},
	)
	return nil
}
