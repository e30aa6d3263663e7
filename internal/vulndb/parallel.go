package vulndb

import (
	"context"
	"io"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Progress is what Update reports about one source while it runs.
type Progress struct {
	// Source is the updater's name; Index counts sources from 0 of Total.
	Source       string
	Index, Total int
	// Records counts the source's records stored so far (advisories,
	// enrichment, rejected and withdrawn ones, malformed ones included).
	Records int
	// Bytes is how much of the fetched files the parser has read
	// (decompressed sizes are not known in advance, so there is no total).
	Bytes   int64
	Elapsed time.Duration
	// Done is set on the last report of a source; Report is then its
	// outcome.
	Done   bool
	Report *SourceReport
}

// Bounds of the hand-over between a source's parser and the writer: a
// parser runs at most jobQueue batches of jobBatch records ahead.
const (
	jobBatch = 256
	jobQueue = 4
)

// job is one source's fetch and parse, run in its own goroutine. Its
// prepared records arrive in batches on ch, which is closed when Parse
// returns; the other fields are set before done is closed.
type job struct {
	u         feed.Updater
	index, of int
	// start is when the writer began on the job (writer goroutine only).
	start    time.Time
	ch       chan []*prepared
	done     chan struct{}
	bytes    atomic.Int64
	records  int
	snap     feed.Snapshot
	fetchErr error
	parseErr error
	stats    feed.Stats
	// namespaces are those of the parsed records (set by the parse
	// goroutine, read after done).
	namespaces map[string]bool
	// A superseded source (UpdateOptions.Supersedes) waits for better,
	// its better source's job when that is among the updaters, or reads
	// prevBetter's stored namespaces; prevSelf is its own previous row.
	// skip holds the namespaces it is not read for, superseded those of
	// its records that were left out, supersededWith the better source's
	// namespaces (supersede.go).
	supersededBy         string
	better               *job
	prevSelf, prevBetter *prevSource
	skip, superseded     map[string]bool
	supersededWith       []string
}

// startJobs starts the sources' fetches (updaters[i] from srcs[i]) and parses in updater order, at
// most opts.Parallel at a time. A slot is released when a parse ends, and
// the writer consumes the jobs in the same order, so the oldest running job
// is always the one being consumed: the pipeline cannot deadlock. wait
// returns when every goroutine has ended (cancel ctx first to stop them).
func startJobs(ctx context.Context, updaters []feed.Updater, srcs []feed.Source, prev map[string]*prevSource, opts UpdateOptions) ([]*job, func()) {
	jobs := make([]*job, len(updaters))
	byName := map[string]*job{}
	for i, u := range updaters {
		j := &job{u: u, index: i, of: len(updaters), ch: make(chan []*prepared, jobQueue), done: make(chan struct{}), namespaces: map[string]bool{}}
		if by := opts.Supersedes[u.Name()]; by != "" {
			// Only a better source that comes first is waited for: the
			// writer consumes the jobs in order, so it always ends first.
			j.supersededBy, j.better, j.prevSelf, j.prevBetter = by, byName[by], prev[u.Name()], prev[by]
			if j.better == nil && slices.ContainsFunc(updaters, func(x feed.Updater) bool { return x.Name() == by }) {
				j.supersededBy, j.prevBetter = "", nil
			}
		}
		jobs[i] = j
		byName[u.Name()] = j
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, opts.Parallel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, j := range jobs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for _, j := range jobs[i:] {
					j.fetchErr = context.Cause(ctx)
					close(j.ch)
					close(j.done)
				}
				return
			}
			var state feed.State
			if p := prev[j.u.Name()]; p != nil {
				state = p.state
			}
			s := srcs[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.run(ctx, s, state)
				<-slots
			}()
		}
	}()
	return jobs, wg.Wait
}

// run fetches and parses the source, preparing each record for the writer.
func (j *job) run(ctx context.Context, src feed.Source, state feed.State) {
	defer close(j.done)
	name := j.u.Name()
	u, state, err := j.supersede(ctx, state)
	if err != nil {
		j.fetchErr = err
		close(j.ch)
		return
	}
	snap, err := u.Fetch(ctx, src, state)
	if err != nil {
		j.fetchErr = err
		close(j.ch)
		return
	}
	j.snap = snap
	if snap.Unchanged || snap.FS == nil {
		if snap.Close != nil {
			_ = snap.Close()
		}
		close(j.ch)
		return
	}
	batch := make([]*prepared, 0, jobBatch)
	send := func() error {
		select {
		case j.ch <- batch:
			batch = make([]*prepared, 0, jobBatch)
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	j.stats, j.parseErr = u.Parse(ctx, &countingFS{fsys: snap.FS, n: &j.bytes}, func(a *advisory.Advisory) error {
		if a != nil { // prepare reports a nil record as malformed
			if a = j.filter(a); a == nil {
				return nil
			}
			if !a.Rejected && a.Withdrawn.IsZero() {
				j.noteNamespaces(a)
			}
		}
		batch = append(batch, prepare(name, a))
		if len(batch) < jobBatch {
			return nil
		}
		return send()
	})
	if j.parseErr == nil && len(batch) > 0 {
		j.parseErr = send()
	}
	close(j.ch)
	if snap.Close != nil {
		_ = snap.Close()
	}
}

// drain stores the job's records as they arrive, reporting progress.
func (b *builder) drain(ctx context.Context, j *job, sr *SourceReport) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case batch, ok := <-j.ch:
			if !ok {
				return nil
			}
			for _, p := range batch {
				if err := b.store(ctx, j.u.Name(), p); err != nil {
					return err
				}
			}
			j.records += len(batch)
		case <-tick.C:
			b.progress(j, sr, false)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (b *builder) progress(j *job, sr *SourceReport, done bool) {
	if b.opts.Progress == nil {
		return
	}
	p := Progress{Source: j.u.Name(), Index: j.index, Total: j.of, Records: j.records, Bytes: j.bytes.Load(), Done: done}
	if !j.start.IsZero() {
		p.Elapsed = b.opts.Now().Sub(j.start)
	}
	if done {
		r := *sr
		p.Report = &r
	}
	b.opts.Progress(p)
}

// countingFS counts the bytes read from a fetched snapshot's files, for
// progress. It keeps the optional interfaces parsers rely on (directory
// reads, Stat, ReaderAt for zip archives).
type countingFS struct {
	fsys fs.FS
	n    *atomic.Int64
}

func (c *countingFS) Open(name string) (fs.File, error) {
	f, err := c.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	cf := countingFile{File: f, n: c.n}
	if ra, ok := f.(io.ReaderAt); ok {
		return &countingFileAt{countingFile: cf, ra: ra}, nil
	}
	return &cf, nil
}

func (c *countingFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(c.fsys, name) }
func (c *countingFS) Stat(name string) (fs.FileInfo, error)      { return fs.Stat(c.fsys, name) }

type countingFile struct {
	fs.File
	n *atomic.Int64
}

func (f *countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.n.Add(int64(n))
	return n, err
}

// ReadDir serves directories opened through the FS.
func (f *countingFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if d, ok := f.File.(fs.ReadDirFile); ok {
		return d.ReadDir(n)
	}
	return nil, &fs.PathError{Op: "readdir", Err: fs.ErrInvalid}
}

type countingFileAt struct {
	countingFile
	ra io.ReaderAt
}

func (f *countingFileAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.ra.ReadAt(p, off)
	f.n.Add(int64(n))
	return n, err
}

// Seek is passed on when the file has it (zip archives come as
// io.ReaderAt plus Stat; Seek is there for readers that want it).
func (f *countingFileAt) Seek(off int64, whence int) (int64, error) {
	if s, ok := f.File.(io.Seeker); ok {
		return s.Seek(off, whence)
	}
	return 0, &fs.PathError{Op: "seek", Err: fs.ErrInvalid}
}
