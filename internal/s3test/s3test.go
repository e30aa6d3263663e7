// Package s3test runs a real S3 server for tests and benchmarks: SeaweedFS
// (`weed server -s3`), built by .ci/run with go install into a cache
// directory and named by $STOWAWAY_WEED. Start launches it on free loopback
// ports in a directory of its own, with one access key; Stop kills it. The
// helpers create buckets and list objects with the AWS SDK for Go v2, so a
// test can see what the registry stored in the bucket without going through
// the registry.
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// EnvWeed names the weed binary.
const EnvWeed = "STOWAWAY_WEED"

// The server's one identity. Tests hand these to the code under test
// through the standard AWS environment variables (Env).
const (
	AccessKey = "stowawaytest"
	SecretKey = "stowawaytestsecret"
	Region    = "us-east-1"
)

// Server is a running SeaweedFS with its S3 gateway.
type Server struct {
	// Endpoint is the S3 URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir holds the server's data and log.
	Dir    string
	cmd    *exec.Cmd
	done   chan struct{}
	client *s3.Client
	log    *os.File
}

// Weed returns the weed binary from $STOWAWAY_WEED, or why there is none.
func Weed() (string, error) {
	bin := os.Getenv(EnvWeed)
	if bin == "" {
		return "", fmt.Errorf("$%s is not set: SeaweedFS (weed) is needed for the S3 tests; .ci/run builds it (cd $(go env GOMODCACHE)/github.com/seaweedfs/seaweedfs@VERSION && go install ./weed)", EnvWeed)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("$%s: %w", EnvWeed, err)
	}
	return bin, nil
}

// ForTest starts a server for t, skipping t when there is no weed binary,
// and stops it when t ends.
func ForTest(t testing.TB) *Server {
	t.Helper()
	bin, err := Weed()
	if err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start launches weed in dir and waits until its S3 gateway answers.
func Start(ctx context.Context, bin, dir string) (*Server, error) {
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	s3port := ports[6]
	cfg := map[string]any{
		"identities": []any{map[string]any{
			"name":        "stowaway",
			"credentials": []any{map[string]any{"accessKey": AccessKey, "secretKey": SecretKey}},
			"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
		}},
	}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	p := strconv.Itoa
	// Every listener on a port of its own (weed's defaults are fixed
	// ports, which parallel test binaries would share); the Iceberg and
	// Lance catalogs off; no telemetry.
	cmd := exec.Command(bin, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-dir="+data,
		"-master.port="+p(ports[0]), "-master.port.grpc="+p(ports[1]),
		"-master.volumeSizeLimitMB=64", "-master.telemetry=false",
		"-volume.port="+p(ports[2]), "-volume.port.grpc="+p(ports[3]), "-volume.max=100",
		"-filer", "-filer.port="+p(ports[4]), "-filer.port.grpc="+p(ports[5]),
		"-s3", "-s3.port="+p(s3port), "-s3.port.grpc="+p(ports[7]), "-s3.config="+cfgFile,
		"-s3.port.iceberg=0", "-s3.port.lance=0",
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("s3test: start weed: %w", err)
	}
	s := &Server{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", s3port),
		Dir:      dir, cmd: cmd, done: make(chan struct{}), log: logf,
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	s.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		UsePathStyle: true,
	})
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, s.tail())
	}
	return s, nil
}

// waitReady polls the gateway until a bucket can be created and removed:
// the S3 port answers before the filer and a volume are up.
func (s *Server) waitReady(ctx context.Context) error {
	probe := "s3test-ready"
	var last error
	for {
		select {
		case <-s.done:
			return errors.New("s3test: weed exited during start")
		case <-ctx.Done():
			return fmt.Errorf("s3test: weed not ready: %v", last)
		case <-time.After(250 * time.Millisecond):
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.CreateBucket(c, probe)
		if err == nil {
			_, err = s.client.PutObject(c, &s3.PutObjectInput{Bucket: aws.String(probe), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))})
		}
		if err == nil {
			_, err = s.client.DeleteObject(c, &s3.DeleteObjectInput{Bucket: aws.String(probe), Key: aws.String("k")})
		}
		if err == nil {
			_, err = s.client.DeleteBucket(c, &s3.DeleteBucketInput{Bucket: aws.String(probe)})
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
	}
}

// Client is an S3 client of the server.
func (s *Server) Client() *s3.Client { return s.client }

// Env is the standard AWS environment that gives the server's credentials.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     AccessKey,
		"AWS_SECRET_ACCESS_KEY": SecretKey,
		"AWS_REGION":            Region,
	}
}

// URL is serve's --storage for bucket on this server.
func (s *Server) URL(bucket string) string {
	return "s3://" + bucket + "?region=" + Region + "&endpoint=" + s.Endpoint + "&forcepathstyle=true"
}

// CreateBucket creates a bucket (one that exists already is no error).
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") && !strings.Contains(err.Error(), "BucketAlreadyExists") {
		return fmt.Errorf("s3test: create bucket %s: %w", name, err)
	}
	return nil
}

// Objects lists the keys under prefix in bucket, with their sizes.
func (s *Server) Objects(ctx context.Context, bucket, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3test: list %s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return out, nil
}

// PID is the weed process's id (for CPU figures).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop kills weed and its children and waits for it.
func (s *Server) Stop() {
	select {
	case <-s.done:
	default:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.log.Close()
}

// tail is the end of weed's log, for start-up errors.
func (s *Server) tail() string {
	b, err := os.ReadFile(s.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// freePorts finds n free loopback ports.
func freePorts(n int) ([]int, error) {
	var out []int
	var hold []net.Listener
	defer func() {
		for _, l := range hold {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("s3test: free port: %w", err)
		}
		hold = append(hold, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
