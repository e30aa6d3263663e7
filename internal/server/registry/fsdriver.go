package registry

// The local-filesystem storage driver: a port of distribution v3.1.2's
// registry/storage/driver/filesystem (Apache License 2.0, Copyright The
// Distribution Authors), without the base wrapper it comes in. That wrapper
// adds OpenTelemetry tracing and storage-action metrics, and importing it
// links OpenTelemetry's exporters and gRPC into the binary (about 180
// packages nothing else uses). What the wrapper did and the server needs is
// kept here: paths are checked against storagedriver.PathRegexp. Its
// regulator (at most 100 concurrent filesystem calls) is not: the server
// bounds its own concurrency (HTTP timeouts, the scan worker pool).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/google/uuid"
)

// fsDriver is a storagedriver.StorageDriver over a local directory: every
// path is a subpath of root.
type fsDriver struct {
	rootDirectory string
}

var _ storagedriver.StorageDriver = (*fsDriver)(nil)

func newFSDriver(root string) *fsDriver {
	return &fsDriver{rootDirectory: root}
}

// validPath rejects a path distribution's drivers do not accept.
func validPath(p string) error {
	if !storagedriver.PathRegexp.MatchString(p) {
		return storagedriver.InvalidPathError{Path: p, DriverName: "filesystem"}
	}
	return nil
}

func (d *fsDriver) Name() string { return "filesystem" }

// GetContent retrieves the content stored at "path" as a []byte.
func (d *fsDriver) GetContent(ctx context.Context, path string) ([]byte, error) {
	if err := validPath(path); err != nil {
		return nil, err
	}
	rc, err := d.Reader(ctx, path, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()

	p, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}

	return p, nil
}

// PutContent stores the []byte content at a location designated by "path".
func (d *fsDriver) PutContent(ctx context.Context, subPath string, contents []byte) error {
	if err := validPath(subPath); err != nil {
		return err
	}
	tempPath := fmt.Sprintf("%s.%s.tmp", subPath, uuid.NewString())

	// Write to a temporary file to prevent partial writes.
	writer, err := d.Writer(ctx, tempPath, false)
	if err != nil {
		return err
	}
	defer writer.Close()

	_, err = io.Copy(writer, bytes.NewReader(contents))
	if err != nil {
		if cErr := writer.Cancel(ctx); cErr != nil {
			return errors.Join(err, cErr)
		}
		// Attempt to clean up the temporary file on error.
		dErr := d.Delete(ctx, tempPath)
		return errors.Join(err, dErr)
	}

	if err := writer.Commit(ctx); err != nil {
		return err
	}

	// Atomically replace the target file with the temporary file.
	if err := d.Move(ctx, tempPath, subPath); err != nil {
		// Clean up the temporary file if rename fails.
		dErr := d.Delete(ctx, tempPath)
		return errors.Join(err, dErr)
	}
	return syncDir(filepath.Dir(d.fullPath(subPath)))
}

func syncDir(dir string) (retErr error) {
	dirF, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("sync dir: %w", err)
	}
	defer func() {
		if err := dirF.Close(); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("failed to close dir: %w", err))
		}
	}()
	if err := dirF.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// Reader retrieves an io.ReadCloser for the content stored at "path" with a
// given byte offset.
func (d *fsDriver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	if err := validPath(path); err != nil {
		return nil, err
	}
	file, err := os.OpenFile(d.fullPath(path), os.O_RDONLY, 0o644)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, storagedriver.PathNotFoundError{Path: path}
		}

		return nil, err
	}

	seekPos, err := file.Seek(offset, io.SeekStart)
	if err != nil {
		file.Close()
		return nil, err
	} else if seekPos < offset {
		file.Close()
		return nil, storagedriver.InvalidOffsetError{Path: path, Offset: offset}
	}

	return file, nil
}

func (d *fsDriver) Writer(ctx context.Context, subPath string, append bool) (storagedriver.FileWriter, error) {
	if err := validPath(subPath); err != nil {
		return nil, err
	}
	fullPath := d.fullPath(subPath)
	parentDir := filepath.Dir(fullPath)
	if err := os.MkdirAll(parentDir, 0o777); err != nil {
		return nil, err
	}

	fp, err := os.OpenFile(fullPath, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}

	var offset int64

	if !append {
		err := fp.Truncate(0)
		if err != nil {
			fp.Close()
			return nil, err
		}
	} else {
		n, err := fp.Seek(0, io.SeekEnd)
		if err != nil {
			fp.Close()
			return nil, err
		}
		offset = n
	}

	return newFileWriter(fp, offset), nil
}

// Stat retrieves the FileInfo for the given path, including the current size
// in bytes and the creation time.
func (d *fsDriver) Stat(ctx context.Context, subPath string) (storagedriver.FileInfo, error) {
	if err := validPath(subPath); err != nil {
		return nil, err
	}
	fullPath := d.fullPath(subPath)

	fi, err := os.Stat(fullPath)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, storagedriver.PathNotFoundError{Path: subPath}
		}

		return nil, err
	}

	return fsFileInfo{
		path:     subPath,
		FileInfo: fi,
	}, nil
}

// List returns a list of the objects that are direct descendants of the given
// path.
func (d *fsDriver) List(ctx context.Context, subPath string) ([]string, error) {
	if err := validPath(subPath); err != nil {
		return nil, err
	}
	fullPath := d.fullPath(subPath)

	dir, err := os.Open(fullPath)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, storagedriver.PathNotFoundError{Path: subPath}
		}
		return nil, err
	}

	defer dir.Close()

	fileNames, err := dir.Readdirnames(0)
	if err != nil {
		return nil, err
	}

	keys := make([]string, 0, len(fileNames))
	for _, fileName := range fileNames {
		keys = append(keys, filepath.Join(subPath, fileName))
	}

	return keys, nil
}

// Move moves an object stored at sourcePath to destPath, removing the original
// object.
func (d *fsDriver) Move(ctx context.Context, sourcePath string, destPath string) error {
	if err := validPath(destPath); err != nil {
		return err
	}
	if err := validPath(sourcePath); err != nil {
		return err
	}
	source := d.fullPath(sourcePath)
	dest := d.fullPath(destPath)

	if _, err := os.Stat(source); os.IsNotExist(err) {
		return storagedriver.PathNotFoundError{Path: sourcePath}
	}

	if err := os.MkdirAll(filepath.Dir(dest), 0o777); err != nil {
		return err
	}

	err := os.Rename(source, dest)
	return err
}

// Delete recursively deletes all objects stored at "path" and its subpaths.
func (d *fsDriver) Delete(ctx context.Context, subPath string) error {
	if err := validPath(subPath); err != nil {
		return err
	}
	fullPath := d.fullPath(subPath)

	_, err := os.Stat(fullPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	} else if err != nil {
		return storagedriver.PathNotFoundError{Path: subPath}
	}

	err = os.RemoveAll(fullPath)
	return err
}

// RedirectURL returns a URL which may be used to retrieve the content stored at the given path.
func (d *fsDriver) RedirectURL(*http.Request, string) (string, error) {
	return "", nil
}

// Walk traverses a filesystem defined within driver, starting
// from the given path, calling f on each file and directory
func (d *fsDriver) Walk(ctx context.Context, path string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	return storagedriver.WalkFallback(ctx, d, path, f, options...)
}

// fullPath returns the absolute path of a key within the Driver's storage.
func (d *fsDriver) fullPath(subPath string) string {
	return filepath.Join(d.rootDirectory, subPath)
}

type fsFileInfo struct {
	os.FileInfo
	path string
}

var _ storagedriver.FileInfo = fsFileInfo{}

// Path provides the full path of the target of this file info.
func (fi fsFileInfo) Path() string {
	return fi.path
}

// Size returns current length in bytes of the file. The return value can
// be used to write to the end of the file at path. The value is
// meaningless if IsDir returns true.
func (fi fsFileInfo) Size() int64 {
	if fi.IsDir() {
		return 0
	}

	return fi.FileInfo.Size()
}

// ModTime returns the modification time for the file. For backends that
// don't have a modification time, the creation time should be returned.
func (fi fsFileInfo) ModTime() time.Time {
	return fi.FileInfo.ModTime()
}

// IsDir returns true if the path is a directory.
func (fi fsFileInfo) IsDir() bool {
	return fi.FileInfo.IsDir()
}

type fsFileWriter struct {
	file      *os.File
	size      int64
	bw        *bufio.Writer
	closed    bool
	committed bool
	cancelled bool
}

func newFileWriter(file *os.File, size int64) *fsFileWriter {
	return &fsFileWriter{
		file: file,
		size: size,
		bw:   bufio.NewWriter(file),
	}
}

func (fw *fsFileWriter) Write(p []byte) (int, error) {
	if fw.closed {
		return 0, fmt.Errorf("already closed")
	} else if fw.committed {
		return 0, fmt.Errorf("already committed")
	} else if fw.cancelled {
		return 0, fmt.Errorf("already cancelled")
	}
	n, err := fw.bw.Write(p)
	fw.size += int64(n)
	return n, err
}

func (fw *fsFileWriter) Size() int64 {
	return fw.size
}

func (fw *fsFileWriter) Close() (retErr error) {
	if fw.closed {
		return fmt.Errorf("already closed")
	}
	fw.closed = true
	defer func() {
		if err := fw.file.Close(); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	if fw.committed {
		// Already flushed and synced
		return nil
	}

	if err := fw.bw.Flush(); err != nil {
		return err
	}

	return fw.file.Sync()
}

func (fw *fsFileWriter) Cancel(ctx context.Context) error {
	if fw.closed {
		return fmt.Errorf("already closed")
	}

	fw.cancelled = true
	fw.closed = true
	_ = fw.file.Close()
	return os.Remove(fw.file.Name())
}

func (fw *fsFileWriter) Commit(ctx context.Context) error {
	if fw.closed {
		return fmt.Errorf("already closed")
	} else if fw.committed {
		return fmt.Errorf("already committed")
	} else if fw.cancelled {
		return fmt.Errorf("already cancelled")
	}

	if err := fw.bw.Flush(); err != nil {
		return err
	}

	if err := fw.file.Sync(); err != nil {
		return err
	}

	fw.committed = true
	return nil
}

// fsDriverName is the name fsDriver is known by in distribution's driver
// factory, which handlers.NewApp reads the storage configuration through.
const fsDriverName = "stowaway-filesystem"

// registerFSDriver makes fsDriver available to handlers.NewApp. The factory
// is distribution's process-wide table, which panics on a second
// registration of one name, hence the sync.Once; the factory itself holds
// nothing (each Create gets its root from the configuration).
var registerFSDriver = sync.OnceFunc(func() { factory.Register(fsDriverName, fsFactory{}) })

type fsFactory struct{}

func (fsFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	root, ok := params["rootdirectory"].(string)
	if !ok || root == "" {
		return nil, fmt.Errorf("registry: storage driver %s: no rootdirectory", fsDriverName)
	}
	return newFSDriver(root), nil
}
