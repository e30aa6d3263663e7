package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server"
)

// authSource is where serve's principals come from: the --user and
// --access-key shortcuts (admin on everything) plus the --auth-config file,
// read again on every reload.
type authSource struct {
	path      string // "" = no file
	flagUsers []server.User
	flagKeys  []server.AccessKey
}

// load reads the file and combines it with the flags; a user name or key
// id in both is an error.
func (s authSource) load() ([]server.User, []server.AccessKey, error) {
	users := append([]server.User(nil), s.flagUsers...)
	keys := append([]server.AccessKey(nil), s.flagKeys...)
	if s.path == "" {
		return users, keys, nil
	}
	fu, fk, err := server.LoadAuthConfig(s.path)
	if err != nil {
		return nil, nil, err
	}
	for _, u := range fu {
		for _, f := range s.flagUsers {
			if f.Name == u.Name {
				return nil, nil, fmt.Errorf("auth config %s: user %q is also given with --user; name each user once", s.path, u.Name)
			}
		}
	}
	for _, k := range fk {
		for _, f := range s.flagKeys {
			if f.ID == k.ID {
				return nil, nil, fmt.Errorf("auth config %s: access key %q is also given with --access-key; name each key once", s.path, k.ID)
			}
		}
	}
	return append(users, fu...), append(keys, fk...), nil
}

// fingerprint identifies a version of the file: its size, modification
// time and SHA-256 (a rewrite within one mtime tick still differs).
func fingerprint(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	data, err := readSmallFile(path, server.MaxAuthConfigSize+1)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return fmt.Appendf(nil, "%d/%d/%x", fi.Size(), fi.ModTime().UnixNano(), sum), nil
}

func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// watchAuthConfig reloads src when the file changes (polled every poll,
// applied once the change has held for one poll;
// 0 = never) and on every value from hup (SIGHUP), until ctx ends. A file
// that does not load keeps the configuration in force, and the log says
// why; apply swaps the new one in at once.
func watchAuthConfig(ctx context.Context, src authSource, poll time.Duration, hup <-chan os.Signal, apply func([]server.User, []server.AccessKey) error, log *slog.Logger) {
	last, _ := fingerprint(src.path)
	var pending []byte // a changed fingerprint waiting one poll
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	reload := func(why string) {
		users, keys, err := src.load()
		if err == nil {
			err = apply(users, keys)
		}
		if err != nil {
			log.Error("serve: auth config not reloaded; the previous configuration stays in force", "path", src.path, "trigger", why, "err", err)
			return
		}
		log.Info("serve: auth config reloaded", "path", src.path, "trigger", why, "users", len(users), "access_keys", len(keys))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last, _ = fingerprint(src.path)
			pending = nil
			reload("SIGHUP")
		case <-tick:
			fp, err := fingerprint(src.path)
			if err != nil {
				if last != nil {
					log.Error("serve: auth config unreadable; the previous configuration stays in force", "path", src.path, "err", err)
				}
				last = nil
				continue
			}
			if bytes.Equal(fp, last) {
				pending = nil
				continue
			}
			// A change is applied once it has held for one poll, so a
			// file being written in place is not read half written.
			if !bytes.Equal(fp, pending) {
				pending = fp
				continue
			}
			last, pending = fp, nil
			reload("file changed")
		}
	}
}

// authTarget is what a reloaded auth config is applied to (*server.Server).
type authTarget interface {
	ReplacePrincipals(users []server.User, keys []server.AccessKey) error
	ReplaceRegistryCredentials(creds []server.RegistryCredential)
	ReplaceReplicationDestinations(dsts []server.ReplicationDestination) error
}

// reloadAuthConfig is watchAuthConfig's apply for serve: the file's
// registry_credentials and replication sections are read again with its
// users and keys, and all of them are applied, or none when one does not
// load (the principals are swapped first: the only swap that can refuse a
// set the loaders accepted).
func reloadAuthConfig(t authTarget, path string) func([]server.User, []server.AccessKey) error {
	return func(u []server.User, k []server.AccessKey) error {
		creds, err := server.LoadRegistryCredentials(path)
		if err != nil {
			return err
		}
		dsts, err := server.LoadReplicationDestinations(path)
		if err != nil {
			return err
		}
		if err := t.ReplacePrincipals(u, k); err != nil {
			return err
		}
		t.ReplaceRegistryCredentials(creds)
		return t.ReplaceReplicationDestinations(dsts)
	}
}
