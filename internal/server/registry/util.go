package registry

import (
	"bytes"
	"errors"
	"io"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func isPathNotFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}
