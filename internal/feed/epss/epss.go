// Package epss is the feed updater for FIRST's Exploit Prediction Scoring
// System (EPSS): for every scored CVE, the probability of exploitation
// activity in the next 30 days and that score's percentile.
//
// Layout: one file, epss_scores-current.csv.gz, at
// https://epss.empiricalsecurity.com/ upstream (FIRST's data, where
// epss.cyentia.com redirects; the same directory holds the daily
// epss_scores-YYYY-MM-DD.csv.gz) and under epss/ in a mirror. Fetch is the
// shared conditional fetch (feed.FetchFiles): an unchanged file (ETag,
// Last-Modified, or the same SHA-256) is not parsed again.
//
// The file is gzip-compressed CSV: a comment line
// "#model_version:v2026.06.15,score_date:2026-08-15T12:00:00Z" (files
// before 2022 have none), a header naming the columns (cve, epss,
// percentile, in any order), then one row per CVE. Each row becomes one
// exploit-context record (advisory.Advisory with ID the CVE and
// Exploit.EPSS set, no affected packages). The model version and score
// date are Stats.Version ("model_version v2026.06.15, score_date
// 2026-08-15"); the score date is Stats.Newest.
//
// The decompressed stream is capped at MaxDecompressed bytes and each line
// at MaxLine bytes. A row with a CVE that is not a CVE id, a score or
// percentile that is not a number in 0..1, the wrong number of columns, or
// a line that is too long is reported in Stats.Malformed and left out. A
// file that is not gzip, has no header, or is over the cap fails the Parse
// (the previous records are kept).
package epss

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Limits on untrusted input.
const (
	MaxDecompressed = 256 << 20 // bytes of CSV (the real file is about 11 MB)
	MaxLine         = 1024      // bytes of one line
)

// Upstream is the directory of the EPSS score files.
const Upstream = "https://epss.empiricalsecurity.com/"

// File is the current scores' file name, upstream and in the mirror.
const File = "epss_scores-current.csv.gz"

// Updater reads the EPSS scores.
type Updater struct{}

var _ feed.Updater = (*Updater)(nil)

// New returns the EPSS updater.
func New() *Updater { return &Updater{} }

// Name implements feed.Updater.
func (*Updater) Name() string { return "epss" }

// Upstream implements feed.Updater.
func (*Updater) Upstream() string { return Upstream }

// MirrorDir implements feed.Updater.
func (*Updater) MirrorDir() string { return "epss" }

// Fetch implements feed.Updater.
func (*Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	snap, err := feed.FetchFiles(ctx, src, []string{File}, prev, nil)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("epss: %w", err)
	}
	return snap, nil
}

// Parse implements feed.Updater (see the package doc).
func (*Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	return parseFile(ctx, fsys, MaxDecompressed, emit)
}

// parseFile is Parse with a limit on the decompressed bytes.
func parseFile(ctx context.Context, fsys fs.FS, limit int64, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	f, err := fsys.Open(File)
	if err != nil {
		return feed.Stats{}, fmt.Errorf("epss: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return feed.Stats{}, fmt.Errorf("epss: %s: %w", File, err)
	}
	defer zr.Close()
	lr := &io.LimitedReader{R: zr, N: limit + 1}
	st, err := ParseCSV(ctx, lr, emit)
	if lr.N <= 0 {
		return st, fmt.Errorf("epss: %s: more than %d bytes decompressed", File, limit)
	}
	if err != nil {
		return st, fmt.Errorf("epss: %s: %w", File, err)
	}
	return st, nil
}

// ParseCSV reads the decompressed score file (see the package doc).
func ParseCSV(ctx context.Context, r io.Reader, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	br := bufio.NewReaderSize(r, MaxLine+1)
	var model, date string
	col := map[string]int{}
	bad := func(line int, id, msg string) {
		st.Malformed = append(st.Malformed, feed.Malformed{File: File, ID: id, Err: fmt.Sprintf("line %d: %s", line, msg)})
	}
	for line := 1; ; line++ {
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		b, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return st, err
		}
		if len(b) == 0 && !tooLong && errors.Is(err, io.EOF) {
			break
		}
		switch {
		case tooLong:
			bad(line, "", fmt.Sprintf("longer than %d bytes", MaxLine))
		case len(bytes.TrimSpace(b)) == 0:
		case b[0] == '#':
			if len(col) == 0 {
				model, date = comment(string(b[1:]))
			}
		case len(col) == 0:
			names := strings.Split(string(b), ",")
			if len(names) > maxColumns {
				return st, fmt.Errorf("line %d: the header has more than %d columns", line, maxColumns)
			}
			for i, name := range names {
				col[strings.TrimSpace(name)] = i
			}
			for _, need := range []string{"cve", "epss", "percentile"} {
				if _, ok := col[need]; !ok {
					return st, fmt.Errorf("line %d: the header %q has no %s column", line, clipb(b), need)
				}
			}
		default:
			a, id, msg := row(string(b), col)
			if msg != "" {
				bad(line, id, msg)
				break
			}
			st.Records++
			if err := emit(a); err != nil {
				return st, err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(col) == 0 {
		return st, errors.New("no header line (cve,epss,percentile)")
	}
	var parts []string
	if model != "" {
		parts = append(parts, "model_version "+model)
	}
	if date != "" {
		if t, err := time.Parse(time.RFC3339, date); err == nil {
			st.Newest = t.UTC()
			date = t.UTC().Format(time.DateOnly)
		} else if t, err := time.Parse(time.DateOnly, date); err == nil {
			st.Newest = t
		} else {
			bad(1, "", fmt.Sprintf("score_date %q is not a date", date))
			date = ""
		}
		if date != "" {
			parts = append(parts, "score_date "+date)
		}
	}
	st.Version = strings.Join(parts, ", ")
	return st, nil
}

// readLine reads one line without its end; tooLong says it was longer
// than MaxLine (the rest of it is skipped).
func readLine(br *bufio.Reader) (b []byte, tooLong bool, err error) {
	b, err = br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		return nil, true, err
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) > MaxLine {
		return nil, true, err
	}
	return b, false, err
}

// comment reads the model version and score date of the first line.
func comment(s string) (model, date string) {
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, ":")
		v = clip(strings.TrimSpace(v), 64)
		switch strings.TrimSpace(k) {
		case "model_version":
			model = v
		case "score_date":
			date = v
		}
	}
	return model, date
}

// maxColumns bounds the columns of the header and of a row.
const maxColumns = 16

// record holds one row's record in one allocation.
type record struct {
	a advisory.Advisory
	x advisory.Exploit
	e advisory.EPSS
}

// row converts one data row, or says what is wrong with it.
func row(s string, col map[string]int) (*advisory.Advisory, string, string) {
	var f [maxColumns]string
	n := 0
	for rest, more := s, true; more; n++ {
		if n == maxColumns {
			return nil, "", fmt.Sprintf("more than %d columns", maxColumns)
		}
		f[n], rest, more = strings.Cut(rest, ",")
	}
	if n != len(col) {
		return nil, "", fmt.Sprintf("%d columns, the header has %d", n, len(col))
	}
	id := strings.TrimSpace(f[col["cve"]])
	if !advisory.IsCVEID(id) {
		return nil, "", fmt.Sprintf("%q is not a CVE id", clip(id, 64))
	}
	r := &record{}
	var err error
	if r.e.Score, err = strconv.ParseFloat(strings.TrimSpace(f[col["epss"]]), 64); err != nil {
		return nil, id, fmt.Sprintf("epss %q is not a number", clip(f[col["epss"]], 64))
	}
	if r.e.Percentile, err = strconv.ParseFloat(strings.TrimSpace(f[col["percentile"]]), 64); err != nil {
		return nil, id, fmt.Sprintf("percentile %q is not a number", clip(f[col["percentile"]], 64))
	}
	if err := r.e.Valid(); err != nil {
		return nil, id, err.Error()
	}
	r.x.EPSS = &r.e
	r.a = advisory.Advisory{ID: id, Source: "epss", Exploit: &r.x}
	return &r.a, "", ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func clipb(b []byte) string { return clip(string(b), 64) }
