package controlplane

import (
	"os"
	"testing"
)

// RequireEnvVar, when set to 1, makes SkipWithoutBinaries fail a test instead of skipping it.
// `make test` sets it, so a missing control plane never passes as skipped tests.
const RequireEnvVar = "DNSCERT_REQUIRE_CONTROL_PLANE"

// SkipWithoutBinaries skips a test that needs the control plane when KUBEBUILDER_ASSETS is
// unset, or fails it when RequireEnvVar is 1.
func SkipWithoutBinaries(t testing.TB) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return
	}
	message := "KUBEBUILDER_ASSETS is not set; run `make test`, which builds the control plane with hack/install-control-plane.sh"
	if os.Getenv(RequireEnvVar) == "1" {
		t.Fatal(message)
	}
	t.Skip(message)
}
