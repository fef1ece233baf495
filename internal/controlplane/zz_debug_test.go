package controlplane

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestDebugRestart(t *testing.T) {
	cp, err := Start(t.Context(), Options{WorkDir: "/tmp/cpdebug", ControllerManager: os.Getenv("KCM") == "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	pids, _ := cp.PIDs()
	t.Log(pids)
	go func() {
		time.Sleep(8 * time.Second)
		for _, p := range pids {
			out, _ := exec.Command("sh", "-c", "cat /proc/"+itoa(p)+"/cmdline | tr '\\0' ' ' | cut -c1-60; grep State /proc/"+itoa(p)+"/status").CombinedOutput()
			t.Log(string(out))
		}
		for _, p := range pids {
			exec.Command("kill", "-QUIT", itoa(p)).Run()
		}
	}()
	start := time.Now()
	err = cp.RestartAPIServer()
	t.Log(time.Since(start), err)
}

func itoa(i int) string { return fmtInt(i) }
func fmtInt(i int) string { return strconv.Itoa(i) }
