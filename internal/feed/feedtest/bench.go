package feedtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"io"
	"sort"
)

// TarFiles reads every regular file of a tar stream into memory, by name:
// benchmarks decompress a shared bundle once, before the timer, so that
// they measure the decoding and not the decompression.
func TarFiles(r io.Reader) (map[string][]byte, error) {
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[h.Name] = b
	}
}

// ZipFiles reads every file of a zip archive into memory, by name.
func ZipFiles(data []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out[f.Name] = b
	}
	return out, nil
}

// StoredZip is a zip archive of files (in name order) without compression,
// so that a parser reading it spends its time decoding the entries.
func StoredZip(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CPUPerOp runs the benchmark loop body fn b.N times (with b.Loop) and
// reports the process CPU time per iteration as "cpu-ms/op".
func CPUPerOp(b interface {
	Loop() bool
	ReportMetric(float64, string)
}, fn func()) {
	start, n := CPUTime(), 0
	for b.Loop() {
		fn()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64((CPUTime()-start).Milliseconds())/float64(n), "cpu-ms/op")
	}
}
