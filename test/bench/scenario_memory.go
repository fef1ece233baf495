package main

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runMemory reads the peak resident set size (VmHWM) of a fresh manager once it has reconciled
// every DNSCertificate, then creates -unrelated-secrets Secrets the manager does not own, spread
// over -unrelated-namespaces namespaces, and reads it again from another fresh manager. The
// manager caches only the Secrets it owns, so the second figure should stay close to the first.
func (b *bench) runMemory(ctx context.Context) error {
	count, err := b.certificateCount(ctx)
	if err != nil {
		return err
	}
	baseline, err := b.freshPeakRSS(ctx, count)
	if err != nil {
		return err
	}
	b.writeHeapProfile(ctx)
	// RssFile is mostly the binary's code, which the peak includes and no cache setting changes.
	fileBacked, err := statusKilobytes(b.operator.pid(), "RssFile")
	if err != nil {
		return err
	}
	if err := b.stopOperator(); err != nil {
		return err
	}

	b.logf("Creating %d unrelated Secrets of %d bytes in %d namespaces", b.cfg.unrelatedSecrets, b.cfg.unrelatedSecretBytes, b.cfg.unrelatedNamespaces)
	for i := range b.cfg.unrelatedNamespaces {
		if err := b.createNamespace(ctx, unrelatedNamespace(i)); err != nil {
			return err
		}
	}
	data := make([]byte, b.cfg.unrelatedSecretBytes)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	start := time.Now()
	err = parallel(ctx, b.cfg.workers, b.cfg.unrelatedSecrets, func(ctx context.Context, i int) error {
		namespace := unrelatedNamespace(i % b.cfg.unrelatedNamespaces)
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%05d", i)},
			Data:       map[string][]byte{"data": data},
		}
		if _, err := b.clientset.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Secret %s/%s: %w", namespace, secret.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	createdIn := time.Since(start)

	withUnrelated, err := b.freshPeakRSS(ctx, count)
	if err != nil {
		return err
	}

	ratio := float64(withUnrelated) / float64(baseline)
	b.report.addTarget(scenarioMemory, fmt.Sprintf("fresh manager peak RSS with %d Ready DNSCertificates", count),
		mebibytes(baseline), "%.1f MiB", "≤ 60 MiB", mebibytes(baseline) <= 60)
	b.report.addTarget(scenarioMemory, fmt.Sprintf("the same with %d unrelated Secrets of %s", b.cfg.unrelatedSecrets, formatBytes(b.cfg.unrelatedSecretBytes)),
		mebibytes(withUnrelated), "%.1f MiB", fmt.Sprintf("≤ 1.1 × %.1f MiB", mebibytes(baseline)), ratio <= 1.1)
	b.report.add(scenarioMemory, "ratio", ratio, "%.2f")
	b.report.add(scenarioMemory, "of the first: file-backed pages now resident (RssFile, mostly code)", mebibytes(fileBacked), "%.1f MiB")
	if b.cfg.unrelatedSecrets > 0 {
		b.report.add(scenarioMemory, "plain client: unrelated Secret creates", float64(b.cfg.unrelatedSecrets)/createdIn.Seconds(), "%.0f/s")
	}
	return nil
}

// freshPeakRSS starts a new manager, waits until it has reconciled count DNSCertificates and
// returns its peak resident set size in bytes.
func (b *bench) freshPeakRSS(ctx context.Context, count int) (int64, error) {
	op, err := b.startOperator(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := b.waitReverified(ctx, op, count, memoryPollInterval); err != nil {
		return 0, err
	}
	return statusKilobytes(op.pid(), "VmHWM")
}

// writeHeapProfile writes a heap profile of the running manager when -heapprofile is set, and
// notes where it is, or why it is missing.
func (b *bench) writeHeapProfile(ctx context.Context) {
	if b.cfg.heapProfile == "" {
		return
	}
	profile, err := b.operator.profile(ctx, "heap?gc=1")
	if err == nil {
		err = os.WriteFile(b.cfg.heapProfile, profile, 0o644)
	}
	if err != nil {
		b.report.note("The heap profile of the manager failed: %v", err)
		return
	}
	b.report.note("Heap profile of the manager with every DNSCertificate reconciled: %s (read it with `go tool pprof -top -sample_index=inuse_space %s %s`).",
		b.cfg.heapProfile, b.cfg.managerPath, b.cfg.heapProfile)
}

func unrelatedNamespace(i int) string {
	return fmt.Sprintf("bench-unrelated-%02d", i)
}

// formatBytes prints a size in KiB when it is a whole number of KiB, else in bytes.
func formatBytes(size int) string {
	if size >= 1024 && size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d bytes", size)
}
