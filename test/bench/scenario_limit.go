package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runLimit measures the ceiling: the rate at which a plain client, with b.cfg.workers parallel
// requests and no client-side rate limit, creates -n small Secrets in one namespace. The Secrets
// are deleted afterwards, so later scenarios start without them.
func (b *bench) runLimit(ctx context.Context) error {
	if err := b.createNamespace(ctx, limitNamespace); err != nil {
		return err
	}
	secrets := b.clientset.CoreV1().Secrets(limitNamespace)

	start := time.Now()
	err := parallel(ctx, b.cfg.workers, b.cfg.n, func(ctx context.Context, i int) error {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("secret-%05d", i)},
			Data:       map[string][]byte{"value": []byte("0123456789abcdef")},
		}
		if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Secret %s/%s: %w", limitNamespace, secret.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	b.limitRate = float64(b.cfg.n) / elapsed.Seconds()

	b.report.add(scenarioLimit, fmt.Sprintf("plain client: %d Secret creates, %d in parallel", b.cfg.n, b.cfg.workers), b.limitRate, "%.0f/s")
	b.report.add(scenarioLimit, fmt.Sprintf("plain client: time for %d Secret creates", b.cfg.n), elapsed.Seconds(), "%.2f s")

	if err := secrets.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("deleting the Secrets in %s: %w", limitNamespace, err)
	}
	return nil
}
