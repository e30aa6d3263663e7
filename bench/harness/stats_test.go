package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummaries(t *testing.T) {
	tests := []struct {
		name              string
		xs                []float64
		p50, p95, med, gm float64
	}{
		{"empty", nil, 0, 0, 0, 0},
		{"one", []float64{3}, 3, 3, 3, 3},
		{"odd unsorted", []float64{5, 1, 3}, 3, 5, 3, math.Cbrt(15)},
		{"even", []float64{4, 1, 2, 8}, 2, 8, 3, 2.8284271247461903},
		{"twenty", []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 10, 19, 10.5, 0},
		{"geomean skips non-positive", []float64{0, -1, 4, 1}, 0, 4, 0.5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []float64{percentile(tt.xs, 50), percentile(tt.xs, 95), median(tt.xs)}
			want := []float64{tt.p50, tt.p95, tt.med}
			if tt.gm != 0 || len(tt.xs) == 0 {
				got, want = append(got, geomean(tt.xs)), append(want, tt.gm)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
				t.Errorf("p50, p95, median, geomean (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSections(t *testing.T) {
	names := []string{"db", "scan", "cold", "server", "rescan"}
	tests := []struct {
		only string
		want []string
	}{
		{"", names},
		{"server", []string{"server"}},
		{" server, rescan ,", []string{"server", "rescan"}},
	}
	for _, tt := range tests {
		want := sections(tt.only)
		var got []string
		for _, n := range names {
			if want(n) {
				got = append(got, n)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("sections(%q) (-want +got):\n%s", tt.only, diff)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{orDash("%.2f", 0), "-"},
		{orDash("%.2f", 1.234), "1.23"},
		{quotient(2, 0), "-"},
		{quotient(0, 2), "-"},
		{quotient(3, 2), "1.50"},
		{valueString(Result{}), "-"},
		{valueString(Result{Value: 0.9634, Unit: "x"}), "0.963 x"},
		{valueString(Result{Value: 12345.6, Unit: "/s"}), "12346 /s"},
		{valueString(Result{Value: 5.5}), "5.5"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestRescanResults(t *testing.T) {
	const prefix = "rescan: "
	tests := []struct {
		name    string
		json    string
		want    []Result
		wantErr bool
	}{
		{
			name: "harness shape",
			json: `{"results":[{"name":"full re-match","wall_s":2.5,"value":4000,"unit":"images/s"}]}`,
			want: []Result{{Name: prefix + "full re-match", WallS: 2.5, Value: 4000, Unit: "images/s"}},
		},
		{
			name: "flat figures",
			json: `{"images":10000,"full":{"wall_s":2.5,"images_per_s":4000},"changed":{"wall_seconds":0.1,"rate":1e5,"max_rss_mib":80},"label":"x"}`,
			want: []Result{
				{Name: prefix + "changed.max_rss_mib", MaxRSSMB: 80},
				{Name: prefix + "changed.rate", Value: 1e5, Unit: "/s"},
				{Name: prefix + "changed.wall_seconds", WallS: 0.1},
				{Name: prefix + "full.images_per_s", Value: 4000, Unit: "/s"},
				{Name: prefix + "full.wall_s", WallS: 2.5},
				{Name: prefix + "images", Value: 10000},
			},
		},
		{
			name: "arrays by name or index",
			json: `{"passes":[{"name":"full","wall_s":3},{"wall_s":0.2}]}`,
			want: []Result{
				{Name: prefix + "passes.full.wall_s", WallS: 3},
				{Name: prefix + "passes.1.wall_s", WallS: 0.2},
			},
		},
		{
			name: "bench/rescan figures",
			json: `{"db":"x","images":10000,"packagesPerImage":300,"findingsPerImage":1180,"seedSeconds":30,"fullSeconds":20,"fullImagesPerSecond":500,"fullMemoHitRate":0.99,` +
				`"change1pct":{"pairs":25,"imagesRematched":2500,"seconds":2,"imagesPerSecond":1250,"overFull":0.1},` +
				`"changeBasePackage":{"pairs":1,"imagesRematched":10000,"seconds":5,"imagesPerSecond":2000,"overFull":0.25}}`,
			want: []Result{
				{Name: prefix + "seed (first findings written)", WallS: 30},
				{Name: prefix + "full re-match", WallS: 20, Value: 500, Unit: "images/s", Note: "10000 images, 1180 findings/image, package memo hit rate 0.990"},
				{Name: prefix + "change of 1% of package names", WallS: 2, Value: 1250, Unit: "images/s", Floor: "full re-match, same run", FloorS: 20, Ratio: 0.1,
					Note: "25 changed pairs, 2500 images re-matched"},
				{Name: prefix + "change of one base package", WallS: 5, Value: 2000, Unit: "images/s", Floor: "full re-match, same run", FloorS: 20, Ratio: 0.25,
					Note: "1 changed pairs, 10000 images re-matched"},
			},
		},
		{name: "no numbers", json: `{"a":"b"}`, wantErr: true},
		{name: "not JSON", json: `oops`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rescanResults([]byte(tt.json), prefix)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestListImages(t *testing.T) {
	dir := t.TempDir()
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "b.tar"), make([]byte, 10))
	write(filepath.Join(dir, "README.md"), []byte("not an image"))
	oci := filepath.Join(dir, "a.oci")
	write(filepath.Join(oci, "index.json"), []byte(`{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"3.20"}}]}`))
	write(filepath.Join(oci, "blobs", "sha256", "layer"), []byte{0x1f, 0x8b, 8, 0})
	write(filepath.Join(oci, "blobs", "sha256", "config"), []byte(`{}`))
	got, err := listImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []sharedImage{
		{name: "a", src: "oci:" + oci + ":3.20", bytes: 6, blobs: []string{filepath.Join(oci, "blobs", "sha256", "layer")}, path: oci},
		{name: "b", src: "docker-archive:" + filepath.Join(dir, "b.tar"), bytes: 10, path: filepath.Join(dir, "b.tar")},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(sharedImage{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
