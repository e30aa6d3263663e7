package main

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/cli"
)

func TestProfScan(t *testing.T) {
	args := []string{"scan", os.Getenv("IMG"), "--db", os.Getenv("DBDIR"), "--format", "json", "-o", os.DevNull}
	if os.Getenv("IMG") == "" {
		t.Skip()
	}
	for i := 0; i < 5; i++ {
		st := time.Now()
		if code := cli.Main(context.Background(), args, io.Discard, io.Discard); code != 0 {
			t.Fatal(code)
		}
		t.Log(time.Since(st))
	}
}
