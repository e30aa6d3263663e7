package vulndb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

const (
	envCrashDir   = "STOWAWAY_VULNDB_CRASH_DIR"
	envCrashStage = "STOWAWAY_VULNDB_CRASH_STAGE"
)

// crashUpdater emits records forever after the first batch when stage is
// "parsing", writing the marker once it is well inside the parse.
func crashUpdater(dir, stage string) *fakeUpdater {
	return &fakeUpdater{name: "d", version: "2", gen: func(emit func(*advisory.Advisory) error) error {
		for i := 0; ; i++ {
			if err := emit(osAdv(fmt.Sprintf("CVE-NEW-%d", i), "debian:12", fmt.Sprintf("pkg%d", i%500), "2.0")); err != nil {
				return err
			}
			if stage == "parsing" && i == 20_000 {
				marker(dir)
			}
			if stage != "parsing" && i == 5_000 {
				return nil
			}
		}
	}}
}

func marker(dir string) {
	_ = os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644)
}

// TestCrashChild is the child process of TestCrashMidUpdate; it does nothing
// in a normal run.
func TestCrashChild(t *testing.T) {
	dir, stage := os.Getenv(envCrashDir), os.Getenv(envCrashStage)
	if dir == "" {
		t.Skip("helper process for TestCrashMidUpdate")
	}
	opts := UpdateOptions{BatchSize: 1000, hook: func(s string) {
		if s == stage {
			marker(dir)
			time.Sleep(time.Hour) // wait for SIGKILL
		}
	}}
	_, err := Update(context.Background(), dir, updaters(crashUpdater(dir, stage)), noSource, opts)
	t.Fatalf("update in the child finished (%v); it should have been killed", err)
}

// TestCrashMidUpdate kills an update (SIGKILL, in a subprocess) at each stage
// of the build and swap, then checks that the old DB still opens and
// answers, and that the next update succeeds and cleans up.
func TestCrashMidUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns subprocesses")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"parsing", "loaded", "built", "synced", "renamed", "current-written"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			mustUpdate(t, dir, &fakeUpdater{name: "d", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "1.0")}})
			cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashStage+"="+stage)
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(dir, "marker")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatal("child never reached the stage")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			db := mustOpen(t, dir)
			if got := fixedOf(t, db, "debian:12", "curl"); !cmp.Equal(got, map[string]string{"CVE-1": "1.0"}) {
				t.Errorf("after a crash at %s: %v, want the old data", stage, got)
			}
			if _, err := db.Status(context.Background()); err != nil {
				t.Errorf("status after crash: %v", err)
			}
			db.Close()
			// The next update succeeds, sees the old state, and removes the debris.
			rep := mustUpdate(t, dir, &fakeUpdater{name: "d", version: "1"})
			if rep.Sources[0].Outcome != Unchanged {
				t.Errorf("next update outcome = %s, want unchanged", rep.Sources[0].Outcome)
			}
			if files := dbFiles(t, dir); len(files) != 2 {
				t.Errorf("files after recovery: %v, want current and previous only", files)
			}
			if _, err := os.Stat(filepath.Join(dir, currentFile+tmpSuffix)); err == nil {
				t.Error("CURRENT.tmp left behind")
			}
		})
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setMeta edits a DB file in place (test fixtures only).
func setMeta(t testing.TB, path, key, value string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE meta SET value = ? WHERE key = ?`, value, key); err != nil {
		t.Fatal(err)
	}
}
