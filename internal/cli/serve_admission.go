package cli

import (
	"flag"
	"fmt"
	"os"

	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/admission"
)

// admissionFlags are serve's admission webhook flags (docs/admission.md).
type admissionFlags struct {
	config, addr, cert, key, clientCA string
	insecure                          bool
}

func (a *admissionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.config, "admission-config", "", "admission policy YAML; enables the Kubernetes validating admission webhook (docs/admission.md)")
	fs.StringVar(&a.addr, "admission-addr", "127.0.0.1:8443", "TLS listen address of the admission webhook (POST "+admission.Path+"); beyond loopback it needs --admission-client-ca or --admission-insecure")
	fs.StringVar(&a.cert, "admission-cert", "", "admission webhook TLS certificate (PEM; re-read when it changes)")
	fs.StringVar(&a.key, "admission-key", "", "admission webhook TLS private key (PEM)")
	fs.StringVar(&a.clientCA, "admission-client-ca", "", "require admission clients (the API server) to present a certificate signed by this CA (PEM)")
	fs.BoolVar(&a.insecure, "admission-insecure", false, "let the admission webhook listen beyond loopback without --admission-client-ca (logged as a warning)")
}

// serverConfig reads the policy; nil when the webhook is off.
func (a *admissionFlags) serverConfig() (*server.AdmissionConfig, error) {
	if a.config == "" {
		if a.cert != "" || a.key != "" || a.clientCA != "" || a.insecure {
			return nil, usageError{"--admission-cert, --admission-key, --admission-client-ca and --admission-insecure need --admission-config"}
		}
		return nil, nil
	}
	if a.cert == "" || a.key == "" {
		return nil, usageError{"--admission-config needs --admission-cert and --admission-key: the API server calls webhooks over TLS only"}
	}
	f, err := os.Open(a.config)
	if err != nil {
		return nil, fmt.Errorf("--admission-config: %w", err)
	}
	defer f.Close()
	pol, err := admission.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("--admission-config %s: %w", a.config, err)
	}
	return &server.AdmissionConfig{Policy: pol, Addr: a.addr, CertFile: a.cert, KeyFile: a.key, ClientCAFile: a.clientCA, Insecure: a.insecure}, nil
}
