package squash

import (
	"io"
	"os"
	"syscall"
)

func openNoFollow(p string) (io.Reader, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
